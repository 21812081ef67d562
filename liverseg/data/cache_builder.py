"""`liverseg prep`: source CT files -> a paper's preprocessing recipe -> slice cache on disk.

    liverseg prep --dataset lits --input LITS_DIR --output cache/gong --paper gong
    python -m liverseg.cli.main prep --dataset ircadb --input 3Dircadb1 --output cache/li --paper li_dalunet --jobs 4

The command line is `liverseg.cli.prep`. Steps: options and discovery are checked first (cheap,
before anything is written); NIfTI headers of every case are checked (3D, image and label shapes
and voxel sizes agree; both in `data_prep.sources`); then each case is read through
`liverseg.io.volumes` (full validation), preprocessed with
`experiments.<paper>.config.get_config(profile).preprocess` and written with
`liverseg.data.cache.write_case`; `manifest.csv` and `recipe.json` come last.

All of a run's cases are written into a hidden staging folder inside --output and moved into
`cases/` only when every case succeeded, so on any error (bad file, Ctrl-C) the run leaves
nothing behind: the staging folder is removed, and --output too when this run created it.
Files this run did not create are never deleted, except the previous cache's `cases/`,
`manifest.csv` and `recipe.json` when `overwrite=True` (replaced only after the new cache is
complete), and the hidden temporary files (`ATOMIC_LEFTOVER`) that a killed write of
`manifest.csv` or `recipe.json` left, once a new cache is complete. A complete cache with the same recipe hash and the same cases is left as it is.

Meta of each case (`cases/<id>/meta.json`): `spacing` is the canonical (x, y, z) voxel size of
the source volume in mm (what volume metrics use); `cache_spacing` the in-plane pixel size of
the resized cached slices.
"""
from __future__ import annotations

import concurrent.futures as cf
import json
import multiprocessing
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

import liverseg.data.preprocess as pp
from liverseg.config import PreprocessConfig, from_dict, to_dict
from liverseg.data.cache import case_dir, slice_rows, write_case, write_manifest
from liverseg.errors import InputError, LiversegError, OptionError
from data_prep.case_source import CaseSource
from data_prep.sources import DATASETS, check_headers, discover

CACHE_NAMES = ("cases", "manifest.csv", "recipe.json")
STAGING_PREFIX = ".prep-"
# what a killed `liverseg.io.atomic.atomic_path` write of manifest.csv or recipe.json leaves behind,
# e.g. `.recipe.json.k2j4h_x9.tmp.json`: ignored when judging a folder, removed when the cache is rebuilt
ATOMIC_LEFTOVER = re.compile(r"^\.(manifest\.csv|recipe\.json)\.[^.]+\.tmp\.(csv|json)$")


def known_papers() -> list[str]:
    """Papers registered in the `liverseg.papers` entry-point group (`liverseg.registry`)."""
    from liverseg.registry import papers

    return papers()


def load_recipe(paper: str, profile: str) -> PreprocessConfig:
    """The `PreprocessConfig` of a paper's profile (OptionError for an unknown paper or profile)."""
    from liverseg.registry import paper as find_paper

    cfg = find_paper(paper).get_config(profile)
    recipe = getattr(cfg, "preprocess", None)
    if not isinstance(recipe, PreprocessConfig):
        raise OptionError(f"paper {paper!r}: its config has no PreprocessConfig `preprocess`")
    return recipe


def process_case(src: CaseSource, recipe: dict, rhash: str, staging: str, dataset: str) -> dict:
    """Read, validate, preprocess and write one case into `staging`; returns its rows and hash."""
    from liverseg.io.ircadb import read_ircadb_case
    from liverseg.io.leakage import content_hash
    from liverseg.io.volumes import read_case

    cfg = from_dict(PreprocessConfig, recipe)
    # the readers validate: bad input is a LiversegError; anything else is a bug and propagates as is
    case = read_ircadb_case(src.image) if src.reader == "ircadb" else read_case(src.image, src.label, src.case_id)
    image, label = case.image, case.label
    slices = pp.preprocess_slices(image.array, cfg)
    labels = pp.label_slices(label.array, cfg.size)
    x, y, _ = image.array.shape
    meta = dict(
        case_id=src.case_id, dataset=dataset, source_image=str(image.source), source_label=str(label.source),
        spacing=list(image.spacing), cache_spacing=[image.spacing[0] * x / cfg.size, image.spacing[1] * y / cfg.size],
        affine=np.asarray(image.affine), original_affine=np.asarray(image.original_affine),
        original_shape=list(image.original_shape), canonical_shape=[int(n) for n in image.array.shape],
        content_hash=content_hash(image), recipe_hash=rhash,
    )
    write_case(staging, src.case_id, slices, labels, meta)
    rows = slice_rows(src.case_id, src.patient_id, labels, meta, rhash)
    return dict(case_id=src.case_id, rows=rows, content_hash=meta["content_hash"], source=meta["source_image"])


def _pool_task(*args):
    """Worker wrapper: LiversegError travels back as plain values (InputError does not pickle)."""
    try:
        return process_case(*args)
    except InputError as err:
        return dict(error=("input", err.path, err.problem))
    except LiversegError as err:
        return dict(error=("option", str(err), ""))


def _worker_init():
    import cv2

    cv2.setNumThreads(1)


def _raise_from(result: dict) -> dict:
    if "error" in result:
        kind, first, second = result["error"]
        raise InputError(first, second) if kind == "input" else OptionError(first)
    return result


def _run_cases(sources, recipe, rhash, staging, dataset, jobs, progress):
    args = [(src, recipe, rhash, str(staging), dataset) for src in sources]
    if jobs <= 1 or len(sources) <= 1:
        for a in args:
            yield process_case(*a)
            progress.update(1)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(sources)), mp_context=ctx, initializer=_worker_init)
    try:
        pending = {pool.submit(_pool_task, *a) for a in args}
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                yield _raise_from(future.result())
                progress.update(1)
    finally:  # on any error: drop queued cases and wait for running ones before cleaning up
        pool.shutdown(wait=True, cancel_futures=True)


def _cache_state(output: Path) -> str:
    if not output.exists():
        return "absent"
    if not output.is_dir():
        raise InputError(output, "output exists and is not a folder")
    entries = [p.name for p in output.iterdir()
               if not p.name.startswith(STAGING_PREFIX) and not ATOMIC_LEFTOVER.match(p.name)]
    if not entries:
        return "empty"
    if not any(name in CACHE_NAMES for name in entries):
        return "foreign"
    return "complete" if (output / "manifest.csv").is_file() and (output / "recipe.json").is_file() else "incomplete"


def _up_to_date(output: Path, rhash: str, case_ids: list[str]) -> bool:
    recipe = json.loads((output / "recipe.json").read_text())
    manifest = pd.read_csv(output / "manifest.csv", usecols=["case_id"], dtype={"case_id": str})
    old_ids = sorted(set(manifest["case_id"]))
    complete = all(case_dir(output, c).is_dir() for c in old_ids)
    if recipe.get("recipe_hash") == rhash and old_ids == sorted(case_ids) and complete:
        return True
    if recipe.get("recipe_hash") != rhash:
        why = (f"holds a slice cache made with another recipe (hash {recipe.get('recipe_hash')}, paper "
               f"{recipe.get('paper')}, profile {recipe.get('profile')}; this run: hash {rhash})")
    else:
        why = f"holds a slice cache of other cases ({len(old_ids)} cached, {len(case_ids)} requested)"
    raise InputError(output, f"{why}; use a new --output or --overwrite")


def _first_missing_ancestor(path: Path) -> Path | None:
    path = path.absolute()
    missing = None
    while not path.exists():
        missing = path
        path = path.parent
    return missing


def _dedupe_patients(results: list[dict]) -> None:
    """Same content hash in two cases: warn and give both one patient id (so splits keep them together)."""
    from liverseg.io.leakage import LeakageWarning

    first: dict[str, dict] = {}
    for res in results:
        seen = first.setdefault(res["content_hash"], res)
        if seen is res:
            continue
        patient = seen["rows"][0]["patient_id"]
        for row in res["rows"]:
            row["patient_id"] = patient
        warnings.warn(f"{res['source']}: same CT content as {seen['source']} (hash {res['content_hash'][:12]}); "
                      f"both get patient id {patient} so that no split holds one and not the other",
                      LeakageWarning, stacklevel=3)


def _commit(staging: Path, output: Path, results: list[dict], recipe: dict, overwrite: bool) -> None:
    if overwrite:  # the old cache goes only now that the new one is complete
        for name in ("manifest.csv", "recipe.json"):
            (output / name).unlink(missing_ok=True)
        shutil.rmtree(output / "cases", ignore_errors=True)
    (output / "cases").mkdir(exist_ok=True)
    moved = []
    try:
        for res in results:
            target = case_dir(output, res["case_id"])
            if target.exists():
                raise InputError(target, "already exists; use a new --output or --overwrite")
            (staging / "cases" / res["case_id"]).rename(target)
            moved.append(target)
        write_manifest(output, [row for res in results for row in res["rows"]], recipe)
    except BaseException:
        for target in moved:
            shutil.rmtree(target, ignore_errors=True)
        raise
    for leftover in output.iterdir():  # temporary files of an earlier, killed write of this cache
        if ATOMIC_LEFTOVER.match(leftover.name) and leftover.is_file():
            leftover.unlink(missing_ok=True)


def prepare(dataset: str, input_dir, output_dir, paper: str, profile: str = "paper", cases: int | None = None,
            jobs: int = 1, quiet: bool = False, overwrite: bool = False,
            recipe: PreprocessConfig | None = None) -> Path:
    """Build (or reuse) the slice cache of `input_dir` under `output_dir`; returns the output path.

    `recipe` replaces the paper's profile recipe (a run with `--set preprocess.*=...` passes its own)."""
    if dataset not in DATASETS:
        raise OptionError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if cases is not None and cases < 1:
        raise OptionError(f"--cases {cases}: must be at least 1")
    if jobs < 1:
        raise OptionError(f"--jobs {jobs}: must be at least 1")
    cfg = recipe if recipe is not None else load_recipe(paper, profile)
    rhash = pp.recipe_hash(cfg)
    input_dir, output = Path(input_dir), Path(output_dir)
    sources = discover(dataset, input_dir)
    if cases is not None:
        sources = sources[:cases]
    check_headers(sources)

    state = _cache_state(output)
    if state == "foreign":
        raise InputError(output, "output folder is not empty and holds no slice cache; choose a new --output")
    if state == "incomplete" and not overwrite:
        raise InputError(output, "holds an incomplete slice cache (no manifest.csv or recipe.json); "
                                 "use --overwrite to rebuild it or a new --output")
    if state == "complete" and not overwrite and _up_to_date(output, rhash, [s.case_id for s in sources]):
        if not quiet:
            print(f"cache up to date: {output} (recipe {rhash}, {len(sources)} cases)")
        return output

    created = _first_missing_ancestor(output)
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=output))
    recipe = dict(paper=paper, profile=profile, preprocess=to_dict(cfg), recipe_hash=rhash, dataset=dataset,
                  input=str(input_dir.absolute()), num_cases=len(sources))
    disable = quiet or not sys.stderr.isatty()
    try:
        with tqdm(total=len(sources), desc="prep", unit="case", file=sys.stderr, disable=disable) as progress:
            results = list(_run_cases(sources, to_dict(cfg), rhash, staging, dataset, jobs, progress))
        order = {s.case_id: i for i, s in enumerate(sources)}
        results.sort(key=lambda r: order[r["case_id"]])
        _dedupe_patients(results)
        recipe["num_slices"] = sum(len(r["rows"]) for r in results)
        _commit(staging, output, results, recipe, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    if not quiet:
        print(f"prepared {len(results)} cases ({recipe['num_slices']} slices, recipe {rhash}) in {output}")
    return output

