"""Tests of liverseg.runner.run_dir: run folders, config guard, versions record, atomic writes, history cleaning."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from liverseg.errors import InputError, OptionError
from liverseg.io.atomic import atomic_write_json, atomic_write_text
from liverseg.io.atomic import read_json
from liverseg.runner.run_dir import create_run_dir, write_config, write_versions
from liverseg.train.history import clean_history, read_history


def test_atomic_write_text_and_json(tmp_path):
    path = tmp_path / "sub" / "a.json"
    atomic_write_json(path, {"x": np.float32(0.5), "n": np.int64(3), "p": Path("/a/b"), "v": np.arange(3)})
    assert json.loads(path.read_text()) == {"x": 0.5, "n": 3, "p": "/a/b", "v": [0, 1, 2]}
    atomic_write_text(path, "old")
    with pytest.raises(TypeError):
        atomic_write_json(path, {"bad": object()})
    assert path.read_text() == "old"  # a failed write leaves the previous file
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.json"]  # and no temp file


def test_create_run_dir_given_and_generated(tmp_path):
    given = create_run_dir("gong", "smoke", run_dir=tmp_path / "x" / "y")
    assert given == tmp_path / "x" / "y" and given.is_dir()
    assert create_run_dir("gong", "smoke", run_dir=given) == given  # reused to resume
    a = create_run_dir("gong", "cpu", root=tmp_path / "runs")
    b = create_run_dir("gong", "cpu", root=tmp_path / "runs")
    assert a != b and a.is_dir() and b.is_dir()
    assert a.parent == tmp_path / "runs" / "gong"
    assert re.fullmatch(r"cpu-\d{8}-\d{6}(-\d+)?", a.name)
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="not a directory"):
        create_run_dir("gong", "cpu", run_dir=tmp_path / "file")


def test_write_config_refuses_a_different_run(tmp_path):
    cfg = {"train": {"epochs": 3, "learning_rate": 0.001}, "data": {"batch_size": 8}}
    write_config(tmp_path, cfg, "gong", "smoke")
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored == {"paper": "gong", "profile": "smoke", "config": cfg}
    write_config(tmp_path, json.loads(json.dumps(cfg)), "gong", "smoke")  # same: a resume
    changed = {"train": {"epochs": 4, "learning_rate": 0.001}, "data": {"batch_size": 8}}
    with pytest.raises(OptionError, match=r"train\.epochs.*--run-dir"):
        write_config(tmp_path, changed, "gong", "smoke")
    with pytest.raises(OptionError, match="profile"):
        write_config(tmp_path, cfg, "gong", "cpu")
    assert json.loads((tmp_path / "config.json").read_text()) == stored


def test_write_versions(tmp_path):
    import keras
    import tensorflow as tf

    v = write_versions(tmp_path)
    on_disk = json.loads((tmp_path / "versions.json").read_text())
    assert on_disk == v
    assert v["tensorflow"] == tf.__version__ and v["keras"] == keras.__version__
    assert v["numpy"] == np.__version__ and v["keras_backend"] == keras.backend.backend()
    for key in ("python", "platform", "nibabel", "pydicom", "cuda", "cudnn", "gpus", "git"):
        assert key in v
    assert v["gpus"] == []  # conftest hides the GPUs
    commit = v["git"]["commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    again = write_versions(tmp_path)
    assert "previous" not in again  # same versions: no earlier record to keep

    old = dict(on_disk, tensorflow="0.0.1")
    (tmp_path / "versions.json").write_text(json.dumps(old))
    mixed = write_versions(tmp_path)
    assert [p["tensorflow"] for p in mixed["previous"]] == ["0.0.1"]


def test_read_json_damaged(tmp_path):
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(InputError, match="x.json: not valid JSON"):
        read_json(tmp_path / "x.json")


def test_clean_history_drops_duplicates_unfinished_and_torn_rows(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss\n0,0.9,0.8\n1,0.7,0.6\n1,0.65,0.55\n2,0.5,0.4\n3,0.3")
    clean_history(path, 3)
    assert path.read_text() == "epoch,loss,val_loss\n0,0.9,0.8\n1,0.65,0.55\n2,0.5,0.4\n"
    clean_history(path, 1)
    assert path.read_text() == "epoch,loss,val_loss\n0,0.9,0.8\n"
    clean_history(path, 0)
    assert not path.exists()
    clean_history(path, 5)  # no file: nothing to do
    path.write_text("loss\n0.3\n")
    with pytest.raises(InputError, match="epoch"):
        clean_history(path, 1)


def test_read_history_one_row_per_epoch(tmp_path):
    path = tmp_path / "history.csv"
    assert list(read_history(path).columns) == ["epoch"] and len(read_history(path)) == 0
    path.write_text("epoch,loss\n1,0.5\n0,0.9\n1,0.4\n")
    df = read_history(path)
    assert list(df["epoch"]) == [0, 1] and list(df["loss"]) == [0.9, 0.4]


def test_latest_unfinished_run_finds_the_interrupted_run_with_the_same_config(tmp_path):
    from liverseg.io.run_layout import RunDir
    from liverseg.runner.run_dir import latest_unfinished_run

    cfg = {"lr": 0.1, "epochs": 3}
    old = create_run_dir("p", "cpu", tmp_path / "runs" / "p" / "cpu-20260101-000000")
    write_config(old, cfg, "p", "cpu")
    other = create_run_dir("p", "cpu", tmp_path / "runs" / "p" / "cpu-20260101-000001")
    write_config(other, {"lr": 0.2, "epochs": 3}, "p", "cpu")
    assert latest_unfinished_run("p", "cpu", cfg, root=tmp_path / "runs") == old
    RunDir(old).done.write_text("{}")  # finished
    assert latest_unfinished_run("p", "cpu", cfg, root=tmp_path / "runs") is None
    assert latest_unfinished_run("p", "paper", cfg, root=tmp_path / "runs") is None
