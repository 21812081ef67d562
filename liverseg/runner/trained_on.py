"""Leakage guard at prediction time: warn when a CT given to `liverseg predict --run` is one the run
trained or validated on (the same content hash as a case of its slice cache), e.g. a 3D-IRCADb
patient predicted by a model trained on LiTS, which contains all 20 of them."""
from __future__ import annotations

import warnings
from pathlib import Path

from liverseg.io.atomic import read_json
from liverseg.io.leakage import LeakageWarning, content_hash
from liverseg.io.run_layout import RunDir


def training_hashes(run_dir: Path) -> dict[str, str]:
    """content hash -> case id of the run's training and validation cases (empty when unknown)."""
    from liverseg.data.cache import SliceCache, is_complete

    split, cache = RunDir(run_dir).split, RunDir(run_dir).cache
    if not split.is_file() or not is_complete(cache):
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


def unfinished_stages(run_dir: Path, spec, cfg, variant: str) -> list[str]:
    """The training stages `variant`'s predictor loads that have not finished (no `<stage>/done.json`)."""
    stages = spec.variant_stages(spec.context(cfg, run_dir), variant)
    return [s for s in stages if not RunDir(run_dir).stage(s).done.is_file()]


def _source_folders(run_dir: Path) -> list[Path]:
    """The folders the run's training CTs were read from (the phantom's, for a phantom run)."""
    from liverseg.data.cache import SliceCache, is_complete

    cache = RunDir(run_dir).cache
    if not is_complete(cache):
        return []
    seen = SliceCache(cache)
    folders = set()
    for case_id in seen.manifest["case_id"].unique()[:1]:
        source = seen.meta(case_id).get("source_image")
        if source:
            folders.add(Path(source).resolve().parent)
    return sorted(folders)


def run_warnings(run_dir: Path, spec, cfg, variant: str, inputs) -> list[str]:
    """One line per reason not to trust this run's labels on `inputs` (paths of the CTs to predict):
    its variant's training is unfinished, or it was trained on the synthetic phantom or at the smoke
    profile and an input is not one of the phantom's volumes (a real CT)."""
    run_dir = Path(run_dir)
    lines = []
    missing = unfinished_stages(run_dir, spec, cfg, variant)
    if missing:
        lines.append(f"run {run_dir} is unfinished: stage(s) {', '.join(missing)} of variant {variant} have not "
                     "finished training (no done.json); its labels come from a partly trained model")
    weak = [what for what, hit in (("on the synthetic phantom", getattr(cfg, "dataset", "") == "phantom"),
                                   ("at the smoke profile", getattr(cfg, "profile", "") == "smoke")) if hit]
    if weak:
        sources = _source_folders(run_dir) if getattr(cfg, "dataset", "") == "phantom" else []
        real = [p for p in inputs if not any(f in Path(p).resolve().parents for f in sources)]
        if real:
            more = f" and {len(real) - 1} more" if len(real) > 1 else ""
            lines.append(f"run {run_dir} was trained {' and '.join(weak)}; its labels on a real CT "
                         f"({real[0]}{more}) are not a segmentation to use")
    return lines


__all__ = ["training_hashes", "warn_if_trained_on", "unfinished_stages", "run_warnings"]
