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


def test_json_default_is_the_one_converter():
    import json
    import re
    from pathlib import Path

    import numpy as np

    from liverseg.io.atomic import json_default

    obj = {"b": np.bool_(True), "i": np.int64(3), "f": np.float32(0.5), "a": np.arange(2), "p": Path("x/y")}
    assert json.loads(json.dumps(obj, default=json_default)) == {"b": True, "i": 3, "f": 0.5, "a": [0, 1], "p": "x/y"}
    with pytest.raises(TypeError):
        json_default(object())
    root = Path(__file__).resolve().parents[1] / "liverseg"
    converters = {m for p in root.rglob("*.py") for m in re.findall(r"json\.dumps?\(.*default=(\w+)", p.read_text())}
    assert converters <= {"json_default", "_json_default"}, converters  # run_dir imports it under that alias


def _case(value):
    import numpy as np

    return np.full((2, 4, 4), value, np.float32), np.ones((2, 4, 4), np.uint8)


def test_cache_case_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    import numpy as np

    from liverseg.data.cache import SliceCache, slice_rows, write_case, write_manifest

    meta = {"spacing": np.array([1.0, 1.0, 2.5]), "n": np.int32(2), "source_image": tmp_path / "v.nii"}
    write_case(tmp_path, "c0", *_case(0.25), meta)
    write_manifest(tmp_path, slice_rows("c0", "p0", _case(0)[1], meta, "h"), {"paper": "t", "hash": np.int64(1)})
    real_save = np.save
    monkeypatch.setattr(np, "save", lambda f, a, **k: (_ for _ in ()).throw(OSError("disk full"))
                        if a.dtype == np.uint8 else real_save(f, a, **k))
    with pytest.raises(OSError):
        write_case(tmp_path, "c0", *_case(0.75), meta)
    cache = SliceCache(tmp_path)
    assert float(cache.image("c0")[0, 0, 0]) == 0.25 and cache.meta("c0")["spacing"] == [1.0, 1.0, 2.5]
    assert cache.recipe == {"paper": "t", "hash": 1}
    assert sorted(p.name for p in (tmp_path / "cases").iterdir()) == ["c0"]
    monkeypatch.setattr(np, "save", real_save)
    write_case(tmp_path, "c0", *_case(0.75), meta)
    assert float(SliceCache(tmp_path).image("c0")[1, 3, 3]) == 0.75
    assert sorted(p.name for p in (tmp_path / "cases" / "c0").iterdir()) == ["image.npy", "label.npy", "meta.json"]


def test_cache_manifest_write_failure_leaves_the_old_manifest(tmp_path, monkeypatch):
    from liverseg.data.cache import write_manifest

    write_manifest(tmp_path, [], {"paper": "old"})
    before = sorted(p.name for p in tmp_path.iterdir())
    monkeypatch.setattr("liverseg.io.atomic.os.replace", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_manifest(tmp_path, [], {"paper": "new"})
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["manifest.csv", "recipe.json"]
    assert '"old"' in (tmp_path / "recipe.json").read_text()
