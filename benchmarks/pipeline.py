"""Augmented image + mask slices per second: liverseg's tf.data pipeline vs Keras 2's ImageDataGenerator.

Both sides get the same slices, the same augmentation parameters and the same batch size, in one
process on the same machine:

* liverseg: `make_dataset(cache, ...)` on a slice cache written to a temporary folder (what
  training uses: memory-mapped float16 slices, shuffle, batch, augmentation, target channels
  liver + tumour, prefetch), with each augmentation back end ("opencv" default, "keras").
* legacy: the classic two-generator idiom, `image_gen.flow(x, seed=s)` zipped with
  `mask_gen.flow(y, seed=s)`, on in-memory float32 arrays (image and label map, one channel each);
  bilinear for the image, nearest (`interpolation_order=0`) for the mask.

Augmentation (a realistic strong setting): rotation_range=15, width/height_shift_range=0.1,
shear_range=5, zoom_range=0.1, horizontal_flip=True, fill_mode="nearest".
Each repetition starts a fresh iterator, runs it `--warmup` seconds untimed, then times `--seconds`;
repetitions of the pipelines are interleaved. Rates are medians over repetitions; a speedup is the
median over repetitions of the ratio of two back-to-back timings (robust to a shared machine's load).

    .venv/bin/python -m benchmarks.pipeline                 # 256 and 512, table + JSON line
    .venv/bin/python -m benchmarks.pipeline --sizes 256 --reps 3
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402

AUGMENT = dict(rotation_range=15.0, width_shift_range=0.1, height_shift_range=0.1, shear_range=5.0,
               zoom_range=0.1, horizontal_flip=True, fill_mode="nearest")


def phantom(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`n` slices (n, size, size): smooth intensities in [0, 1] and labels 0/1/2 (ellipse liver, disc tumour)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    images = np.empty((n, size, size), np.float32)
    labels = np.zeros((n, size, size), np.uint8)
    for k in range(n):
        cx, cy = 0.45 + 0.1 * rng.random(2)
        liver = ((xx - cx) / 0.3) ** 2 + ((yy - cy) / 0.22) ** 2 < 1
        tumour = (xx - cx - 0.05) ** 2 + (yy - cy) ** 2 < (0.03 + 0.04 * rng.random()) ** 2
        labels[k][liver] = 1
        labels[k][tumour & liver] = 2
        images[k] = 0.2 + 0.4 * liver - 0.2 * tumour + 0.05 * rng.standard_normal((size, size))
    return np.clip(images, 0, 1), labels


def write_cache(root: str, images: np.ndarray, labels: np.ndarray, cases: int = 4):
    from liverseg.data.cache import slice_rows, write_case, write_manifest

    rows = []
    for c, part in enumerate(np.array_split(np.arange(len(images)), cases)):
        meta = {"spacing": (1.0, 1.0, 1.0)}
        write_case(root, f"case{c}", images[part], labels[part], meta)
        rows += slice_rows(f"case{c}", f"p{c}", labels[part], meta, "bench")
    write_manifest(root, rows, {"paper": "benchmark"})


def timed(iterator, seconds: float) -> tuple[int, float]:
    """Pull batches for at least `seconds`; return (batches, elapsed seconds)."""
    start = time.perf_counter()
    n = 0
    while True:
        next(iterator)
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n, elapsed


def liverseg_iterator(root, batch_size, engine):
    from liverseg.config import AugmentConfig, DataConfig
    from liverseg.data.cache import SliceCache
    from liverseg.data.pipeline import make_dataset, select_slices

    cache = SliceCache(root)
    cfg = DataConfig(sampling="all", targets=("liver", "tumour"), batch_size=batch_size)
    slices = select_slices(cache.manifest, cache.case_ids, cfg, seed=0)
    ds = make_dataset(cache, slices, cfg, augment=AugmentConfig(**AUGMENT), training=True, seed=0,
                      augment_engine=engine)
    return iter(ds)


def legacy_iterator(images, labels, batch_size):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    x = images[..., None].astype(np.float32)
    y = labels[..., None].astype(np.float32)
    image_gen = ImageDataGenerator(**AUGMENT)
    mask_gen = ImageDataGenerator(**AUGMENT, interpolation_order=0)
    return zip(image_gen.flow(x, batch_size=batch_size, seed=1), mask_gen.flow(y, batch_size=batch_size, seed=1))


def measure(factories: dict, seconds: float, warmup: float, reps: int, batch_size: int) -> dict:
    """Per pipeline: slices/s of each repetition.

    Repetitions are interleaved (each pipeline is timed right after the others, under the same
    machine load) and each one starts a fresh iterator, pulls batches for `warmup` seconds untimed, times at
    least `seconds` of batches and drops the iterator, so no tf.data background threads run (or
    pre-fill buffers) while another pipeline is timed.
    """
    rates = {name: [] for name in factories}
    for _ in range(reps):
        for name, make in factories.items():
            it = make()
            timed(it, warmup)  # untimed: start-up, tracing, tf.data autotuning ramp
            n, elapsed = timed(it, seconds)
            rates[name].append(n * batch_size / elapsed)
            del it
    return rates


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--slices", type=int, default=96, help="slices in the data set")
    parser.add_argument("--seconds", type=float, default=1.5, help="timed seconds per pipeline and repetition")
    parser.add_argument("--warmup", type=float, default=0.5, help="untimed seconds per pipeline and repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--engines", nargs="+", default=["opencv", "keras"])
    args = parser.parse_args(argv)

    results, rows = {}, []
    for size in args.sizes:
        images, labels = phantom(args.slices, size)
        root = tempfile.mkdtemp(prefix="liverseg-bench-")
        try:
            write_cache(root, images, labels)
            factories = {"legacy": lambda: legacy_iterator(images, labels, args.batch_size)}
            for engine in args.engines:
                factories[engine] = lambda engine=engine: liverseg_iterator(root, args.batch_size, engine)
            rates = measure(factories, args.seconds, args.warmup, args.reps, args.batch_size)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        legacy = statistics.median(rates["legacy"])
        rows.append((size, "legacy ImageDataGenerator x2", legacy, 1.0))
        results[f"slices_per_s_legacy_{size}"] = round(legacy, 1)
        for i, engine in enumerate(args.engines):
            rate = statistics.median(rates[engine])
            # speedup: median over repetitions of the paired ratio (both timed back to back)
            speedup = statistics.median(r / l for r, l in zip(rates[engine], rates["legacy"]))
            rows.append((size, f"liverseg tf.data ({engine})", rate, speedup))
            results[f"slices_per_s_{engine}_{size}"] = round(rate, 1)
            results[f"speedup_{size}" if i == 0 else f"speedup_{engine}_{size}"] = round(speedup, 2)

    print(f"{'size':>5}  {'pipeline':<32} {'slices/s':>10} {'speedup':>8}")
    for size, name, rate, speed in rows:
        print(f"{size:>5}  {name:<32} {rate:>10.1f} {speed:>7.2f}x")
    results.update(batch_size=args.batch_size, cpu_count=os.cpu_count(), augment=AUGMENT)
    print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
