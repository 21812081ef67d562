"""Paper profiles at their real size on this machine: train steps at the paper batch and input size
(TensorFlow and JAX on the CPU), one 512 x 512 x 400 volume through the paper's default predictor,
and `liverseg prep` of a LiTS-sized source; seconds and peak resident memory of each.

    nice -n 19 .venv/bin/python benchmarks/paper_scale.py --paper gong                   # train (tf, jax) + predict
    nice -n 19 .venv/bin/python benchmarks/paper_scale.py --paper bi_cascaded_resnet --predict-slices 24
    nice -n 19 .venv/bin/python benchmarks/paper_scale.py --paper gong --phases train --backends jax --steps 2
    nice -n 19 .venv/bin/python benchmarks/paper_scale.py --paper gong --phases prep --prep-input LITS_DIR \\
        --prep-output /tmp/cache --prep-cases 10

Every phase runs in its own child process (this script with `--child`), so each peak RSS
(`resource.getrusage(RUSAGE_SELF).ru_maxrss` of that child) belongs to that phase alone.

train (one child per backend of `--backends`): every stage the default variant's predictor loads
(`Paper.variant_stages`; `--stages all`: every stage of the profile) is built at the profile's size
under the stage's precision on this machine ("auto" is float32 on a CPU), compiled with the stage's
own loss, metrics and optimiser (`Model.compile`, Keras' default jit), and trained with
`train_on_batch` on one random batch of the paper batch (`benchmarks/jax_train_step.random_batch`,
the first source's `batch_size`; crops at the source's crop size): the first call (graph tracing
and compilation plus one step) and then `--steps` timed steps, median seconds per step.

predict (one child, `--predict-backend`): the default variant's stages, He-initialised, are saved as
`best.keras` in a temporary run folder and loaded through the paper's own `spec.predictor` (what
`liverseg predict --run` does); the volume is a `--slices`-slice 512 x 512 phantom CT
(`data_prep.phantom`, float32 HU, canonical axes) held whole in memory. One warm-up call on its first
`--warmup-slices` slices, then the predictor on the first `--predict-slices` slices of that volume
(0: all of them): seconds, seconds per slice and, where only part was timed, seconds per volume
extrapolated linearly (s/slice x `--slices`, a lower bound for Gong, whose fine network runs only on
the slices the coarse network crops: the count is printed). Weights are random, so what is timed is
the predictor's code path, not a segmentation.

prep (one child): `liverseg.data.cache_builder.prepare` of `--prep-cases` cases of `--prep-input`
(a LiTS-layout folder, e.g. `python -m data_prep.phantom --size 512 --slices 300-700`) at the
profile's recipe into `--prep-output` (replaced): seconds, slices, the cache's bytes on disk.

Wall-clock seconds and the child's CPU seconds (user + system, all threads: `time.process_time`)
are both given: on a machine shared with other jobs the wall clock grows with their load (the
1-minute load average is recorded after each child), the CPU seconds much less.

Prints one table line per figure and, with `--json`, writes every figure there.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PAPERS = ("gong", "gruber", "li_dalunet", "liu_crunet", "bi_cascaded_resnet")
BACKENDS = ("tensorflow", "jax")
PHASES = ("train", "predict", "prep")
RESULT = "PAPER_SCALE_RESULT "


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--paper", required=True, choices=PAPERS)
    p.add_argument("--profile", default="paper", choices=("paper", "cpu", "smoke"))
    p.add_argument("--phases", default="train,predict", help=f"comma-separated among {', '.join(PHASES)}")
    p.add_argument("--backends", default="tensorflow,jax", help="train phase: one child per backend")
    p.add_argument("--stages", default="default", choices=("default", "all"),
                   help="train phase: the default variant's stages, or every stage of the profile")
    p.add_argument("--steps", type=int, default=3, help="timed train steps per stage (after the first call)")
    p.add_argument("--slices", type=int, default=400, help="slices of the 512 x 512 volume held in memory")
    p.add_argument("--predict-slices", type=int, default=0,
                   help="slices of that volume put through the predictor (0: all; else s/volume is extrapolated)")
    p.add_argument("--warmup-slices", type=int, default=8, help="slices of the untimed warm-up call")
    p.add_argument("--predict-backend", default="tensorflow", choices=BACKENDS)
    p.add_argument("--prep-input", type=Path, help="prep phase: LiTS-layout source folder")
    p.add_argument("--prep-output", type=Path, help="prep phase: cache folder (replaced)")
    p.add_argument("--prep-cases", type=int, default=None, help="prep phase: first N cases (default: all)")
    p.add_argument("--timeout-s", type=float, default=3600.0, help="per child process")
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--child", choices=PHASES, help=argparse.SUPPRESS)
    p.add_argument("--backend", choices=BACKENDS, default="tensorflow", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.phases = [x for x in args.phases.split(",") if x]
    args.backends = [x for x in args.backends.split(",") if x]
    for name, values, known in (("--phases", args.phases, PHASES), ("--backends", args.backends, BACKENDS)):
        if set(values) - set(known):
            p.error(f"{name}: unknown {', '.join(sorted(set(values) - set(known)))} (choose from {', '.join(known)})")
    if "prep" in args.phases + [args.child] and not (args.prep_input and args.prep_output):
        p.error("the prep phase needs --prep-input and --prep-output")
    if args.steps < 1 or args.slices < 1 or args.predict_slices < 0 or args.warmup_slices < 1:
        p.error("--steps, --slices, --warmup-slices must be >= 1 and --predict-slices >= 0")
    return args


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def gib(n) -> str:
    return "-" if n is None else f"{n / 2**30:.2f}"


# ---------------------------------------------------------------- children (one phase each)

def _spec(paper: str):
    import importlib

    return importlib.import_module(f"experiments.{paper}.paper").PAPER


def _stage_names(spec, cfg, which: str) -> list[str]:
    ctx = spec.context(cfg)
    if which == "all":
        return [s.name for s in spec.stages(ctx)]
    return list(spec.variant_stages(ctx, spec.default_variant))


def child_train(args) -> dict:
    import keras
    import numpy as np

    sys.path.insert(0, str(HERE))
    from jax_train_step import random_batch, train_size
    from liverseg.train.optimizers import make_optimizer
    from liverseg.train.precision import resolve_precision

    spec = _spec(args.paper)
    cfg = spec.get_config(args.profile)
    names = _stage_names(spec, cfg, args.stages)
    rows = []
    for stage in [s for s in spec.stages(spec.context(cfg)) if s.name in names]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        policy = resolve_precision(stage.train.precision)
        keras.mixed_precision.set_global_policy(policy)
        start = time.perf_counter()
        model = stage.build_model()
        build_s = time.perf_counter() - start
        model.compile(optimizer=make_optimizer(stage.train, 100), loss=stage.loss(), metrics=list(stage.metrics()))
        batch, size = stage.sources[0].batch_size, train_size(stage, cfg)
        x, y = random_batch(model, stage, batch, size)
        start = time.perf_counter()
        model.train_on_batch(x, y)
        first_s = time.perf_counter() - start
        times, cpu = [], time.process_time()
        for _ in range(args.steps):
            start = time.perf_counter()
            loss = model.train_on_batch(x, y)
            times.append(time.perf_counter() - start)
        cpu = (time.process_time() - cpu) / args.steps
        loss = float(np.ravel(loss)[0]) if np.size(loss) else float("nan")
        shape = [list(np.shape(t)) for t in (x if isinstance(x, list) else [x])]
        rows.append({"stage": stage.name, "batch": batch, "input": shape, "policy": policy,
                     "params": int(model.count_params()), "build_s": round(build_s, 2),
                     "first_call_s": round(first_s, 2), "s_per_step": round(statistics.median(times), 3),
                     "cpu_s_per_step": round(cpu, 3), "steps": args.steps, "loss": round(loss, 5),
                     "peak_rss_bytes_so_far": peak_rss_bytes()})
        print(f"  {args.backend} {stage.name}: {rows[-1]['s_per_step']} s/step", file=sys.stderr, flush=True)
        keras.mixed_precision.set_global_policy("float32")
        del model
    return {"stages": rows}


def phantom_volume(slices: int):
    """A 512 x 512 x `slices` phantom CT as the predictors see it: float32 HU in canonical axes."""
    from types import SimpleNamespace

    import numpy as np

    from data_prep.phantom import ORIENTATIONS, generate_case_full

    image, _, _, _, case = generate_case_full(0, 0, 512, slices=slices)
    axes = ORIENTATIONS[case.orientation]
    image = np.flip(image, axes) if axes else image  # back to the canonical RAS axes
    return SimpleNamespace(array=np.ascontiguousarray(image, dtype=np.float32))


def child_predict(args) -> dict:
    from types import SimpleNamespace

    import keras

    from liverseg.io.run_layout import RunDir

    spec = _spec(args.paper)
    cfg = spec.get_config(args.profile)
    variant = spec.default_variant
    names = _stage_names(spec, cfg, "default")
    stages = {s.name: s for s in spec.stages(spec.context(cfg))}
    volume = phantom_volume(args.slices)
    volume_rss = peak_rss_bytes()
    with tempfile.TemporaryDirectory(prefix="paper_scale_run_") as run_dir:
        start = time.perf_counter()
        for name in names:
            keras.backend.clear_session()
            keras.utils.set_random_seed(0)
            model = stages[name].build_model()
            best = RunDir(run_dir).checkpoint(name)
            best.parent.mkdir()
            model.save(best)
            del model
        keras.backend.clear_session()
        predictor = spec.predictor(spec.context(cfg, run_dir), variant)
        load_s = time.perf_counter() - start
    n = args.predict_slices or args.slices
    start = time.perf_counter()
    predictor(SimpleNamespace(array=volume.array[..., :args.warmup_slices]))
    warmup_s = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    prediction = predictor(SimpleNamespace(array=volume.array[..., :n]))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    per_slice = seconds / n
    out = {"variant": variant, "stages": names, "volume_shape": list(volume.array.shape),
           "volume_bytes": int(volume.array.nbytes), "rss_after_volume_bytes": volume_rss,
           "save_and_load_s": round(load_s, 2), "warmup_slices": args.warmup_slices,
           "warmup_s": round(warmup_s, 2), "predicted_slices": n, "seconds": round(seconds, 2),
           "s_per_slice": round(per_slice, 3),
           "cpu_s_per_slice": round(cpu / n, 3), "labels_shape": list(prediction.labels.shape),
           "s_per_volume": round(seconds if n == args.slices else per_slice * args.slices, 1),
           "extrapolated": n != args.slices}
    boxes = prediction.record.get("crop_boxes")
    if boxes is not None:
        out["fine_slices"] = len(boxes)
    return out


def child_prep(args) -> dict:
    from liverseg.data.cache_builder import prepare

    if args.prep_output.exists():
        shutil.rmtree(args.prep_output)
    start, cpu = time.perf_counter(), time.process_time()
    prepare("lits", args.prep_input, args.prep_output, args.paper, profile=args.profile, cases=args.prep_cases,
            quiet=True)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    recipe = json.loads((args.prep_output / "recipe.json").read_text())
    disk = sum(f.stat().st_size for f in args.prep_output.rglob("*") if f.is_file())
    sources = sorted(args.prep_input.glob("volume-*.nii*"))[:recipe["num_cases"]]
    return {"cases": recipe["num_cases"], "slices": recipe["num_slices"], "seconds": round(seconds, 1),
            "cpu_s": round(cpu, 1),
            "s_per_case": round(seconds / recipe["num_cases"], 1), "cache_bytes": disk,
            "source_bytes": sum(f.stat().st_size for f in sources)}


def run_child(args) -> int:
    fn = {"train": child_train, "predict": child_predict, "prep": child_prep}[args.child]
    out = fn(args)
    out.update({"phase": args.child, "backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
                "peak_rss_bytes": peak_rss_bytes()})
    print(RESULT + json.dumps(out), flush=True)
    return 0


# ---------------------------------------------------------------- parent

def child_command(args, phase: str, backend: str) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--paper", args.paper, "--profile", args.profile,
           "--child", phase, "--backend", backend, "--stages", args.stages, "--steps", str(args.steps),
           "--slices", str(args.slices), "--predict-slices", str(args.predict_slices),
           "--warmup-slices", str(args.warmup_slices)]
    if phase == "prep":
        cmd += ["--phases", "prep", "--prep-input", str(args.prep_input), "--prep-output", str(args.prep_output)]
        cmd += ["--prep-cases", str(args.prep_cases)] if args.prep_cases else []
    return cmd


def spawn(args, phase: str, backend: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    try:
        proc = subprocess.run(child_command(args, phase, backend), env=env, cwd=REPO, stdout=subprocess.PIPE,
                              text=True, timeout=args.timeout_s)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        return {"phase": phase, "backend": backend, "error": f"no result within --timeout-s {args.timeout_s:.0f}",
                "stdout_tail": out[-2000:]}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT)]
    if proc.returncode or not lines:
        return {"phase": phase, "backend": backend, "error": f"child exited {proc.returncode}",
                "stdout_tail": proc.stdout[-2000:]}
    out = json.loads(lines[-1][len(RESULT):])
    out["wall_s"] = round(time.perf_counter() - start, 1)
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def report(paper: str, r: dict) -> None:
    if "error" in r:
        print(f"{paper:18s} {r['phase']:7s} {r['backend']:10s} ERROR {r['error']}\n{r['stdout_tail']}")
        return
    rss = gib(r["peak_rss_bytes"])
    if r["phase"] == "train":
        for s in r["stages"]:
            print(f"{paper:18s} train   {r['backend']:10s} {s['stage']:17s} batch {s['batch']:2d} x "
                  f"{'x'.join(map(str, s['input'][0][1:]))}: {s['s_per_step']:8.2f} s/step "
                  f"({s['cpu_s_per_step']:.1f} CPU s; first call "
                  f"{s['first_call_s']:.1f} s, build {s['build_s']:.1f} s, {s['params'] / 1e6:.1f} M params); "
                  f"peak RSS {rss} GiB")
    elif r["phase"] == "predict":
        how = (f"{r['predicted_slices']} of {r['volume_shape'][2]} slices timed, extrapolated"
               if r["extrapolated"] else "whole volume")
        fine = f", fine network on {r['fine_slices']} cropped slices" if "fine_slices" in r else ""
        print(f"{paper:18s} predict {r['backend']:10s} {r['variant']:17s} {r['s_per_slice']:.3f} s/slice "
              f"({r['cpu_s_per_slice']:.3f} CPU s), "
              f"{r['s_per_volume']:.0f} s/volume ({how}{fine}; warm-up {r['warmup_s']:.1f} s); "
              f"peak RSS {rss} GiB (volume {gib(r['volume_bytes'])} GiB)")
    else:
        print(f"{paper:18s} prep    {r['cases']:3d} cases {r['slices']:6d} slices: {r['seconds']:.0f} s "
              f"({r['s_per_case']:.1f} s/case), cache {gib(r['cache_bytes'])} GiB on disk (source "
              f"{gib(r['source_bytes'])} GiB); peak RSS {rss} GiB")


def machine() -> dict:
    model = ""
    try:
        model = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                     if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": model or platform.processor(), "cores": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d")}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    out = {"paper": args.paper, "profile": args.profile, "machine": machine(),
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}, "results": []}
    todo = [(phase, backend) for phase in args.phases
            for backend in (args.backends if phase == "train" else [args.predict_backend])]
    for phase, backend in todo:
        r = spawn(args, phase, backend)
        out["results"].append(r)
        report(args.paper, r)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 1 if any("error" in r for r in out["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
