"""Leakage guard at prediction time: warn when a CT given to `liverseg predict --run` is one the run
trained or validated on (the same content hash as a case of its slice cache), e.g. a 3D-IRCADb
patient predicted by a model trained on LiTS, which contains all 20 of them."""
from __future__ import annotations

import warnings
from pathlib import Path

from liverseg.io.atomic import read_json
from liverseg.io.leakage import LeakageWarning, content_hash


def training_hashes(run_dir: Path) -> dict[str, str]:
    """content hash -> case id of the run's training and validation cases (empty when unknown)."""
    from liverseg.data.cache import SliceCache

    run_dir = Path(run_dir)
    split, cache = run_dir / "split.json", run_dir / "cache"
    if not split.is_file() or not (cache / "manifest.csv").is_file():
        return {}
    parts = read_json(split)
    seen = SliceCache(cache)
    out = {}
    for case_id in [*parts.get("train", []), *parts.get("val", [])]:
        digest = seen.meta(case_id).get("content_hash")
        if digest:
            out[digest] = case_id
    return out


def warn_if_trained_on(run_dir: Path, volume) -> str | None:
    """The run's case id whose CT equals `volume` (with a LeakageWarning), else None."""
    case_id = training_hashes(run_dir).get(content_hash(volume))
    if case_id is not None:
        warnings.warn(f"DATA LEAKAGE: {volume.source} holds the same CT as {case_id}, which run {run_dir} trained "
                      "or validated on; a score on it is not a test score", LeakageWarning, stacklevel=2)
    return case_id


__all__ = ["training_hashes", "warn_if_trained_on"]
