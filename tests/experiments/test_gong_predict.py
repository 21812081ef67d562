"""Gong's cascade (2.2) on stub networks with known outputs: crop boxes, paste-back and labels.

The smoke profile is too small to learn the tumour, so this test guards the tumour path: a change
to the crop rule, the paste-back or the label rules changes these exact numbers.
"""
from dataclasses import replace

import numpy as np
import pytest

from liverseg.io.volumes import volume_from_array

from experiments.gong.predict import GongCascade
from experiments.gong.config import get_config

S, Z, CROP = 64, 4, 32


class StubNet:
    """Stands in for a Keras model: `predict_on_batch` returns fixed probabilities per slice shape."""

    def __init__(self, fn, channels):
        self.fn, self.calls = fn, []
        self.inputs = None
        self.channels = channels

    def predict_on_batch(self, x):
        self.calls.append(x.shape)
        return np.stack([self.fn(x.shape) for _ in range(len(x))]).astype(np.float32)


def coarse_probs(shape):
    """Liver: rows/cols 10..49; tumour: rows 20..27, cols 30..35 (its box centre is (23.5, 32.5))."""
    out = np.zeros((shape[1], shape[2], 2), np.float32)
    out[10:50, 10:50, 0] = 0.9
    out[20:28, 30:36, 1] = 0.3  # above crop_threshold 0.1, below the label threshold 0.5
    return out


def fine_probs(shape):
    """Tumour everywhere in the crop except its first row."""
    out = np.full((shape[1], shape[2], 1), 0.8, np.float32)
    out[0] = 0.0
    return out


@pytest.fixture
def cascade_output():
    cfg = get_config("smoke")
    cfg = replace(cfg, preprocess=replace(cfg.preprocess, size=S), fine_data=replace(cfg.fine_data, crop_size=CROP))
    volume = volume_from_array(np.zeros((S, S, Z), np.int16), np.eye(4), "stub.nii.gz")
    coarse, fine = StubNet(coarse_probs, 2), StubNet(fine_probs, 1)
    cascade = GongCascade(cfg, coarse, fine, variant="crop", batch_size=8)
    return cascade, cascade.run(volume), fine


def test_crop_boxes_are_centred_on_the_coarse_tumour(cascade_output):
    _, out, fine = cascade_output
    # centre (23.5, 32.5), size 32: start floor(23.5 - 15.5 + 0.5) = 8 and floor(32.5 - 15.5 + 0.5) = 17
    assert [b.box for b in out.boxes] == [(8, 17, 40, 49)] * Z
    assert [b.z for b in out.boxes] == list(range(Z))
    assert all(shape[1:3] == (CROP, CROP) for shape in fine.calls)


def test_fine_prediction_is_pasted_back_into_zeros(cascade_output):
    _, out, _ = cascade_output
    expected = np.zeros((S, S), np.float32)
    expected[9:40, 17:49] = 0.8  # the crop minus its first row (row 8)
    for z in range(Z):
        np.testing.assert_array_equal(out.fine[z], expected)


def test_labels_tumour_only_inside_the_liver_and_the_crop(cascade_output):
    _, out, _ = cascade_output
    labels = out.labels  # (X, Y, Z) = (row, col, z) here: identity affine
    expected = np.zeros((S, S), np.uint8)
    expected[10:50, 10:50] = 1
    expected[10:40, 17:49] = 2  # fine tumour (rows 9..39, cols 17..48) inside the liver (rows from 10)
    for z in range(Z):
        np.testing.assert_array_equal(labels[..., z], expected)


def test_no_coarse_tumour_means_no_crop_and_no_tumour_label():
    cfg = get_config("smoke")
    cfg = replace(cfg, preprocess=replace(cfg.preprocess, size=S), fine_data=replace(cfg.fine_data, crop_size=CROP))

    def liver_only(shape):
        out = coarse_probs(shape)
        out[..., 1] = 0.0
        return out

    volume = volume_from_array(np.zeros((S, S, Z), np.int16), np.eye(4), "stub.nii.gz")
    fine = StubNet(fine_probs, 1)
    result = GongCascade(cfg, StubNet(liver_only, 2), fine, variant="crop")(volume)
    assert not fine.calls and result.record == {"crop_boxes": {}}
    assert set(np.unique(result.labels)) == {0, 1}


def test_crop_on_liver_crops_around_the_coarse_liver_where_no_tumour_was_found():
    cfg = get_config("smoke")
    cfg = replace(cfg, preprocess=replace(cfg.preprocess, size=S), fine_data=replace(cfg.fine_data, crop_size=CROP),
                  crop_on_liver=True)

    def liver_only(shape):  # liver rows/cols 10..49 (box centre 29.5, 29.5); no tumour on the last slice
        out = coarse_probs(shape)
        out[..., 1] = 0.0
        return out

    class PerSlice(StubNet):  # one padded batch: slice Z - 1 (and the padding) without tumour
        def predict_on_batch(self, x):
            return np.stack([coarse_probs(x.shape) if i < Z - 1 else liver_only(x.shape)
                             for i in range(len(x))]).astype(np.float32)

    volume = volume_from_array(np.zeros((S, S, Z), np.int16), np.eye(4), "stub.nii.gz")
    out = GongCascade(cfg, PerSlice(None, 2), StubNet(fine_probs, 1), variant="crop").run(volume)
    # slices 0..2: around the coarse tumour as before; slice 3: centre 29.5 -> start 14
    assert [b.box for b in out.boxes] == [(8, 17, 40, 49)] * (Z - 1) + [(14, 14, 46, 46)]
    expected = np.zeros((S, S), np.uint8)
    expected[10:50, 10:50] = 1
    expected[15:46, 14:46] = 2  # the fine map (crop minus its first row) inside the liver
    np.testing.assert_array_equal(out.labels[..., Z - 1], expected)
    assert get_config("paper").crop_on_liver is False  # 2.2 as written at the paper profile
