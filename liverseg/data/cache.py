"""Slice cache on disk: one folder per case with memory-mapped `.npy` arrays, plus a manifest.

Layout of a cache written by `liverseg prep`::

    ROOT/recipe.json                      paper, preprocess recipe and its hash
    ROOT/manifest.csv                     one row per slice (see MANIFEST_COLUMNS)
    ROOT/cases/<case_id>/image.npy        float16 (Z, S, S), preprocessed to [0, 1]
    ROOT/cases/<case_id>/label.npy        uint8   (Z, S, S), labels 0 / 1 / 2
    ROOT/cases/<case_id>/meta.json        spacing, affines, shapes, source files

Why `.npy` + `np.load(mmap_mode="r")`: a training step reads a few random slices of a few
cases; a memory map reads exactly those pages with no decoding, no index and no Python-side
parsing, and the OS page cache keeps hot cases in RAM across epochs. TFRecord would need a full
sequential scan (or sharding plus an index) for random slice access and protobuf decoding per
example; `benchmarks/cache_format.py` measures both on the same slices.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from liverseg.errors import InputError
from liverseg.io.atomic import atomic_path, atomic_write_json, fsync_dir, read_json

MANIFEST_COLUMNS = (
    "case_id", "patient_id", "source_image", "source_label", "slice_index", "num_slices",
    "spacing_x", "spacing_y", "spacing_z", "liver_pixels", "tumour_pixels", "recipe_hash",
)


MANIFEST, RECIPE = "manifest.csv", "recipe.json"


def is_complete(root: str | os.PathLike) -> bool:
    """Whether `root` holds a finished slice cache (its manifest is written last)."""
    return (Path(root) / MANIFEST).is_file()


def case_dir(root: str | os.PathLike, case_id: str) -> Path:
    return Path(root) / "cases" / case_id


def _save_npy(path: Path, array: np.ndarray) -> None:
    """`np.save` under a temporary name in the same folder, then `atomic_replace` (fsync, rename)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)


def write_case(root, case_id: str, image: np.ndarray, label: np.ndarray, meta: dict) -> Path:
    """Write one case atomically: into `cases/.<case_id>.tmp`, then rename to `cases/<case_id>`.

    Each file inside the staging folder is itself written atomically (`liverseg.io.atomic`).  A
    previous `cases/<case_id>` is moved aside to `cases/.<case_id>.old` just before the rename (and
    moved back if the rename fails), then removed: `cases/<case_id>` is never a half-written case.
    """
    if image.shape != label.shape or image.ndim != 3:
        raise ValueError(f"case {case_id}: image {image.shape} and label {label.shape} must be equal (Z, S, S)")
    final = case_dir(root, case_id)
    tmp, old = final.parent / f".{case_id}.tmp", final.parent / f".{case_id}.old"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    moved = False
    try:
        _save_npy(tmp / "image.npy", np.ascontiguousarray(image, dtype=np.float16))
        _save_npy(tmp / "label.npy", np.ascontiguousarray(label, dtype=np.uint8))
        atomic_write_json(tmp / "meta.json", meta)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(final, old)
            moved = True
        os.replace(tmp, final)
    except BaseException:
        if moved and not final.exists():
            os.replace(old, final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)
    return final


def slice_rows(case_id: str, patient_id: str, label: np.ndarray, meta: dict, recipe_hash: str) -> list[dict]:
    """Manifest rows of one case: per slice, liver (label >= 1) and tumour (label == 2) pixel counts."""
    liver = (label >= 1).reshape(label.shape[0], -1).sum(axis=1)
    tumour = (label == 2).reshape(label.shape[0], -1).sum(axis=1)
    sx, sy, sz = meta["spacing"]
    return [
        dict(case_id=case_id, patient_id=patient_id, source_image=meta.get("source_image", ""),
             source_label=meta.get("source_label", ""), slice_index=k, num_slices=int(label.shape[0]),
             spacing_x=sx, spacing_y=sy, spacing_z=sz, liver_pixels=int(liver[k]),
             tumour_pixels=int(tumour[k]), recipe_hash=recipe_hash)
        for k in range(label.shape[0])
    ]


def write_manifest(root, rows: list[dict], recipe: dict) -> None:
    """Write `recipe.json`, then `manifest.csv`, each atomically (`liverseg.io.atomic`).

    The manifest comes last: a cache counts as complete only once it is there.
    """
    root = Path(root)
    frame = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    atomic_write_json(root / RECIPE, recipe)
    with atomic_path(root / MANIFEST) as tmp:
        frame.to_csv(tmp, index=False)


class SliceCache:
    """Read side of a slice cache: manifest as a DataFrame and per-case memory-mapped arrays."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        manifest = self.root / MANIFEST
        if not manifest.is_file():
            raise InputError(self.root, "not a slice cache (no manifest.csv); run `liverseg prep` first")
        self.manifest = pd.read_csv(manifest, dtype={"case_id": str, "patient_id": str})
        self.recipe = read_json(self.root / RECIPE)
        self._images: dict[str, np.ndarray] = {}
        self._labels: dict[str, np.ndarray] = {}

    @property
    def case_ids(self) -> list[str]:
        return list(dict.fromkeys(self.manifest["case_id"]))

    def image(self, case_id: str) -> np.ndarray:
        if case_id not in self._images:
            self._images[case_id] = np.load(case_dir(self.root, case_id) / "image.npy", mmap_mode="r",
                                            allow_pickle=False)
        return self._images[case_id]

    def label(self, case_id: str) -> np.ndarray:
        if case_id not in self._labels:
            self._labels[case_id] = np.load(case_dir(self.root, case_id) / "label.npy", mmap_mode="r",
                                            allow_pickle=False)
        return self._labels[case_id]

    def meta(self, case_id: str) -> dict:
        return read_json(case_dir(self.root, case_id) / "meta.json")
