"""Cascade crop / paste-back helpers on hand-made masks and boxes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from liverseg.infer.cascade import (
    CropBox, bbox, bbox_centre, centred_box, crop, paste, predict_in_boxes, read_boxes, roi_box, write_boxes,
)
from liverseg.errors import InputError, OptionError


def test_bbox_any_dimension_and_empty():
    m = np.zeros((6, 7, 8), dtype=bool)
    m[1, 2, 3] = True
    m[4, 5, 6] = True
    assert bbox(m) == (slice(1, 5), slice(2, 6), slice(3, 7))
    assert bbox(np.zeros((3, 3))) is None
    assert bbox(np.array([0, 0, 1, 1, 0, 1, 0])) == (slice(2, 6),)
    assert bbox(np.array([[0, 2], [0, 0]])) == (slice(0, 1), slice(1, 2))  # nonzero counts as inside


def test_bbox_centre_uses_the_four_boundary_points_not_the_centroid():
    m = np.zeros((12, 14), dtype=bool)
    m[2:8, 3] = True   # vertical bar, rows 2..7
    m[7, 3:11] = True  # horizontal bar, cols 3..10 (an L: centroid is far from the box centre)
    assert bbox_centre(m) == ((2 + 7) // 2, (3 + 10) // 2) == (4, 6)
    assert bbox_centre(np.zeros((4, 4))) is None
    single = np.zeros((5, 5))
    single[3, 1] = 1
    assert bbox_centre(single) == (3, 1)


@pytest.mark.parametrize("centre, expected", [
    ((256, 256), (129, 129, 385, 385)),   # inside: start = 256 - 255/2 + 0.5 = 129
    ((0, 0), (0, 0, 256, 256)),           # top-left corner
    ((511, 511), (256, 256, 512, 512)),   # bottom-right corner
    ((10, 500), (0, 256, 256, 512)),      # top and right borders
    ((500, 10), (256, 0, 512, 256)),      # bottom and left borders
    ((300, 127), (173, 0, 429, 256)),     # left border only (127 - 127 = 0 fits exactly)
    ((300, 126), (173, 0, 429, 256)),     # left border only (126 - 127 = -1 -> 0)
    ((130, 384), (3, 256, 259, 512)),     # right border only (384 - 127 = 257 -> 256)
    ((130, 383), (3, 256, 259, 512)),     # right border only (383 - 127 = 256 fits exactly)
])
def test_centred_box_clamps_at_every_border(centre, expected):
    box = centred_box(centre, 256, (512, 512))
    assert box == expected
    assert box[2] - box[0] == 256 and box[3] - box[1] == 256


def test_centred_box_odd_and_rectangular_sizes():
    assert centred_box((4, 4), 5, (10, 10)) == (2, 2, 7, 7)  # centre pixel in the middle of the box
    assert centred_box((5, 5), (4, 6), (10, 10)) == (4, 3, 8, 9)  # floor(5 - 1.5 + 0.5), floor(5 - 2.5 + 0.5)
    assert centred_box((10.5, 10.5), 4, (20, 20)) == (9, 9, 13, 13)  # half-pixel centre: exactly in the middle
    assert centred_box((9, 0), (4, 6), (10, 10)) == (6, 0, 10, 6)


def test_centred_box_larger_than_the_image_is_centred_on_the_image():
    # rows: image 5 < box 8 -> start (5 - 8) // 2 = -2, two zero rows before and one after
    assert centred_box((4, 5), 8, (5, 10)) == (-2, 2, 6, 10)  # cols fit: floor(5 - 3.5 + 0.5) = 2
    with pytest.raises(OptionError):
        centred_box((1, 1), 0, (5, 5))


def test_crop_paste_round_trip_512_image_256_box():
    rng = np.random.default_rng(0)
    image = rng.random((512, 512)).astype(np.float32) + 1.0  # never zero
    box = centred_box((100, 450), 256, image.shape)
    patch = crop(image, box)
    assert patch.shape == (256, 256)
    r0, c0, r1, c1 = box
    np.testing.assert_array_equal(patch, image[r0:r1, c0:c1])
    back = paste(patch, box, image.shape)
    inside = np.zeros(image.shape, dtype=bool)
    inside[r0:r1, c0:c1] = True
    np.testing.assert_array_equal(back[inside], image[inside])
    assert not back[~inside].any()
    assert back.dtype == image.dtype


def test_crop_zero_pads_and_paste_drops_the_outside_part():
    image = np.arange(1, 1 + 5 * 6 * 2, dtype=np.int32).reshape(5, 6, 2)  # trailing channel axis
    box = centred_box((2, 3), 8, image.shape[:2])  # image smaller than the box both ways: rows (-2, 6), cols (-1, 7)
    assert box == (-2, -1, 6, 7)
    patch = crop(image, box)
    assert patch.shape == (8, 8, 2)
    np.testing.assert_array_equal(patch[2:7, 1:7], image)
    assert patch[:2].sum() == 0 and patch[7:].sum() == 0 and patch[:, 0].sum() == 0 and patch[:, 7].sum() == 0
    np.testing.assert_array_equal(paste(patch, box, (5, 6)), image)


def test_paste_rejects_a_patch_of_the_wrong_size():
    with pytest.raises(ValueError):
        paste(np.ones((3, 3)), (0, 0, 4, 4), (8, 8))


def test_roi_box_margin_clamped():
    m = np.zeros((10, 12, 8), dtype=bool)
    m[1:4, 5:7, 6] = True
    assert roi_box(m, 2) == (slice(0, 6), slice(3, 9), slice(4, 8))
    assert roi_box(m, (0, 10, 1)) == (slice(1, 4), slice(0, 12), slice(5, 8))
    assert roi_box(np.zeros((3, 3, 3)), 1) is None
    with pytest.raises(OptionError):
        roi_box(m, (1, 2))


def test_cropbox_around_crop_paste_and_json(tmp_path):
    mask = np.zeros((64, 64), dtype=bool)
    mask[50:60, 55:62] = True  # centre (54, 58) -> box clamped to the bottom-right
    cb = CropBox.around(mask, 32, z=7)
    assert cb.box == (32, 32, 64, 64) and cb.shape == (64, 64) and cb.z == 7
    assert CropBox.around(np.zeros((8, 8)), 4) is None
    pair = np.zeros((20, 20), dtype=bool)
    pair[10:12, 10:12] = True  # exact centre (10.5, 10.5): an odd box starts at floor(10.5 - 1 + 0.5) = 10
    assert CropBox.around(pair, 3).box == (10, 10, 13, 13)
    image = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    back = cb.paste(cb.crop(image))
    np.testing.assert_array_equal(back[32:, 32:], image[32:, 32:])
    assert back[:32].sum() == 0 and back[:, :32].sum() == 0
    assert CropBox.from_dict(json.loads(json.dumps(cb.to_dict()))) == cb
    path = tmp_path / "boxes.json"
    write_boxes(path, [cb, None])
    assert read_boxes(path) == [cb, None]


def test_read_boxes_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.json"):
        read_boxes(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"r0": 1}]))
    with pytest.raises(InputError, match="bad.json"):
        read_boxes(bad)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="bad.json"):
        read_boxes(bad)


def test_predict_in_boxes_pastes_each_prediction_back():
    rng = np.random.default_rng(1)
    slices = rng.random((3, 16, 16, 1)).astype(np.float32)
    boxes = [CropBox(0, 0, 8, 8, (16, 16)), None, CropBox(4, 8, 12, 16, (16, 16))]
    calls = []

    def predict_fn(x):
        calls.append(x.shape)
        return np.concatenate([2 * x, -x], axis=-1)

    out = predict_in_boxes(predict_fn, slices, boxes)
    assert calls == [(2, 8, 8, 1)]  # one call with every crop
    assert out.shape == (3, 16, 16, 2)
    expected = np.zeros_like(out)
    expected[0, 0:8, 0:8, 0] = 2 * slices[0, 0:8, 0:8, 0]
    expected[0, 0:8, 0:8, 1] = -slices[0, 0:8, 0:8, 0]
    expected[2, 4:12, 8:16, 0] = 2 * slices[2, 4:12, 8:16, 0]
    expected[2, 4:12, 8:16, 1] = -slices[2, 4:12, 8:16, 0]
    np.testing.assert_allclose(out, expected)
    assert predict_in_boxes(predict_fn, slices, [None] * 3, channels=2).shape == (3, 16, 16, 2)
    with pytest.raises(OptionError):
        predict_in_boxes(predict_fn, slices, [boxes[0], None, CropBox(0, 0, 4, 4, (16, 16))])


def test_predict_in_boxes_runs_a_model_on_fixed_shape_batches():
    import keras

    inp = keras.Input((8, 8, 1))
    model = keras.Model(inp, keras.layers.Conv2D(1, 1, kernel_initializer="ones", use_bias=False)(inp))
    shapes = []

    class Recording:
        inputs, name = model.inputs, "rec"

        def predict_on_batch(self, x):
            shapes.append(x.shape)
            return model.predict_on_batch(x)

    slices = np.random.default_rng(2).random((5, 16, 16, 1)).astype(np.float32)
    boxes = [CropBox(0, 0, 8, 8, (16, 16)), None, CropBox(8, 8, 16, 16, (16, 16)),
             CropBox(4, 4, 12, 12, (16, 16)), None]
    out = predict_in_boxes(Recording(), slices, boxes, batch_size=2)
    assert shapes == [(2, 8, 8, 1), (2, 8, 8, 1)]  # 3 crops: the second batch is padded
    expected = np.zeros_like(slices)
    for i, b in enumerate(boxes):
        if b is not None:
            expected[i] = b.paste(b.crop(slices[i]))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    with pytest.raises(OptionError, match="made for slices of shape"):
        predict_in_boxes(Recording(), slices[:, :12, :12], boxes, batch_size=2)


def test_write_boxes_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "boxes.json"
    write_boxes(path, [CropBox(0, 0, 2, 2, (4, 4))])
    before = path.read_text()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr("liverseg.io.atomic.os.replace", crash)
    with pytest.raises(OSError):
        write_boxes(path, [None, None])
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["boxes.json"]
