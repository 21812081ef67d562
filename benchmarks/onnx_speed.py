"""Slices per second of each paper's network at the cpu profile: Keras (TensorFlow) against ONNX Runtime
(CPU), both on 2 threads, in one process per paper so the ratio comes from one run.

    .venv/bin/python benchmarks/onnx_speed.py                      # every paper, batch 8, 10 timed batches
    .venv/bin/python benchmarks/onnx_speed.py --papers gong --batches 20

The networks are those of the stages the paper's default variant loads (`Paper.variant_stages`,
e.g. Gong's coarse U-Net and fine fusion net), built at the cpu profile with random weights (speed
does not depend on them), exported through `liverseg.runner.export` as `liverseg export` does.
Input: (batch, S, S, C) with S the network's input size (free sizes: the profile's slice size). Each
engine is warmed up on two batches, then timed over `--batches` batches; the figure is the median
slices/s of three repetitions. The last line is one JSON object with every figure and the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAPERS = ("gong", "gruber", "li_dalunet", "liu_crunet", "bi_cascaded_resnet")


def machine() -> dict:
    info = {"platform": platform.platform(), "cpu": platform.processor()}
    try:
        text = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name"))
        info["avx512f_lines"] = sum("avx512f" in line for line in text.splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        pass
    info["cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return info


def _rate(run, x, batches: int) -> float:
    for _ in range(2):
        run(x)
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(batches):
            run(x)
        rates.append(batches * len(x) / (time.perf_counter() - start))
    return statistics.median(rates)


def child(paper: str, batch: int, batches: int, threads: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from liverseg.registry import paper as get_paper
    from liverseg.runner.export import export_network, export_shape, onnx_predict, onnx_session

    spec = get_paper(paper)
    cfg = spec.get_config("cpu")
    ctx = spec.context(cfg)
    stages = {s.name: s for s in spec.stages(ctx)}
    wanted = spec.variant_stages(ctx, spec.default_variant)
    size = getattr(getattr(cfg, "preprocess", None), "size", None)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in wanted:
            model = stages[name].build_model()
            shape = export_shape(model, size)
            x = np.random.default_rng(0).random((batch, *shape[1:]), dtype=np.float32)
            path = export_network(model, Path(tmp) / f"{name}.onnx", "onnx", size)
            session = onnx_session(path, threads=threads)
            predict = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
            keras_rate = _rate(lambda t: np.asarray(predict(t)), x, batches)
            onnx_rate = _rate(lambda t: onnx_predict(session, t), x, batches)
            out[name] = {"input": list(shape[1:]), "params": int(model.count_params()),
                         "keras_tf_slices_per_s": round(keras_rate, 2), "onnxruntime_slices_per_s": round(onnx_rate, 2),
                         "onnx_over_keras": round(onnx_rate / keras_rate, 3)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", default=",".join(PAPERS))
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.batch, args.batches, args.threads)))
        return 0
    results = {"machine": machine(), "batch": args.batch, "threads": args.threads, "papers": {}}
    for paper in args.papers.split(","):
        cmd = [sys.executable, __file__, "--child", paper, "--batch", str(args.batch),
               "--batches", str(args.batches), "--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            results["papers"][paper] = {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
        else:
            results["papers"][paper] = json.loads(done.stdout.strip().splitlines()[-1])
        for name, row in results["papers"][paper].items():
            print(f"{paper} {name}: {row}", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
