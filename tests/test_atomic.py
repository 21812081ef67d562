"""Atomic writes: the target appears whole or not at all, with the usual permissions."""
import os
import stat

import pytest

from liverseg.io.atomic import atomic_path, atomic_write_json, atomic_write_text


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_write_replaces_keeps_suffix_and_gets_umask_permissions(tmp_path):
    seen = {}
    with atomic_path(tmp_path / "seg.nii.gz") as tmp:
        seen["name"] = tmp.name
        tmp.write_bytes(b"x")
    assert seen["name"].endswith(".nii.gz")  # writers pick the format from the suffix
    atomic_write_text(tmp_path / "a.txt", "new")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~mask
    atomic_write_json(tmp_path / "m.json", {"x": 1.5})
    assert (tmp_path / "m.json").read_text().strip().startswith("{")
