"""Gruber networks without training: the paper profile's shapes and settings, the chained model
(mask, window, frozen A), how the mask passes the gradient, and the eq. 2.2 readings."""
from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf

from liverseg.errors import OptionError
from liverseg.nn.masking import IntensityWindow, ProbabilityMask, window_in_unit_range

from experiments.gruber.config import get_config
from experiments.gruber.model import build_chain, build_liver, build_onestep
from experiments.gruber.stages import stages, tumour_loss


def tiny(**changes):
    cfg = get_config("smoke")
    cfg = replace(cfg, preprocess=replace(cfg.preprocess, size=32), unet=replace(cfg.unet, base_filters=4, depth=2))
    return replace(cfg, **changes)


def test_paper_profile_networks_match_the_paper():
    cfg = get_config("paper")
    onestep, liver = build_onestep(cfg), build_liver(cfg)
    assert onestep.input_shape == (None, 512, 512, 1) and onestep.output_shape == (None, 512, 512, 3)
    assert onestep.layers[-1].get_config()["activation"] == "softmax"  # 2.1: three classes
    assert liver.output_shape == (None, 512, 512, 1) and liver.layers[-1].get_config()["activation"] == "sigmoid"
    drops = [layer for layer in liver.layers if isinstance(layer, keras.layers.Dropout)]
    # 2.4: dropout 0.4 in the up-sampling path only
    assert len(drops) == cfg.unet.depth and all(d.rate == 0.4 and "_dec" in d.name for d in drops)
    assert liver.layers[1].name == "unet_a_initial_conv"  # 2.2: an initial convolution layer
    chain = build_chain(cfg, train_liver=False)
    assert chain.output_shape == (None, 512, 512, 2)


def test_paper_profile_training_settings():
    cfg = get_config("paper")
    assert (cfg.data.max_slices, cfg.data.max_val_slices, cfg.table_slices) == (765, 50, 50)  # 3.1
    names = [s.name for s in stages(cfg)]
    assert names == ["onestep", "onestep_balanced", "liver", "tumour", "tumour_alpha0.02", "tumour_alpha0.05",
                     "tumour_alpha0.30", "tumour_alphabal", "tumour_alphabal_printed", "joint"]
    by_name = {s.name: s for s in stages(cfg)}
    assert (by_name["onestep"].train.epochs, by_name["onestep_balanced"].train.epochs) == (50, 30)  # 2.4
    assert (by_name["liver"].train.epochs, by_name["tumour"].train.epochs) == (300, 600)  # 2.4
    for stage in by_name.values():
        assert stage.train.optimizer == "sgd" and stage.train.momentum > 0  # 2.4: SGD with momentum
    assert by_name["liver"].train.learning_rate == 1e-3 and by_name["tumour_alpha0.02"].train.learning_rate == 1e-4
    # four fine-tunings of one pretrained B, and B behind the trained A
    assert all(by_name[f"tumour_alpha{a}"].init_from == {"": "tumour"} for a in ("0.02", "0.05", "0.30", "bal", "bal_printed"))
    assert by_name["tumour"].init_from == {"unet_a": "liver"} and by_name["onestep_balanced"].init_from == {"": "onestep"}
    assert by_name["joint"].init_from == {}


def test_chain_freezes_a_for_the_sequential_training():
    frozen = build_chain(tiny(), train_liver=False)
    joint = build_chain(tiny(), train_liver=True)
    b_weights = len(frozen.get_layer("unet_b").trainable_weights)
    assert len(frozen.trainable_weights) == b_weights
    assert len(joint.trainable_weights) == b_weights + len(joint.get_layer("unet_a").trainable_weights)


def _a_gradient_norm(gradient: str) -> float:
    """Norm of the gradient of B's loss alone (c = 0) with respect to A's weights."""
    keras.utils.set_random_seed(1)
    cfg = tiny(joint_gradient=gradient)
    model = build_chain(cfg, train_liver=True, gradient=gradient)
    # A says "liver" everywhere and the image is liver-grey (inside the window w): the only way the
    # gradient can stop is the mask (outside the window the clip would stop it anyway)
    model.get_layer("unet_a").get_layer("unet_a_classifier").bias.assign([5.0])
    x = (0.45 + 0.1 * np.random.default_rng(0).random((2, 32, 32, 1))).astype("float32")
    y = np.zeros((2, 32, 32, 2), "float32")
    y[:, 8:24, 8:24, :] = 1.0
    loss = tumour_loss(cfg)
    with tf.GradientTape() as tape:
        value = loss(y, model(x, training=True))
    grads = tape.gradient(value, model.get_layer("unet_a").trainable_weights)
    return float(sum(tf.reduce_sum(g * g) for g in grads if g is not None))


def test_the_mask_passes_the_gradient_as_configured():
    assert _a_gradient_norm("hard") == 0.0
    assert _a_gradient_norm("soft") > 0.0
    assert _a_gradient_norm("straight_through") > 0.0


def test_straight_through_forward_is_the_hard_mask():
    prob = np.array([[0.2, 0.5, 0.51, 0.9]], "float32").reshape(1, 2, 2, 1)
    hard = ProbabilityMask(0.5, "hard")(prob).numpy().ravel()
    assert hard.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert ProbabilityMask(0.5, "straight_through")(prob).numpy().ravel().tolist() == hard.tolist()
    assert np.allclose(ProbabilityMask(0.5, "soft")(prob).numpy().ravel(), prob.ravel())
    with pytest.raises(OptionError, match="mask gradient"):
        ProbabilityMask(0.5, "sometimes")


def test_window_of_the_masked_image():
    low, high = window_in_unit_range((-100.0, 200.0), (-200.0, 300.0))
    assert (low, high) == pytest.approx((0.2, 0.8))
    x = np.array([0.0, 0.2, 0.5, 0.8, 1.0], "float32").reshape(1, 5, 1, 1)
    assert np.allclose(IntensityWindow(low, high)(x).numpy().ravel(), [0.0, 0.0, 0.5, 1.0, 1.0])


def _loss_of(cfg, alpha, y_tumour, p_tumour):
    """B's loss on one 10x10 image with the liver everywhere (the mask keeps every pixel)."""
    y = np.stack([np.ones_like(y_tumour), y_tumour], -1)[None].astype("float32")
    p = np.stack([np.full_like(p_tumour, 0.99), p_tumour], -1)[None].astype("float32")
    return float(tumour_loss(cfg, alpha)(y, p))


def test_eq_2_2_readings():
    truth = np.zeros((10, 10), "float32")
    truth[:2, :2] = 1.0  # tumour fraction 0.04
    miss_tumour = np.where(truth > 0, 0.1, 1e-5).astype("float32")  # wrong on tumour pixels only
    miss_background = np.where(truth > 0, 0.999, 0.9).astype("float32")  # wrong on background only
    cfg = tiny()
    ce = -np.log(0.1) * 4 / 100  # plain cross-entropy of the four missed tumour pixels, mean over pixels
    # text reading: tumour weight 1 - 0.04, background weight 0.04; printed: the other way round
    assert _loss_of(cfg, "balanced", truth, miss_tumour) == pytest.approx(0.96 * ce, rel=0.02)
    assert _loss_of(cfg, "balanced_printed", truth, miss_tumour) == pytest.approx(0.04 * ce, rel=0.05)
    assert _loss_of(cfg, "balanced", truth, miss_background) < _loss_of(cfg, "balanced_printed", truth, miss_background)
    # a fixed alpha weighs background pixels (2.2: a small alpha lowers the background's importance)
    assert _loss_of(cfg, 0.02, truth, miss_background) == pytest.approx(
        0.02 / 0.30 * _loss_of(cfg, 0.30, truth, miss_background), rel=0.02)
    with pytest.raises(OptionError, match="balanced_printed"):
        tumour_loss(cfg, "sideways")


def test_tumour_free_slices_under_each_balanced_reading():
    """The text's reading gives a slice without tumour no loss at all (weight = fraction = 0); the
    printed one gives it the full background weight."""
    empty = np.zeros((10, 10), "float32")
    false_positive = np.full((10, 10), 0.9, "float32")
    cfg = tiny()
    assert _loss_of(cfg, "balanced", empty, false_positive) == pytest.approx(0.0, abs=1e-7)
    assert _loss_of(cfg, "balanced_printed", empty, false_positive) == pytest.approx(-np.log(0.1), rel=1e-3)


def test_balanced_fraction_counts_the_unmasked_tumour():
    """Eq. 2.3's alpha_k counts B_k; the target of eq. 2.2 is M B_k. A tumour of 4 pixels, 2 of
    them outside A's mask: the fraction is 0.04 (not 0.02) and the masked-out pixels are background."""
    truth = np.zeros((10, 10), "float32")
    truth[:2, :2] = 1.0
    liver = np.full((10, 10), 0.99, "float32")
    liver[0, :2] = 0.01  # A misses two tumour pixels: M B has 2 tumour pixels
    p_tumour = np.where(truth > 0, 0.8, 1e-5).astype("float32")
    p_tumour[0, :2] = 0.5
    y = np.stack([np.ones_like(truth), truth], -1)[None]
    p = np.stack([liver, p_tumour], -1)[None]
    got = float(tumour_loss(tiny(), "balanced")(y, p))
    # masked target: 2 tumour pixels (weight 1 - 0.04) at p = 0.8, 2 masked-out ones now background
    # (weight 0.04) at p = 0.5; with the fraction of M B (0.02) the weights would be 0.98 and 0.02
    want = (0.96 * 2 * -np.log(0.8) + 0.04 * 2 * -np.log(0.5) + 0.04 * 96 * -np.log(1 - 1e-5)) / 100
    assert got == pytest.approx(want, rel=1e-3)
