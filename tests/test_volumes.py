"""NIfTI reading, canonical orientation, validation, label writing and the leakage guard."""
from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from liverseg.errors import InputError
from liverseg.io.leakage import LeakageWarning, check_leakage, content_hash
from liverseg.io.volumes import Volume, read_case, read_volume, write_label_volume

SHAPE = (6, 5, 4)
SPACING = (0.7, 0.8, 2.5)
ORIGIN = (10.0, -20.0, 30.0)


def ras_affine(spacing=SPACING, origin=ORIGIN):
    aff = np.diag([*spacing, 1.0])
    aff[:3, 3] = origin
    return aff


def write_nifti(path, data, affine=None, dtype=None, slope=None, inter=None):
    img = nib.Nifti1Image(np.asarray(data), ras_affine() if affine is None else affine)
    if dtype is not None:
        img.set_data_dtype(dtype)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, str(path))
    return Path(path)


def ct(shape=SHAPE, seed=0):
    return np.random.default_rng(seed).integers(-1000, 1500, size=shape).astype(np.int16)


def labels(shape=SHAPE):
    lab = np.zeros(shape, np.uint8)
    lab[1:4, 1:4, 1:3] = 1
    lab[2, 2, 1] = 2
    return lab


def stored_copies(data, spacing=SPACING, origin=ORIGIN):
    """The same scan stored in other layouts, with affines worked out by hand.

    Voxel (i, j, k) of `data` lies at origin + (i, j, k) * spacing (RAS, axis-aligned).
    """
    nx, ny, nz = data.shape
    sx, sy, sz = spacing
    ox, oy, oz = origin
    lps = np.array([[-sx, 0, 0, ox + sx * (nx - 1)], [0, -sy, 0, oy + sy * (ny - 1)], [0, 0, sz, oz], [0, 0, 0, 1]])
    # axes (z, x, y): stored[k, i, j] = data[i, j, k]
    perm = np.array([[0, sx, 0, ox], [0, 0, sy, oy], [sz, 0, 0, oz], [0, 0, 0, 1]])
    # axes (y, z, x) with z reversed: stored[j, m, i] = data[i, j, nz - 1 - m]
    perm_flip = np.array([[0, 0, sx, ox], [sy, 0, 0, oy], [0, -sz, 0, oz + sz * (nz - 1)], [0, 0, 0, 1]])
    return {
        "lps": (data[::-1, ::-1, :], lps),
        "perm": (data.transpose(2, 0, 1), perm),
        "perm_flip": (data[:, :, ::-1].transpose(1, 2, 0), perm_flip),
    }


def assert_error(excinfo, path, *words):
    msg = str(excinfo.value)
    assert Path(path).name in msg, msg
    for word in words:
        assert word.lower() in msg.lower(), msg


# ---------------------------------------------------------------- orientation


def test_canonical_ras_volume_reads_as_stored(tmp_path):
    data = ct()
    vol = read_volume(write_nifti(tmp_path / "a.nii.gz", data))
    assert isinstance(vol, Volume)
    assert vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, data.astype(np.float32))
    np.testing.assert_allclose(vol.affine, ras_affine(), atol=1e-6)
    np.testing.assert_allclose(vol.spacing, SPACING, rtol=1e-6)
    assert vol.original_shape == SHAPE
    assert vol.source.endswith("a.nii.gz")


@pytest.mark.parametrize("layout", ["lps", "perm", "perm_flip"])
def test_reoriented_copy_reads_back_identical(tmp_path, layout):
    data = ct()
    stored, affine = stored_copies(data)[layout]
    vol = read_volume(write_nifti(tmp_path / f"{layout}.nii.gz", stored, affine))
    np.testing.assert_array_equal(vol.array, data.astype(np.float32))
    np.testing.assert_allclose(vol.affine, ras_affine(), atol=1e-5)
    np.testing.assert_allclose(vol.spacing, SPACING, rtol=1e-6)
    assert vol.original_shape == stored.shape
    np.testing.assert_allclose(vol.original_affine, affine, atol=1e-5)
    # to_original undoes the reorientation exactly, for any dtype and with a trailing channel axis
    np.testing.assert_array_equal(vol.to_original(vol.array), stored)
    onehot = np.stack([vol.array > 0, vol.array <= 0], axis=-1)
    back = vol.to_original(onehot)
    assert back.shape == stored.shape + (2,) and back.dtype == bool
    np.testing.assert_array_equal(back[..., 0], stored > 0)


def test_to_original_rejects_wrong_shape(tmp_path):
    vol = read_volume(write_nifti(tmp_path / "a.nii", ct()))
    with pytest.raises(ValueError):
        vol.to_original(np.zeros((3, 3, 3)))


def test_scl_slope_and_inter_are_applied(tmp_path):
    stored = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    vol = read_volume(write_nifti(tmp_path / "s.nii.gz", stored, dtype=np.int16, slope=2.0, inter=-1024.0))
    assert vol.array.dtype == np.float32
    np.testing.assert_array_equal(vol.array, stored.astype(np.float32) * 2 - 1024)


def test_trailing_singleton_fourth_axis_is_accepted(tmp_path):
    data = ct()
    vol = read_volume(write_nifti(tmp_path / "t.nii.gz", data[..., None]))
    np.testing.assert_array_equal(vol.array, data)
    assert vol.original_shape == SHAPE


# ---------------------------------------------------------------- labels


def test_label_kinds(tmp_path):
    lab = labels()
    as_int16 = read_volume(write_nifti(tmp_path / "l16.nii.gz", lab.astype(np.int16)), "label")
    as_float = read_volume(write_nifti(tmp_path / "lf.nii.gz", lab.astype(np.float32)), "label")
    for vol in (as_int16, as_float):
        assert vol.array.dtype == np.uint8
        np.testing.assert_array_equal(vol.array, lab)


def test_label_values_outside_0_1_2_are_refused(tmp_path):
    lab = labels()
    lab[0, 0, 0] = 3
    path = write_nifti(tmp_path / "bad-labels.nii.gz", lab)
    with pytest.raises(InputError) as exc:
        read_volume(path, "label")
    assert_error(exc, path, "outside", "3")


def test_non_integer_float_labels_are_refused(tmp_path):
    lab = labels().astype(np.float32)
    lab[0, 0, 0] = 0.5
    path = write_nifti(tmp_path / "half.nii.gz", lab)
    with pytest.raises(InputError) as exc:
        read_volume(path, "label")
    assert_error(exc, path, "non-integer", "0.5")


# ---------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    path = tmp_path / "nope.nii.gz"
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, "not found")


def test_truncated_gzip_fails_at_read_time(tmp_path):
    path = write_nifti(tmp_path / "cut.nii.gz", ct((40, 40, 30)))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, "truncated")


def test_text_file_named_nii_gz(tmp_path):
    path = tmp_path / "notes.nii.gz"
    path.write_text("this is not an image\n")
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, "NIfTI")


def test_gzipped_garbage_named_nii_gz(tmp_path):
    path = tmp_path / "garbage.nii.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"\x00" * 10)
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, "NIfTI")


def test_other_extension_is_not_nifti(tmp_path):
    path = tmp_path / "scan.txt"
    path.write_text("hello")
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, "not a NIfTI")


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
def test_non_finite_image_voxels_are_refused(tmp_path, bad, word):
    data = ct().astype(np.float32)
    data[1, 2, 3] = bad
    path = write_nifti(tmp_path / f"nonfinite-{word}.nii.gz", data)
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, word, "non-finite")


@pytest.mark.parametrize("shape, word", [((6, 5, 4, 3), "4D"), ((6, 5), "2D")])
def test_wrong_dimensionality_is_refused(tmp_path, shape, word):
    path = write_nifti(tmp_path / f"dims-{word}.nii.gz", np.zeros(shape, np.int16), np.eye(4))
    with pytest.raises(InputError) as exc:
        read_volume(path)
    assert_error(exc, path, word, "3D")


# ---------------------------------------------------------------- read_case


def test_read_case_pairs_image_and_label(tmp_path):
    data, lab = ct(), labels()
    stored, affine = stored_copies(lab)["lps"]
    img_path = write_nifti(tmp_path / "volume-7.nii.gz", data)
    lab_path = write_nifti(tmp_path / "segmentation-7.nii.gz", stored, affine)  # stored differently
    case = read_case(img_path, lab_path)
    assert case.case_id == "volume-7"
    np.testing.assert_array_equal(case.label.array, lab)
    assert read_case(img_path, lab_path, case_id="lits-7").case_id == "lits-7"


def test_read_case_tolerates_rounding_in_the_header(tmp_path):
    img_path = write_nifti(tmp_path / "i.nii.gz", ct())
    lab_path = write_nifti(tmp_path / "l.nii.gz", labels(), ras_affine((0.7000001, 0.8, 2.5), (10.001, -20, 30)))
    read_case(img_path, lab_path)


@pytest.mark.parametrize(
    "label_shape, spacing, origin, word",
    [
        ((6, 5, 5), SPACING, ORIGIN, "shape"),
        (SHAPE, (0.7, 0.8, 3.0), ORIGIN, "spacing"),
        (SHAPE, SPACING, (10.0, -20.0, 31.0), "affine"),
    ],
)
def test_read_case_mismatch(tmp_path, label_shape, spacing, origin, word):
    img_path = write_nifti(tmp_path / "img.nii.gz", ct())
    lab_path = write_nifti(tmp_path / f"lab-{word}.nii.gz", labels(label_shape), ras_affine(spacing, origin))
    with pytest.raises(InputError) as exc:
        read_case(img_path, lab_path)
    assert_error(exc, lab_path, word, "mismatch")


# ---------------------------------------------------------------- writing labels


def test_write_label_volume_round_trip(tmp_path):
    lab = labels()
    _, affine = stored_copies(lab)["perm_flip"]
    out = tmp_path / "sub" / "pred.nii.gz"
    write_label_volume(lab, affine, out)
    img = nib.load(str(out))
    assert img.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(np.asarray(img.dataobj), lab)
    np.testing.assert_allclose(img.affine, affine, atol=1e-6)
    assert sorted(p.name for p in out.parent.iterdir()) == ["pred.nii.gz"]


def test_write_label_volume_leaves_no_partial_file(tmp_path, monkeypatch):
    out = tmp_path / "pred.nii.gz"
    out.write_bytes(b"previous result")

    def broken(self, filename, **kwargs):
        Path(filename).write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(nib.Nifti1Image, "to_filename", broken)
    with pytest.raises(OSError):
        write_label_volume(labels(), ras_affine(), out)
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in tmp_path.iterdir()] == ["pred.nii.gz"]


# ---------------------------------------------------------------- leakage


def test_content_hash_ignores_storage_layout_and_dtype(tmp_path):
    data = ct()
    base = read_volume(write_nifti(tmp_path / "a.nii.gz", data))
    stored, affine = stored_copies(data)["perm_flip"]
    copy = read_volume(write_nifti(tmp_path / "b.nii.gz", stored.astype(np.float64), affine))
    other = data.copy()
    other[0, 0, 0] += 1
    changed = read_volume(write_nifti(tmp_path / "c.nii.gz", other))
    assert content_hash(base) == content_hash(copy)
    assert content_hash(base) != content_hash(changed)
    assert len(content_hash(base)) == 64


def test_check_leakage_flags_each_pair_across_splits(tmp_path):
    data = ct()
    stored, affine = stored_copies(data)["lps"]
    a = read_volume(write_nifti(tmp_path / "train-a.nii.gz", data))
    b = read_volume(write_nifti(tmp_path / "train-b.nii.gz", ct(seed=1)))
    dup = read_volume(write_nifti(tmp_path / "renamed-copy.nii.gz", stored, affine))
    c = read_volume(write_nifti(tmp_path / "val-c.nii.gz", ct(seed=2)))
    with pytest.warns(LeakageWarning) as record:
        pairs = check_leakage({"train": [a, b], "val": [c], "test": [dup]})
    assert len(record) == 1
    msg = str(record[0].message)
    assert "train-a.nii.gz" in msg and "renamed-copy.nii.gz" in msg
    assert pairs == [(f"train:{a.source}", f"test:{dup.source}", content_hash(a))]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_leakage({"train": [a, b], "val": [c]}) == []


@pytest.mark.realdata
def test_real_lits_case_and_flipped_copy_is_caught(shared_data, tmp_path):
    lits = shared_data / "lits_sample"
    case = read_case(lits / "volume-0.nii.gz", lits / "segmentation-0.nii.gz")
    img = case.image
    assert img.array.shape == (512, 512, 129) and img.array.dtype == np.float32
    np.testing.assert_allclose(img.spacing, (0.57, 0.57, 1.6), rtol=1e-5)
    assert np.all(np.diag(img.affine)[:3] > 0)  # canonical RAS
    assert np.all(np.bincount(case.label.array.ravel(order="K"), minlength=3)[:3] > 0) and case.label.array.max() == 2
    raw = nib.load(str(lits / "volume-0.nii.gz"))
    stored = np.asarray(raw.dataobj)
    assert np.array_equal(img.to_original(img.array), stored)
    # stored L,P,S: canonical x and y run the other way
    np.testing.assert_array_equal(img.array[:, :, 5], stored[::-1, ::-1, 5])

    # a flipped, renamed copy stored as RAS in another folder
    flipped = nib.Nifti1Image(stored[::-1, ::-1, :], img.affine)
    copy_path = tmp_path / "elsewhere" / "patient-x.nii"
    copy_path.parent.mkdir()
    nib.save(flipped, str(copy_path))
    copy = read_volume(copy_path)
    other = read_volume(write_nifti(tmp_path / "other.nii.gz", ct()))
    with pytest.warns(LeakageWarning, match="patient-x.nii"):
        pairs = check_leakage({"train": [img], "test": [other, copy]})
    assert [(a, b) for a, b, _ in pairs] == [(f"train:{img.source}", f"test:{copy.source}")]

