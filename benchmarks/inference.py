"""Whole-volume prediction time: fixed-shape batches (padded last batch) against the old short last batch.

    .venv/bin/python benchmarks/inference.py                        # TensorFlow backend, cpu-profile sizes
    KERAS_BACKEND=jax .venv/bin/python benchmarks/inference.py      # the same on JAX
    KERAS_BACKEND=jax python benchmarks/inference.py --size 512 --filters 64 --slices 400,311   # paper size, GPU

Model: `liverseg.nn.models.build_unet` at `--size` (default the cpu-profile sizes: 128 x 128 input,
8 base filters, depth 4), random weights (the same seed in every run). Volumes: synthetic, one per
entry of `--slices` (default 203, 157, 94: none a multiple of the batch of 8, each leaving a different
short last batch), predicted one after the other by the same model, as `liverseg predict` does over a
folder.  Two parts, each in a fresh process per mode (so no compilation is shared between modes):

- volume: `predict_slices` over every slice of each volume.  `padded` is the library (every call
  sees (batch, S, S, 1)); `unpadded` reproduces the old loop here (the last batch of each volume goes
  to the model short, a new shape to compile).
- cascade: the U-Net on whole slices, then a second U-Net on crops of half the size (`--crop`) around
  a synthetic tumour on about a third of the slices, through `liverseg.infer.cascade.predict_in_boxes`.

For each volume the first pass (`cold`, compilation included: what a user waits for) and a second pass
over the same volumes (`warm`, every shape compiled) are timed; figures are seconds per 100 slices,
medians over `--repeats` runs.  The last line is one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def unpadded_predict(model, slices, batch_size: int):
    """The old `predict_slices` loop (no TTA): the short last batch is sent as it is."""
    import numpy as np

    out = [np.asarray(model.predict_on_batch(slices[i:i + batch_size]), dtype=np.float32)
           for i in range(0, len(slices), batch_size)]
    return np.concatenate(out)


def synthetic_volume(n: int, size: int, seed: int):
    """Slices (n, size, size, 1) of smoothed noise and a tumour mask (n, size, size) on the middle third."""
    import numpy as np

    rng = np.random.default_rng(seed)
    slices = rng.random((n, size, size, 1), dtype=np.float32)
    yy, xx = np.mgrid[:size, :size]
    mask = np.zeros((n, size, size), dtype=bool)
    for z in range(n // 3, 2 * n // 3):
        cy, cx = size * (0.3 + 0.4 * rng.random(2))
        mask[z] = (yy - cy) ** 2 + (xx - cx) ** 2 <= (size / 10) ** 2
    return slices, mask


def build(args, size: int, name: str):
    from liverseg.nn.models import build_unet

    return build_unet((size, size, 1), n_outputs=1, base_filters=args.filters, depth=args.depth, name=name)


def child(args) -> dict:
    """One part in one mode: build fresh models, time a cold and a warm pass over the volumes."""
    import keras
    import numpy as np

    from liverseg.infer.cascade import CropBox, predict_in_boxes
    from liverseg.infer.predict import predict_slices

    keras.utils.set_random_seed(0)
    model = build(args, args.size, "whole")
    fine = build(args, args.crop, "fine") if args.part == "cascade" else None
    padded = args.mode == "padded"

    def whole(x):
        return predict_slices(model, x, batch_size=args.batch) if padded else unpadded_predict(model, x, args.batch)

    def run(x, mask):
        out = whole(x)
        if fine is None:
            return out
        boxes = [CropBox.around(m, args.crop) for m in mask]
        fine_fn = fine if padded else (lambda p: unpadded_predict(fine, p, args.batch))
        return out + predict_in_boxes(fine_fn, x, boxes, batch_size=args.batch)

    volumes = [synthetic_volume(n, args.size, seed) for seed, n in enumerate(args.slices)]
    times = {"cold": [], "warm": []}
    checksum = 0.0
    for phase in ("cold", "warm"):
        for x, mask in volumes:
            start = time.perf_counter()
            out = run(x, mask)
            times[phase].append(time.perf_counter() - start)
            checksum += float(np.asarray(out, dtype=np.float64).sum())
    boxed = int(sum(m.reshape(len(m), -1).any(axis=1).sum() for _, m in volumes))
    return dict(times=times, checksum=checksum, boxed_slices=boxed)


def run_child(args, part: str, mode: str) -> dict:
    cmd = [sys.executable, __file__, "--child", part, mode, "--size", str(args.size), "--crop", str(args.crop),
           "--filters", str(args.filters), "--depth", str(args.depth), "--batch", str(args.batch),
           "--slices", ",".join(map(str, args.slices))]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy(), check=False)
    if done.returncode:
        sys.exit(f"benchmark child {part}/{mode} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict:
    """CPU model, core count and avx512f from lscpu / cpuinfo; backend and versions."""
    import keras

    info = dict(cpu=platform.processor() or "unknown", cores=os.cpu_count(), avx512f=False,
                backend=keras.backend.backend(), keras=keras.__version__, python=platform.python_version())
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in lscpu.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
        info["avx512f"] = " avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: keep what platform gives
        pass
    return info


def per_100(seconds: list[float], slices: list[int]) -> float:
    return 100.0 * sum(seconds) / sum(slices)


def summarise(args, results: dict) -> dict:
    """Median over repeats of s / 100 slices: first volume cold, all volumes cold, all volumes warm."""
    summary = {}
    for (part, mode), runs in results.items():
        first = [100.0 * r["times"]["cold"][0] / args.slices[0] for r in runs]
        cold = [per_100(r["times"]["cold"], args.slices) for r in runs]
        warm = [per_100(r["times"]["warm"], args.slices) for r in runs]
        summary[f"{part}/{mode}"] = dict(first_volume_cold=round(statistics.median(first), 3),
                                         all_cold=round(statistics.median(cold), 3),
                                         all_warm=round(statistics.median(warm), 3),
                                         boxed_slices=runs[0]["boxed_slices"], checksum=runs[0]["checksum"])
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="slice size S (default 128, the cpu profile)")
    parser.add_argument("--crop", type=int, default=None, help="cascade crop size (default S / 2)")
    parser.add_argument("--filters", type=int, default=8, help="U-Net base filters (default 8)")
    parser.add_argument("--depth", type=int, default=4, help="U-Net depth (default 4)")
    parser.add_argument("--batch", type=int, default=8, help="prediction batch size (default 8)")
    parser.add_argument("--slices", type=lambda s: [int(v) for v in s.split(",")], default=[203, 157, 94],
                        help="slice counts of the volumes, comma-separated (default 203,157,94)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per part and mode (default 2)")
    parser.add_argument("--parts", default="volume,cascade", help="volume, cascade or both (default)")
    parser.add_argument("--child", nargs=2, metavar=("PART", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.crop = args.crop or args.size // 2
    if args.child:
        args.part, args.mode = args.child
        print(json.dumps(child(args)))
        return 0
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, avx512f {'yes' if info['avx512f'] else 'no'}; backend "
          f"{info['backend']}, Keras {info['keras']}; U-Net {args.size} px, {args.filters} filters, depth "
          f"{args.depth}, batch {args.batch}, crop {args.crop}, volumes of {args.slices} slices")
    results: dict = {}
    for _ in range(args.repeats):
        for part in args.parts.split(","):
            for mode in ("unpadded", "padded"):
                results.setdefault((part, mode), []).append(run_child(args, part, mode))
    summary = summarise(args, results)
    print(f"{'part/mode':<18} {'1st vol cold':>13} {'all cold':>9} {'all warm':>9}   (s per 100 slices)")
    for key, row in summary.items():
        print(f"{key:<18} {row['first_volume_cold']:>13.3f} {row['all_cold']:>9.3f} {row['all_warm']:>9.3f}")
    for part in args.parts.split(","):
        old, new = summary[f"{part}/unpadded"], summary[f"{part}/padded"]
        diff = abs(old["checksum"] - new["checksum"]) / max(abs(old["checksum"]), 1e-12)
        print(f"{part}: cold speedup {old['all_cold'] / new['all_cold']:.2f}x, "
              f"warm {old['all_warm'] / new['all_warm']:.2f}x, relative checksum difference {diff:.1e}")
    print(json.dumps(dict(machine=info, args={k: v for k, v in vars(args).items() if k != "child"}, summary=summary)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
