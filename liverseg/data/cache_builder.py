"""`liverseg prep`: source CT files -> a paper's preprocessing recipe -> slice cache on disk.

    python -m liverseg.data.cache_builder --dataset lits --input LITS_DIR --output cache/gong --paper gong
    liverseg prep --dataset ircadb --input 3Dircadb1 --output cache/li --paper li_dalunet --jobs 4

Steps: options and discovery are checked first (cheap, before anything is written); NIfTI headers
of every case are checked (3D, image and label shapes and voxel sizes agree); then each case is
read through `liverseg.io.volumes` (full validation), preprocessed with
`experiments.<paper>.config.get_config(profile).preprocess` and written with
`liverseg.data.cache.write_case`; `manifest.csv` and `recipe.json` come last.

All of a run's cases are written into a hidden staging folder inside --output and moved into
`cases/` only when every case succeeded, so on any error (bad file, Ctrl-C) the run leaves
nothing behind: the staging folder is removed, and --output too when this run created it.
Files this run did not create are never deleted, except the previous cache's `cases/`,
`manifest.csv` and `recipe.json` when `overwrite=True` (replaced only after the new cache is
complete). A complete cache with the same recipe hash and the same cases is left as it is.

Meta of each case (`cases/<id>/meta.json`): `spacing` is the canonical (x, y, z) voxel size of
the source volume in mm (what volume metrics use); `cache_spacing` the in-plane pixel size of
the resized cached slices.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from tqdm import tqdm

import liverseg.data.preprocess as pp
from liverseg.config import PreprocessConfig, from_dict, to_dict
from liverseg.data.cache import case_dir, slice_rows, write_case, write_manifest
from liverseg.errors import InputError, LiversegError, OptionError
from data_prep.ircadb import discover_ircadb
from data_prep.lits import CaseSource, discover_lits, discover_msd

DATASETS = ("lits", "msd", "ircadb", "phantom")
PROFILES = ("paper", "cpu", "smoke")
CACHE_NAMES = ("cases", "manifest.csv", "recipe.json")
STAGING_PREFIX = ".prep-"


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


def discover(dataset: str, input_dir) -> list[CaseSource]:
    """Cases of a dataset folder (InputError on an empty or inconsistent folder)."""
    if dataset == "lits":
        return discover_lits(input_dir, "lits")
    if dataset == "phantom":
        return discover_lits(input_dir, "phantom")
    if dataset == "msd":
        return discover_msd(input_dir)
    if dataset == "ircadb":
        return discover_ircadb(input_dir)
    raise OptionError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


def _header_shape(path: Path) -> tuple[tuple[int, ...], tuple[float, ...]]:
    try:
        img = nib.load(str(path))
    except Exception as err:  # nibabel raises many types for garbage input
        raise InputError(path, f"not a readable NIfTI file ({type(err).__name__}: {err})") from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise InputError(path, f"not a NIfTI file (nibabel reads it as {type(img).__name__})")
    shape = tuple(int(n) for n in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise InputError(path, f"is {len(img.shape)}D with shape {tuple(img.shape)}; expected a 3D volume")
    return shape, tuple(float(z) for z in img.header.get_zooms()[:3])


def _mm(values) -> str:
    return "(" + ", ".join(f"{v:.4g}" for v in values) + ") mm"


def check_headers(sources: list[CaseSource]) -> None:
    """Cheap pre-check of NIfTI headers: readable, 3D, image and label on the same grid."""
    from liverseg.io.volumes import SPACING_RTOL

    for src in sources:
        if src.reader != "nifti":
            continue
        ishape, izoom = _header_shape(src.image)
        lshape, lzoom = _header_shape(src.label)
        if ishape != lshape:
            raise InputError(src.label, f"shape mismatch: label shape {lshape} differs from image {src.image} "
                                        f"shape {ishape}")
        zi, zl = np.asarray(izoom), np.asarray(lzoom)
        if np.any(np.abs(zi - zl) > SPACING_RTOL * np.maximum(zi, zl)):
            raise InputError(src.label, f"spacing mismatch: label voxel size {_mm(lzoom)} differs from "
                                        f"image {src.image} voxel size {_mm(izoom)}")


def process_case(src: CaseSource, recipe: dict, rhash: str, staging: str, dataset: str) -> dict:
    """Read, validate, preprocess and write one case into `staging`; returns its rows and hash."""
    from liverseg.io.ircadb import read_ircadb_case
    from liverseg.io.volumes import content_hash, read_case

    cfg = from_dict(PreprocessConfig, recipe)
    try:
        case = read_ircadb_case(src.image) if src.reader == "ircadb" else read_case(src.image, src.label,
                                                                                    src.case_id)
    except LiversegError:
        raise
    except Exception as err:  # a reader failure the validation did not anticipate
        raise InputError(src.image, f"cannot read this case ({type(err).__name__}: {err})") from None
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
    entries = [p.name for p in output.iterdir() if not p.name.startswith(STAGING_PREFIX)]
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
    from liverseg.io.volumes import LeakageWarning

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


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--dataset", required=True, metavar="{" + ",".join(DATASETS) + "}",
                        help="source layout: LiTS / phantom (volume-N + segmentation-N), msd (Task03_Liver), "
                             "ircadb (3D-IRCADb patient folders)")
    parser.add_argument("--input", required=True, type=Path, help="folder with the source data")
    parser.add_argument("--output", required=True, type=Path, help="slice cache folder to write")
    parser.add_argument("--paper", required=True, help="paper whose recipe to apply (experiments/<paper>)")
    parser.add_argument("--profile", default="paper", metavar="{" + ",".join(PROFILES) + "}",
                        help="config profile (default: paper)")
    parser.add_argument("--cases", type=int, default=None, help="use only the first N cases")
    parser.add_argument("--jobs", type=int, default=1, help="cases processed in parallel (default 1)")
    parser.add_argument("--overwrite", action="store_true",
                        help="rebuild the cache in --output even if it was made with another recipe or other cases")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return parser


def run_args(args: argparse.Namespace) -> int:
    prepare(args.dataset, args.input, args.output, args.paper, profile=args.profile, cases=args.cases,
            jobs=args.jobs, quiet=args.quiet, overwrite=args.overwrite)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry; every LiversegError ends as one line on stderr and exit status 2."""
    from liverseg.cli.entry import run_command

    return run_command("liverseg prep", add_arguments, run_args, argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
