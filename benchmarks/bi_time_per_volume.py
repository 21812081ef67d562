"""Seconds per CT volume of Bi et al.'s cascade, single-scale and multi-scale, against the paper's 16 and
48 minutes per ~390-slice volume on a Titan X (2.4).

    .venv/bin/python benchmarks/bi_time_per_volume.py [--profile cpu] [--slices 390] [--precision float32]
    KERAS_BACKEND=jax .venv/bin/python benchmarks/bi_time_per_volume.py --profile paper --precision mixed_float16

A synthetic 512 x 512 x `--slices` CT (HU drawn in [-1000, 1000]) goes through the whole predictor of
the "cascade" and "cascade_ms" variants (preprocessing, both ResNets, resizing, thresholding, hole
filling) with He-initialised weights: the time does not depend on the weights. One warm-up volume of
`--batch` slices per variant first (graph tracing / XLA compilation), then `--repeats` timed volumes,
median. Prints one JSON line with the seconds and their ratio to the paper's figures.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PAPER_SECONDS = {"cascade": 16 * 60.0, "cascade_ms": 48 * 60.0}  # 2.4, Titan X (Maxwell), ~390 slices


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", choices=("paper", "cpu", "smoke"))
    parser.add_argument("--slices", type=int, default=390)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--precision", default="float32", choices=("float32", "mixed_float16", "mixed_bfloat16"))
    args = parser.parse_args(argv)

    import keras

    keras.mixed_precision.set_global_policy(args.precision)
    from experiments.bi_cascaded_resnet.config import get_config
    from experiments.bi_cascaded_resnet.model import build_cascade
    from experiments.bi_cascaded_resnet.predict import BiPredictor

    cfg = get_config(args.profile)
    model = build_cascade(cfg)
    rng = np.random.default_rng(0)
    volume = SimpleNamespace(array=rng.uniform(-1000, 1000, (512, 512, args.slices)).astype(np.float32))
    warm = SimpleNamespace(array=volume.array[..., :args.batch])
    out = {"profile": args.profile, "backend": keras.backend.backend(), "precision": args.precision,
           "slices": args.slices, "slice_size": cfg.preprocess.size, "test_sizes": list(cfg.test_sizes),
           "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or platform.system()}"}
    for variant in ("cascade", "cascade_ms"):
        predictor = BiPredictor(cfg, model, variant, batch_size=args.batch)
        predictor(warm)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            predictor(volume)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        out[f"{variant}_seconds"] = round(seconds, 2)
        out[f"{variant}_vs_paper"] = round(seconds / PAPER_SECONDS[variant], 4)
        print(f"{variant}: {seconds:.1f} s per {args.slices}-slice volume "
              f"({seconds / PAPER_SECONDS[variant]:.3f} x the paper's {PAPER_SECONDS[variant] / 60:.0f} min)", flush=True)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
