"""Tests of liverseg.nn.blocks: shapes, layer naming, hand-counted parameters, NumPy re-computations,
serialisation round trips."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from liverseg.nn import blocks
from liverseg.errors import OptionError


def _model(inputs, outputs):
    return keras.Model(inputs, outputs)


def _block_layers(model):
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _assert_prefixed_unique(model, prefix):
    names = [layer.name for layer in _block_layers(model)]
    assert names, "block created no layers"
    assert all(n.startswith(prefix + "_") for n in names), names
    assert len(names) == len(set(names))


# ---------------------------------------------------------------- shapes

def test_unet_stages_same_padding_keep_size():
    x = keras.Input((32, 32, 1))
    skip, pooled = blocks.unet_encoder_stage(x, 8, name="enc1")
    assert tuple(skip.shape) == (None, 32, 32, 8)
    assert tuple(pooled.shape) == (None, 16, 16, 8)
    for up in ("transpose", "bilinear"):
        y = blocks.unet_decoder_stage(pooled, skip, 4, upsample=up, name=f"dec_{up}")
        assert tuple(y.shape) == (None, 32, 32, 4)


def test_unet_stages_valid_padding_crop_skip():
    # 20 -> two valid 3x3 convs -> 16 (skip) -> pool 8 -> two convs -> 4
    # -> up 8; skip 16 cropped by 4 on each side to 8 -> two convs -> 4.
    x = keras.Input((20, 20, 1))
    skip, pooled = blocks.unet_encoder_stage(x, 4, padding="valid", name="enc")
    assert tuple(skip.shape) == (None, 16, 16, 4) and tuple(pooled.shape) == (None, 8, 8, 4)
    bottom = blocks.conv_bn_act(pooled, 4, padding="valid", name="b1")
    bottom = blocks.conv_bn_act(bottom, 4, padding="valid", name="b2")
    assert tuple(bottom.shape) == (None, 4, 4, 4)
    y = blocks.unet_decoder_stage(bottom, skip, 4, padding="valid", name="dec")
    assert tuple(y.shape) == (None, 4, 4, 4)
    model = _model(x, y)
    crop = model.get_layer("dec_crop")
    assert crop.cropping == ((4, 4), (4, 4))


def test_center_crop_values_and_odd_difference():
    skip = keras.Input((7, 6, 1))
    target = keras.Input((4, 4, 1))
    out = blocks.center_crop_to(skip, target, name="cc")
    model = _model([skip, target], out)
    a = np.arange(42, dtype="float32").reshape(1, 7, 6, 1)
    got = model.predict([a, np.zeros((1, 4, 4, 1), "float32")], verbose=0)
    # dh = 3 -> top 1, bottom 2; dw = 2 -> left 1, right 1
    np.testing.assert_array_equal(got, a[:, 1:5, 1:5])


def test_valid_decoder_needs_static_size():
    x = keras.Input((None, None, 1))
    skip, pooled = blocks.unet_encoder_stage(x, 4, padding="valid", name="enc")
    with pytest.raises(OptionError):
        blocks.unet_decoder_stage(pooled, skip, 4, padding="valid", name="dec")


def test_fusion_shapes():
    f0 = keras.Input((16, 16, 2))
    f1 = keras.Input((8, 8, 3))
    f2 = keras.Input((4, 4, 5))
    y = blocks.multiscale_fusion([f0, f1, f2], 1, name="mf")
    assert tuple(y.shape) == (None, 8, 8, 10)
    g = blocks.attention_gate(f0, f1, 4, name="ag")
    assert tuple(g.shape) == (None, 16, 16, 2)
    c = blocks.convlstm_skip_fusion(f0, f0, 6, name="cl")
    assert tuple(c.shape) == (None, 16, 16, 6)
    c2 = blocks.convlstm_skip_fusion(f0, keras.Input((16, 16, 7)), 6, bidirectional=True, name="bcl")
    assert tuple(c2.shape) == (None, 16, 16, 12)


def test_convlstm_fusion_stacks_skip_then_up():
    skip = keras.Input((6, 10, 3))
    up = keras.Input((6, 10, 3))
    model = _model([skip, up], blocks.convlstm_skip_fusion(skip, up, 2, name="cl"))
    assert model.get_layer("cl_stack").output.shape[1:] == (2, 6, 10, 3)
    stacked = keras.Model(model.inputs, model.get_layer("cl_stack").output)
    got = stacked.predict([np.ones((1, 6, 10, 3), "float32"), np.zeros((1, 6, 10, 3), "float32")], verbose=0)
    np.testing.assert_array_equal(got[:, 0], 1.0)  # step 0: encoder skip
    np.testing.assert_array_equal(got[:, 1], 0.0)  # step 1: decoder features
    with pytest.raises(OptionError):
        blocks.convlstm_skip_fusion(keras.Input((None, None, 3)), keras.Input((None, None, 3)), 2, name="dyn")
    with pytest.raises(OptionError):
        blocks.convlstm_skip_fusion(skip, keras.Input((3, 5, 3)), 2, name="mismatch")


# ---------------------------------------------------------------- naming

BUILDERS = {
    "cba": lambda x: blocks.conv_bn_act(x, 4, name="cba"),
    "enc": lambda x: blocks.unet_encoder_stage(x, 4, dropout=0.1, name="enc"),
    "dense": lambda x: blocks.dense_block(x, 3, 2, residual=True, name="dense"),
    "mf": lambda x: blocks.multiscale_fusion([x, keras.layers.MaxPooling2D(2, name="mf_src")(x)], 0, name="mf"),
    "cl": lambda x: blocks.convlstm_skip_fusion(x, x, 2, bidirectional=True, name="cl"),
}


@pytest.mark.parametrize("prefix", sorted(BUILDERS))
def test_layer_names_prefixed_and_unique(prefix):
    x = keras.Input((8, 8, 3))
    model = _model(x, BUILDERS[prefix](x))
    _assert_prefixed_unique(model, prefix)


def test_decoder_and_attention_names():
    x = keras.Input((8, 8, 3))
    g = keras.Input((4, 4, 5))
    model = _model([x, g], [blocks.unet_decoder_stage(g, x, 4, dropout=0.2, name="dec"),
                            blocks.attention_gate(x, g, 2, output_projection=True, name="dec_ag")])
    _assert_prefixed_unique(model, "dec")


# ---------------------------------------------------------------- parameter counts

def test_parameter_counts_by_hand():
    x = keras.Input((8, 8, 3))
    # conv 3x3x3x8 (no bias, BN follows) = 216; BN 4 x 8 = 32 -> 248
    assert _model(x, blocks.conv_bn_act(x, 8, name="c")).count_params() == 248
    # 3 layers, growth 4, input 3: BN 4*3 + conv 9*3*4 = 12 + 108; BN 4*7 + 9*7*4 = 28 + 252;
    # BN 4*11 + 9*11*4 = 44 + 396; output 3 + 12 = 15 channels, projection 3*15 = 45 -> 885
    assert _model(x, blocks.dense_block(x, 3, 4, residual=True, name="d")).count_params() == 885
    # attention gate, x 6 ch at 16x16, g 10 ch at 8x8, 4 inter: theta 2*2*6*4 = 96,
    # phi 10*4 + 4 = 44, psi 4 + 1 = 5 -> 145
    xa, ga = keras.Input((16, 16, 6)), keras.Input((8, 8, 10))
    assert _model([xa, ga], blocks.attention_gate(xa, ga, 4, name="a")).count_params() == 145
    # ConvLSTM2D(5, 3) on 3 channels: kernel 3*3*3*20 = 540, recurrent 3*3*5*20 = 900, bias 20 -> 1460;
    # bidirectional: two of them -> 2920
    assert _model(x, blocks.convlstm_skip_fusion(x, x, 5, name="l")).count_params() == 1460
    assert _model(x, blocks.convlstm_skip_fusion(x, x, 5, bidirectional=True, name="b")).count_params() == 2920


# ---------------------------------------------------------------- values against NumPy

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_attention_gate_matches_numpy():
    rng = np.random.default_rng(0)
    x = keras.Input((4, 4, 2))
    g = keras.Input((4, 4, 3))
    model = _model([x, g], blocks.attention_gate(x, g, 5, name="ag"))
    wt = rng.normal(size=(1, 1, 2, 5)).astype("float32")
    wp, bp = rng.normal(size=(1, 1, 3, 5)).astype("float32"), rng.normal(size=5).astype("float32")
    ws, bs = rng.normal(size=(1, 1, 5, 1)).astype("float32"), np.array([0.3], "float32")
    model.get_layer("ag_theta").set_weights([wt])
    model.get_layer("ag_phi").set_weights([wp, bp])
    model.get_layer("ag_psi").set_weights([ws, bs])
    xv = rng.normal(size=(2, 4, 4, 2)).astype("float32")
    gv = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    f = np.maximum(xv @ wt[0, 0] + gv @ wp[0, 0] + bp, 0.0)
    alpha = _sigmoid(f @ ws[0, 0] + bs)
    np.testing.assert_allclose(model.predict([xv, gv], verbose=0), xv * alpha, rtol=1e-5, atol=1e-6)


def test_dense_block_output_starts_with_input():
    rng = np.random.default_rng(2)
    xv = rng.normal(size=(1, 5, 5, 3)).astype("float32")
    x = keras.Input((5, 5, 3))
    model = _model(x, blocks.dense_block(x, 2, 4, name="d"))
    out = model.predict(xv, verbose=0)
    assert out.shape == (1, 5, 5, 11)
    np.testing.assert_array_equal(out[..., :3], xv)
    # without the input: 2 layers x growth 4 = 8 channels
    only_new = _model(x, blocks.dense_block(x, 2, 4, include_input=False, name="e"))
    assert only_new.output.shape[-1] == 8


def test_multiscale_fusion_matches_numpy_pool_and_repeat():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(1, 8, 8, 1)).astype("float32")
    b = rng.normal(size=(1, 4, 4, 1)).astype("float32")
    c = rng.normal(size=(1, 2, 2, 1)).astype("float32")
    ins = [keras.Input((8, 8, 1)), keras.Input((4, 4, 1)), keras.Input((2, 2, 1))]
    model = _model(ins, blocks.multiscale_fusion(ins, 1, name="mf"))
    out = model.predict([a, b, c], verbose=0)
    pooled = a.reshape(1, 4, 2, 4, 2, 1).max(axis=(2, 4))
    repeated = c.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_allclose(out, np.concatenate([pooled, b, repeated], axis=-1), rtol=1e-6)


# ---------------------------------------------------------------- serialisation

def _all_blocks_model():
    x = keras.Input((16, 16, 2))
    skip, p = blocks.unet_encoder_stage(x, 4, name="e1")
    p = blocks.dense_block(p, 2, 3, residual=True, name="db")
    fused = blocks.multiscale_fusion([skip, p], 1, name="mf")
    gated = blocks.attention_gate(skip, fused, 4, output_projection=True, name="ag")
    up = blocks.unet_decoder_stage(fused, gated, 4, name="d1")
    y = blocks.convlstm_skip_fusion(skip, up, 3, bidirectional=True, name="cl")
    y = keras.layers.Conv2D(1, 1, activation="sigmoid", name="head")(y)
    return keras.Model(x, y)


def test_model_with_blocks_saves_and_loads(tmp_path):
    model = _all_blocks_model()
    xv = np.random.default_rng(4).normal(size=(2, 16, 16, 2)).astype("float32")
    want = model.predict(xv, verbose=0)
    path = tmp_path / "blocks.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(xv, verbose=0), want, rtol=1e-5, atol=1e-6)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]


def test_model_json_round_trip():
    model = _all_blocks_model()
    clone = keras.models.model_from_json(model.to_json())
    clone.set_weights(model.get_weights())
    xv = np.random.default_rng(5).normal(size=(1, 16, 16, 2)).astype("float32")
    np.testing.assert_allclose(clone.predict(xv, verbose=0), model.predict(xv, verbose=0), rtol=1e-5, atol=1e-6)


def test_same_padding_decoder_with_unknown_size_runs():
    x = keras.Input((None, None, 1))
    skip, pooled = blocks.unet_encoder_stage(x, 2, name="enc")
    model = _model(x, blocks.unet_decoder_stage(pooled, skip, 2, name="dec"))
    assert model.predict(np.zeros((1, 12, 8, 1), "float32"), verbose=0).shape == (1, 12, 8, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(kernel_size=5), "kernel_size must be 3"), (dict(base_filters=0), "base_filters"),
    (dict(depth=0), "depth"), (dict(n_outputs=0), "n_outputs"), (dict(max_filters=-8), "max_filters"),
    (dict(input_shape=(100, 96, 1)), "input height 100 does not fit .* multiple of 2\\*\\*depth = 16"),
    (dict(input_shape=(64, 64, 1), padding="valid"), "input height 64 does not fit"),
    (dict(dropout=1.5), "dropout"), (dict(padding="full"), "padding"), (dict(input_shape=(64, 64)), "input_shape"),
])
def test_build_unet_bad_options_are_one_line_option_errors(kwargs, match):
    from liverseg.nn.models import build_unet

    kwargs = {"input_shape": (64, 64, 1), "n_outputs": 1, "base_filters": 2, "depth": 4, **kwargs}
    with pytest.raises(OptionError, match=match):
        build_unet(kwargs.pop("input_shape"), **kwargs)


def test_unet_sizes_and_bad_block_widths():
    from liverseg.nn.models import build_unet, unet_output_size

    assert unet_output_size(572, 4, "valid") == 388 and unet_output_size(96, 4) == 96  # Ronneberger Fig. 1
    assert build_unet((None, None, 1), n_outputs=2, base_filters=2, depth=2).output_shape == (None, None, None, 2)
    x = keras.Input((8, 8, 3))
    for make in (lambda: blocks.conv_bn_act(x, 0, name="c"), lambda: blocks.conv_bn_act(x, 4, (3, 0), name="c"),
                 lambda: blocks.dense_block(x, 2, 0, name="d")):
        with pytest.raises(OptionError, match="must be a positive integer"):
            make()
