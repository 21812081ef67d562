"""`liverseg prep`: discovery, cache contents, re-runs, and broken inputs that must leave nothing behind."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from experiments.gong.config import get_config as gong_config

import liverseg.data.cache_builder as prep
from data_prep.ircadb import discover_ircadb
from data_prep.lits import discover_lits, discover_msd
from liverseg.data.cache import SliceCache
from liverseg.errors import InputError, OptionError
from liverseg.data.preprocess import recipe_hash
from liverseg.cli.main import main as cli_main
from liverseg.io.leakage import LeakageWarning

REPO = Path(__file__).resolve().parents[1]
SIZE, DEPTH = 64, 8  # the gong smoke recipe resizes to 64 x 64, so slices keep their pixels


def _save(path: Path, array, zooms=(0.8, 0.8, 2.5), flip_z=False):
    affine = np.diag([*zooms, 1.0])
    if flip_z:  # stored head-first: canonical slice k is stored slice Z-1-k
        affine[2, 2] = -zooms[2]
        affine[2, 3] = zooms[2] * (array.shape[2] - 1)
    nib.save(nib.Nifti1Image(np.asarray(array), affine), str(path))


def _label(seed: int) -> np.ndarray:
    lab = np.zeros((SIZE, SIZE, DEPTH), dtype=np.uint8)
    lab[10:30, 20:40, 2:6] = 1  # 400 liver pixels on slices 2..5
    lab[12 + seed:16 + seed, 22:26, 3:5] = 2  # 16 tumour pixels on slices 3..4
    return lab


def _image(seed: int, lab: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(-500, 50, lab.shape).astype(np.float32)
    img[lab == 1] = 60 + rng.normal(0, 10, int((lab == 1).sum()))
    img[lab == 2] = 20.0
    return img.astype(np.int16)


def make_lits(folder: Path, n: int = 2, flip_last=False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        lab = _label(i)
        flip = flip_last and i == n - 1
        _save(folder / f"volume-{i}.nii.gz", _image(i, lab), flip_z=flip)
        _save(folder / f"segmentation-{i}.nii.gz", lab, flip_z=flip)
    return folder


def run_main(capsys, *argv) -> tuple[int, str, str]:
    code = cli_main(["prep", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_prepare_writes_cache_with_manifest_and_recipe(tmp_path):
    src = make_lits(tmp_path / "src", n=2, flip_last=True)
    out = prep.prepare("lits", src, tmp_path / "cache", "gong", profile="smoke", quiet=True)
    cache = SliceCache(out)
    assert cache.case_ids == ["lits-0", "lits-1"]
    m = cache.manifest
    assert len(m) == 2 * DEPTH
    for cid in cache.case_ids:
        rows = m[m.case_id == cid].sort_values("slice_index")
        assert rows.liver_pixels.tolist() == [0, 0, 400, 400, 400, 400, 0, 0]
        assert rows.tumour_pixels.tolist() == [0, 0, 0, 16, 16, 0, 0, 0]
        assert rows.patient_id.tolist() == [cid] * DEPTH
        assert rows.spacing_z.tolist() == [2.5] * DEPTH
        img, lab = cache.image(cid), cache.label(cid)
        assert img.shape == lab.shape == (DEPTH, SIZE, SIZE)
        assert img.dtype == np.float16 and lab.dtype == np.uint8
        assert 0 <= float(img.min()) and float(img.max()) <= 1
        expected = _label(int(cid[-1])).transpose(2, 0, 1)
        np.testing.assert_array_equal(lab, expected)  # the flipped case comes back in canonical order
    from experiments.gong.config import get_config

    cfg = get_config("smoke").preprocess
    assert cache.recipe["recipe_hash"] == recipe_hash(cfg) == m.recipe_hash.iloc[0]
    assert cache.recipe["paper"] == "gong" and cache.recipe["profile"] == "smoke"
    assert cache.recipe["preprocess"]["size"] == SIZE and cache.recipe["dataset"] == "lits"
    meta = cache.meta("lits-1")
    assert meta["source_image"].endswith("volume-1.nii.gz") and meta["original_shape"] == [SIZE, SIZE, DEPTH]
    assert len(meta["content_hash"]) == 64 and meta["spacing"] == pytest.approx([0.8, 0.8, 2.5])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left


def test_rerun_skips_and_other_recipe_needs_overwrite(tmp_path, capsys):
    src = make_lits(tmp_path / "src", n=1)
    out = tmp_path / "cache"
    assert run_main(capsys, "--dataset", "lits", "--input", str(src), "--output", str(out),
                    "--paper", "gong", "--profile", "smoke")[0] == 0
    stamp = (out / "manifest.csv").stat().st_mtime_ns
    code, stdout, _ = run_main(capsys, "--dataset", "lits", "--input", str(src), "--output", str(out),
                               "--paper", "gong", "--profile", "smoke")
    assert code == 0 and "cache up to date" in stdout
    assert (out / "manifest.csv").stat().st_mtime_ns == stamp
    code, _, err = run_main(capsys, "--dataset", "lits", "--input", str(src), "--output", str(out),
                            "--paper", "gong", "--profile", "cpu")
    assert code == 2 and "--overwrite" in err and str(out) in err
    assert json.loads((out / "recipe.json").read_text())["profile"] == "smoke"
    code, _, _ = run_main(capsys, "--dataset", "lits", "--input", str(src), "--output", str(out),
                          "--paper", "gong", "--profile", "cpu", "--overwrite", "--quiet")
    assert code == 0
    cache = SliceCache(out)
    size = gong_config("cpu").preprocess.size  # the cpu recipe's own size, not the smoke one's
    assert size != gong_config("smoke").preprocess.size
    assert cache.recipe["profile"] == "cpu" and cache.image("lits-0").shape == (DEPTH, size, size)


def test_failed_overwrite_keeps_the_previous_cache(tmp_path, capsys):
    src = make_lits(tmp_path / "src", n=2)
    out = prep.prepare("lits", src, tmp_path / "cache", "gong", profile="smoke", quiet=True)
    before = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    (src / "volume-1.nii.gz").write_bytes((src / "volume-1.nii.gz").read_bytes()[:2000])
    code, _, err = run_main(capsys, "--dataset", "lits", "--input", str(src), "--output", str(out),
                            "--paper", "gong", "--profile", "cpu", "--overwrite")
    assert code == 2 and "volume-1.nii.gz" in err
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == before
    assert SliceCache(out).recipe["profile"] == "smoke"


def _break(kind: str, src: Path) -> tuple[list[str], str]:
    """Break a good 2-case LiTS folder; return extra argv changes and the name the error must mention."""
    vol, seg = src / "volume-1.nii.gz", src / "segmentation-1.nii.gz"
    if kind == "missing segmentation":
        seg.unlink()
        return [], vol.name
    if kind == "segmentation without volume":
        vol.unlink()
        return [], seg.name
    if kind == "truncated gzip":
        vol.write_bytes(vol.read_bytes()[: vol.stat().st_size // 2])
        return [], vol.name
    if kind == "not a nifti":
        vol.write_bytes(gzip.compress(b"this is a text file, not a CT scan\n" * 20))
        return [], vol.name
    if kind == "shape mismatch":
        _save(seg, _label(1)[:, :, :7])
        return [], seg.name
    if kind == "spacing mismatch":
        _save(seg, _label(1), zooms=(0.8, 0.8, 5.0))
        return [], seg.name
    if kind == "labels 0 1 3":
        lab = _label(1)
        lab[lab == 2] = 3
        _save(seg, lab)
        return [], seg.name
    if kind == "nan voxel":
        img = _image(1, _label(1)).astype(np.float32)
        img[5, 5, 5] = np.nan
        _save(vol, img)
        return [], vol.name
    if kind == "4d volume":
        _save(vol, np.stack([_image(1, _label(1))] * 2, axis=-1))
        return [], vol.name
    if kind == "empty input":
        for p in src.iterdir():
            p.unlink()
        return [], src.name
    if kind == "missing input":
        return ["--input", str(src / "nowhere")], "nowhere"
    if kind == "unknown paper":
        return ["--paper", "no_such_paper"], "no_such_paper"
    if kind == "unknown dataset":
        return ["--dataset", "kits"], "kits"
    raise AssertionError(kind)


BROKEN = ["missing segmentation", "segmentation without volume", "truncated gzip", "not a nifti",
          "shape mismatch", "spacing mismatch", "labels 0 1 3", "nan voxel", "4d volume", "empty input",
          "missing input", "unknown paper", "unknown dataset"]


@pytest.mark.parametrize("output_mode", ["absent", "empty"])
@pytest.mark.parametrize("kind", BROKEN)
def test_broken_input_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch, kind, output_mode):
    src = make_lits(tmp_path / "src", n=2)
    out = tmp_path / "new" / "cache"
    if output_mode == "empty":
        out.mkdir(parents=True)
    written = []
    real_write = prep.write_case
    monkeypatch.setattr(prep, "write_case", lambda *a, **k: written.append(a[1]) or real_write(*a, **k))
    extra, name = _break(kind, src)
    argv = ["--dataset", "lits", "--input", str(src), "--output", str(out), "--paper", "gong",
            "--profile", "smoke"] + extra
    code, stdout, err = run_main(capsys, *argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert name in err and "Traceback" not in err + stdout
    if output_mode == "absent":
        assert not (tmp_path / "new").exists()
    else:
        assert out.is_dir() and list(out.iterdir()) == []
    if kind in ("truncated gzip", "labels 0 1 3", "nan voxel"):  # header fine: fails while reading case 1
        assert written == ["lits-0"]  # ... after case 0 was written, and case 0 was removed again


def test_interrupt_removes_everything(tmp_path, capsys, monkeypatch):
    src = make_lits(tmp_path / "src", n=2)
    out = tmp_path / "cache"
    real = prep.pp.preprocess_slices
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(prep.pp, "preprocess_slices", interrupted)
    code, _, err = run_main(capsys, "--dataset", "lits", "--input", str(src), "--output", str(out),
                            "--paper", "gong", "--profile", "smoke")
    assert code == 130 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_parallel_jobs_give_the_same_cache_and_clean_errors(tmp_path):
    src = make_lits(tmp_path / "src", n=3)
    one = prep.prepare("lits", src, tmp_path / "one", "gong", profile="smoke", quiet=True)
    two = prep.prepare("lits", src, tmp_path / "two", "gong", profile="smoke", jobs=2, quiet=True)
    a, b = SliceCache(one), SliceCache(two)
    pd.testing.assert_frame_equal(a.manifest, b.manifest)
    for cid in a.case_ids:
        np.testing.assert_array_equal(a.image(cid), b.image(cid))
        np.testing.assert_array_equal(a.label(cid), b.label(cid))
    lab = _label(2)
    lab[0, 0, 0] = 7
    _save(src / "segmentation-2.nii.gz", lab)
    with pytest.raises(InputError, match="segmentation-2.nii.gz"):
        prep.prepare("lits", src, tmp_path / "three", "gong", profile="smoke", jobs=2, quiet=True)
    assert not (tmp_path / "three").exists()


def test_duplicate_scans_warn_and_share_a_patient(tmp_path):
    src = make_lits(tmp_path / "src", n=2)
    (src / "volume-5.nii.gz").write_bytes((src / "volume-0.nii.gz").read_bytes())
    (src / "segmentation-5.nii.gz").write_bytes((src / "segmentation-0.nii.gz").read_bytes())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = prep.prepare("lits", src, tmp_path / "cache", "gong", profile="smoke", quiet=True)
    leaks = [w for w in caught if issubclass(w.category, LeakageWarning)]
    assert len(leaks) == 1 and "volume-5.nii.gz" in str(leaks[0].message)
    patients = SliceCache(out).manifest.groupby("case_id").patient_id.first()
    assert patients["lits-5"] == patients["lits-0"] == "lits-0" and patients["lits-1"] == "lits-1"


def test_cases_option_and_phantom_prefix(tmp_path):
    src = make_lits(tmp_path / "src", n=3)
    out = prep.prepare("phantom", src, tmp_path / "cache", "gong", profile="smoke", cases=2, quiet=True)
    assert SliceCache(out).case_ids == ["phantom-0", "phantom-1"]
    with pytest.raises(OptionError):
        prep.prepare("phantom", src, tmp_path / "c2", "gong", profile="smoke", cases=0)
    with pytest.raises(OptionError, match="gong"):
        prep.prepare("lits", src, tmp_path / "c3", "nope", profile="smoke")


def test_foreign_output_folder_is_refused_and_kept(tmp_path):
    src = make_lits(tmp_path / "src", n=1)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not empty"):
        prep.prepare("lits", src, out, "gong", profile="smoke", overwrite=True)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_bug_in_a_reader_is_not_reported_as_bad_input(tmp_path, monkeypatch):
    """Only the readers' own LiversegError means bad input; any other exception is a bug and propagates as is."""
    import liverseg.io.volumes

    src = make_lits(tmp_path / "src", n=2)

    def broken_reader(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(liverseg.io.volumes, "read_case", broken_reader)
    with pytest.raises(ZeroDivisionError):
        prep.prepare("lits", src, tmp_path / "new" / "cache", "gong", profile="smoke", quiet=True)
    assert not (tmp_path / "new").exists()


LEFTOVERS = (".recipe.json.k2j4h_x9.tmp.json", ".manifest.csv.a1b2c3d4.tmp.csv")  # killed atomic writes


def test_leftovers_of_a_killed_write_are_not_foreign_and_go_on_rebuild(tmp_path, capsys):
    src = make_lits(tmp_path / "src", n=1)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / LEFTOVERS[0]).write_text("{")
    prep.prepare("lits", src, fresh, "gong", profile="smoke", quiet=True)
    assert SliceCache(fresh).case_ids == ["lits-0"] and not (fresh / LEFTOVERS[0]).exists()

    out = prep.prepare("lits", src, tmp_path / "cache", "gong", profile="smoke", quiet=True)
    for name in LEFTOVERS:
        (out / name).write_text("partial")
    prep.prepare("lits", src, out, "gong", profile="smoke")
    assert "cache up to date" in capsys.readouterr().out
    prep.prepare("lits", src, out, "gong", profile="cpu", overwrite=True, quiet=True)
    assert SliceCache(out).recipe["profile"] == "cpu"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_lits_discovery_natural_order_subfolders_and_hidden_files(tmp_path):
    root = tmp_path / "lits"
    for batch, nums in (("Training Batch 1", (0, 2)), ("Training Batch 2", (10,))):
        (root / batch).mkdir(parents=True)
        for n in nums:
            (root / batch / f"volume-{n}.nii").write_bytes(b"")
            (root / batch / f"segmentation-{n}.nii.gz").write_bytes(b"")
    (root / "Training Batch 1" / "._volume-3.nii").write_bytes(b"")
    (root / "README.txt").write_text("x")
    found = discover_lits(root)
    assert [c.case_id for c in found] == ["lits-0", "lits-2", "lits-10"]
    assert found[2].image.name == "volume-10.nii" and found[2].label.name == "segmentation-10.nii.gz"
    (root / "volume-2.nii.gz").write_bytes(b"")
    with pytest.raises(InputError, match="stored twice"):
        discover_lits(root)


def test_msd_discovery(tmp_path):
    root = tmp_path / "Task03_Liver"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    (root / "imagesTs").mkdir()
    for n in (3, 1):
        (root / "imagesTr" / f"liver_{n}.nii.gz").write_bytes(b"")
        (root / "labelsTr" / f"liver_{n}.nii.gz").write_bytes(b"")
    (root / "imagesTr" / "._liver_1.nii.gz").write_bytes(b"")
    (root / "imagesTs" / "liver_200.nii.gz").write_bytes(b"")
    found = discover_msd(root)
    assert [c.case_id for c in found] == ["msd-1", "msd-3"]
    assert found[0].label == root / "labelsTr" / "liver_1.nii.gz"
    (root / "labelsTr" / "liver_3.nii.gz").unlink()
    with pytest.raises(InputError, match="liver_3.nii.gz"):
        discover_msd(root)
    with pytest.raises(InputError, match="imagesTr"):
        discover_msd(tmp_path)


def test_ircadb_discovery(tmp_path):
    root = tmp_path / "3Dircadb1"
    for name in ("3Dircadb1.10", "3Dircadb1.2"):
        (root / name / "PATIENT_DICOM").mkdir(parents=True)
        (root / name / "MASKS_DICOM").mkdir()
    (root / "3Dircadb1.3").mkdir()
    (root / "3Dircadb1.3" / "PATIENT_DICOM.zip").write_bytes(b"")
    (root / "3Dircadb1.3" / "MASKS_DICOM.zip").write_bytes(b"")
    found = discover_ircadb(tmp_path)
    assert [c.case_id for c in found] == ["ircadb-1.2", "ircadb-1.3", "ircadb-1.10"]
    assert all(c.reader == "ircadb" for c in found)
    assert [c.case_id for c in discover_ircadb(root / "3Dircadb1.2")] == ["ircadb-1.2"]
    (root / "3Dircadb1.2" / "MASKS_DICOM").rmdir()
    with pytest.raises(InputError, match="MASKS_DICOM"):
        discover_ircadb(root)


def test_console_script_reports_one_line(tmp_path):
    src = make_lits(tmp_path / "src", n=1)
    (src / "segmentation-0.nii.gz").unlink()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "liverseg.cli.main", "prep", "--dataset", "lits", "--input", str(src),
                           "--output", str(tmp_path / "out"), "--paper", "gong", "--profile", "smoke"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "volume-0.nii.gz" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.realdata
def test_real_lits_sample(shared_data, tmp_path):
    out = prep.prepare("lits", shared_data / "lits_sample", tmp_path / "cache", "gong", profile="smoke", quiet=True)
    cache = SliceCache(out)
    assert cache.case_ids == ["lits-0", "lits-1"]
    totals = cache.manifest.groupby("case_id")[["liver_pixels", "tumour_pixels", "num_slices"]].max()
    assert totals.loc["lits-0", "num_slices"] == 129 and totals.loc["lits-1", "num_slices"] == 119
    sums = cache.manifest.groupby("case_id")[["liver_pixels", "tumour_pixels"]].sum()
    assert (sums.liver_pixels > 0).all() and (sums.tumour_pixels > 0).all()
    assert cache.image("lits-0").shape == (129, 64, 64)


@pytest.mark.realdata
def test_real_ircadb_sample(shared_data, tmp_path):
    out = prep.prepare("ircadb", shared_data / "ircadb_dicom_sample", tmp_path / "cache", "gong",
                       profile="smoke", quiet=True)
    cache = SliceCache(out)
    assert cache.case_ids == ["ircadb-1.17"] and len(cache.manifest) == 16
    assert cache.image("ircadb-1.17").shape == (16, 64, 64)
    assert cache.manifest.liver_pixels.sum() > 0 and cache.manifest.tumour_pixels.sum() > 0
