"""Valid-padding U-Net geometry, mirror padding, overlap-tile inference (equal to one large valid
input, cropped) and the stacked deep-supervision loss."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from liverseg.errors import OptionError
from liverseg.infer.tiles import overlap_tile_predict, tile_offsets
from liverseg.nn import blocks
from liverseg.nn.deep_supervision import DeepSupervisionLoss, main_output, stack_heads
from liverseg.nn.losses import BalancedCrossentropy
from liverseg.nn.models import unet_output_size
from liverseg.nn.valid_unet import MirrorPad2D, mirror_padded, on_grid, valid_geometry, valid_input_size


def _core(size: int, depth: int = 2, seed: int = 0) -> keras.Model:
    """A small valid U-Net with deterministic weights (the same for every size)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 1))
    x, skips = inputs, []
    for level in range(depth):
        skip, x = blocks.unet_encoder_stage(x, 4 * 2**level, padding="valid", use_bn=False, name=f"e{level}")
        skips.append(skip)
    x = blocks.conv_bn_act(x, 8 * 2**depth, padding="valid", use_bn=False, name="b1")
    x = blocks.conv_bn_act(x, 8 * 2**depth, padding="valid", use_bn=False, name="b2")
    for level in reversed(range(depth)):
        x = blocks.unet_decoder_stage(x, skips[level], 4 * 2**level, padding="valid", use_bn=False, name=f"d{level}")
    out = keras.layers.Conv2D(2, 1, activation="sigmoid", name="head")(x)
    return keras.Model(inputs, out, name="core")


def test_ronneberger_geometry():
    assert unet_output_size(572, 4, "valid") == 388  # Ronneberger et al. Fig. 1
    assert valid_geometry(4) == (184, 16) and valid_geometry(3) == (88, 8)
    assert on_grid(572, 4) and not on_grid(573, 4) and not on_grid(564, 4)
    assert valid_input_size(388, 4) == 572
    assert valid_input_size(512, 4) == 700 and unet_output_size(700, 4, "valid") == 516


def test_tile_offsets_are_aligned_and_cover():
    offsets = tile_offsets(512, 388, 16)
    assert offsets == [0, 384] and all(o % 16 == 0 for o in offsets) and offsets[-1] + 388 >= 512
    assert tile_offsets(30, 40, 8) == [0]
    with pytest.raises(OptionError):
        tile_offsets(100, 4, 8)


def test_mirror_pad_reflects_without_repeating_the_edge():
    x = np.arange(5, dtype="float32").reshape(1, 1, 5, 1)
    y = np.asarray(MirrorPad2D(((0, 0), (2, 3)))(x))
    assert y[0, 0, :, 0].tolist() == [2, 1, 0, 1, 2, 3, 4, 3, 2, 1]
    with pytest.raises(OptionError, match="smaller than the width"):
        MirrorPad2D(((0, 0), (5, 0)))(x)


def test_overlap_tile_equals_one_large_valid_input_cropped():
    """Tiles at offsets that are multiples of 2**depth agree; stitched, they equal the whole-slice model."""
    depth, size = 2, 45
    shrink, align = valid_geometry(depth)
    tile_in = valid_input_size(16, depth)  # small tiles: several per axis, overlapping
    tile = _core(tile_in, depth)
    whole = mirror_padded(lambda n: _core(n, depth), size, depth, name="whole")
    whole.get_layer("core").set_weights(tile.get_weights())
    slices = np.random.default_rng(0).random((3, size, size, 1), dtype=np.float32)
    assert len(tile_offsets(size, tile_in - shrink, align)) >= 3
    stitched = overlap_tile_predict(lambda t: np.asarray(tile(t)), slices, tile_in, tile_in - shrink, align)
    reference = np.asarray(whole(slices))
    assert stitched.shape == reference.shape == (3, size, size, 2)
    np.testing.assert_allclose(stitched, reference, atol=2e-6)
    # offsets off the pooling grid would not agree: the test can fail
    shifted = np.asarray(tile(np.pad(slices, ((0, 0), (shrink // 2 + 1, tile_in), (shrink // 2, tile_in), (0, 0)),
                                    mode="reflect")[:, :tile_in, :tile_in]))
    assert not np.allclose(shifted[:, :-1], reference[:, 1:tile_in - shrink, :tile_in - shrink], atol=1e-4)


def test_overlap_tile_rejects_a_network_of_another_size():
    with pytest.raises(OptionError, match="expected 10"):
        overlap_tile_predict(lambda t: t[:, :4, :4], np.zeros((1, 20, 20, 1)), 18, 10, 4)


def test_deep_supervision_loss_weighs_each_head_against_the_same_target():
    rng = np.random.default_rng(1)
    y = (rng.random((2, 8, 8, 2)) > 0.5).astype("float32")
    heads = [rng.uniform(0.05, 0.95, (2, 8, 8, 2)).astype("float32") for _ in range(3)]
    bce = BalancedCrossentropy()
    loss = DeepSupervisionLoss(bce, (1.0, 0.5, 0.5), channels=2)
    got = float(loss(y, np.concatenate(heads, axis=-1)))
    want = sum(w * float(bce(y, h)) for w, h in zip((0.5, 0.25, 0.25), heads))
    assert got == pytest.approx(want, rel=1e-5)
    assert np.array_equal(main_output(np.concatenate(heads, -1), 2), heads[0])
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert float(restored(y, np.concatenate(heads, axis=-1))) == pytest.approx(got, rel=1e-6)
    with pytest.raises(OptionError, match="expected 2 x 3"):
        loss(y, np.concatenate(heads[:2], axis=-1))


def test_stack_heads_refuses_heads_of_different_sizes():
    a, b = keras.Input((8, 8, 2)), keras.Input((4, 4, 2))
    with pytest.raises(OptionError, match="differ in shape"):
        stack_heads([a, b], name="heads")
