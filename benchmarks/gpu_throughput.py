"""Training slices per second, device memory and forward pass per volume of every paper's networks, by precision.

    KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false python benchmarks/gpu_throughput.py --profile paper \
        --json gpu.json                                                     # on a GPU
    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py --profile paper --papers gong --max-batch
    KERAS_BACKEND=jax python benchmarks/gpu_throughput.py --profile smoke --steps 2 --warmup 1 --policies float32

For each paper (`--papers`), each training stage of the profile and each dtype policy (`--policies`):
the stage's network is built under the policy and trained on one random batch of its input shapes
(targets: random 0/1 maps of its output shapes) with the stage's own loss (`stage.loss()`) and own
optimiser (`train.optimizer`: Adam, SGD or Adagrad; wrapped in a LossScaleOptimizer under
mixed_float16, as `Model.compile` does). The train step is Keras' stateless API (forward pass,
loss, gradients, optimiser update) under `jax.jit`, `--steps-per-execution` steps per XLA program.
Figures: compile seconds (lowering and XLA compilation of that program), slices per second over
`--steps` timed calls after `--warmup` untimed ones, `program_bytes` (XLA's memory analysis of the
program: its arguments, outputs and temporaries, that measurement's own figure) and `peak_bytes`
(the device's `peak_bytes_in_use`: the peak of the whole process so far, so it belongs to this
measurement only where `peak_new` says it rose during it). The batch is the stage's (its first
source's `batch_size`), plus `--lead-batches` for the first paper's first stage (Gong's 512 x 512
coarse U-Net at the paper profile) and, with `--max-batch`, a doubling search from the stage's batch
up to `--batch-cap` that stops at the first out-of-memory error. Then the network's forward pass over
a synthetic volume of `--volume-slices` slices (`predict_slices`: fixed batch shapes, the last batch
padded) in seconds per volume: the network only, without reading, resampling or post-processing.

Work runs stage by stage, training under every policy before the forward passes, so the first
figures are the most wanted ones (Gong's coarse U-Net at batches 4 and 16 in the three policies);
the max-batch search comes last, and no new measurement starts after `--budget-s` seconds. Stages
whose network, loss class, optimiser and batch equal an earlier stage's (Gruber's alpha
fine-tunings) are reported as `same_as` that stage. JAX backend only: the script imports no
TensorFlow, so it runs on a machine with JAX alone. The measurements themselves (train step, compile,
memory, forward pass) are in `benchmarks/jax_train_step.py`; this script plans, orders and reports them.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
if str(HERE) not in sys.path:
    sys.path.append(str(HERE))

from jax_train_step import is_oom, measure_training, measure_volume, signature, train_size  # noqa: E402

PAPERS = ("gong", "gruber", "li_dalunet", "liu_crunet", "bi_cascaded_resnet")
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="paper", choices=("paper", "cpu", "smoke"))
    p.add_argument("--papers", default=",".join(PAPERS), help="comma-separated, in the order to measure")
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--steps", type=int, default=20, help="timed calls of the compiled program")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls after compilation")
    p.add_argument("--steps-per-execution", type=int, default=1, help="train steps in one XLA program")
    p.add_argument("--lead-batches", default="16", help="extra batches for the first stage, after its own")
    p.add_argument("--max-batch", action="store_true", help="doubling search for the largest batch that fits")
    p.add_argument("--batch-cap", type=int, default=64)
    p.add_argument("--volume-slices", type=int, default=100, help="0: no forward-pass timing")
    p.add_argument("--predict-batch", type=int, default=0, help="forward-pass batch (0: the stage's batch)")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=True,
                   help="--no-jit-compile runs op by op (debugging; far slower)")
    p.add_argument("--xla-flags", default="", help="appended to XLA_FLAGS before JAX starts")
    p.add_argument("--budget-s", type=float, default=540.0, help="no new measurement starts after this")
    p.add_argument("--json", type=Path, help="write every figure here (rewritten after each measurement)")
    args = p.parse_args(argv)
    args.papers = [x for x in args.papers.split(",") if x]
    args.policies = [x for x in args.policies.split(",") if x]
    args.lead_batches = [int(x) for x in args.lead_batches.split(",") if x]
    for name, known in (("--papers", PAPERS), ("--policies", POLICIES)):
        unknown = set(getattr(args, name[2:])) - set(known)
        if unknown:
            p.error(f"{name}: unknown {', '.join(sorted(unknown))} (choose from {', '.join(known)})")
    if min(args.steps, args.steps_per_execution, args.batch_cap) < 1 or args.warmup < 0:
        p.error("--steps, --steps-per-execution and --batch-cap must be >= 1, --warmup >= 0")
    return args


def set_environment(xla_flags: str) -> None:
    """JAX backend, memory taken as needed (so peaks mean something), extra XLA flags: before JAX starts."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if xla_flags:
        if "jax" in sys.modules:
            print("--xla-flags: JAX was imported before this call, the flags have no effect", file=sys.stderr)
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}".strip()


def machine() -> dict:
    import jax
    import keras

    devices = jax.devices()
    return {"devices": [str(d) for d in devices], "device_kind": devices[0].device_kind,
            "platform": devices[0].platform, "jax": jax.__version__, "keras": keras.__version__,
            "backend": keras.backend.backend(), "xla_flags": os.environ.get("XLA_FLAGS", ""),
            "python": platform.python_version(), "host": f"{platform.machine()}, {os.cpu_count()} cores"}


class Bench:
    """The run's figures, its clock and its output (table lines as they come, JSON after each figure)."""

    def __init__(self, args, machine: dict):
        self.args = args
        self.deadline = time.perf_counter() + args.budget_s
        self.start = time.perf_counter()
        self.out = {"profile": args.profile, "machine": machine, "settings": settings(args),
                    "training": [], "volume": [], "max_batch": [], "skipped": [], "ratios": []}

    def in_budget(self, what: str) -> bool:
        if time.perf_counter() < self.deadline:
            return True
        self.out["skipped"].append(what)
        return False

    def add(self, kind: str, row: dict) -> None:
        self.out[kind].append(row)
        print(format_row(kind, row), flush=True)
        self.save()

    def save(self) -> None:
        self.out["ratios"] = ratios(self.out["training"])
        self.out["elapsed_s"] = round(time.perf_counter() - self.start, 1)
        if self.args.json:
            self.args.json.parent.mkdir(parents=True, exist_ok=True)
            self.args.json.write_text(json.dumps(self.out, indent=1) + "\n")


def settings(args) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def gib(n) -> str:
    return "-" if n is None else f"{n / 2**30:.2f}"


def format_row(kind: str, r: dict) -> str:
    head = f"{r['paper']:18s} {r['stage']:17s} {r['policy']:15s} {r['batch']:5d}"
    if "same_as" in r:
        return f"{head}  same network, loss and optimiser as {r['same_as']}"
    if "error" in r:
        return f"{head}  {r['error']}"
    if kind == "volume":
        return (f"{head} {r['seconds_per_volume']:10.2f} s / {r['slices']} slices (forward pass only, "
                f"compile {r['compile_s']:.1f} s)")
    peak = gib(r["peak_bytes"]) + ("" if r["peak_new"] in (None, True) else " (earlier)")
    return f"{head} {r['slices_per_s']:10.1f} {r['compile_s']:9.1f} {gib(r['program_bytes']):>9s} {peak:>14s}"


def ratios(rows: list[dict]) -> list[dict]:
    """Each mixed policy against float32 at the same paper, stage and batch, both measured in this run."""
    f32 = {(r["paper"], r["stage"], r["batch"]): r for r in rows if r["policy"] == "float32" and "slices_per_s" in r}
    out = []
    for r in rows:
        base = f32.get((r["paper"], r["stage"], r["batch"]))
        if r["policy"] == "float32" or base is None or "slices_per_s" not in r:
            continue
        pb, bb = r.get("program_bytes"), base.get("program_bytes")
        out.append({"paper": r["paper"], "stage": r["stage"], "batch": r["batch"], "policy": r["policy"],
                    "speedup": round(r["slices_per_s"] / base["slices_per_s"], 3),
                    "program_bytes_ratio": round(pb / bb, 3) if pb and bb else None})
    return out


@dataclass(frozen=True)
class Job:
    """One stage's network under one dtype policy."""

    paper: str
    cfg: object
    stage: object
    policy: str

    @property
    def batch(self) -> int:
        return self.stage.sources[0].batch_size

    @property
    def row(self) -> dict:
        return {"paper": self.paper, "stage": self.stage.name, "policy": self.policy}

    def name(self, what: str = "") -> str:
        return "/".join([self.paper, self.stage.name, self.policy] + ([what] if what else []))

    def build(self):
        """The stage's model built under the policy, in a fresh Keras session; and the seconds it took."""
        import keras

        keras.backend.clear_session()
        gc.collect()
        keras.mixed_precision.set_global_policy(self.policy)
        try:
            keras.utils.set_random_seed(0)
            start = time.perf_counter()
            model = self.stage.build_model()
            return model, time.perf_counter() - start
        finally:
            keras.mixed_precision.set_global_policy("float32")


def jobs(papers: list[str], profile: str, policies: list[str]) -> list[Job]:
    import importlib

    out = []
    for paper in papers:
        spec = importlib.import_module(f"experiments.{paper}.paper").PAPER
        cfg = spec.get_config(profile)
        out += [Job(paper, cfg, stage, policy) for stage in spec.stages(spec.context(cfg)) for policy in policies]
    return out


def train_row(bench: Bench, model, job: Job, batch: int, **extra) -> dict:
    """One training figure, or an out-of-memory row (any other error stops the run)."""
    row = {**job.row, "batch": batch, **extra}
    try:
        row.update(measure_training(model, job.stage, job.policy, batch, train_size(job.stage, job.cfg), bench.args))
    except Exception as error:  # noqa: BLE001  out of memory is a result, the end of a batch search
        if not is_oom(error):
            raise
        row.update({"error": "out of memory", "oom": True})
        gc.collect()
    bench.add("training", row)
    return row


def train_job(bench: Bench, job: Job, batches: list[int], seen: dict) -> bool:
    """The job's training figures at `batches` (the first always, the rest within the budget, none
    after an out-of-memory error); False when skipped or the same as an earlier stage's."""
    if not bench.in_budget(job.name()):
        return False
    model, build_s = job.build()
    key = (signature(model, job.stage), job.policy, job.batch)
    if key in seen:
        bench.add("training", {**job.row, "batch": job.batch, "same_as": seen[key]})
        return False
    seen[key] = job.stage.name
    for b in batches:
        if b != batches[0] and not bench.in_budget(job.name(f"batch {b}")):
            break
        if train_row(bench, model, job, b, build_s=round(build_s, 2)).get("oom"):
            break
    return True


def volume_job(bench: Bench, job: Job) -> None:
    args = bench.args
    if not bench.in_budget(job.name("volume")):
        return
    model, _ = job.build()
    batch = args.predict_batch or job.batch
    bench.add("volume", {**job.row, "batch": batch, **measure_volume(
        model, batch, args.volume_slices, job.cfg.preprocess.size, args.jit_compile)})


def measure_stages(bench: Bench, todo: list[Job]) -> list[Job]:
    """Stage by stage: every policy's training at the stage's batch (the first stage's also at
    `--lead-batches`), then every policy's forward pass per volume. Returns the jobs measured."""
    args, seen, measured = bench.args, {}, []
    stages = list({id(job.stage): job.stage for job in todo}.values())
    for stage in stages:
        group = [job for job in todo if job.stage is stage]
        batches = [group[0].batch]
        if stage is stages[0]:
            batches += sorted(set(args.lead_batches) - {group[0].batch})
        fresh = [job for job in group if train_job(bench, job, batches, seen)]
        measured += fresh
        for job in fresh if args.volume_slices else []:
            volume_job(bench, job)
    return measured


def search_max_batch(bench: Bench, measured: list[Job]) -> None:
    """Doubling from the stage's batch up to `--batch-cap`, stopping at the first out-of-memory error."""
    cap = bench.args.batch_cap
    for job in measured:
        done = {r["batch"]: r for r in bench.out["training"] if all(r[k] == v for k, v in job.row.items())}
        largest = None if done.get(job.batch, {"oom": True}).get("oom") else job.batch
        model, b = None, job.batch * 2
        while largest is not None and b <= cap and bench.in_budget(job.name(f"max batch {b}")):
            if b not in done:
                if model is None:
                    model, _ = job.build()
                done[b] = train_row(bench, model, job, b)
            if done[b].get("oom"):
                break
            largest, b = b, b * 2
        bench.out["max_batch"].append({**job.row, "max_batch": largest, "cap": cap})
        print(f"{job.paper:18s} {job.stage.name:17s} {job.policy:15s} largest batch that fits (cap {cap}): {largest}",
              flush=True)
        del model
        bench.save()


def main(argv=None) -> int:
    args = parse_args(argv)
    set_environment(args.xla_flags)
    import keras

    if keras.backend.backend() != "jax":
        sys.exit(f"gpu_throughput.py needs the JAX backend (KERAS_BACKEND=jax), not {keras.backend.backend()}")
    bench = Bench(args, machine())
    m = bench.out["machine"]
    print(f"{m['device_kind']} ({m['platform']}, {len(m['devices'])} device(s)), keras {m['keras']} on jax {m['jax']}, "
          f"profile {args.profile}; {args.steps} x {args.steps_per_execution} train steps timed after "
          f"{args.warmup} warm-up calls; stage's loss and optimiser on random slices; jit {args.jit_compile}")
    print("program GiB: XLA's memory analysis of the step; peak GiB: process peak so far "
          "('earlier': set by an earlier measurement)")
    print(f"{'paper':18s} {'stage':17s} {'policy':15s} {'batch':>5s} {'slices/s':>10s} {'compile s':>9s} "
          f"{'program':>9s} {'peak GiB':>14s}")
    measured = measure_stages(bench, jobs(args.papers, args.profile, args.policies))
    if args.max_batch:
        search_max_batch(bench, measured)
    for r in bench.out["ratios"]:
        mem = "" if r["program_bytes_ratio"] is None else f", program memory x{r['program_bytes_ratio']}"
        print(f"{r['paper']} {r['stage']} batch {r['batch']}: {r['policy']} / float32 slices/s "
              f"x{r['speedup']}{mem}")
    if bench.out["skipped"]:
        print(f"budget of {args.budget_s:.0f} s spent; not measured: {', '.join(bench.out['skipped'])}")
    bench.save()
    print(f"done in {bench.out['elapsed_s']} s" + (f"; figures in {args.json}" if args.json else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
