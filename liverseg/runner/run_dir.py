"""Run directory bookkeeping: where a run lives, what it was run with, and files written atomically.

A run directory is `runs/<paper>/<profile>-<YYYYmmdd-HHMMSS>/`; its layout is `liverseg.io.run_layout.RunDir`:
`config.json` holds {"paper", "profile", "config"}, the resolved configuration (refused if it changes),
`versions.json` the library versions, CUDA/cuDNN, GPUs and the git commit of the code.

Every file here is written through `atomic_write_text` / `atomic_write_json`: a temporary file in
the same folder, flushed and fsync'ed, then `os.replace`d over the target, so a crash or a
`kill -9` leaves either the old or the new file, never half of one.
"""
from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

from liverseg.io.atomic import atomic_write_json, read_json
from liverseg.io.atomic import json_default as _json_default
from liverseg.io.run_layout import RunDir
from liverseg.errors import InputError, OptionError

REPO_ROOT = Path(__file__).resolve().parents[2]


def create_run_dir(paper: str, profile: str, run_dir: str | Path | None = None,
                   root: Path = Path("runs")) -> Path:
    """The run directory: `run_dir` when given (created if missing, reused to resume), else a new
    `root/<paper>/<profile>-<YYYYmmdd-HHMMSS>/` (suffixed `-2`, `-3`, ... if that second is taken)."""
    if run_dir is not None:
        path = Path(run_dir)
        if path.exists() and not path.is_dir():
            raise InputError(path, "exists and is not a directory")
        path.mkdir(parents=True, exist_ok=True)
        return path
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / paper / f"{profile}-{stamp}"
    base.parent.mkdir(parents=True, exist_ok=True)
    path, n = base, 1
    while True:
        try:
            path.mkdir()
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def config_record(config_dict: dict, paper: str, profile: str) -> dict:
    """What `config.json` holds: paper, profile and the resolved config, JSON-normalised."""
    return json.loads(json.dumps({"paper": paper, "profile": profile, "config": config_dict}, default=_json_default))


def latest_unfinished_run(paper: str, profile: str, config_dict: dict, root: Path = Path("runs")) -> Path | None:
    """The newest `root/<paper>/<profile>-*` run with the same config and no `done.json` yet: the run a
    crash or `kill -9` interrupted, which re-running the same command (no --run-dir) resumes."""
    record = config_record(config_dict, paper, profile)
    runs = [RunDir(p) for p in (Path(root) / paper).glob(f"{profile}-*") if p.is_dir()]
    for run in sorted((r for r in runs if r.config.is_file()), key=lambda r: r.config.stat().st_mtime, reverse=True):
        try:
            same = json.loads(run.config.read_text(encoding="utf-8")) == record
        except (OSError, json.JSONDecodeError):
            continue
        if same and not run.is_done():
            return run.path
    return None


def _flatten(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj}


def write_config(run_dir, config_dict: dict, paper: str, profile: str) -> None:
    """Write `config.json`; when it already exists it must hold the same run (a resume), otherwise
    an OptionError tells the user to pick a new `--run-dir`."""
    path = RunDir(run_dir).config
    record = config_record(config_dict, paper, profile)
    if path.exists():
        old = read_json(path)
        if old != record:
            a, b = _flatten(old), _flatten(record)
            diff = sorted(k for k in set(a) | set(b) if a.get(k, "<missing>") != b.get(k, "<missing>"))
            shown = ", ".join(diff[:5]) + (f" (+{len(diff) - 5} more)" if len(diff) > 5 else "")
            raise OptionError(
                f"{path}: this run directory holds a run with a different configuration "
                f"(differs in: {shown}); use a new --run-dir, or the same options to resume")
        return
    atomic_write_json(path, record)


def _git_info(repo: Path) -> dict:
    def git(*args):
        out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=20)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip())
        return out.stdout
    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, RuntimeError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def _tensorflow_info() -> dict:
    """TensorFlow version, its CUDA / cuDNN build and visible GPUs; empty when TensorFlow is not
    installed (JAX or PyTorch backend on a machine without it)."""
    try:
        import tensorflow as tf
    except ImportError:
        return {"tensorflow": None}
    build = dict(tf.sysconfig.get_build_info())
    gpu_names = []
    for d in tf.config.list_physical_devices("GPU"):
        try:
            gpu_names.append(tf.config.experimental.get_device_details(d).get("device_name", d.name))
        except (RuntimeError, ValueError):
            gpu_names.append(d.name)
    return {"tensorflow": tf.__version__, "cuda": build.get("cuda_version"), "cudnn": build.get("cudnn_version"),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")], "gpu_names": gpu_names}


def _backend_info() -> dict:
    """Version and devices of the Keras backend when it is not TensorFlow."""
    import keras

    name = keras.backend.backend()
    if name == "jax":
        import jax

        return {"jax": jax.__version__, "jax_devices": [str(d) for d in jax.devices()]}
    if name == "torch":
        import torch

        return {"torch": torch.__version__, "torch_cuda": torch.cuda.is_available()}
    return {}


def collect_versions() -> dict:
    """Versions of everything that can change a result: Python, platform, libraries, Keras backend,
    CUDA/cuDNN of the TensorFlow build, visible GPUs, git commit (and dirty flag) of the code."""
    import keras
    import nibabel
    import pydicom

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": np.__version__,
        "nibabel": nibabel.__version__,
        "pydicom": pydicom.__version__,
        **_tensorflow_info(),
        **_backend_info(),
        "git": _git_info(REPO_ROOT),
    }


def write_versions(run_dir) -> dict:
    """Write `versions.json` and return it. A resume under different versions keeps the earlier
    records in its `previous` list, so a mixed run can be told apart."""
    path = RunDir(run_dir).versions
    record = collect_versions()
    previous = []
    if path.exists():
        try:
            old = read_json(path)
        except InputError:
            old = {}
        previous = list(old.pop("previous", []))
        old.pop("written_at", None)
        if old and old != record:
            previous.append(old)
    out = dict(record, written_at=datetime.datetime.now().isoformat(timespec="seconds"))
    if previous:
        out["previous"] = previous
    atomic_write_json(path, out)
    return out


__all__ = [
    "create_run_dir", "write_config", "write_versions", "collect_versions",
    "latest_unfinished_run", "config_record",
    ]
