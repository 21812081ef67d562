"""JSON and other files that appear whole or not at all (`read_json` reads them back, naming a damaged file):
 write a temporary file in the target's folder, fsync it,
give it the usual permissions (0666 minus the umask), rename it over the target, flush the folder."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from liverseg.errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path) -> None:
    """Flush a directory entry (the rename) to disk where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path) -> None:
    """Flush a file written by another library (h5py, zipfile, nibabel) to disk."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def atomic_replace(tmp_path, path) -> None:
    """fsync `tmp_path`, give it default permissions, rename it over `path`, flush the folder."""
    fsync_file(tmp_path)
    os.chmod(tmp_path, 0o666 & ~_umask())
    os.replace(tmp_path, path)
    fsync_dir(Path(path).parent)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path` (same suffixes, so writers pick the same format); on a
    clean exit it replaces `path`, on an exception it is removed and `path` is left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        atomic_replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def json_default(obj):
    """JSON for NumPy scalars and arrays and for paths: the one `default=` converter of the project."""
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def atomic_write_json(path, obj) -> Path:
    """Write `obj` as indented JSON (NumPy scalars and Paths converted) atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=json_default) + "\n")


def read_json(path) -> dict:
    """Read a JSON file of the run directory; a damaged file is an InputError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"not valid JSON ({e})") from None


def check_output_folder(path, option: str = "--output") -> Path:
    """Refuse, before anything is written, an output folder that cannot be made or written: `path` (or
    the nearest folder above it that exists) must be a folder in which a file can be created.
    InputError naming `path` and `option`; nothing is created."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(path, f"{option}: exists and is not a folder")
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(path, f"{option}: cannot create this folder: {probe} is a file")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".liverseg-write-test-", dir=probe)
    except OSError as err:
        raise InputError(path, f"{option}: folder is not writable ({err.strerror or type(err).__name__})") from None
    os.close(fd)
    os.unlink(tmp)
    return path
