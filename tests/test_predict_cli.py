"""`liverseg predict` on files and folders (a stub paper's threshold predictor, no network): naming,
skipping, probabilities, statistics, DICOM SEG on the real 3D-IRCADb sample, warnings, bad input."""
from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from liverseg.evaluation.statistics import label_statistics
from liverseg.io.inputs import find_inputs

from tests.stub_run import make_run

AFFINE = np.array([[-0.8, 0, 0, 10], [0, -0.8, 0, 20], [0, 0, 2.0, -30], [0, 0, 0, 1]])


def ct(shape=(12, 10, 6), seed=0):
    """HU: -100 background, a 0 < HU <= 100 'liver' box and two HU > 100 'tumours' (two components)."""
    hu = np.full(shape, -100, np.int16)
    hu[2:10, 2:8, 1:5] = 50
    hu[3:5, 3:5, 2:4] = 200
    hu[7:9, 5:7, 2:3] = 150
    return hu


def write_ct(path, hu=None, affine=AFFINE):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.Nifti1Image(ct() if hu is None else hu, affine).to_filename(str(path))
    return path


def liverseg(argv):
    from liverseg.cli.main import main

    return main(argv)


@pytest.fixture()
def cases(tmp_path):
    folder = tmp_path / "cts"
    write_ct(folder / "volume-3.nii.gz")
    write_ct(folder / "patient_a.nii")
    write_ct(folder / "segmentation-3.nii.gz", np.zeros((12, 10, 6), np.uint8))  # a label file: not a CT
    (folder / "notes.txt").write_text("not a case")
    return folder


@pytest.fixture()
def run(tmp_path):
    return make_run(tmp_path / "run")


def test_folder_to_folder_names_geometry_statistics_and_skip(run, cases, tmp_path, capsys):
    out = tmp_path / "out"
    assert liverseg(["predict", "--run", str(run), "-i", str(cases), "-o", str(out), "--statistics"]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["patient_a.nii.gz", "segmentation-3.nii.gz", "statistics.csv",
                                                    "statistics.json"]
    seg = nib.load(out / "segmentation-3.nii.gz")
    np.testing.assert_allclose(seg.affine, AFFINE)
    labels = np.asarray(seg.dataobj)
    assert labels.shape == (12, 10, 6) and (labels == 2).sum() == 2 * 2 * 2 + 2 * 2
    assert "2 case(s): 2 predicted" in captured.out and "warning" not in captured.err
    assert "case/s" in captured.err or "it/s" in captured.err or "s/case" in captured.err  # the progress bar
    frame = pd.read_csv(out / "statistics.csv")
    assert frame["case"].tolist() == ["patient_a", "volume-3"]
    voxel_ml = 0.8 * 0.8 * 2.0 / 1000
    row = frame.iloc[1]
    assert row["liver_volume_ml"] == pytest.approx(8 * 6 * 4 * voxel_ml)
    assert row["tumour_volume_ml"] == pytest.approx(12 * voxel_ml)
    assert row["tumour_count"] == 2 and row["tumour_burden"] == pytest.approx(12 / 192)
    assert row["liver_mean_hu"] == pytest.approx((180 * 50 + 8 * 200 + 4 * 150) / 192)
    assert json.loads((out / "statistics.json").read_text())["cases"][1]["tumour_count"] == 2

    before = (out / "segmentation-3.nii.gz").stat().st_mtime_ns
    assert liverseg(["predict", "--run", str(run), "-i", str(cases), "-o", str(out), "--statistics"]) == 0
    assert "2 skipped (already predicted" in capsys.readouterr().out
    assert (out / "segmentation-3.nii.gz").stat().st_mtime_ns == before
    assert len(pd.read_csv(out / "statistics.csv")) == 2


def test_single_file_lits_submission_and_probabilities(run, cases, tmp_path, capsys):
    one = tmp_path / "seg.nii.gz"
    assert liverseg(["predict", "--run", str(run), "-i", str(cases / "volume-3.nii.gz"), "-o", str(one)]) == 0
    assert nib.load(one).shape == (12, 10, 6) and "wrote" in capsys.readouterr().out
    sub = tmp_path / "submission"
    assert liverseg(["predict", "--run", str(run), "-i", str(cases / "volume-3.nii.gz"), "-o", str(sub),
                     "--lits-submission", "--save-probabilities"]) == 0
    assert sorted(p.name for p in sub.iterdir()) == ["test-segmentation-3.nii", "test-segmentation-3_probabilities.npz"]
    with np.load(sub / "test-segmentation-3_probabilities.npz") as probs:
        assert probs["probabilities"].shape == (12, 10, 6, 2) and probs["channels"].tolist() == ["liver", "tumour"]
        np.testing.assert_allclose(probs["affine"], AFFINE)
    # patient_a has no case number: refused before anything is written
    assert liverseg(["predict", "--run", str(run), "-i", str(cases), "-o", str(tmp_path / "sub2"),
                     "--lits-submission"]) == 2
    err = capsys.readouterr().err
    assert "patient_a.nii" in err and "case number" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "sub2").exists()


@pytest.mark.parametrize("problem", ["missing input", "output is a file", "file for a folder", "dicom-seg of nifti",
                                     "unwritable", "variant", "no gpu"])
def test_bad_input_is_one_line_and_writes_nothing(run, cases, tmp_path, capsys, problem):
    taken = tmp_path / "taken.txt"
    taken.write_text("x")
    out = tmp_path / "out"
    args = {"missing input": ["-i", str(tmp_path / "nope.nii.gz"), "-o", str(out)],
            "output is a file": ["-i", str(cases), "-o", str(taken)],
            "file for a folder": ["-i", str(cases), "-o", str(out / "x.nii.gz")],
            "dicom-seg of nifti": ["-i", str(cases), "-o", str(out), "--output-type", "dicom-seg"],
            "unwritable": ["-i", str(cases), "-o", str(taken / "sub")],
            "variant": ["-i", str(cases), "-o", str(out), "--variant", "nope"],
            "no gpu": ["-i", str(cases), "-o", str(out), "--device", "gpu"]}[problem]
    assert liverseg(["predict", "--run", str(run), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("liverseg predict: error:"), err
    assert not out.exists() and taken.read_text() == "x"


def test_warns_when_the_run_is_unfinished_or_a_smoke_phantom_run_meets_a_real_ct(tmp_path, cases, capsys):
    unfinished = make_run(tmp_path / "unfinished", finished=False)
    assert liverseg(["predict", "--run", str(unfinished), "-i", str(cases), "-o", str(tmp_path / "a")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and "unfinished" in err[0] and "net" in err[0]
    smoke = make_run(tmp_path / "smoke", profile="smoke", dataset="phantom")
    assert liverseg(["predict", "--run", str(smoke), "-i", str(cases), "-o", str(tmp_path / "b"), "--device", "cpu"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and "phantom" in err[0] and "smoke profile" in err[0] and "real CT" in err[0]


def test_label_statistics_worked_by_hand():
    labels = np.zeros((4, 4, 4), np.uint8)
    labels[:2] = 1
    labels[0, 0, 0] = labels[1, 3, 3] = 2  # two lesions, not face-connected
    hu = np.where(labels == 2, 100.0, 40.0)
    stats = label_statistics(labels, (1.0, 2.0, 5.0), hu)
    assert stats["liver_volume_ml"] == pytest.approx(32 * 10 / 1000)
    assert stats["tumour_volume_ml"] == pytest.approx(2 * 10 / 1000) and stats["tumour_count"] == 2
    assert stats["tumour_burden"] == pytest.approx(2 / 32)
    assert stats["liver_mean_hu"] == pytest.approx((30 * 40 + 200) / 32) and stats["tumour_mean_hu"] == 100
    empty = label_statistics(np.zeros((2, 2, 2)), (1, 1, 1))
    assert empty["tumour_burden"] == 0 and np.isnan(empty["liver_mean_hu"])


@pytest.mark.realdata
def test_ircadb_patient_folder_to_nifti_and_dicom_seg(run, shared_data, tmp_path, capsys):
    import highdicom as hd
    import pydicom

    from liverseg.io.dicom_seg import expected_frames
    from liverseg.io.ircadb import read_ircadb_case

    patients = shared_data / "ircadb_dicom_sample"
    [case] = find_inputs(patients)
    assert (case.case_id, case.kind, case.number) == ("3Dircadb1.17", "ircadb", 17)
    out = tmp_path / "out"
    assert liverseg(["predict", "--run", str(run), "-i", str(patients), "-o", str(out), "--statistics"]) == 0
    assert liverseg(["predict", "--run", str(run), "-i", str(patients), "-o", str(out),
                     "--output-type", "dicom-seg", "--statistics"]) == 0
    capsys.readouterr()
    truth = read_ircadb_case(patients / "3Dircadb1.17")
    labels = nib.load(out / "3Dircadb1.17.nii.gz")
    assert labels.shape == (512, 512, 16)
    np.testing.assert_allclose(labels.affine, truth.image.original_affine, atol=1e-4)
    stored = np.asarray(labels.dataobj)

    ds = pydicom.dcmread(out / "3Dircadb1.17.dcm")
    assert ds.Modality == "SEG" and int(ds.NumberOfFrames) == expected_frames(stored)
    assert [s.SegmentLabel for s in ds.SegmentSequence] == ["Liver", "Liver tumour"]
    source = pydicom.dcmread(next((patients / "3Dircadb1.17" / "PATIENT_DICOM").iterdir()), stop_before_pixels=True)
    assert ds.StudyInstanceUID == source.StudyInstanceUID
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == source.SeriesInstanceUID
    seg = hd.seg.segread(out / "3Dircadb1.17.dcm")
    assert seg.get_segment_numbers() == [1, 2] and len(seg.get_source_image_uids()) == 16
    frames = seg.pixel_array  # (frames, rows, columns): the SEG holds as many voxels as the NIfTI labels
    assert int(frames.astype(bool).sum()) == int((stored >= 1).sum())

    frame = pd.read_csv(out / "statistics.csv")
    row = frame.iloc[0]
    want = label_statistics(truth.image.array.__gt__(0).astype(np.uint8) + (truth.image.array > 100),
                            truth.image.spacing, truth.image.array)
    assert row["liver_volume_ml"] == pytest.approx(want["liver_volume_ml"])
    assert row["tumour_count"] == want["tumour_count"] and row["liver_mean_hu"] == pytest.approx(want["liver_mean_hu"])
