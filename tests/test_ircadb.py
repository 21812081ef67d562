"""3D-IRCADb patient folders (folders or zips) -> Case with labels 0 / 1 / 2."""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from liverseg.errors import InputError
from liverseg.io.ircadb import is_liver_tumour_mask
from liverseg.io.ircadb import read_ircadb_case
from liverseg.io.volumes import read_case
from tests.test_dicom import COLS, ROWS, coded_pixels, write_slice

ZS = (0.0, 1.6, 3.2)


def write_patient(root: Path, masks: dict[str, np.ndarray], zs=ZS, mask_zs=None) -> Path:
    """A patient folder: CT slices at `zs`, and one mask series per entry (mask array (n, ROWS, COLS))."""
    for k, z in enumerate(zs):
        write_slice(root / "PATIENT_DICOM" / f"image_{k}", coded_pixels(k), (0.0, 0.0, z), series_uid="1.1")
    for name, mask in masks.items():
        for k, z in enumerate(mask_zs or zs):
            write_slice(root / "MASKS_DICOM" / name / f"image_{k}", mask[k] * 255, (0.0, 0.0, z), series_uid=f"2.{len(name)}")
    return root


def zip_folder(folder: Path, archive: Path) -> None:
    """`archive` holds `folder.name/...`, as 3D-IRCADb distributes PATIENT_DICOM.zip and MASKS_DICOM.zip."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            zf.write(path, path.relative_to(folder.parent).as_posix())


def masks_3():
    liver = np.zeros((3, ROWS, COLS), np.uint8)
    liver[:, 1:3, 1:4] = 1
    t1 = np.zeros_like(liver)
    t1[1, 1, 1] = 1
    t2 = np.zeros_like(liver)
    t2[2, 0, 0] = 1  # outside the liver: kept as 2
    return liver, t1, t2


def expected_label(liver, *tumours):
    """Stored (slice, row, column) masks -> canonical (x, y, z) label, worked out by hand:
    canonical[x, y, k] = stored[k, ROWS - 1 - y, COLS - 1 - x] for an axial LPS series."""
    lab = liver.astype(np.uint8)
    for t in tumours:
        lab[t > 0] = 2
    return lab.transpose(2, 1, 0)[::-1, ::-1, :]


@pytest.mark.parametrize(
    "name, is_tumour",
    [
        ("livertumor01", True), ("livertumor1", True), ("livertumors", True), ("livertumor_01", True),
        ("LiverTumour2", True), ("livertumor", True), ("tumor", False), ("livercyst", False),
        ("liverkyst", False), ("liver", False), ("portalvein", False), ("livertumor1_old", False),
        ("metastasectomie", False), ("bone", False),
    ],
)
def test_tumour_mask_names(name, is_tumour):
    assert is_liver_tumour_mask(name) is is_tumour


def test_synthetic_patient_labels(tmp_path):
    liver, t1, t2 = masks_3()
    root = write_patient(tmp_path / "3Dircadb1.99", {
        "liver": liver, "livertumor01": t1, "livertumors": t2,
        "tumor": np.ones_like(liver), "livercyst": np.ones_like(liver), "bone": np.ones_like(liver),
    })
    case = read_ircadb_case(root)
    assert case.case_id == "3Dircadb1.99"
    assert case.label.array.dtype == np.uint8
    np.testing.assert_array_equal(case.label.array, expected_label(liver, t1, t2))
    np.testing.assert_array_equal(case.image.affine, case.label.affine)
    assert case.image.array.shape == (COLS, ROWS, 3)


def test_synthetic_patient_from_zips_cleans_up(tmp_path, monkeypatch):
    liver, t1, t2 = masks_3()
    src = write_patient(tmp_path / "src" / "3Dircadb1.5", {"liver": liver, "livertumor1": t1, "livertumor2": t2})
    patient = tmp_path / "zipped" / "3Dircadb1.5"
    patient.mkdir(parents=True)
    zip_folder(src / "PATIENT_DICOM", patient / "PATIENT_DICOM.zip")
    zip_folder(src / "MASKS_DICOM", patient / "MASKS_DICOM.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    case = read_ircadb_case(patient)
    np.testing.assert_array_equal(case.label.array, expected_label(liver, t1, t2))
    assert case.image.source.endswith("PATIENT_DICOM.zip")
    assert list(scratch.iterdir()) == []


def test_mask_on_other_slices_is_refused(tmp_path):
    liver, t1, _ = masks_3()
    root = write_patient(tmp_path / "p", {"liver": liver})
    for k, z in enumerate((1.6, 3.2, 4.8)):
        write_slice(root / "MASKS_DICOM" / "livertumor1" / f"image_{k}", t1[k], (0.0, 0.0, z), series_uid="3")
    with pytest.raises(InputError) as exc:
        read_ircadb_case(root)
    msg = str(exc.value)
    assert "livertumor1" in msg and "positions differ" in msg, msg


def test_missing_liver_mask_and_missing_parts(tmp_path):
    _, t1, _ = masks_3()
    root = write_patient(tmp_path / "p", {"livertumor1": t1})
    with pytest.raises(InputError) as exc:
        read_ircadb_case(root)
    assert "MASKS_DICOM" in str(exc.value) and "no 'liver' mask" in str(exc.value)
    shutil.rmtree(root / "MASKS_DICOM")
    with pytest.raises(InputError) as exc:
        read_ircadb_case(root)
    assert "MASKS_DICOM.zip" in str(exc.value) and str(root) in str(exc.value)
    with pytest.raises(InputError) as exc:
        read_ircadb_case(tmp_path / "absent")
    assert "absent" in str(exc.value) and "not found" in str(exc.value)


def test_errors_inside_a_zip_name_the_archive_member(tmp_path):
    liver, _, _ = masks_3()
    src = write_patient(tmp_path / "src" / "p", {"liver": liver})
    (src / "PATIENT_DICOM" / "readme").write_text("not dicom")
    patient = tmp_path / "p"
    patient.mkdir()
    zip_folder(src / "PATIENT_DICOM", patient / "PATIENT_DICOM.zip")
    shutil.copytree(src / "MASKS_DICOM", patient / "MASKS_DICOM")
    with pytest.raises(InputError) as exc:
        read_ircadb_case(patient)
    assert str(exc.value).startswith(str(patient / "PATIENT_DICOM.zip") + "/PATIENT_DICOM/readme:"), str(exc.value)
    (patient / "PATIENT_DICOM.zip").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(InputError) as exc:
        read_ircadb_case(patient)
    assert "PATIENT_DICOM.zip" in str(exc.value) and "zip" in str(exc.value).split(":", 1)[1]


# ---------------------------------------------------------------- the real slab


@pytest.mark.realdata
def test_real_slab_labels_match_the_lits_segmentation(shared_data, tmp_path, monkeypatch):
    folder = shared_data / "ircadb_dicom_sample" / "3Dircadb1.17"
    case = read_ircadb_case(folder)
    assert case.case_id == "3Dircadb1.17"
    assert case.image.array.shape == case.label.array.shape == (512, 512, 16)
    counts = np.bincount(case.label.array.ravel(), minlength=3)
    assert counts[1] > 0 and counts[2] > 0 and len(counts) == 3

    lits = shared_data / "lits_sample"
    ref = read_case(lits / "volume-1.nii.gz", lits / "segmentation-1.nii.gz")
    matches = [z for z in range(ref.image.array.shape[2])
               if np.array_equal(ref.image.array[:, :, z], case.image.array[:, :, 0])]
    assert len(matches) == 1
    z0 = matches[0]
    np.testing.assert_array_equal(ref.image.array[:, :, z0:z0 + 16], case.image.array)
    np.testing.assert_array_equal(ref.label.array[:, :, z0:z0 + 16], case.label.array)

    # the same patient as distributed in zips, with a stray `tumor` mask and a cyst mask
    patient = tmp_path / "3Dircadb1.17"
    patient.mkdir()
    masks = tmp_path / "build" / "MASKS_DICOM"
    shutil.copytree(folder / "MASKS_DICOM", masks)
    shutil.copytree(masks / "liver", masks / "tumor")
    shutil.copytree(masks / "liver", masks / "livercyst")
    zip_folder(folder / "PATIENT_DICOM", patient / "PATIENT_DICOM.zip")
    zip_folder(masks, patient / "MASKS_DICOM.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    zipped = read_ircadb_case(patient)
    assert zipped.case_id == "3Dircadb1.17"
    np.testing.assert_array_equal(zipped.label.array, case.label.array)
    np.testing.assert_array_equal(zipped.image.array, case.image.array)
    assert list(scratch.iterdir()) == []
