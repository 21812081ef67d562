"""Training throughput and peak memory of Gong's two networks, float32 vs mixed precision.

    KERAS_BACKEND=jax python benchmarks/gong_throughput.py --profile paper --steps 300   # on a GPU
    python benchmarks/gong_throughput.py --profile smoke --steps 5                       # CPU check

Builds each stage's network at the profile's size, trains it on random slices for `--steps` steps
per precision policy (after `--warmup` untimed steps, which include compilation) and prints slices
per second and the accelerator's peak memory, then one JSON line with every figure and the ratio
mixed / float32. Peak memory is the process's peak so far: pass one policy per run
(`--policies mixed_float16`) for separate peaks. The data are random: this measures the model and the optimiser, not the pipeline
(benchmarks/pipeline.py does that).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_memory_bytes() -> int | None:
    """Peak device memory of the first accelerator, or None on CPU / when the backend cannot tell."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform == "cpu":
                return None
            return int(device.memory_stats().get("peak_bytes_in_use", 0))
        if backend == "tensorflow":
            import tensorflow as tf

            if not tf.config.list_physical_devices("GPU"):
                return None
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
        if backend == "torch":
            import torch

            return int(torch.cuda.max_memory_allocated()) if torch.cuda.is_available() else None
    except Exception:  # a backend without memory statistics: report none rather than fail
        return None
    return None


def measure(build, size: int, batch: int, steps: int, warmup: int, policy: str) -> dict:
    import keras
    import numpy as np

    from liverseg.nn.losses import DiceBCELoss

    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=DiceBCELoss())
        rng = np.random.default_rng(0)
        x = rng.random((batch, size, size, 1), dtype=np.float32)
        y = (rng.random((batch, size, size, model.output_shape[-1])) > 0.9).astype(np.float32)
        for _ in range(warmup):
            model.train_on_batch(x, y)
        start = time.perf_counter()
        for _ in range(steps):
            loss = model.train_on_batch(x, y)
        float(np.asarray(loss))  # wait for the last step
        seconds = time.perf_counter() - start
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return {"slices_per_s": round(steps * batch / seconds, 2), "seconds": round(seconds, 3),
            "peak_memory_gib": None if (m := peak_memory_bytes()) is None else round(m / 2**30, 3)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="paper", choices=("paper", "cpu", "smoke"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--policies", default="float32,mixed_float16")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from experiments.gong.config import get_config
    from experiments.gong.model import build_coarse, build_fine

    cfg = get_config(args.profile)
    stages = {
        "coarse": (lambda: build_coarse(cfg.coarse_model, cfg.preprocess.size), cfg.preprocess.size,
                   cfg.coarse_data.batch_size),
        "fine": (lambda: build_fine(cfg.fine_model, cfg.fine_data.crop_size), cfg.fine_data.crop_size,
                 cfg.fine_data.batch_size),
    }
    results = {"backend": keras.backend.backend(), "profile": args.profile, "steps": args.steps}
    print(f"backend {results['backend']}, profile {args.profile}, {args.steps} steps after {args.warmup} warm-up")
    print(f"{'stage':8s} {'policy':15s} {'slices/s':>10s} {'peak GiB':>9s}")
    for stage, (build, size, batch) in stages.items():
        for policy in args.policies.split(","):
            r = measure(build, size, batch, args.steps, args.warmup, policy)
            results[f"{stage}_{policy}"] = r
            print(f"{stage:8s} {policy:15s} {r['slices_per_s']:10.1f} {str(r['peak_memory_gib']):>9s}")
        policies = args.policies.split(",")
        if len(policies) == 2:
            a, b = (results[f"{stage}_{q}"]["slices_per_s"] for q in policies)
            results[f"{stage}_speedup_{policies[1]}"] = round(b / a, 3)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
