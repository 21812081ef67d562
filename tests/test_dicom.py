"""DICOM series folders: ordering, geometry, rescaling and every refusal, on synthetic series and the
real 3D-IRCADb slab."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from liverseg.io.dicom import read_dicom_series
from liverseg.errors import InputError
from liverseg.io.volumes import read_volume

ROWS, COLS = 4, 5
PIXEL_SPACING = (0.7, 0.8)  # (row spacing, column spacing)
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def write_slice(path, pixels, ipp, iop=AXIAL, spacing=PIXEL_SPACING, series_uid="1.2.3.4", slope=None,
                intercept=None):
    """A minimal CT slice that pydicom writes and reads back as a conformant file."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.SeriesInstanceUID = series_uid
    ds.ImagePositionPatient = [float(v) for v in ipp]
    ds.ImageOrientationPatient = [float(v) for v in iop]
    ds.PixelSpacing = [float(v) for v in spacing]
    pixels = np.asarray(pixels, dtype=np.int16)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    if slope is not None:
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
    ds.PixelData = pixels.tobytes()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(str(path), enforce_file_format=True)
    return Path(path)


def coded_pixels(k, rows=ROWS, cols=COLS):
    """Slice k's pixel (r, c) holds k * 100 + r * 10 + c: every voxel says where it came from."""
    r, c = np.mgrid[:rows, :cols]
    return (k * 100 + r * 10 + c).astype(np.int16)


def write_series(folder, zs, names=None, **kwargs):
    """Axial slices at z positions `zs` (in the given order), files named `names`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"image_{k}" for k in range(len(zs))]
    return [write_slice(folder / n, coded_pixels(k), (10.0, 20.0, z), **kwargs) for k, (n, z) in enumerate(zip(names, zs))]


def assert_error(excinfo, name, *words):
    msg = str(excinfo.value)
    assert name in msg, msg
    for word in words:
        assert word.lower() in msg.lower(), msg


def world_lps(ipp, iop, spacing, r, c):
    """DICOM PS3.3 C.7.6.2.1.1: position of pixel (row r, column c)."""
    x, y = np.asarray(iop[:3]), np.asarray(iop[3:])
    return np.asarray(ipp) + x * spacing[1] * c + y * spacing[0] * r


# ---------------------------------------------------------------- ordering and geometry


def test_shuffled_file_names_are_read_in_slice_order(tmp_path):
    zs = [-4.0, 6.0, -1.5, 1.0, 3.5]  # written in this order, 2.5 mm apart once sorted
    names = ["image_10", "b", "image_2", "0001", "a.dcm"]
    write_series(tmp_path / "s", zs, names, slope=2, intercept=-1024)
    series = read_dicom_series(tmp_path / "s")
    order = np.argsort(zs)
    assert [p.name for p in series.files] == [names[i] for i in order]
    np.testing.assert_allclose(series.positions, np.sort(zs))
    vol = read_volume(tmp_path / "s")
    assert vol.array.shape == (COLS, ROWS, 5) and vol.array.dtype == np.float32
    world_z = [(vol.affine @ [0, 0, k, 1])[2] for k in range(5)]
    assert np.all(np.diff(world_z) > 0)
    # canonical slice k is the k-th lowest file, rescaled to HU = 2 * stored - 1024
    for k, i in enumerate(order):
        expected = coded_pixels(i).astype(np.float32) * 2 - 1024
        np.testing.assert_array_equal(vol.array[:, :, k], expected.T[::-1, ::-1])  # L->R, P->A flips
    np.testing.assert_allclose(vol.spacing, (0.8, 0.7, 2.5), rtol=1e-6)


@pytest.mark.parametrize(
    "iop, step",
    [
        (AXIAL, (0.0, 0.0, 2.0)),
        ((0.0, 1.0, 0.0, 0.0, 0.0, -1.0), (3.0, 0.0, 0.0)),  # sagittal, files stacked along +x (L)
        ((1.0, 0.0, 0.0, 0.0, 0.0, -1.0), (0.0, -1.5, 0.0)),  # coronal, stacked along -y (anterior)
    ],
)
def test_voxel_positions_match_the_dicom_standard(tmp_path, iop, step):
    n = 3
    ipp0 = np.array([-7.0, 12.0, 40.0])
    for k in range(n):  # files written in reverse so ordering is exercised too
        write_slice(tmp_path / f"f{n - k}", coded_pixels(k), ipp0 + k * np.asarray(step), iop=iop)
    vol = read_volume(tmp_path)
    assert vol.array.shape[0] * vol.array.shape[1] * vol.array.shape[2] == n * ROWS * COLS
    for idx in np.ndindex(vol.array.shape):
        code = int(vol.array[idx])
        k, r, c = code // 100, (code // 10) % 10, code % 10
        lps = world_lps(ipp0 + k * np.asarray(step), iop, PIXEL_SPACING, r, c)
        ras = (vol.affine @ [*idx, 1.0])[:3]
        np.testing.assert_allclose(ras, lps * [-1, -1, 1], atol=1e-6)
    assert np.all(np.diag(vol.affine)[:3] > 0)  # canonical RAS


def test_label_series(tmp_path):
    folder = tmp_path / "lab"
    folder.mkdir()
    for k in range(3):
        write_slice(folder / f"m{k}", np.full((ROWS, COLS), k % 3), (0, 0, 2.0 * k))
    vol = read_volume(folder, "label")
    assert vol.array.dtype == np.uint8
    assert [int(vol.array[0, 0, k]) for k in range(3)] == [0, 1, 2]
    write_slice(folder / "m3", np.full((ROWS, COLS), 255), (0, 0, 6.0))
    with pytest.raises(InputError) as exc:
        read_volume(folder, "label")
    assert_error(exc, "lab", "outside", "255")


def test_pixel_data_is_decoded_once_per_file(tmp_path, monkeypatch):
    write_series(tmp_path / "s", [0.0, 2.0, 4.0, 6.0])
    reads, decodes = [], []
    real_read = pydicom.dcmread
    real_convert = pydicom.dataset.Dataset.convert_pixel_data

    def counting_read(*args, **kwargs):
        reads.append(args[0])
        return real_read(*args, **kwargs)

    def counting_convert(self, *args, **kwargs):
        decodes.append(1)
        return real_convert(self, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", counting_read)
    monkeypatch.setattr(pydicom.dataset.Dataset, "convert_pixel_data", counting_convert)
    read_volume(tmp_path / "s")
    assert len(reads) == 4 and len(set(reads)) == 4
    assert len(decodes) == 4


def test_junk_files_are_skipped(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0])
    (tmp_path / "s" / ".DS_Store").write_bytes(b"\x00\x01junk")
    (tmp_path / "s" / "DICOMDIR").write_bytes(b"\x00" * 200)
    assert read_volume(tmp_path / "s").array.shape == (COLS, ROWS, 2)


# ---------------------------------------------------------------- refusals


def test_non_dicom_file_in_series_is_named(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0])
    (tmp_path / "s" / "notes.txt").write_text("scanner notes")
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "notes.txt", "not a DICOM")


def test_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "empty")
    assert_error(exc, "empty", "no DICOM")
    with pytest.raises(InputError) as exc:
        read_dicom_series(tmp_path / "gone")
    assert_error(exc, "gone", "not found")


def test_missing_slice(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0, 4.0, 8.0, 10.0], names=["a", "b", "c", "d", "e"])
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "/d", "missing slice", "(after c)")


def test_uneven_spacing(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0, 4.0, 6.5, 8.5], names=["a", "b", "c", "d", "e"])
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "/d", "uneven")


def test_duplicate_positions(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0, 2.0, 4.0], names=["a", "b", "c", "d"])
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "/c", "duplicate")


def test_two_series_in_one_folder(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0], names=["a", "b"], series_uid="1.2.3.4")
    write_series(tmp_path / "s", [4.0, 6.0], names=["c", "d"], series_uid="1.2.3.5")
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "1.2.3.5", "series", "/s")


def test_inconsistent_rows_and_columns(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0], names=["a", "b"])
    write_slice(tmp_path / "s" / "c", coded_pixels(2, rows=ROWS + 1), (10.0, 20.0, 4.0))
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "/c", "inconsistent", "size")


def test_missing_geometry_tag(tmp_path):
    write_series(tmp_path / "s", [0.0, 2.0], names=["a", "b"])
    ds = pydicom.dcmread(tmp_path / "s" / "b")
    del ds.ImagePositionPatient
    ds.save_as(tmp_path / "s" / "b")
    with pytest.raises(InputError) as exc:
        read_volume(tmp_path / "s")
    assert_error(exc, "/b", "ImagePositionPatient")


def test_sheared_series_is_refused(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    for k in range(3):  # gantry tilt: origin slides along y as z grows
        write_slice(folder / f"t{k}", coded_pixels(k), (0.0, 1.0 * k, 2.0 * k))
    with pytest.raises(InputError) as exc:
        read_volume(folder)
    assert_error(exc, "/t1", "normal")


# ---------------------------------------------------------------- the real slab


@pytest.mark.realdata
def test_real_ircadb_slab_matches_the_nifti_conversion(shared_data):
    folder = shared_data / "ircadb_dicom_sample" / "3Dircadb1.17" / "PATIENT_DICOM"
    vol = read_volume(folder)
    assert vol.array.shape == (512, 512, 16)
    world_z = np.array([(vol.affine @ [0, 0, k, 1])[2] for k in range(16)])
    assert np.all(np.diff(world_z) > 0)
    # each canonical slice is the file at that position, as pydicom reads it
    by_z = {}
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        by_z[round(float(ds.ImagePositionPatient[2]), 3)] = ds.pixel_array.astype(np.float32) * float(
            ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert sorted(by_z) == [round(z, 3) for z in world_z]
    for k, z in enumerate(world_z):
        np.testing.assert_array_equal(vol.array[:, :, k], by_z[round(z, 3)].T[::-1, ::-1])

    # the same 16 slices are a contiguous run of volume-1 (patient 1.17 converted to NIfTI)
    nifti = read_volume(shared_data / "lits_sample" / "volume-1.nii.gz")
    matches = [z0 for z0 in range(nifti.array.shape[2]) if np.array_equal(nifti.array[:, :, z0], vol.array[:, :, 0])]
    assert len(matches) == 1
    z0 = matches[0]
    np.testing.assert_allclose(nifti.array[:, :, z0:z0 + 16], vol.array, atol=0.5)
    np.testing.assert_allclose(vol.spacing, nifti.spacing, rtol=1e-5)
    np.testing.assert_allclose(nifti.affine @ [0, 0, z0, 1], vol.affine @ [0, 0, 0, 1], atol=1e-2)
    raw = nib.load(str(shared_data / "lits_sample" / "volume-1.nii.gz"))
    assert nib.aff2axcodes(raw.affine) == ("L", "P", "S")
