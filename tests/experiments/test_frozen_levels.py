"""The frozen first network of every cascade runs in inference mode while the cascade trains (Liu II-A,
Bi 2.4 eq. 3, Gruber's sequential B behind A, 2.3 / 2.4): with level-1 dropout above 0, two
training-mode calls of the cascade give level 1's maps identical, and equal to level 1 alone in
inference mode. Keras 3 passes the outer `training` to nested models, and `trainable = False` leaves
Dropout on, so without `liverseg.nn.Frozen` these maps differ between calls."""
from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np

from liverseg.nn.frozen import Frozen

from experiments.bi_cascaded_resnet.config import get_config as bi_config
from experiments.bi_cascaded_resnet.model import LEVEL1 as BI_LEVEL1, build_cascade as bi_cascade
from experiments.gruber.config import get_config as gruber_config
from experiments.gruber.model import build_chain
from experiments.liu_crunet.config import get_config as liu_config
from experiments.liu_crunet.model import LEVEL1 as LIU_LEVEL1, build_cascade as liu_cascade


def _dropouts(model) -> list:
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.Dropout)]


def _level1_maps_are_fixed(cascade, level1_name: str, size: int, channels: int = 1) -> None:
    frozen = cascade.get_layer(level1_name)
    assert isinstance(frozen, Frozen) and not frozen.trainable and not frozen.trainable_weights
    rates = [d.rate for d in _dropouts(frozen.network)]
    assert rates and max(rates) > 0  # the test means something only with dropout in level 1
    probe = keras.Model(cascade.input, frozen.output)
    x = np.random.default_rng(0).random((2, size, size, channels), dtype=np.float32)
    keras.utils.set_random_seed(3)
    first, second = (np.asarray(probe(x, training=True)) for _ in range(2))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, np.asarray(frozen.network(x, training=False)), atol=1e-6)
    # and the network itself does drop out when asked to: the layer, not the data, keeps it still
    dropped = np.asarray(frozen.network(x, training=True))
    assert np.abs(dropped - first).max() > 1e-4
    # the whole cascade in training mode leaves level 1's weights alone
    assert all(not w.trainable for w in frozen.network.weights)
    assert len(cascade.trainable_weights) > 0


def test_liu_cascade_runs_level_1_in_inference_mode():
    cfg = liu_config("smoke")
    cfg = replace(cfg, net=replace(cfg.net, dropout=0.3))
    _level1_maps_are_fixed(liu_cascade(cfg, cfg.net.level2_blocks, True, "crunet_d"), LIU_LEVEL1, cfg.preprocess.size)


def test_bi_cascade_runs_level_1_in_inference_mode():
    cfg = bi_config("smoke")
    _level1_maps_are_fixed(bi_cascade(cfg), BI_LEVEL1, cfg.net.input_size)


def test_gruber_sequential_chain_runs_a_in_inference_mode():
    cfg = gruber_config("smoke")
    cfg = replace(cfg, preprocess=replace(cfg.preprocess, size=32),
                  unet=replace(cfg.unet, base_filters=4, depth=2, decoder_dropout=0.4))
    _level1_maps_are_fixed(build_chain(cfg, train_liver=False), "unet_a", 32)
    joint = build_chain(cfg, train_liver=True)  # the joint training (2.1) trains A: no wrapper there
    assert not isinstance(joint.get_layer("unet_a"), Frozen) and joint.get_layer("unet_a").trainable


def test_frozen_survives_save_load_and_outer_trainable(tmp_path):
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, keras.layers.Dropout(0.5)(keras.layers.Dense(3, name="d")(inner_in)), name="inner")
    x_in = keras.Input((4,))
    outer = keras.Model(x_in, keras.layers.Dense(2, name="head")(Frozen(inner)(x_in)), name="outer")
    outer.trainable = True  # must not unfreeze the wrapped network
    assert not outer.get_layer("inner").trainable and len(outer.trainable_weights) == 2
    assert outer.get_layer("inner").get_layer("d") is inner.get_layer("d")
    x = np.ones((8, 4), np.float32)
    np.testing.assert_array_equal(np.asarray(outer(x, training=True)), np.asarray(outer(x, training=True)))
    outer.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True, compile=False)
    assert isinstance(loaded.get_layer("inner"), Frozen)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(outer(x)), atol=1e-6)
