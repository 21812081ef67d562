"""Warm starts between stages: a whole model, one sub-model of a composite, and a clear error."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from liverseg.errors import InputError
from liverseg.train.warm_start import copy_weights, warm_start


def _net(name: str, width: int = 4) -> keras.Model:
    x = keras.Input((8, 8, 1))
    return keras.Model(x, keras.layers.Conv2D(1, 3, padding="same")(keras.layers.Conv2D(width, 3, padding="same")(x)),
                       name=name)


def _composite(a: keras.Model, b: keras.Model) -> keras.Model:
    x = keras.Input((8, 8, 1))
    return keras.Model(x, keras.layers.Concatenate()([a(x), b(a(x))]), name="chain")


def test_whole_model_and_sub_model(tmp_path):
    keras.utils.set_random_seed(0)
    trained = _net("unet_a")
    path = tmp_path / "best.keras"
    trained.save(path)
    fresh = _net("unet_a")
    assert not all(np.array_equal(u, v) for u, v in zip(fresh.get_weights(), trained.get_weights()))
    warm_start(fresh, {"": path})
    assert all(np.array_equal(u, v) for u, v in zip(fresh.get_weights(), trained.get_weights()))
    chain = _composite(_net("unet_a"), _net("unet_b"))
    b_before = [w.copy() for w in chain.get_layer("unet_b").get_weights()]
    warm_start(chain, {"unet_a": path})
    assert all(np.array_equal(u, v) for u, v in zip(chain.get_layer("unet_a").get_weights(), trained.get_weights()))
    assert all(np.array_equal(u, v) for u, v in zip(chain.get_layer("unet_b").get_weights(), b_before))
    other = _composite(_net("unet_a"), _net("unet_b"))
    copy_weights(other, chain, "unet_a")  # the source may be a composite holding the part
    assert all(np.array_equal(u, v) for u, v in zip(other.get_layer("unet_a").get_weights(), trained.get_weights()))


def test_mismatch_names_the_checkpoint(tmp_path):
    path = tmp_path / "best.keras"
    _net("unet_a", width=4).save(path)
    with pytest.raises(InputError, match="best.keras.*do not fit"):
        warm_start(_net("unet_a", width=6), {"": path})
    with pytest.raises(InputError, match="no sub-model 'unet_c'"):
        warm_start(_composite(_net("unet_a"), _net("unet_b")), {"unet_c": path})
