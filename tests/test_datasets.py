"""The backend-independent inputs: NumPy augmentation draws, SliceSequence, build_dataset, the JAX backend."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from collections import Counter
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest
from keras.src.legacy.preprocessing.image import ImageDataGenerator
from scipy import stats

from liverseg.config import AugmentConfig, DataConfig
from liverseg.data.augment import (
    affine_matrices_from_params, affine_matrices_numpy, random_affine_matrices_numpy, random_affine_params_numpy,
)
from liverseg.data.datasets import Source, build_dataset, resolve_engine
from liverseg.data.pipeline import make_dataset, select_slices
from liverseg.data.pydataset import SliceSequence
from liverseg.errors import InputError, OptionError
from tests.test_pipeline import CASES, S, batches, cache  # noqa: F401  (`cache` is the module fixture)

REPO = Path(__file__).resolve().parents[1]
STRONG = dict(rotation_range=15.0, width_shift_range=0.1, height_shift_range=0.1, shear_range=5.0,
              zoom_range=0.1, horizontal_flip=True, vertical_flip=True)
AUG = AugmentConfig(rotation_range=20, zoom_range=0.1, horizontal_flip=True, width_shift_range=0.1)


def rows(cache, cfg, cases=CASES):  # noqa: F811
    return select_slices(cache.manifest, list(cases), cfg, 0)


def seq_batches(seq):
    return [seq[i] for i in range(len(seq))]


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(xa, xb) and np.array_equal(ya, yb)
                                    for (xa, ya), (xb, yb) in zip(a, b))


def case_of(x):
    """Case number of each sample of a batch: image value = (10*case + slice + 1)/64."""
    return (np.rint(x[:, 0, 0, 0] * 64) - 1).astype(int) // 10


# --- NumPy twin of the augmentation draws --------------------------------------------------------

def test_numpy_draws_zero_ranges_give_the_identity():
    m = random_affine_matrices_numpy(AugmentConfig(), 50, 20, 24, np.random.default_rng(0))
    assert m.dtype == np.float32 and m.shape == (50, 8)
    np.testing.assert_allclose(m, np.tile([1, 0, 0, 0, 1, 0, 0, 0], (50, 1)), atol=1e-6)


def test_numpy_draws_rotation_only_are_pure_rotations_within_the_range():
    h = w = 21
    m = random_affine_matrices_numpy(AugmentConfig(rotation_range=20), 500, h, w, np.random.default_rng(1))
    angle = np.degrees(np.arctan2(m[:, 3], m[:, 0]))
    np.testing.assert_allclose(m[:, 4], m[:, 0], atol=1e-6)
    np.testing.assert_allclose(m[:, 1], -m[:, 3], atol=1e-6)
    np.testing.assert_allclose(m[:, 0] ** 2 + m[:, 3] ** 2, 1.0, atol=1e-5)  # no zoom, no shear
    assert np.abs(angle).max() <= 20 + 1e-4 and angle.min() < -18 and angle.max() > 18
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    moved = np.stack([m[:, 0] * centre[0] + m[:, 1] * centre[1] + m[:, 2],
                      m[:, 3] * centre[0] + m[:, 4] * centre[1] + m[:, 5]], axis=1)
    np.testing.assert_allclose(moved, np.tile(centre, (500, 1)), atol=1e-4)  # about the centre


def test_numpy_draws_match_image_data_generator_and_the_keras_composition():
    n, h, w = 3000, 64, 48
    gen = ImageDataGenerator(**STRONG)
    np.random.seed(0)
    legacy = [gen.get_random_transform((h, w, 1)) for _ in range(n)]
    ours = random_affine_params_numpy(AugmentConfig(**STRONG), n, h, w, np.random.default_rng(5))
    for name in ("theta", "tx", "ty", "shear", "zx", "zy"):
        assert ours[name].dtype == np.float32
        assert stats.ks_2samp(ours[name], [float(t[name]) for t in legacy]).pvalue > 1e-3, name
    assert np.abs(ours["theta"]).max() <= 15 and np.abs(ours["tx"]).max() <= 0.1 * h
    for flip in ("flip_horizontal", "flip_vertical"):
        assert set(np.unique(ours[flip])) == {0.0, 1.0} and abs(ours[flip].mean() - 0.5) < 0.05
    np.testing.assert_allclose(affine_matrices_numpy(ours, h, w),
                               np.asarray(affine_matrices_from_params(ours, h, w)), atol=1e-4)
    again = random_affine_matrices_numpy(AugmentConfig(**STRONG), n, h, w, np.random.default_rng(5))
    np.testing.assert_array_equal(again, affine_matrices_numpy(ours, h, w))


# --- SliceSequence ------------------------------------------------------------------------------

def test_sequence_matches_the_tf_data_path_in_shapes_dtypes_and_ranges(cache):  # noqa: F811
    cfg = DataConfig(sampling="liver", batch_size=4, context=1, crop="centred", crop_size=16, crop_jitter=2)
    sel = rows(cache, cfg)
    tf_x, tf_y = batches(make_dataset(cache, sel, cfg, augment=AUG, training=True, seed=0, repeat=False))[0]
    x, y = SliceSequence(cache, sel, cfg, augment=AUG, training=True, seed=0)[0]
    assert (x.shape, y.shape, x.dtype, y.dtype) == (tf_x.shape, tf_y.shape, tf_x.dtype, tf_y.dtype)
    for a, b in ((x, y), (tf_x, tf_y)):
        assert 0 <= a.min() and a.max() <= 1 and set(np.unique(b)) <= {0.0, 1.0}


def test_without_augmentation_and_training_the_engines_give_the_same_batches(cache):  # noqa: F811
    tiles = DataConfig(sampling="tumour", crop="tiles", crop_size=16, crop_target="tumour", batch_size=4, context=1)
    centred = replace(tiles, crop="centred", crop_jitter=3)
    sel = rows(cache, tiles)
    seq = SliceSequence(cache, sel, centred, augment=AUG, training=False, seed=0)
    assert same(seq_batches(seq), batches(make_dataset(cache, sel, centred, augment=AUG, training=False, seed=0)))
    sources = [Source(sel, tiles), Source(rows(cache, replace(centred, sampling="liver")), centred, 3.0)]
    out = {e: build_dataset(cache, sources, augment=AUG, training=False, seed=1, engine=e)
           for e in ("tfdata", "pydataset")}
    tf_ds, tf_steps = out["tfdata"]
    py_ds, py_steps = out["pydataset"]
    assert tf_steps == py_steps == len(py_ds) and same(batches(tf_ds), seq_batches(py_ds))
    counts = [len(r) for r in py_ds.readers]  # each source batched on its own, its last batch kept
    assert [py_ds[i][0].shape[0] for i in range(py_steps)] == [min(4, n - a) for n in counts for a in range(0, n, 4)]


def test_same_seed_same_batches_and_each_epoch_reshuffles(cache):  # noqa: F811
    cfg = DataConfig(sampling="liver", batch_size=4, crop="centred", crop_size=16, crop_jitter=2)
    sel = rows(cache, cfg)
    a, b, c = (SliceSequence(cache, sel, cfg, augment=AUG, training=True, seed=s) for s in (3, 3, 4))
    assert len(a) == 3  # max(1, ceil(12 / 1 / 4))
    first = seq_batches(a)
    assert same(first, seq_batches(b)) and not same(first, seq_batches(c))
    seen = Counter(tuple(v) for x, _ in seq_batches(SliceSequence(cache, sel, cfg, training=True, seed=3))
                   for v in np.rint(x[:, 0, 0, :] * 64))
    assert len(seen) == 12 and set(seen.values()) == {1}  # one epoch = one permutation of the samples
    a.on_epoch_end()
    second = seq_batches(a)
    assert a.epoch == 1 and not same(first, second)
    b.epoch = 1
    assert same(second, seq_batches(b))


def test_batch_i_of_epoch_e_does_not_depend_on_what_was_read_before(cache):  # noqa: F811
    cfg = DataConfig(sampling="liver", batch_size=4, crop="centred", crop_size=16, crop_jitter=2)
    sel = rows(cache, cfg)
    resumed = SliceSequence(cache, sel, cfg, augment=AUG, training=True, seed=9, steps=5, epoch=2)
    x3, y3 = resumed[3]
    run = SliceSequence(cache, sel, cfg, augment=AUG, training=True, seed=9, steps=5)
    for _ in range(2):
        seq_batches(run)
        run.on_epoch_end()
    x, y = seq_batches(run)[3]
    assert np.array_equal(x, x3) and np.array_equal(y, y3)
    assert np.array_equal(pickle.loads(pickle.dumps(resumed))[3][0], x3)  # for worker processes


@pytest.mark.parametrize("engine", ["pydataset", "tfdata"])
def test_sources_are_mixed_sample_by_sample_with_the_weights(cache, engine):  # noqa: F811
    cfg = DataConfig(sampling="liver", batch_size=8, targets=("liver",))
    sources = [Source(rows(cache, cfg, ["c0"]), cfg, 3.0), Source(rows(cache, cfg, ["c2"]), cfg, 1.0)]
    ds, steps = build_dataset(cache, sources, augment=AUG, training=True, seed=0, engine=engine)
    assert steps == 1  # max(1, ceil(8 / 2 / 8))
    if engine == "pydataset":
        assert isinstance(ds, SliceSequence)
        got = []
        for _ in range(60):
            got += [ds[0][0]]
            ds.on_epoch_end()
    else:
        got = [x for x, _ in batches(ds.take(60))]
    cases = np.concatenate([case_of(x) for x in got])
    assert set(cases) == {0, 2} and abs((cases == 0).mean() - 0.75) < 0.06
    assert sum(len(set(case_of(x))) == 2 for x in got) > 40  # batches mix the sources


def test_build_dataset_steps_engine_and_errors(cache):  # noqa: F811
    tiles = DataConfig(sampling="all", crop="tiles", crop_size=16, batch_size=5)
    liver = replace(tiles, crop="none", crop_size=0, sampling="liver")
    both = [Source(rows(cache, tiles), tiles), Source(rows(cache, liver), replace(tiles, crop="centred"))]
    seq, steps = build_dataset(cache, both, augment=None, training=True, seed=0, engine="pydataset")
    assert steps == len(seq) == 9  # ceil((72 + 12) / 2 / 5)
    for engine in ("tfdata", "pydataset"):
        assert build_dataset(cache, both, augment=None, training=True, seed=0, engine=engine, steps=4)[1] == 4
    assert resolve_engine() == "tfdata" and resolve_engine("pydataset") == "pydataset"
    with pytest.raises(OptionError):
        resolve_engine("torch")
    with pytest.raises(OptionError):
        build_dataset(cache, [], augment=None, training=True, seed=0)
    with pytest.raises(OptionError):
        build_dataset(cache, [Source(rows(cache, tiles), tiles, 0.0)], augment=None, training=True, seed=0)
    with pytest.raises(OptionError):  # 16 x 16 tiles and whole 32 x 32 slices do not batch together
        build_dataset(cache, [Source(rows(cache, tiles), tiles), Source(rows(cache, liver), liver)],
                      augment=None, training=True, seed=0, engine="pydataset")
    tumour = DataConfig(sampling="tumour", batch_size=5)
    empty = Source(rows(cache, tumour).iloc[:0], tumour)
    for engine in ("tfdata", "pydataset"):
        with pytest.raises(InputError, match=r"cache.*source 2 of 2 \(data.sampling='tumour'"):
            build_dataset(cache, [both[1], empty], augment=None, training=True, seed=0, engine=engine)
        with pytest.warns(UserWarning, match="source 2 of 2"):
            _, val_steps = build_dataset(cache, [both[1], empty], augment=None, training=False, seed=0, engine=engine)
        assert val_steps == 3  # the liver source alone: ceil(12 / 5)
        with pytest.raises(InputError, match="no validation samples in any source"):
            build_dataset(cache, [empty], augment=None, training=False, seed=0, engine=engine)


def test_model_fit_on_a_slice_sequence(cache):  # noqa: F811
    cfg = DataConfig(sampling="liver", batch_size=4, context=1, targets=("liver", "tumour"))
    train = SliceSequence(cache, rows(cache, cfg), cfg, augment=AUG, training=True, seed=0)
    val = SliceSequence(cache, rows(cache, cfg, ["c1"]), cfg, training=False, seed=0)
    inputs = keras.Input((S, S, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same", activation="sigmoid")(inputs))
    model.compile("adam", "binary_crossentropy")
    history = model.fit(train, validation_data=val, epochs=2, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and len(history.history["val_loss"]) == 2
    assert train.epoch >= 2  # on_epoch_end moved it on


JAX_SCRIPT = """
import sys
import keras, numpy as np
from liverseg.config import AugmentConfig, DataConfig
from liverseg.data.cache import SliceCache
from liverseg.data.datasets import Source, build_dataset
from liverseg.data.pydataset import SliceSequence
from liverseg.data.sampling import select_slices

assert keras.backend.backend() == "jax"
cache = SliceCache(sys.argv[1])
cfg = DataConfig(sampling="liver", batch_size=4, context=1, crop="centred", crop_size=16, crop_jitter=2)
sel = select_slices(cache.manifest, ["c0", "c1", "c2"], cfg, 0)
aug = AugmentConfig(rotation_range=20, horizontal_flip=True)
train, steps = build_dataset(cache, [Source(sel, cfg), Source(sel, cfg, 2.0)], augment=aug, training=True, seed=0)
assert isinstance(train, SliceSequence) and steps == len(train) == 3
val, _ = build_dataset(cache, [Source(sel, cfg)], augment=None, training=False, seed=0)
inputs = keras.Input((16, 16, 3))
model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same", activation="sigmoid")(inputs))
model.compile("adam", "binary_crossentropy")
history = model.fit(train, validation_data=val, epochs=1, shuffle=False, verbose=0)
assert np.isfinite(history.history["loss"][0]), history.history
assert "tensorflow" not in sys.modules, "TensorFlow was imported"
print("JAX OK", history.history["loss"][0])
"""


def test_fit_one_epoch_on_the_jax_backend(cache):  # noqa: F811
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(JAX_SCRIPT), str(cache.root)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "JAX OK" in done.stdout, done.stdout + done.stderr[-3000:]
