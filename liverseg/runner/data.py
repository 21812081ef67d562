"""The runner's data steps: the phantom (cached once per size), the run's slice cache, `split.json`,
and the rows each training stage reads for its train and validation sides."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from liverseg.config import DataConfig
from liverseg.data.cache import SliceCache, is_complete
from liverseg.data.sampling import cap_slices, select_slices
from liverseg.data.splits import split_slices_within
from liverseg.errors import OptionError
from liverseg.io.atomic import atomic_write_json, read_json
from liverseg.io.run_layout import RunDir

SPLITS = ("train", "val", "test")
SLICE_BLOCK = 8  # slices per held-out validation block when there are too few patients


def cache_root() -> Path:
    """Where the generated phantoms live: `$LIVERSEG_CACHE_DIR`, else `.cache/` in the working directory
    (never beside the installed package, which may be site-packages)."""
    return Path(os.environ.get("LIVERSEG_CACHE_DIR") or ".cache")


def phantom_dir(phantom) -> Path:
    """The phantom of a profile (`PhantomConfig`), generated once and reused by every paper and run."""
    from data_prep.phantom import write_phantom

    folder = cache_root() / "phantom" / f"seed{phantom.seed}-size{phantom.size}-cases{phantom.cases}"
    marker = folder / "complete.json"
    if not marker.is_file():
        print(f"generating phantom: {phantom.cases} cases at {phantom.size} px -> {folder}", flush=True)
        write_phantom(folder, phantom.cases, phantom.seed, size=phantom.size)
        atomic_write_json(marker, {"cases": phantom.cases, "seed": phantom.seed, "size": phantom.size})
    return folder


def prepare_cache(paper: str, cfg, run_dir: Path) -> SliceCache:
    """The run's slice cache with the paper's preprocessing (skipped when up to date)."""
    from liverseg.data.cache_builder import prepare

    source = Path(cfg.data_dir) if cfg.data_dir else phantom_dir(cfg.phantom)
    cache_dir = RunDir(run_dir).cache
    # The cache belongs to this run: one left half-written by a killed run is rebuilt, not refused.
    rebuild = cache_dir.is_dir() and not is_complete(cache_dir)
    prepare(cfg.dataset, source, cache_dir, paper=paper, profile=cfg.profile, quiet=True,
            recipe=cfg.preprocess, overwrite=rebuild)
    return SliceCache(cache_dir)


def case_table(cache: SliceCache) -> pd.DataFrame:
    """Per case: patient, tumour volume in mm^3 (cache grid scaled to the original spacing), liver slices."""
    size = int(cache.recipe["preprocess"]["size"])
    rows = []
    for case_id, g in cache.manifest.groupby("case_id", sort=False):
        shape = cache.meta(case_id)["original_shape"]
        voxel = float(g.spacing_x.iloc[0] * g.spacing_y.iloc[0] * g.spacing_z.iloc[0])
        scale = shape[0] * shape[1] / float(size * size)
        rows.append(dict(case_id=str(case_id), patient_id=str(g.patient_id.iloc[0]),
                         tumour_mm3=float(g.tumour_pixels.sum()) * voxel * scale,
                         liver_slices=int((g.liver_pixels > 0).sum())))
    return pd.DataFrame(rows, columns=["case_id", "patient_id", "tumour_mm3", "liver_slices"])


def _slice_block_split(cache: SliceCache, cases: list[str], val_fraction: float, seed: int, gap: int) -> dict:
    """Too few patients: every case trains, validation holds out slice blocks, the test cases were seen."""
    manifest = cache.manifest[cache.manifest.case_id.astype(str).isin(cases)]
    # CHOICE: interleaved blocks of 8 slices through the whole volume, not one block in the liver: the
    # checkpoint is then picked on liver and liver-free slices alike, as whole-volume inference sees them
    parts = split_slices_within(manifest, val_fraction, 0.0, seed, gap=gap, min_patients=len(cases) + 1,
                                interleave=SLICE_BLOCK)
    slices = {name: {c: sorted(int(k) for k in g.slice_index) for c, g in parts[name].groupby("case_id")}
              for name in ("train", "val")}
    return {"mode": "slice_blocks", "train": cases, "val": cases, "test": cases, "slices": slices,
            "note": f"only {len(cases)} patient(s): all train; validation on held-out slice blocks; "
                    "the test cases were seen in training, so their scores are optimistic"}


def check_split(split: dict, cases, source, hint: str = "") -> dict:
    """The train / val / test lists of a patient split, checked: lists of case ids of this data
    (`cases`), disjoint, train and test not empty; else one OptionError naming `source` (+ `hint`)."""
    parts = {k: split.get(k) for k in SPLITS}
    tail = f"; {hint}" if hint else ""
    if not all(isinstance(v, list) for v in parts.values()) or not parts["train"] or not parts["test"]:
        raise OptionError(f"{source}: a split file needs lists 'train', 'val' and 'test' of case ids "
                          f"(train and test not empty){tail}")
    unknown = sorted(set().union(*map(set, parts.values())) - set(map(str, cases)))
    if unknown:
        raise OptionError(f"{source}: case(s) {', '.join(unknown[:5])} are not in the data{tail}")
    if set(parts["test"]) & (set(parts["train"]) | set(parts["val"])) or set(parts["train"]) & set(parts["val"]):
        raise OptionError(f"{source}: a case is in two of train, val and test{tail}")
    return parts


def read_split_file(path: Path, cases) -> dict:
    """A patient split given by the user (`--split FILE`, e.g. `compare/split.json`), checked."""
    try:
        split = read_json(path)
    except (OSError, ValueError) as exc:
        raise OptionError(f"{path}: not a readable split file ({exc.__class__.__name__})") from None
    return {"mode": "patients", **check_split(split, cases, path), "note": f"given by {path}"}


def link_cache(link: Path, shared: Path) -> None:
    """`link` (a run's cache folder) -> the shared cache folder `shared`, built once for several runs."""
    if link.exists() or link.is_symlink():
        return
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(shared.resolve(), target_is_directory=True)


def make_split(spec, cache: SliceCache, cfg, run_dir: Path, val_fraction: float, gap: int = 0,
               split_file: Path | None = None, given: dict | None = None) -> dict:
    """`split.json` of the run: the patient split `given` (a dict, e.g. `liverseg compare`'s common split)
    or read from `split_file` when one is, else the paper's split policy, or held-out slice blocks with
    too few patients. A resumed run must keep its split."""
    path = RunDir(run_dir).split
    source = split_file or path
    if given is not None:
        given = {**given, "mode": "patients", **check_split(given, cache.case_ids, cache.root,
                                                              hint=f"{spec.name} reads other data than this split's")}
    elif split_file:
        given = read_split_file(split_file, cache.case_ids)
    if path.is_file():
        split = read_json(path)
        if given and any(sorted(split.get(k, [])) != sorted(given[k]) for k in SPLITS):
            raise OptionError(f"{path}: this run was split otherwise than {source}; pass --run-dir for a new run")
        return split
    table = None if given else case_table(cache)
    split = given or spec.split(spec.context(cfg, run_dir, cache), table)
    if split is None:
        cases = list(table.case_id[table.tumour_mm3 > 0]) or list(table.case_id)
        split = _slice_block_split(cache, cases, val_fraction, cfg.seed, gap)
    else:
        split = {"mode": "patients", "note": "", **split}
    overlap = set(split["test"]) & (set(split["train"]) | set(split["val"]))
    if split["mode"] == "patients" and overlap:
        raise OptionError(f"{spec.name}: split policy put case(s) {sorted(overlap)[:5]} in test and training")
    atomic_write_json(path, split)
    print(f"split ({split['mode']}): train {len(split['train'])}, val {len(split['val'])}, "
          f"test {len(split['test'])} {split['note']}", flush=True)
    return split


def stage_rows(cache: SliceCache, split: dict, part: str, cfg: DataConfig, seed: int) -> pd.DataFrame:
    """Manifest rows of one side (`train` / `val`) of the split chosen by the source's sampling policy."""
    manifest = cache.manifest
    if split["mode"] == "slice_blocks":
        keep = split["slices"][part]
        key = manifest.case_id.astype(str) + ":" + manifest.slice_index.astype(str)
        wanted = {f"{c}:{k}" for c, ks in keep.items() for k in ks}
        manifest = manifest[key.isin(wanted).to_numpy()]
    rows = select_slices(manifest, split[part], cfg, seed)
    return cap_slices(rows, cfg.max_val_slices if part == "val" else cfg.max_slices, seed)


def stage_datasets(cache: SliceCache, split: dict, stage, seed: int, workers: int = 1):
    """(train, val, steps_per_epoch) of a `Stage` on the backend's input pipeline (`workers`: processes
    of a multi-worker strategy)."""
    from liverseg.data.datasets import Source, build_dataset

    weights = stage.weights or (1.0,) * len(stage.sources)
    sides = {}
    for part in ("train", "val"):
        sides[part] = [Source(stage_rows(cache, split, part, c, seed), c, w) for c, w in zip(stage.sources, weights)]
    # train.steps_per_epoch (0 = one pass) sets the epoch length in the pipeline itself, so that on
    # a PyDataset batch i of epoch e stays the same batch (Keras would otherwise carry the iterator on)
    train, steps = build_dataset(cache, sides["train"], augment=stage.augment, training=True, seed=seed,
                                 steps=stage.train.steps_per_epoch or None)
    val, _ = build_dataset(cache, sides["val"], augment=None, training=False, seed=seed, workers=workers)
    return train, val, steps


def case_number(case_id: str) -> str:
    """LiTS file number of a case id (`lits-12` -> 12, `3Dircadb1.17` -> 17)."""
    digits = "".join(ch if ch.isdigit() else " " for ch in case_id).split()
    return digits[-1] if digits else case_id


def read_source_case(cache: SliceCache, case_id: str):
    """The case's original CT and labels (`Case`), read again from the source the cache was built from."""
    from liverseg.io.volumes import read_case

    meta = cache.meta(case_id)
    if meta.get("dataset") == "ircadb":
        from liverseg.io.ircadb import read_ircadb_case

        return read_ircadb_case(Path(meta["source_image"]).parent)
    return read_case(meta["source_image"], meta["source_label"], case_id=case_id)


def source_has_tumour(cache: SliceCache, case_id: str) -> bool:
    """Whether the case's source labels (not the resized cache, where a small tumour can vanish) hold tumour."""
    import numpy as np

    meta = cache.meta(case_id)
    if meta.get("dataset") == "ircadb":
        label = read_source_case(cache, case_id).label
    else:
        from liverseg.io.volumes import read_volume

        label = read_volume(meta["source_label"], kind="label")
    return bool((np.asarray(label.array) == 2).any())


__all__ = ["cache_root", "phantom_dir", "prepare_cache", "case_table", "check_split", "read_split_file", "link_cache",
           "make_split", "stage_rows",
           "stage_datasets", "case_number", "read_source_case", "source_has_tumour"]
