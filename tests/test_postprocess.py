"""Post-processing on hand-made masks: expected results are worked out pixel by pixel in the comments."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import disk

from liverseg.errors import OptionError
from liverseg.infer.postprocess import closing, fill_holes_per_slice, largest_component, opening, threshold


def test_threshold_is_at_or_above():
    np.testing.assert_array_equal(threshold(np.array([0.2, 0.5, 0.7]), 0.5), [False, True, True])
    np.testing.assert_array_equal(threshold(np.array([0.2, 0.5, 0.7]), 0.6), [False, False, True])


def _blobs():
    """A: 2x2x2 cube (8 voxels) plus 2 voxels chained to it only by corners; B: 3x3x1 plate (9 voxels)."""
    m = np.zeros((12, 12, 6), dtype=bool)
    m[0:2, 0:2, 0:2] = True
    m[2, 2, 2] = True  # corner-touches (1, 1, 1)
    m[3, 3, 3] = True  # corner-touches (2, 2, 2)
    m[8:11, 8:11, 4] = True
    return m


def test_largest_component_26_connectivity_keeps_the_corner_chained_blob():
    m = _blobs()
    out = largest_component(m, connectivity=3)
    expected = m.copy()
    expected[8:11, 8:11, 4] = False  # A plus chain = 10 voxels > 9
    np.testing.assert_array_equal(out, expected)


def test_largest_component_6_connectivity_keeps_the_plate():
    m = _blobs()
    out = largest_component(m, connectivity=1)
    expected = np.zeros_like(m)
    expected[8:11, 8:11, 4] = True  # A alone = 8 voxels < 9
    np.testing.assert_array_equal(out, expected)


def test_largest_component_empty_and_single():
    empty = np.zeros((4, 4, 4), dtype=bool)
    assert not largest_component(empty).any()
    one = np.zeros((4, 4, 4), dtype=bool)
    one[1:3, 1:3, 1] = True
    np.testing.assert_array_equal(largest_component(one), one)
    with pytest.raises(OptionError):
        largest_component(one, connectivity=4)


def _ring(size=9):
    r = np.zeros((size, size), dtype=bool)
    r[2:7, 2:7] = True
    r[3:6, 3:6] = False  # 3x3 interior hole
    return r


def test_fill_holes_per_slice_fills_each_closed_ring_only():
    ring = _ring()
    broken = ring.copy()
    broken[4, 2] = False  # gap in the left wall: interior reaches the border in this slice
    vol = np.stack([ring, ring, broken, ring, ring], axis=2)  # (9, 9, 5), tube open at both z ends
    out = fill_holes_per_slice(vol)
    full = np.zeros((9, 9), dtype=bool)
    full[2:7, 2:7] = True
    for z in (0, 1, 3, 4):
        np.testing.assert_array_equal(out[:, :, z], full)
    np.testing.assert_array_equal(out[:, :, 2], broken)  # not filled through the neighbouring slices
    # 3-D hole filling would fill nothing here: the tube's interior touches the z faces.
    np.testing.assert_array_equal(ndimage.binary_fill_holes(vol), vol)


def test_fill_holes_per_slice_axis_and_2d():
    vol = np.stack([_ring(), np.zeros((9, 9), bool), _ring()], axis=2)
    expected = fill_holes_per_slice(vol, axis=2)
    np.testing.assert_array_equal(fill_holes_per_slice(np.moveaxis(vol, 2, 0), axis=0), np.moveaxis(expected, 2, 0))
    filled = _ring()
    filled[3:6, 3:6] = True
    np.testing.assert_array_equal(fill_holes_per_slice(_ring()), filled)


def test_fill_holes_diagonal_gap_does_not_leak():
    ring = _ring()
    ring[2, 2] = False  # corner removed: interior is only diagonally linked to the outside
    out = fill_holes_per_slice(ring[:, :, None])[:, :, 0]
    assert out[3:6, 3:6].all()


def _place(canvas, footprint, r, c):
    h, w = footprint.shape
    canvas[r:r + h, c:c + w] |= footprint.astype(bool)


def test_opening_removes_bridge_and_speck_and_keeps_disks():
    d = disk(2)  # 5x5 diamond-like disk
    m = np.zeros((12, 20), dtype=bool)
    _place(m, d, 2, 2)   # disk centred at (4, 4)
    _place(m, d, 2, 12)  # disk centred at (4, 14)
    expected = m.copy()
    m[4, 7:12] = True    # 1-pixel bridge between the disks
    m[10, 18] = True     # isolated speck
    # A disk is open with respect to itself; no translate of it fits inside the bridge or the speck.
    np.testing.assert_array_equal(opening(m, 2), expected)
    vol = np.stack([m, m, np.zeros_like(m)], axis=2)
    np.testing.assert_array_equal(opening(vol, 2), np.stack([expected, expected, np.zeros_like(m)], axis=2))


def test_opening_radius5_on_liu_sized_speck():
    d = disk(5)
    m = np.zeros((30, 30), dtype=bool)
    _place(m, d, 3, 3)
    expected = m.copy()
    m[25:29, 25:29] = True  # 4x4 block, smaller than the radius-5 disk
    np.testing.assert_array_equal(opening(m, 5), expected)


def test_per_slice_opening_keeps_a_one_slice_disk_a_ball_does_not():
    vol = np.zeros((11, 11, 5), dtype=bool)
    _place(vol[:, :, 2], disk(2), 3, 3)
    np.testing.assert_array_equal(opening(vol, 2, per_slice=True), vol)
    assert not opening(vol, 2, per_slice=False).any()
    # axis selects the slicing direction
    np.testing.assert_array_equal(opening(np.moveaxis(vol, 2, 0), 2, axis=0), np.moveaxis(vol, 2, 0))


def test_closing_fills_a_one_pixel_gap_between_squares():
    m = np.zeros((9, 15), dtype=bool)
    m[2:7, 2:7] = True
    m[2:7, 8:13] = True  # column 7 is a 1-pixel gap
    out = closing(m, 1)  # disk(1) is the 3x3 cross
    expected = m.copy()
    # Gap pixels (3..5, 7) have all four neighbours in the dilation; the end pixels (2, 7) and
    # (6, 7) do not: (1, 7) is not within a cross of any mask pixel.
    expected[3:6, 7] = True
    np.testing.assert_array_equal(out, expected)


def test_closing_fills_a_hole_and_keeps_border_pixels():
    m = np.zeros((8, 8), dtype=bool)
    m[0:5, 0:5] = True  # touches the top and left borders
    m[2, 2] = False
    out = closing(m, 1)
    expected = np.zeros_like(m)
    expected[0:5, 0:5] = True
    np.testing.assert_array_equal(out, expected)
    vol = np.stack([m, ~m], axis=2)
    assert (closing(vol, 3) >= vol).all()  # closing contains its input, borders included


def test_grey_opening_and_closing_of_a_probability_map():
    p = np.full((12, 12), 0.1, dtype=np.float32)
    p[2:7, 2:7] = np.where(disk(2), 0.9, 0.1)  # flat plateau shaped like the footprint
    expected = p.copy()
    p[10, 10] = 0.8  # bright speck in the background
    np.testing.assert_allclose(opening(p, 2), expected)
    q = expected.copy()
    q[4, 4] = 0.3  # dark pit inside the plateau
    np.testing.assert_allclose(closing(q, 1), expected)
    assert opening(p, 2).dtype == np.float32


def test_radius_zero_and_negative():
    m = np.eye(5, dtype=bool)
    np.testing.assert_array_equal(opening(m, 0), m)
    with pytest.raises(OptionError):
        closing(m, -1)


def test_opening_counts_outside_the_array_as_background():
    m = np.zeros((10, 10), dtype=bool)
    m[0:3, :] = True  # 3-pixel band along the top border: a radius-2 disk (5 wide) does not fit
    m[5:10, 5:10] = True  # 5x5 block in the corner: only the disk centred at (7, 7) fits inside it
    out = opening(m, 2)
    assert not out[0:3].any()
    expected = np.zeros_like(m)
    _place(expected, disk(2), 5, 5)
    np.testing.assert_array_equal(out, expected)
