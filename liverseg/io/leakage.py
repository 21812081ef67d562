"""Leakage guard: the same CT scan must not appear in two splits (train / validation / test).

`content_hash` fingerprints a `Volume` by its canonical array rounded to int16 (HU) plus its
shape, so a copy stored flipped, permuted, renamed or with another dtype is still recognised;
`check_leakage` compares the volumes of different splits by that hash and warns with a
`LeakageWarning` naming both files of every pair.
"""
from __future__ import annotations

import hashlib
import warnings

import numpy as np

from liverseg.io.volumes import Case, Volume


class LeakageWarning(UserWarning):
    """The same CT content appears in two splits (train / validation / test)."""


# Leakage must never pass silently: show every occurrence, not only the first per location.
warnings.filterwarnings("always", category=LeakageWarning)


def content_hash(volume: Volume) -> str:
    """SHA-256 of the canonical array rounded to int16 (HU) plus its shape.

    Independent of how the file stored the data (orientation, axis order, dtype, scaling) and
    of the memory order of `array`, so a re-oriented or re-encoded copy of a scan hashes the same.
    Hashed one axial slice at a time (each slice in Fortran order) to avoid full-size temporaries.
    """
    arr = np.asarray(volume.array)
    lo, hi = np.iinfo(np.int16).min, np.iinfo(np.int16).max
    digest = hashlib.sha256()
    digest.update(repr(tuple(int(n) for n in arr.shape)).encode())
    for k in range(arr.shape[2]):
        plane = arr[:, :, k]
        if plane.dtype.kind == "f":
            plane = np.clip(np.rint(plane), lo, hi)
        digest.update(plane.astype("<i2").tobytes(order="F"))
    return digest.hexdigest()


def check_leakage(splits: dict[str, list[Volume]]) -> list[tuple[str, str, str]]:
    """Find volumes whose content appears in two different splits.

    `splits` maps a split name to its image volumes (a `Case` is accepted and its image used).
    Returns one (f"{split_a}:{source_a}", f"{split_b}:{source_b}", content_hash) per pair, and
    emits one `LeakageWarning` per pair naming both files.
    """
    seen: dict[str, list[tuple[str, str]]] = {}
    pairs: list[tuple[str, str, str]] = []
    for split, volumes in splits.items():
        for vol in volumes:
            vol = vol.image if isinstance(vol, Case) else vol
            digest = content_hash(vol)
            for other_split, other_source in seen.get(digest, []):
                if other_split != split:
                    pairs.append((f"{other_split}:{other_source}", f"{split}:{vol.source}", digest))
            seen.setdefault(digest, []).append((split, vol.source))
    for a, b, digest in pairs:
        warnings.warn(
            f"DATA LEAKAGE: {a} and {b} hold the same CT content (hash {digest[:12]}); "
            "a scan must not appear in two splits",
            LeakageWarning,
            stacklevel=2,
        )
    return pairs
