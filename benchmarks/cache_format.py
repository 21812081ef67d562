"""Random-slice read throughput and disk size: `.npy` memmap slice cache vs TFRecord.

    python benchmarks/cache_format.py                      # 200 slices at 512 and at 256, 3 repeats
    python benchmarks/cache_format.py --slices 400 --sizes 512 --repeats 5

The same slices (float16 images in [0, 1] with a smooth body-like structure, uint8 labels) are
written twice: with `liverseg.data.cache.write_case` (4 cases, memory-mapped `.npy`) and as one
TFRecord file with one serialised slice per example (raw float16 and uint8 bytes). Readers:

- `npy-memmap`: numpy reads `image[k]`, `label[k]` at uniformly random (case, slice) positions;
- `npy-tf.data`: the same reads inside tf.data (`from_tensor_slices(indices).map(numpy_function)`),
  the way a training pipeline would use the cache;
- `tfrecord-shuffle64` / `tfrecord-shuffleN`: `TFRecordDataset -> shuffle(64 | all) -> parse -> decode`,
  the usual TFRecord way to get (approximately, resp. fully) random order; it reads the file
  sequentially, so "random access" here means the shuffle buffer's order.

Every reader delivers as many slices as were written; times are the median over repeats after one
warm-up pass, with the files in the OS page cache (a warm cache: what training sees after epoch 1).
Output: a table, then one JSON line with every number.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from liverseg.data.cache import case_dir, write_case  # noqa: E402

CASES = 4


def make_slices(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic slices: an ellipse 'body' with a brighter 'liver' blob and noise (not compressible to nothing)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    body = ((xx - 0.5) / 0.42) ** 2 + ((yy - 0.5) / 0.33) ** 2 < 1
    images = np.empty((n, size, size), dtype=np.float16)
    labels = np.zeros((n, size, size), dtype=np.uint8)
    for k in range(n):
        r = 0.12 + 0.06 * np.sin(k / 15)
        liver = ((xx - 0.35) / r) ** 2 + ((yy - 0.45) / (0.8 * r)) ** 2 < 1
        tumour = ((xx - 0.33) / 0.03) ** 2 + ((yy - 0.45) / 0.03) ** 2 < 1
        img = 0.3 * body + 0.3 * liver + rng.normal(0, 0.03, (size, size))
        images[k] = np.clip(img, 0, 1)
        labels[k][liver] = 1
        labels[k][liver & tumour & (k % 3 == 0)] = 2
    return images, labels


def write_npy(root: Path, images: np.ndarray, labels: np.ndarray) -> list[tuple[str, int]]:
    index = []
    for c, (img, lab) in enumerate(zip(np.array_split(images, CASES), np.array_split(labels, CASES))):
        cid = f"case-{c}"
        write_case(root, cid, img, lab, {"spacing": [1.0, 1.0, 1.0]})
        index += [(cid, k) for k in range(img.shape[0])]
    return index


def write_tfrecord(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    import tensorflow as tf

    def feature(value: bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    with tf.io.TFRecordWriter(str(path)) as writer:
        for img, lab in zip(images, labels):
            example = tf.train.Example(features=tf.train.Features(feature={
                "image": feature(img.tobytes()), "label": feature(lab.tobytes()),
                "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(img.shape))),
            }))
            writer.write(example.SerializeToString())


def disk_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def read_npy_numpy(root: Path, index, seed: int) -> float:
    mm = {}
    order = np.random.default_rng(seed).permutation(len(index))
    start = time.perf_counter()
    total = 0.0
    for i in order:
        cid, k = index[i]
        if cid not in mm:
            d = case_dir(root, cid)
            mm[cid] = (np.load(d / "image.npy", mmap_mode="r", allow_pickle=False),
                       np.load(d / "label.npy", mmap_mode="r", allow_pickle=False))
        img, lab = np.array(mm[cid][0][k]), np.array(mm[cid][1][k])
        total += float(img[0, 0]) + float(lab[0, 0])
    return time.perf_counter() - start


def read_npy_tfdata(root: Path, index, seed: int, size: int) -> float:
    import tensorflow as tf

    maps = {cid: (np.load(case_dir(root, cid) / "image.npy", mmap_mode="r", allow_pickle=False),
                  np.load(case_dir(root, cid) / "label.npy", mmap_mode="r", allow_pickle=False))
            for cid in {c for c, _ in index}}
    cases = np.array([int(c.split("-")[1]) for c, _ in index], dtype=np.int64)
    slices = np.array([k for _, k in index], dtype=np.int64)

    def load(c, k):
        img, lab = maps[f"case-{int(c)}"]
        return np.array(img[int(k)]), np.array(lab[int(k)])

    def fetch(c, k):
        img, lab = tf.numpy_function(load, [c, k], [tf.float16, tf.uint8])
        return tf.ensure_shape(img, (size, size)), tf.ensure_shape(lab, (size, size))

    ds = (tf.data.Dataset.from_tensor_slices((cases, slices)).shuffle(len(index), seed=seed)
          .map(fetch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    start = time.perf_counter()
    n = sum(1 for _ in ds)
    assert n == len(index)
    return time.perf_counter() - start


def read_tfrecord(path: Path, n: int, seed: int, size: int, buffer: int) -> float:
    import tensorflow as tf

    spec = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.string)}

    def parse(record):
        ex = tf.io.parse_single_example(record, spec)
        img = tf.reshape(tf.io.decode_raw(ex["image"], tf.float16), (size, size))
        lab = tf.reshape(tf.io.decode_raw(ex["label"], tf.uint8), (size, size))
        return img, lab

    ds = (tf.data.TFRecordDataset(str(path)).shuffle(buffer, seed=seed)
          .map(parse, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    start = time.perf_counter()
    count = sum(1 for _ in ds)
    assert count == n
    return time.perf_counter() - start


def bench_size(workdir: Path, n: int, size: int, repeats: int) -> dict:
    images, labels = make_slices(n, size)
    npy_root, tfr = workdir / f"npy{size}", workdir / f"slices{size}.tfrecord"
    index = write_npy(npy_root, images, labels)
    write_tfrecord(tfr, images, labels)
    readers = {
        "npy-memmap": lambda s: read_npy_numpy(npy_root, index, s),
        "npy-tf.data": lambda s: read_npy_tfdata(npy_root, index, s, size),
        "tfrecord-shuffle64": lambda s: read_tfrecord(tfr, n, s, size, 64),
        f"tfrecord-shuffle{n}": lambda s: read_tfrecord(tfr, n, s, size, n),
    }
    result = {"size": size, "slices": n, "disk_mb": {"npy": disk_bytes(npy_root) / 2 ** 20,
                                                     "tfrecord": disk_bytes(tfr) / 2 ** 20}, "slices_per_s": {}}
    for name, read in readers.items():
        read(99)  # warm-up: page cache, tf.data graph tracing
        times = [read(r) for r in range(repeats)]
        result["slices_per_s"][name] = n / statistics.median(times)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the files (default: a temp dir)")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="cache_format_", dir=args.workdir))
    try:
        results = [bench_size(workdir, args.slices, s, args.repeats) for s in args.sizes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    import tensorflow as tf

    print(f"{'size':>5} {'reader':<22} {'slices/s':>10}   disk MB (npy / tfrecord)")
    for res in results:
        disk = f"{res['disk_mb']['npy']:.1f} / {res['disk_mb']['tfrecord']:.1f}"
        for i, (name, rate) in enumerate(res["slices_per_s"].items()):
            print(f"{res['size']:>5} {name:<22} {rate:>10.0f}   {disk if i == 0 else ''}")
    summary = {"benchmark": "cache_format", "machine": platform.platform(), "cpus": os.cpu_count(),
               "python": platform.python_version(), "tensorflow": tf.__version__, "numpy": np.__version__,
               "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats, "results": results}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
