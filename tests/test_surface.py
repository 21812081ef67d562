"""Surface voxels and surface distances against a deliberately simple second implementation.

The reference finds surface voxels by visiting every neighbour offset of the structuring element
on an explicitly padded copy (no erosion call) and nearest distances by brute force over all
pairs of surface points in mm (scipy.spatial.distance.cdist).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.distance import cdist

from liverseg.evaluation import surface_distances, surface_mask, volume_metrics
from liverseg.evaluation.surface import bounding_box, union_box

medpy_binary = pytest.importorskip("medpy.metric.binary")

# definition -> (largest number of non-zero offset components, value outside the array)
REFERENCE_RULES = {"lits": (2, False), "medpy": (1, False), "chaos": (1, True)}


def ref_surface(mask: np.ndarray, definition: str) -> np.ndarray:
    """A mask voxel is on the surface when a neighbour within the structuring element is background."""
    max_nonzero, outside = REFERENCE_RULES[definition]
    padded = np.pad(mask, 1, constant_values=outside)
    out = np.zeros_like(mask)
    for offset in itertools.product((-1, 0, 1), repeat=mask.ndim):
        nonzero = sum(o != 0 for o in offset)
        if nonzero == 0 or nonzero > max_nonzero:
            continue
        neighbour = padded[tuple(slice(1 + o, 1 + o + n) for o, n in zip(offset, mask.shape))]
        out |= mask & ~neighbour
    return out


def ref_distances(pred, truth, spacing, definition):
    """Brute-force directed distances (pred surface -> truth surface, truth -> pred) in mm."""
    sp = ref_surface(pred, definition)
    st = ref_surface(truth, definition)
    a = np.argwhere(sp) * np.asarray(spacing, dtype=float)
    b = np.argwhere(st) * np.asarray(spacing, dtype=float)
    pair = cdist(a, b)
    return pair.min(axis=1), pair.min(axis=0)


def ref_metrics(pred, truth, spacing, definition):
    d_p, d_t = ref_distances(pred, truth, spacing, definition)
    d = np.concatenate([d_p, d_t])
    n_p, n_t, n_i = pred.sum(), truth.sum(), (pred & truth).sum()
    return dict(
        dice=2 * n_i / (n_p + n_t),
        jaccard=n_i / (n_p + n_t - n_i),
        rvd=(n_p - n_t) / n_t,
        assd=d.sum() / (len(d_p) + len(d_t)),
        rmsd=np.sqrt((d**2).sum() / (len(d_p) + len(d_t))),
        msd=d.max(),
        hd95=np.percentile(d, 95),
    )


def random_blobs(rng, shape, touch_border: bool):
    """Smoothed random noise thresholded into a few blobs; optionally forced onto the array border."""
    noise = ndimage.gaussian_filter(rng.random(shape), sigma=1.2)
    mask = noise > np.quantile(noise, 0.7)
    if touch_border:
        mask[0, : shape[1] // 2, :] = True
        mask[:, -1, shape[2] // 3:] = True
    return mask


CASES = [(seed, touch) for seed in range(4) for touch in (False, True)]


@pytest.mark.parametrize("definition", ["lits", "medpy", "chaos"])
@pytest.mark.parametrize("seed,touch", CASES)
def test_surface_mask_matches_neighbour_rule(definition, seed, touch):
    rng = np.random.default_rng(seed)
    mask = random_blobs(rng, (9, 11, 7), touch)
    np.testing.assert_array_equal(surface_mask(mask, definition), ref_surface(mask, definition))


def test_lits_and_medpy_surfaces_differ_on_a_diagonal_edge():
    # A staircase touches background through edges only at its inner corners: the
    # 18-neighbourhood marks those voxels, the 6-neighbourhood does not.
    mask = np.zeros((6, 6, 5), bool)
    mask[1:5, 1:5, 1:4] = True
    mask[1:3, 1:3, 1:4] = False
    lits, medpy = surface_mask(mask, "lits"), surface_mask(mask, "medpy")
    assert (medpy & ~lits).sum() == 0
    assert lits[3, 3, 2] and not medpy[3, 3, 2]  # only diagonal neighbour (2, 2, 2) is background


@pytest.mark.parametrize("definition", ["lits", "medpy", "chaos"])
@pytest.mark.parametrize("seed,touch", CASES)
def test_surface_distances_match_brute_force(definition, seed, touch):
    rng = np.random.default_rng(100 + seed)
    shape = (10, 12, 8)
    pred = random_blobs(rng, shape, touch)
    truth = random_blobs(rng, shape, touch)
    spacing = (0.7, 0.9, 2.5)
    d_p, d_t = surface_distances(pred, truth, spacing, definition)
    r_p, r_t = ref_distances(pred, truth, spacing, definition)
    np.testing.assert_allclose(d_p, r_p, atol=1e-6)
    np.testing.assert_allclose(d_t, r_t, atol=1e-6)


@pytest.mark.parametrize("definition", ["lits", "medpy", "chaos"])
@pytest.mark.parametrize("seed,touch", CASES)
def test_volume_metrics_match_brute_force(definition, seed, touch):
    rng = np.random.default_rng(200 + seed)
    shape = (14, 9, 10)
    truth = random_blobs(rng, shape, touch)
    pred = ndimage.binary_dilation(truth) if seed % 2 else np.roll(truth, 1, axis=seed % 3)
    pred[rng.random(shape) > 0.97] = True  # scattered false positives
    spacing = (1.3, 0.6, 3.0)
    got = volume_metrics(pred, truth, spacing, assd=definition)
    want = ref_metrics(pred, truth, spacing, definition)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    assert got["voe"] == pytest.approx(1 - want["jaccard"], abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_medpy_definition_matches_medpy(seed):
    rng = np.random.default_rng(300 + seed)
    shape = (12, 10, 9)
    truth = random_blobs(rng, shape, touch_border=bool(seed % 2))
    pred = random_blobs(rng, shape, touch_border=False)
    spacing = (0.8, 0.8, 2.0)
    got = volume_metrics(pred, truth, spacing, assd="medpy")
    assert got["dice"] == pytest.approx(medpy_binary.dc(pred, truth), abs=1e-12)
    assert got["jaccard"] == pytest.approx(medpy_binary.jc(pred, truth), abs=1e-12)
    assert got["assd"] == pytest.approx(medpy_binary.assd(pred, truth, spacing), abs=1e-6)
    assert got["msd"] == pytest.approx(medpy_binary.hd(pred, truth, spacing), abs=1e-6)
    assert got["hd95"] == pytest.approx(medpy_binary.hd95(pred, truth, spacing), abs=1e-6)
    # medpy with connectivity 2 is the LiTS surface
    assert volume_metrics(pred, truth, spacing)["assd"] == pytest.approx(
        medpy_binary.assd(pred, truth, spacing, connectivity=2), abs=1e-6
    )


def test_two_cubes_offset_by_one_voxel_by_hand():
    # 3x3x3 cubes at x = 1..3 and x = 2..4, spacing 2 mm along x. Every voxel but the centre is
    # a surface voxel (26 each). Pred -> truth: its face x=1 (9 voxels) is 2 mm from truth's
    # face x=2, its face centre (3,2,2) is 1 mm from the truth ring, the other 16 lie on truth's
    # surface. The same holds the other way: distances 18 x 2 mm, 2 x 1 mm, 32 x 0.
    truth = np.zeros((6, 5, 5), bool)
    pred = np.zeros_like(truth)
    pred[1:4, 1:4, 1:4] = True
    truth[2:5, 1:4, 1:4] = True
    got = volume_metrics(pred, truth, (2.0, 1.0, 1.0))
    assert got["dice"] == pytest.approx(2 * 18 / 54)
    assert got["jaccard"] == pytest.approx(18 / 36)
    assert got["voe"] == pytest.approx(0.5)
    assert got["rvd"] == 0.0
    assert got["assd"] == pytest.approx(38 / 52)
    assert got["rmsd"] == pytest.approx(np.sqrt((18 * 4 + 2) * 2 / 104))
    assert got["msd"] == pytest.approx(2.0)
    assert got["hd95"] == pytest.approx(2.0)
    assert (got["pred_voxels"], got["truth_voxels"], got["intersection_voxels"]) == (27, 27, 18)


def test_rvd_sign_and_bigger_prediction():
    truth = np.zeros((8, 8, 8), bool)
    truth[2:6, 2:6, 2:6] = True  # 64 voxels
    pred = np.zeros_like(truth)
    pred[1:7, 2:6, 2:6] = True  # 96 voxels
    got = volume_metrics(pred, truth, (1, 1, 1))
    assert got["rvd"] == pytest.approx((96 - 64) / 64)
    assert got["dice"] == pytest.approx(2 * 64 / 160)
    assert got["msd"] == pytest.approx(1.0)


def test_empty_mask_conventions():
    empty = np.zeros((5, 5, 5), bool)
    full = empty.copy()
    full[1:3, 1:3, 1:3] = True
    both = volume_metrics(empty, empty, (1, 1, 1))
    assert (both["dice"], both["jaccard"], both["voe"]) == (1.0, 1.0, 0.0)
    assert all(np.isnan(both[k]) for k in ("rvd", "assd", "rmsd", "msd", "hd95"))
    missed = volume_metrics(empty, full, (1, 1, 1))
    assert (missed["dice"], missed["jaccard"], missed["voe"], missed["rvd"]) == (0.0, 0.0, 1.0, -1.0)
    assert all(missed[k] == np.inf for k in ("assd", "rmsd", "msd", "hd95"))
    spurious = volume_metrics(full, empty, (1, 1, 1))
    assert spurious["dice"] == 0.0 and spurious["rvd"] == np.inf and spurious["assd"] == np.inf


def test_unknown_definition_is_an_option_error():
    from liverseg.errors import OptionError

    with pytest.raises(OptionError, match="unknown ASSD definition 'hausdorff'"):
        volume_metrics(np.ones((3, 3, 3)), np.ones((3, 3, 3)), (1, 1, 1), assd="hausdorff")


def test_bounding_boxes():
    mask = np.zeros((6, 7, 8), bool)
    mask[2, 3:5, 7] = True
    assert bounding_box(mask) == (slice(2, 3), slice(3, 5), slice(7, 8))
    assert bounding_box(mask, margin=1) == (slice(1, 4), slice(2, 6), slice(6, 8))
    other = np.zeros_like(mask)
    other[0, 0, 0] = True
    assert union_box(mask, other, margin=1) == (slice(0, 4), slice(0, 6), slice(0, 8))
    assert union_box(np.zeros_like(mask), np.zeros_like(mask)) is None


@pytest.mark.realdata
def test_real_liver_slab_against_distance_transform(shared_data):
    """A real liver cut to a slab of slices (so it touches the volume border) against a shifted,
    dilated copy: distances from a whole-volume Euclidean distance transform, no cropping."""
    from liverseg.io.volumes import read_volume

    vol = read_volume(shared_data / "lits_sample" / "segmentation-0.nii.gz", kind="label")
    liver = vol.array >= 1
    z = np.flatnonzero(liver.any(axis=(0, 1)))
    truth = liver[:, :, z[len(z) // 2] - 6: z[len(z) // 2] + 6]
    pred = np.roll(ndimage.binary_dilation(truth, iterations=2), (2, -3, 1), axis=(0, 1, 2))
    spacing = vol.spacing
    got = volume_metrics(pred, truth, spacing)
    s_p, s_t = ref_surface(pred, "lits"), ref_surface(truth, "lits")
    d_p = ndimage.distance_transform_edt(~s_t, sampling=spacing)[s_p]
    d_t = ndimage.distance_transform_edt(~s_p, sampling=spacing)[s_t]
    d = np.concatenate([d_p, d_t])
    assert got["assd"] == pytest.approx(d.mean(), abs=1e-6)
    assert got["rmsd"] == pytest.approx(np.sqrt(np.mean(d**2)), abs=1e-6)
    assert got["msd"] == pytest.approx(d.max(), abs=1e-6)
    assert got["hd95"] == pytest.approx(np.percentile(d, 95), abs=1e-6)
    assert got["dice"] == pytest.approx(medpy_binary.dc(pred, truth), abs=1e-12)
