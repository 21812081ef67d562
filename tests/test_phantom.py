"""Synthetic CT phantom: determinism, labels, anatomy in world coordinates, HU, spacing, CLI."""
from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from data_prep import phantom
from data_prep.phantom_anatomy import ORG
from data_prep.phantom_case import draw_case
from data_prep.phantom_lesions import tumour_free

SEED = 7
N_CASES = 10


@pytest.fixture(scope="module")
def small_cases():
    """Cases 0..9 at 64 px: (image, label, organ map, affine, Case)."""
    return [phantom.generate_case_full(SEED, i, 64) for i in range(N_CASES)]


@pytest.fixture(scope="module")
def big_case():
    """One full-size case with a large tumour and few slices (found from the drawn parameters)."""
    for i in range(40):
        case = draw_case(SEED, i)
        d = [t["diameter"] for t in case.tumours]
        if case.info["tumour_type"] == "large" and len(case.z) <= 90 and min(d) < 9 and max(d) > 32:
            return phantom.generate_case_full(SEED, i, 512)
    pytest.fail("no suitable case among 40 draws")


def canonical(array, affine):
    img = nib.as_closest_canonical(nib.Nifti1Image(array, affine))
    return np.asarray(img.dataobj), img.affine


def world_centroid(mask, affine):
    idx = np.argwhere(mask).mean(axis=0)
    return affine[:3, :3] @ idx + affine[:3, 3]


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a = phantom.write_phantom(tmp_path / "a", 2, SEED, size=48, progress=False)
    b = phantom.write_phantom(tmp_path / "b", 2, SEED, size=48, progress=False, workers=2)
    c = phantom.write_phantom(tmp_path / "c", 2, SEED + 1, size=48, progress=False)
    assert [p.name for p in a] == ["volume-0.nii.gz", "segmentation-0.nii.gz", "volume-1.nii.gz", "segmentation-1.nii.gz"]
    for pa, pb, pc in zip(a, b, c):
        assert pa.read_bytes() == pb.read_bytes()
        assert pa.read_bytes() != pc.read_bytes()
        assert pa.read_bytes()[4:8] == b"\0\0\0\0"  # gzip mtime field is zero
        gzip.decompress(pa.read_bytes())
    assert not list((tmp_path / "a").glob(".*"))  # no temporary files left


def test_written_files_are_consistent(tmp_path):
    paths = phantom.write_phantom(tmp_path, 1, SEED, size=48, progress=False)
    vol, seg = nib.load(paths[0]), nib.load(paths[1])
    assert vol.get_data_dtype() == np.int16 and seg.get_data_dtype() == np.uint8
    assert vol.shape == seg.shape and vol.shape[:2] == (48, 48)
    np.testing.assert_allclose(vol.affine, seg.affine)
    image, label, affine = phantom.generate_case(SEED, 0, 48)
    np.testing.assert_array_equal(np.asarray(vol.dataobj), image)
    np.testing.assert_array_equal(np.asarray(seg.dataobj), label)
    np.testing.assert_allclose(vol.affine, affine, atol=1e-4)


def test_labels_and_liver_extent(small_cases):
    for image, label, _, affine, case in small_cases:
        assert image.dtype == np.int16 and label.dtype == np.uint8 and image.shape == label.shape
        assert set(np.unique(label)) <= {0, 1, 2}
        lab, _ = canonical(label, affine)
        per_slice = (lab >= 1).any(axis=(0, 1))
        k = np.nonzero(per_slice)[0]
        assert k.size > 10
        assert k[0] > 0 and k[-1] < lab.shape[2] - 1  # slices below and above without liver
        assert 0.2 < per_slice.mean() < 0.95


def test_tumours_inside_liver_and_some_cases_without(small_cases, big_case):
    without = [case.index for _, label, _, _, case in small_cases if not (label == 2).any()]
    planned = [i for i in range(N_CASES) if tumour_free(SEED, i)]
    assert planned and set(planned) <= set(without)
    assert len(without) < N_CASES // 2
    _, label, _, _, _ = big_case
    tumour = label == 2
    shell = ndimage.binary_dilation(tumour) & ~tumour
    assert tumour.any() and set(np.unique(label[shell])) == {1}  # every tumour is wrapped in liver


def test_tumour_sizes_match_plan_and_span_small_to_large(big_case):
    diameters = [t["diameter"] for i in range(30) for t in draw_case(SEED, i).tumours]
    assert min(diameters) < 10 and max(diameters) > 30 and min(diameters) >= 3 * 0.85 ** 4 and max(diameters) <= 60
    _, label, _, affine, case = big_case
    voxel = abs(np.linalg.det(affine[:3, :3]))
    cc, n = ndimage.label(label == 2)
    eq = sorted((6 * ndimage.sum(label == 2, cc, range(1, n + 1)) * voxel / np.pi) ** (1 / 3))
    plan = sorted(t["diameter"] for t in case.tumours)
    assert len(eq) == len(plan)
    np.testing.assert_allclose(eq, plan, rtol=0.2, atol=1.5)
    assert eq[0] < 10 and eq[-1] > 30


def test_hu_statistics(big_case):
    image, label, organs, _, case = big_case
    corner = image[:20, :20, :]
    assert abs(corner.mean() + 1000) < 15 and 5 < corner.std() < 25  # air with noise sigma 10-20 HU
    liver = image[label == 1].mean()
    assert 40 <= liver <= 90
    assert image[label == 2].mean() < liver - 5
    assert (image > 300).sum() > 1000 and image[organs == ORG["bone"]].max() > 600
    lung = organs == ORG["lung"]
    if lung.any():
        assert image[lung].mean() < -700


def test_liver_like_confounders(small_cases, big_case):
    for image, label, organs, affine, case in small_cases + [big_case]:
        liver_mean = image[label == 1].mean()
        slices = (label >= 1).any(axis=(0, 1))
        near = (np.abs(image.astype(float) - liver_mean) < 15) & (label == 0)
        assert near[:, :, slices].sum() > 0.2 * (label >= 1).sum()  # plenty of liver-like HU outside the liver
        spleen = image[organs == ORG["spleen"]].mean()
        assert abs(spleen - liver_mean) < 25


def test_spacing_orientation_and_fov(small_cases):
    codes = set()
    for image, _, _, affine, case in small_cases:
        zooms = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        assert zooms[0] == pytest.approx(zooms[1])
        assert 0.6 * 8 <= zooms[0] <= 0.9 * 8  # 64 px: the 512-px spacing (0.6-0.9 mm) x 512 / 64
        assert 0.7 <= zooms[2] <= 5.0
        assert 145 <= zooms[2] * (image.shape[2] - 1) <= 250
        assert zooms[0] * 64 == pytest.approx(case.fov)
        codes.add(nib.aff2axcodes(affine))
    assert len(codes) >= 2
    assert any(c[2] == "I" for c in codes) or any(draw_case(SEED, i).orientation.endswith("I") for i in range(20))


def test_liver_on_patient_right_in_world_coordinates(small_cases):
    for image, label, organs, affine, case in small_cases:
        lab, caff = canonical(label, affine)
        org, _ = canonical(organs, affine)
        img, _ = canonical(image, affine)
        assert nib.aff2axcodes(caff) == ("R", "A", "S")
        liver = world_centroid(lab >= 1, caff)
        spleen = world_centroid(org == ORG["spleen"], caff)
        body = world_centroid(img > -500, caff)
        heart = org == ORG["heart"]
        assert liver[0] > spleen[0] + 60 and liver[0] > body[0] + 20  # +x is the patient's right
        spine = world_centroid(org == ORG["bone"], caff)
        assert liver[1] > spine[1]  # liver anterior to the spine
        if heart.any():
            assert world_centroid(heart, caff)[2] > liver[2]  # heart above the liver


def test_canonical_view_matches_render():
    case = draw_case(SEED, 1)
    image, label, affine = phantom.generate_case(SEED, 1, 48)
    _, lab_ras, _ = phantom.render(case, 48)
    lab, caff = canonical(label, affine)
    np.testing.assert_array_equal(lab, lab_ras)
    np.testing.assert_allclose(caff, phantom.canonical_affine(case, 48), atol=1e-6)


def test_same_patient_at_every_size():
    volumes = []
    for size in (64, 128):
        _, label, affine = phantom.generate_case(SEED, 2, size)
        volumes.append((label >= 1).sum() * abs(np.linalg.det(affine[:3, :3])))
    assert volumes[0] == pytest.approx(volumes[1], rel=0.05)
    assert 600e3 < volumes[1] < 3000e3  # 0.6-3 litres


def test_gaussian_noise_statistics():
    noise = phantom.gaussian_noise(np.random.default_rng(0), (200_000,), 15.0)
    assert abs(noise.mean()) < 0.2 and noise.std() == pytest.approx(15.0, rel=0.02)
    assert abs(np.mean(np.abs(noise) < 15.0) - 0.6827) < 0.01  # one-sigma fraction of a normal


def test_cli_writes_files(tmp_path, capsys):
    assert phantom.main(["--output", str(tmp_path), "--cases", "2", "--seed", "1", "--size", "40", "--quiet", "--workers", "1"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["segmentation-0.nii.gz", "segmentation-1.nii.gz", "volume-0.nii.gz", "volume-1.nii.gz"]


@pytest.mark.parametrize("argv", [
    ["--cases", "-1"], ["--cases", "2", "--size", "8"], ["--cases", "2", "--seed", "-3"],
    ["--cases", "abc"], ["--cases", "1", "--workers", "0"], ["--cases", "1", "--bogus"],
])
def test_cli_bad_options_exit_2_one_line(tmp_path, capsys, argv):
    try:
        rc = phantom.main(["--output", str(tmp_path / "out")] + argv)
    except SystemExit as exc:
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_output_that_is_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert phantom.main(["--output", str(target), "--cases", "1", "--quiet"]) == 2
    assert "not a directory" in capsys.readouterr().err
