"""Distribution strategy, the chief of a multi-worker cluster, and a digest to compare workers.

Multi-worker training (TensorFlow backend): every machine runs the same command with the same
`TF_CONFIG` cluster spec and its own `task.index`, e.g.

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

and the program calls, in this order:

    strategy = get_strategy()          # before any dataset or other TensorFlow op
    run_dir = worker_run_dir(RUN)      # RUN on the chief, a private scratch folder elsewhere
    ... build the datasets; fit(..., run_dir=run_dir) for each stage ...

Every worker runs the same callbacks (saving a model reads distributed variables, which may take
part in collectives), but only the chief writes into the real run directory. A worker reads the
resume state and the done markers from the chief's run directory (`chief_run_dir`), so the run
directory must be on a file system that all workers share for a resume or a skip to work.
"""
from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from liverseg.errors import OptionError
from liverseg.train.devices import backend, gpu_count, tensorflow

_STRATEGY = None
_SCRATCH: dict[Path, Path] = {}  # worker scratch dir -> the chief's run dir it stands for


class NoStrategy:
    """The strategy on JAX / torch: one process, one device; `scope()` does nothing."""

    num_replicas_in_sync = 1

    @contextlib.contextmanager
    def scope(self):
        yield self

    def __repr__(self) -> str:
        return f"NoStrategy(backend={backend()!r})"


def _tf_config() -> dict | None:
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = str(task["type"]), int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise OptionError(f"TF_CONFIG: not a cluster spec with a task type and index ({e})") from None
    if not isinstance(cluster, dict) or kind not in cluster:
        raise OptionError(f"TF_CONFIG: task type {kind!r} is not in the cluster")
    return {"cluster": cluster, "type": kind, "index": index}


def _multi_worker_strategy(tf):
    """MultiWorkerMirroredStrategy whose `reduce` takes what Keras 3's TF trainer passes it.

    Keras 3.15 calls `strategy.reduce("MEAN", (x, y), axis=None)` on a nested batch
    (`_maybe_symbolic_build`) and `strategy.reduce("MEAN", scalar, axis=0)` on every logged
    scalar (`reduce_per_replica`); the collective strategy accepts neither (keras-team/keras#20585,
    tensorflow/tensorflow#72388). Reducing leaf by leaf, scalars without an axis, fixes both."""

    class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            parent = super()

            def leaf(v):
                rank = self.experimental_local_results(v)[0].shape.rank
                return parent.reduce(reduce_op, v, None if rank == 0 else axis)

            return tf.nest.map_structure(leaf, value)

    try:
        return MultiWorkerStrategy()
    except RuntimeError as e:
        if "program startup" not in str(e):
            raise
        raise RuntimeError("TF_CONFIG is set: call liverseg.train.distribution.get_strategy() before "
                           "building any dataset or model (MultiWorkerMirroredStrategy must exist "
                           f"before TensorFlow runs its first op; {e})") from None


def get_strategy():
    """The distribution strategy of this process, created once and then reused.

    TensorFlow backend: `MultiWorkerMirroredStrategy` when `TF_CONFIG` is set (create it before
    any dataset or other TensorFlow op: call this first), `MirroredStrategy` over all GPUs when
    more than one is visible, otherwise the default strategy. Other backends: a `NoStrategy`;
    `TF_CONFIG` there is an OptionError. Datasets yield the *global* batch, which the strategy
    splits across replicas.
    """
    global _STRATEGY
    if _STRATEGY is not None:
        return _STRATEGY
    if backend() != "tensorflow":
        if os.environ.get("TF_CONFIG", "").strip():
            raise OptionError(f"TF_CONFIG is set, but multi-worker training needs the TensorFlow "
                              f"backend (KERAS_BACKEND={backend()}); unset TF_CONFIG or set "
                              "KERAS_BACKEND=tensorflow")
        _STRATEGY = NoStrategy()
        return _STRATEGY
    tf = tensorflow()
    if _tf_config() is not None:
        _STRATEGY = _multi_worker_strategy(tf)
    elif gpu_count() > 1:
        _STRATEGY = tf.distribute.MirroredStrategy()
    else:
        _STRATEGY = tf.distribute.get_strategy()
    return _STRATEGY


def worker_count() -> int:
    """Processes of the multi-worker cluster in `TF_CONFIG` (chief and workers); 1 without one."""
    config = _tf_config()
    if config is None:
        return 1
    return sum(len(config["cluster"].get(kind, ())) for kind in ("chief", "worker"))


def _batchnorm_layers(model) -> list:
    import keras

    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if isinstance(layer, keras.layers.BatchNormalization)]


def synchronize_batchnorm(model) -> int:
    """Multi-worker training: BatchNormalization computes its batch moments over every worker's batch
    (TensorFlow's synchronized BN), so the moving statistics, like the weights, stay identical on all
    workers. Returns the number of layers switched; nothing happens with a single worker."""
    if worker_count() < 2:
        return 0
    layers = _batchnorm_layers(model)
    for layer in layers:
        layer.synchronized = True
    return len(layers)


@contextlib.contextmanager
def portable_batchnorm(model):
    """Save a model as if its BatchNormalization were not synchronized: the flag only changes how
    training computes moments, and a `.keras` file that carries it cannot load on JAX or PyTorch."""
    layers = [layer for layer in _batchnorm_layers(model) if layer.synchronized]
    for layer in layers:
        layer.synchronized = False
    try:
        yield model
    finally:
        for layer in layers:
            layer.synchronized = True


def is_chief() -> bool:
    """Whether this process writes the run directory: True without `TF_CONFIG`; with it, the task
    of type "chief", or worker 0 when the cluster has no chief."""
    config = _tf_config()
    if config is None:
        return True
    if config["type"] == "chief":
        return True
    return config["type"] == "worker" and config["index"] == 0 and "chief" not in config["cluster"]


def worker_run_dir(run_dir: Path | str | None) -> Path:
    """`run_dir` itself on the chief; on any other worker a private scratch folder
    (`tempfile.mkdtemp`, named after the task), the same one for every call with the same
    `run_dir` in this process, removed when the process exits. Only the chief then writes
    checkpoints, logs and reports; the others write the same files where nobody reads them.
    A worker given no `run_dir` gets a scratch folder too, but cannot follow the chief's resume
    and skip decisions (`chief_run_dir`), so pass the chief's path to every worker."""
    if is_chief():
        if run_dir is None:
            raise OptionError("the chief needs a run directory")
        return Path(run_dir)
    run_dir = None if run_dir is None else Path(run_dir)
    for scratch, real in _SCRATCH.items():
        if run_dir is not None and real == run_dir:
            return scratch
    config = _tf_config()
    scratch = Path(tempfile.mkdtemp(prefix=f"liverseg-{config['type']}{config['index']}-"))
    _SCRATCH[scratch] = run_dir if run_dir is not None else scratch
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return scratch


def chief_run_dir(run_dir) -> Path:
    """The chief's run directory for a folder made by `worker_run_dir`, else `run_dir` itself."""
    run_dir = Path(run_dir)
    return _SCRATCH.get(run_dir, run_dir)


def weights_sha256(model) -> str:
    """SHA-256 of the model's weights as float32 bytes, in layer order (`model.get_weights()`):
    equal on every worker of a multi-worker run, and between runs that match bit for bit."""
    digest = hashlib.sha256()
    for value in model.get_weights():
        digest.update(np.ascontiguousarray(value, dtype=np.float32).tobytes())
    return digest.hexdigest()


__all__ = [
    "NoStrategy", "get_strategy", "is_chief", "worker_count", "worker_run_dir", "chief_run_dir", "weights_sha256",
    "synchronize_batchnorm", "portable_batchnorm",
]
