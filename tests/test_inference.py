"""Whole-volume inference with tiny Keras models whose outputs are computable by hand."""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pytest
from scipy import ndimage

from liverseg.errors import OptionError
from liverseg.infer.predict import (
    labels_from_probs, multiscale_predict, predict_slices, resize_probs,
    stack_context,
)


def _conv_model(kernel: np.ndarray, bias: np.ndarray | None = None, name: str = "conv"):
    """Functional model: one Conv2D ('same' padding) with the given (kh, kw, C, K) kernel."""
    kh, kw, c, k = kernel.shape
    inp = keras.Input((None, None, c))
    layer = keras.layers.Conv2D(k, (kh, kw), padding="same", use_bias=bias is not None, name=name)
    model = keras.Model(inp, layer(inp), name=name)
    layer.set_weights([kernel.astype(np.float32)] + ([bias.astype(np.float32)] if bias is not None else []))
    return model


@pytest.fixture(scope="module")
def pointwise():
    """1x1 conv, 1 -> 2 channels: y0 = 2x + 0.5, y1 = -x + 1."""
    return _conv_model(np.array([2.0, -1.0]).reshape(1, 1, 1, 2), np.array([0.5, 1.0]), "pointwise")


@pytest.fixture(scope="module")
def identity():
    return _conv_model(np.ones((1, 1, 1, 1)), None, "identity")


@dataclass
class FakeVolume:
    array: np.ndarray
    spacing: tuple = (1.0, 1.0, 1.0)
    affine: np.ndarray = None


def test_predict_slices_batches_equal_one_shot_and_hand_values(pointwise):
    x = np.random.default_rng(0).random((7, 5, 6, 1)).astype(np.float32)
    expected = np.concatenate([2 * x + 0.5, -x + 1], axis=-1)
    for batch_size in (1, 3, 7, 100):
        np.testing.assert_allclose(predict_slices(pointwise, x, batch_size=batch_size), expected, rtol=1e-6, atol=1e-6)
    assert predict_slices(pointwise, x).dtype == np.float32


def test_flip_tta_on_equivariant_model_changes_nothing(pointwise):
    x = np.random.default_rng(1).random((3, 6, 5, 1)).astype(np.float32)
    plain = predict_slices(pointwise, x)
    for mode in (True, "h", "v", "hv"):
        np.testing.assert_allclose(predict_slices(pointwise, x, tta_flip=mode), plain, rtol=1e-6, atol=1e-6)


def test_flip_tta_h_on_asymmetric_kernel_is_the_hand_average():
    model = _conv_model(np.array([1.0, 2.0, 3.0]).reshape(1, 3, 1, 1), None, "row_kernel")
    x = np.random.default_rng(2).random((4, 3, 7, 1)).astype(np.float32)
    p = np.pad(x[..., 0], ((0, 0), (0, 0), (1, 1)))
    left, mid, right = p[:, :, :-2], p[:, :, 1:-1], p[:, :, 2:]
    plain = 1 * left + 2 * mid + 3 * right           # cross-correlation, zero 'same' padding
    flipped = 3 * left + 2 * mid + 1 * right         # un-flipped prediction on the mirrored slice
    np.testing.assert_allclose(predict_slices(model, x)[..., 0], plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_slices(model, x, tta_flip="h")[..., 0], (plain + flipped) / 2, rtol=1e-5, atol=1e-6)
    # along H the kernel is 1 pixel tall: a vertical flip changes nothing
    np.testing.assert_allclose(predict_slices(model, x, tta_flip="v")[..., 0], plain, rtol=1e-5, atol=1e-6)


def test_flip_tta_hv_averages_the_four_mirrorings():
    k = np.arange(1.0, 10.0).reshape(3, 3)
    model = _conv_model(k.reshape(3, 3, 1, 1), None, "full_kernel")
    x = np.random.default_rng(3).random((2, 6, 5, 1)).astype(np.float32)
    sym = (k + k[:, ::-1] + k[::-1, :] + k[::-1, ::-1]) / 4
    expected = np.stack([ndimage.correlate(s[..., 0], sym, mode="constant") for s in x])
    np.testing.assert_allclose(predict_slices(model, x, tta_flip="hv")[..., 0], expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(OptionError):
        predict_slices(model, x, tta_flip="diagonal")


def test_predict_slices_checks_channels_and_picks_an_output(pointwise):
    with pytest.raises(OptionError, match="expects 1 input channel"):
        predict_slices(pointwise, np.zeros((2, 4, 4, 3), np.float32))
    inp = keras.Input((None, None, 1))
    a = keras.layers.Conv2D(1, 1, kernel_initializer="ones", use_bias=False, name="a")(inp)
    b = keras.layers.Conv2D(1, 1, kernel_initializer=keras.initializers.Constant(3.0), use_bias=False, name="b")(inp)
    two = keras.Model(inp, [a, b])
    x = np.full((2, 4, 4, 1), 2.0, np.float32)
    np.testing.assert_allclose(predict_slices(two, x), x)
    np.testing.assert_allclose(predict_slices(two, x, output=1), 3 * x)


def test_stack_context_clamps_at_the_ends():
    slices = np.broadcast_to(np.arange(4, dtype=np.float32)[:, None, None], (4, 3, 2))
    out = stack_context(slices, 1)
    assert out.shape == (4, 3, 2, 3)
    np.testing.assert_array_equal(out[:, 0, 0, :], [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]])
    out2 = stack_context(slices, 2, index=np.array([0, 3]))
    np.testing.assert_array_equal(out2[:, 1, 1, :], [[0, 0, 0, 1, 2], [1, 2, 3, 3, 3]])
    np.testing.assert_array_equal(stack_context(slices, 0), slices[..., None])


def test_resize_probs_bilinear_half_pixel_on_a_ramp():
    # Upsampling 4 -> 8: output pixel j samples source position j/2 - 0.25, clamped to [0, 3].
    ramp = np.arange(4, dtype=np.float32)
    probs = np.zeros((65, 4, 3, 2), dtype=np.float32)  # 130 planes: more than one cv2 call
    probs[...] = ramp[None, :, None, None]
    probs[:, :, :, 1] *= 2
    out = resize_probs(probs, 8, 3)
    expected = np.clip(np.arange(8) / 2 - 0.25, 0, 3)
    assert out.shape == (65, 8, 3, 2)
    np.testing.assert_allclose(out[7, :, 1, 0], expected, atol=1e-6)
    np.testing.assert_allclose(out[64, :, 2, 1], 2 * expected, atol=1e-6)
    same = resize_probs(probs, 4, 3)
    np.testing.assert_array_equal(same, probs)


def test_multiscale_with_identity_returns_the_input():
    x = ndimage.gaussian_filter(np.random.default_rng(4).random((3, 32, 32, 1)), (0, 4, 4, 0)).astype(np.float32)
    seen = []

    def identity_fn(batch):
        seen.append(batch.shape)
        return batch

    out = multiscale_predict(identity_fn, x, [32, 40, 48])
    assert seen == [(3, 32, 32, 1), (3, 40, 40, 1), (3, 48, 48, 1)]
    assert out.shape == x.shape
    np.testing.assert_allclose(out[:, 4:-4, 4:-4], x[:, 4:-4, 4:-4], atol=2e-3)  # interpolation error only
    const = np.full((2, 16, 16, 1), 0.25, np.float32)
    np.testing.assert_allclose(multiscale_predict(identity_fn, const, [16, 20, 24]), const, atol=1e-6)
    np.testing.assert_array_equal(multiscale_predict(identity_fn, const, []), const)


def test_labels_from_probs_rules():
    # voxels:        0    1    2    3    4
    liver = np.array([0.9, 0.9, 0.1, 0.1, 0.5])
    tumour = np.array([0.1, 0.8, 0.8, 0.1, 0.2])
    probs = np.stack([liver, tumour], axis=-1)
    np.testing.assert_array_equal(labels_from_probs(probs, ("liver", "tumour")), [1, 2, 2, 0, 1])
    np.testing.assert_array_equal(labels_from_probs(probs, ("liver", "tumour"), tumour_in_liver=True), [1, 2, 0, 0, 1])
    np.testing.assert_array_equal(labels_from_probs(probs, ("liver", "tumour"), threshold=0.85), [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(labels_from_probs(probs[:, :1], ("liver",)), [1, 1, 0, 0, 1])
    np.testing.assert_array_equal(labels_from_probs(probs[:, 1:], ("tumour",)), [0, 2, 2, 0, 0])
    np.testing.assert_array_equal(labels_from_probs(probs[:, ::-1], ("tumour", "liver")), [1, 2, 2, 0, 1])
    assert labels_from_probs(probs, ("liver", "tumour")).dtype == np.uint8


def test_labels_from_softmax_take_the_argmax():
    probs = np.array([[0.5, 0.3, 0.2], [0.2, 0.45, 0.35], [0.1, 0.3, 0.6]])
    np.testing.assert_array_equal(labels_from_probs(probs, ("background", "liver", "tumour")), [0, 1, 2])


def test_labels_from_probs_bad_targets():
    probs = np.zeros((3, 2))
    with pytest.raises(OptionError):
        labels_from_probs(probs, ("liver",))
    with pytest.raises(OptionError):
        labels_from_probs(probs, ("liver", "vessel"))


class RecordingModel:
    """Wraps a Keras model and records the batch shape of every `predict_on_batch` call."""

    def __init__(self, model):
        self.model, self.inputs, self.name, self.shapes = model, model.inputs, model.name, []

    def predict_on_batch(self, x):
        self.shapes.append(tuple(x.shape))
        return self.model.predict_on_batch(x)


def _bn_model(size: int = 8):
    """Conv -> BatchNorm (moving statistics far from 0 / 1, so inference mode matters) -> sigmoid."""
    inp = keras.Input((size, size, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    model = keras.Model(inp, keras.layers.Activation("sigmoid", name="out")(x), name="bn_model")
    bn = model.get_layer("bn")
    bn.set_weights([np.full(3, 1.5, np.float32), np.full(3, 0.2, np.float32),
                    np.array([0.3, -0.4, 1.0], np.float32), np.array([2.0, 0.5, 4.0], np.float32)])
    return model


def _unpadded(model, x, batch_size, flips=()):
    """The old behaviour: the short last batch goes to the model as it is."""
    out = []
    for start in range(0, len(x), batch_size):
        b = x[start:start + batch_size]
        p = np.asarray(model.predict_on_batch(b))
        for axes in flips:
            p = p + np.flip(np.asarray(model.predict_on_batch(np.ascontiguousarray(np.flip(b, axis=axes)))), axis=axes)
        out.append(p / (len(flips) + 1))
    return np.concatenate(out)


@pytest.mark.parametrize("n, batch_size, tta", [(7, 3, False), (5, 8, "hv"), (6, 3, "h"), (1, 4, "v")])
def test_every_call_sees_one_batch_shape_and_padding_changes_nothing(n, batch_size, tta):
    model = _bn_model()
    x = np.random.default_rng(n).random((n, 8, 8, 2)).astype(np.float32)
    rec = RecordingModel(model)
    out = predict_slices(rec, x, batch_size=batch_size, tta_flip=tta)
    assert out.shape == (n, 8, 8, 3)
    assert set(rec.shapes) == {(batch_size, 8, 8, 2)}
    flips = {False: (), "h": ((2,),), "v": ((1,),), "hv": ((2,), (1,), (1, 2))}[tta]
    assert len(rec.shapes) == -(-n // batch_size) * (len(flips) + 1)
    np.testing.assert_allclose(out, _unpadded(model, x, batch_size, flips), rtol=1e-6, atol=1e-7)


def test_predict_slices_refuses_a_slice_size_the_model_was_not_built_for():
    model = _bn_model(8)
    with pytest.raises(OptionError, match="expects 8 x 8 input slices, got 16 x 16"):
        predict_slices(model, np.zeros((2, 16, 16, 2), np.float32))
    for bad in (0, 2.5, True):
        with pytest.raises(OptionError, match="batch_size"):
            predict_slices(model, np.zeros((2, 8, 8, 2), np.float32), batch_size=bad)


class _Cfg:
    """What the shared slice predictor reads of a paper's config."""

    def __init__(self, context: int, size: int):
        from liverseg.config import DataConfig, PreprocessConfig

        self.preprocess = PreprocessConfig(window=(0.0, 100.0), size=size)
        self.data = DataConfig(context=context)
        self.outputs, self.threshold = ("liver",), 0.5


def test_slice_predictor_places_every_voxel_canonically_in_chunks(identity):
    from liverseg.infer.slice_predictor import SlicePredictor

    x, y, z = 6, 6, 7
    vol = FakeVolume(np.arange(x * y * z, dtype=np.float32).reshape(x, y, z) * (100.0 / (x * y * z)))
    probs = SlicePredictor(_Cfg(0, 6), identity, "v", batch_size=2, chunk=3).volume_probabilities(vol.array)
    assert probs.shape == (z, x, y, 1) and probs.dtype == np.float32
    np.testing.assert_allclose(probs[..., 0].transpose(1, 2, 0), vol.array / 100.0, rtol=1e-5, atol=1e-6)


def test_slice_predictor_feeds_the_training_context_across_chunk_borders():
    from liverseg.infer.slice_predictor import SlicePredictor

    # 3 context channels -> output = previous slice (channel 0) + 10 * next slice (channel 2)
    model = _conv_model(np.array([1.0, 0.0, 10.0]).reshape(1, 1, 3, 1), None, "neighbours")
    vol = FakeVolume(np.random.default_rng(6).random((4, 4, 5)).astype(np.float32) * 100)
    a = vol.array / 100.0
    expected = a[:, :, [0, 0, 1, 2, 3]] + 10 * a[:, :, [1, 2, 3, 4, 4]]  # end slices repeated
    for chunk in (1, 2, 64):
        probs = SlicePredictor(_Cfg(1, 4), model, "v", chunk=chunk).volume_probabilities(vol.array)
        np.testing.assert_allclose(probs[..., 0].transpose(1, 2, 0), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(OptionError):  # a model trained with context, asked without
        SlicePredictor(_Cfg(0, 4), model, "v").volume_probabilities(vol.array)
