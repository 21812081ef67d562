"""Tests of liverseg.nn.losses: golden values worked out by hand, serialisation, mixed precision, compile/save."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from liverseg.nn import losses
from liverseg.errors import OptionError


def _img(values, shape=(1, 2, 2, 1)):
    return np.asarray(values, dtype="float32").reshape(shape)


def _value(loss, y_true, y_pred):
    return float(np.asarray(loss(y_true, y_pred)))


# p = [1, 0, .5, .5], g = [1, 0, 1, 0]
P1, G1 = _img([1, 0, 0.5, 0.5]), _img([1, 0, 1, 0])
# p = [1, .25, .5, 0], g = [1, 0, 1, 0]: I = 1.5, FP = sum p(1-g) = .25, FN = sum (1-p) g = .5, P = 1.75, G = 2
P2, G2 = _img([1, 0.25, 0.5, 0]), _img([1, 0, 1, 0])


# ---------------------------------------------------------------- Dice / Tversky / MDice

def test_dice_plain_golden():
    # I = 1 + .5 = 1.5; P = 2; G = 2 -> Dice = 3 / 4 -> loss 0.25
    assert _value(losses.DiceLoss(smooth=0.0), G1, P1) == pytest.approx(0.25, abs=1e-6)


def test_dice_squared_golden():
    # sum p^2 = 1 + .25 + .25 = 1.5, sum g^2 = 2 -> Dice = 3 / 3.5 = 6/7 -> loss 1/7
    assert _value(losses.DiceLoss(squared=True, smooth=0.0), G1, P1) == pytest.approx(1 / 7, abs=1e-6)


def test_dice_smooth_golden():
    # (3 + 1) / (4 + 1) = 0.8 -> loss 0.2
    assert _value(losses.DiceLoss(smooth=1.0), G1, P1) == pytest.approx(0.2, abs=1e-6)


def test_dice_global_differs_from_per_image():
    # image 1: Dice 0.75 (above); image 2: p = 0, g = [0, 0, 0, 1] -> Dice 0
    y_true = np.concatenate([G1, _img([0, 0, 0, 1])])
    y_pred = np.concatenate([P1, _img([0, 0, 0, 0])])
    # per image: mean(1 - .75, 1 - 0) = 0.625
    assert _value(losses.DiceLoss(smooth=0.0, per_image=True), y_true, y_pred) == pytest.approx(0.625, abs=1e-6)
    # whole batch: I = 1.5, P = 2, G = 3 -> Dice 3/5 -> loss 0.4
    assert _value(losses.DiceLoss(smooth=0.0), y_true, y_pred) == pytest.approx(0.4, abs=1e-6)


def test_dice_averages_channels():
    # channel 0: Dice 3/4 (above); channel 1: perfect prediction of [0, 1, 0, 0] -> Dice 1
    y_true = np.concatenate([G1, _img([0, 1, 0, 0])], axis=-1)
    y_pred = np.concatenate([P1, _img([0, 1, 0, 0])], axis=-1)
    # mean over channels: 1 - (0.75 + 1) / 2 = 0.125
    assert _value(losses.DiceLoss(smooth=0.0), y_true, y_pred) == pytest.approx(0.125, abs=1e-6)


def test_tversky_golden_fp_and_fn_weights():
    # T = 1.5 / (1.5 + .5 * .25 + .7 * .5) = 1.5 / 1.975
    want = 1 - 1.5 / 1.975
    assert _value(losses.TverskyLoss(alpha=0.5, beta=0.7, smooth=0.0), G2, P2) == pytest.approx(want, abs=1e-6)
    # alpha and beta swapped: 1.5 / (1.5 + .7 * .25 + .5 * .5) = 1.5 / 1.925: a different value
    swapped = 1 - 1.5 / 1.925
    assert _value(losses.TverskyLoss(alpha=0.7, beta=0.5, smooth=0.0), G2, P2) == pytest.approx(swapped, abs=1e-6)
    # alpha = beta = .5 is the Dice loss: Dice = 3 / 3.75 = 0.8
    assert _value(losses.TverskyLoss(smooth=0.0), G2, P2) == pytest.approx(0.2, abs=1e-6)


def test_mdice_golden():
    # D = 2 * 1.5 / (1.75 + 2) = 0.8; T = 1.5 / 1.975; loss = 1 - D * T = 1 - 4.5 / (3.75 * 1.975)
    want = 1 - 4.5 / (3.75 * 1.975)
    assert want == pytest.approx(0.392405, abs=1e-6)
    assert _value(losses.MDiceLoss(smooth=0.0), G2, P2) == pytest.approx(want, abs=1e-6)
    # the paper's eps = 1e-5: (4.5 + 1e-5) / (7.40625 + 1e-5)
    want_eps = 1 - (4.5 + 1e-5) / (7.40625 + 1e-5)
    assert _value(losses.MDiceLoss(), G2, P2) == pytest.approx(want_eps, abs=1e-6)


@pytest.mark.parametrize("loss", [losses.DiceLoss(), losses.DiceLoss(squared=True), losses.TverskyLoss(),
                                  losses.MDiceLoss(), losses.DiceLoss(per_image=True),
                                  losses.DiceLoss(smooth=1e-5), losses.TverskyLoss(smooth=1e-5)])
def test_overlap_losses_empty_vs_empty_is_zero_and_perfect_is_zero(loss):
    zeros = np.zeros((2, 4, 4, 1), "float32")
    assert _value(loss, zeros, zeros) == pytest.approx(0.0, abs=1e-6)
    ones = np.ones((2, 4, 4, 1), "float32")
    assert _value(loss, ones, ones) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- balanced cross-entropy

PB = _img([0.8, 0.1, 0.4, 0.3])


def test_plain_crossentropy_matches_keras_bce():
    g = _img([1, 0, 1, 0])
    want = float(np.mean(keras.losses.binary_crossentropy(g, PB)))
    # by hand: (-ln .8 - ln .9 - ln .4 - ln .7) / 4
    by_hand = -(math.log(0.8) + math.log(0.9) + math.log(0.4) + math.log(0.7)) / 4
    assert want == pytest.approx(by_hand, rel=1e-5)
    assert _value(losses.BalancedCrossentropy(), g, PB) == pytest.approx(by_hand, rel=1e-5)


def test_fixed_alpha_weights_background():
    g = _img([1, 0, 1, 0])
    # alpha = .25 on background pixels, .75 on foreground pixels
    by_hand = (0.75 * -math.log(0.8) + 0.25 * -math.log(0.9) + 0.75 * -math.log(0.4) + 0.25 * -math.log(0.7)) / 4
    assert by_hand == pytest.approx(0.242521, abs=1e-6)
    assert _value(losses.BalancedCrossentropy(alpha=0.25), g, PB) == pytest.approx(by_hand, rel=1e-5)


def test_per_image_alpha_from_positive_fraction():
    # image 1: g = [1, 0, 0, 0], fraction .25 -> foreground weight 1 - .25 = .75, background weight .25
    # image 2: g = [1, 1, 1, 0], fraction .75 -> foreground weight .25, background weight .75
    g = np.concatenate([_img([1, 0, 0, 0]), _img([1, 1, 1, 0])])
    p = np.concatenate([PB, PB])
    img1 = (0.75 * -math.log(0.8) + 0.25 * -(math.log(0.9) + math.log(0.6) + math.log(0.7))) / 4
    img2 = (0.25 * -(math.log(0.8) + math.log(0.1) + math.log(0.4)) + 0.75 * -math.log(0.7)) / 4
    got = _value(losses.BalancedCrossentropy(per_image=True), g, p)
    assert got == pytest.approx((img1 + img2) / 2, rel=1e-5)


def test_categorical_per_image_weights_eq_2_4():
    # two pixels, three classes; pixel A class 0, pixel B class 1 -> class fractions [.5, .5, 0]
    # weights 1 - fraction = [.5, .5, 1]; loss = mean(-.5 ln .7, -.5 ln .6)
    y_true = np.array([[[[1, 0, 0], [0, 1, 0]]]], "float32")
    y_pred = np.array([[[[0.7, 0.2, 0.1], [0.3, 0.6, 0.1]]]], "float32")
    want = (0.5 * -math.log(0.7) + 0.5 * -math.log(0.6)) / 2
    got = _value(losses.BalancedCrossentropy(categorical=True, per_image=True), y_true, y_pred)
    assert got == pytest.approx(want, rel=1e-5)
    plain = _value(losses.BalancedCrossentropy(categorical=True), y_true, y_pred)
    assert plain == pytest.approx((-math.log(0.7) - math.log(0.6)) / 2, rel=1e-5)
    weighted = _value(losses.BalancedCrossentropy(categorical=True, class_weights=[2, 1, 1]), y_true, y_pred)
    assert weighted == pytest.approx((-2 * math.log(0.7) - math.log(0.6)) / 2, rel=1e-5)


def test_balanced_crossentropy_rejects_bad_options():
    for kwargs in ({"alpha": 1.5}, {"alpha": 0.1, "per_image": True}, {"alpha": 0.1, "categorical": True},
                   {"class_weights": [1, 2]}):
        with pytest.raises(OptionError):
            losses.BalancedCrossentropy(**kwargs)


# ---------------------------------------------------------------- joint loss

def _bce(g, p):
    return float(np.mean(keras.losses.binary_crossentropy(g, p)))


def test_joint_loss_eq_2_1():
    liver_t, liver_p = _img([1, 1, 0, 0]), _img([0.9, 0.6, 0.2, 0.1])
    tumour_t, tumour_p = _img([0, 1, 0, 0]), _img([0.3, 0.4, 0.1, 0.2])
    y_true = np.concatenate([liver_t, tumour_t], axis=-1)
    y_pred = np.concatenate([liver_p, tumour_p], axis=-1)
    want = 0.25 * _bce(liver_t, liver_p) + 0.75 * _bce(tumour_t, tumour_p)
    assert _value(losses.JointLoss(c=0.25), y_true, y_pred) == pytest.approx(want, rel=1e-5)
    dice = losses.DiceLoss(smooth=0.0)
    want_dice = 0.25 * _value(dice, liver_t, liver_p) + 0.75 * _value(dice, tumour_t, tumour_p)
    assert _value(losses.JointLoss(c=0.25, inner=dice), y_true, y_pred) == pytest.approx(want_dice, rel=1e-5)


def test_joint_loss_masks_tumour_target_with_predicted_liver():
    # the tumour pixel 1 lies where the liver prediction is .4 <= .5: M(X) B drops it
    liver_t, liver_p = _img([1, 1, 0, 0]), _img([0.9, 0.4, 0.2, 0.1])
    tumour_t, tumour_p = _img([1, 1, 0, 0]), _img([0.7, 0.4, 0.1, 0.2])
    y_true = np.concatenate([liver_t, tumour_t], axis=-1)
    y_pred = np.concatenate([liver_p, tumour_p], axis=-1)
    want = 0.5 * _bce(liver_t, liver_p) + 0.5 * _bce(_img([1, 0, 0, 0]), tumour_p)
    got = _value(losses.JointLoss(mask_tumour_target=True), y_true, y_pred)
    assert got == pytest.approx(want, rel=1e-5)
    with pytest.raises(OptionError):
        losses.JointLoss(c=1.5)


def test_dice_bce_is_weighted_sum():
    # Dice loss .25 (smooth 0, above) and BCE by hand: (-ln 1 - ln 1 - ln .5 - ln .5) / 4 = ln 2 / 2
    # (p = 1 and p = 0 are clipped to 1 - 1e-7 and 1e-7: -ln(1 - 1e-7) ~ 1e-7)
    want = 2.0 * 0.25 + 0.5 * math.log(2) / 2
    got = _value(losses.DiceBCELoss(dice_weight=2.0, bce_weight=0.5, smooth=0.0), G1, P1)
    assert got == pytest.approx(want, abs=1e-6)


# ---------------------------------------------------------------- deep supervision

def test_deep_supervision_weights():
    # halving: 1, 1/2, 1/4 normalised by 7/4 -> 4/7, 2/7, 1/7
    assert losses.deep_supervision_weights(3) == pytest.approx([4 / 7, 2 / 7, 1 / 7])
    assert losses.deep_supervision_weights(4, "equal") == pytest.approx([0.25] * 4)
    assert losses.deep_supervision_loss_weights(["out", "ds1"]) == pytest.approx({"out": 2 / 3, "ds1": 1 / 3})
    with pytest.raises(OptionError):
        losses.deep_supervision_weights(2, "quadratic")


# ---------------------------------------------------------------- serialisation

ALL_LOSSES = [
    losses.DiceLoss(squared=True, smooth=0.5, per_image=True),
    losses.TverskyLoss(alpha=0.3, beta=0.7, smooth=0.1),
    losses.MDiceLoss(alpha=0.4, beta=0.8),
    losses.BalancedCrossentropy(alpha=0.02),
    losses.BalancedCrossentropy(per_image=True, epsilon=1e-6),
    losses.JointLoss(c=0.3, inner=losses.MDiceLoss(beta=0.9), mask_tumour_target=True, liver_threshold=0.4),
    losses.JointLoss(c=0.6, inner="binary_crossentropy"),
    losses.DiceBCELoss(dice_weight=0.7, bce_weight=0.3, smooth=0.5, per_image=True),
]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=lambda l: type(l).__name__)
def test_serialise_round_trip(loss):
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss)
    assert again.get_config() == loss.get_config()
    rng = np.random.default_rng(0)
    y_true = (rng.random((2, 6, 6, 2)) > 0.6).astype("float32")
    y_pred = rng.random((2, 6, 6, 2)).astype("float32")
    assert _value(again, y_true, y_pred) == pytest.approx(_value(loss, y_true, y_pred), rel=1e-6)


# ---------------------------------------------------------------- mixed precision

def _targets_512():
    empty = np.zeros((2, 512, 512, 1), "float32")
    full = np.ones((2, 512, 512, 1), "float32")
    tiny = empty.copy()
    tiny[:, 100, 200, 0] = 1.0
    return {"empty": empty, "full": full, "tiny": tiny}


def test_small_dice_smooth_overflows_float16_gradient():
    # empty truth and empty prediction: d/dp_i [1 - s / (sum p + s)] = 1 / s = 1e5 > float16 max 65504,
    # the reason for DiceLoss's default smooth of 1.0
    var = tf.Variable(np.zeros((1, 4, 4, 1), "float16"))
    with tf.GradientTape() as tape:
        value = losses.DiceLoss(smooth=1e-5)(np.zeros((1, 4, 4, 1), "float32"), var)
    assert float(value) == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.isinf(tape.gradient(value, var).numpy()))


MP_LOSSES = [losses.DiceLoss(), losses.DiceLoss(squared=True, per_image=True), losses.TverskyLoss(0.3, 0.7),
             losses.MDiceLoss(), losses.MDiceLoss(per_image=True), losses.BalancedCrossentropy(),
             losses.BalancedCrossentropy(alpha=0.02), losses.BalancedCrossentropy(per_image=True),
             losses.DiceBCELoss()]


@pytest.mark.parametrize("loss", MP_LOSSES, ids=lambda l: f"{type(l).__name__}")
def test_finite_with_float16_predictions(loss):
    rng = np.random.default_rng(1)
    pred = rng.random((2, 512, 512, 1)).astype("float16")
    pred[0, :4, :4, 0] = 0.0  # saturated probabilities stress the logs
    pred[1, :4, :4, 0] = 1.0
    for kind, target in _targets_512().items():
        for start in (pred, np.zeros_like(pred), np.ones_like(pred)):
            var = tf.Variable(start)
            with tf.GradientTape() as tape:
                value = loss(target, var)
            grad = tape.gradient(value, var)
            assert np.isfinite(float(value)), (kind, float(value))
            assert grad is not None and np.all(np.isfinite(grad.numpy().astype("float32"))), kind


def test_joint_loss_finite_with_float16():
    targets = _targets_512()
    y_true = np.concatenate([targets["full"], targets["tiny"]], axis=-1)
    var = tf.Variable(np.full((2, 512, 512, 2), 0.5, "float16"))
    with tf.GradientTape() as tape:
        value = losses.JointLoss(inner=losses.MDiceLoss(), mask_tumour_target=True)(y_true, var)
    assert np.isfinite(float(value))
    assert np.all(np.isfinite(tape.gradient(value, var).numpy().astype("float32")))


# ---------------------------------------------------------------- in a compiled model

def _tiny_model(channels=1):
    x = keras.Input((8, 8, 1))
    y = keras.layers.Conv2D(channels, 3, padding="same", activation="sigmoid", name="head")(x)
    return keras.Model(x, y)


@pytest.mark.parametrize("loss", [losses.MDiceLoss(), losses.BalancedCrossentropy(per_image=True),
                                  losses.JointLoss(c=0.4, inner=losses.DiceLoss())],
                         ids=lambda l: type(l).__name__)
def test_compile_fit_save_load(loss, tmp_path):
    channels = 2 if isinstance(loss, losses.JointLoss) else 1
    rng = np.random.default_rng(2)
    x = rng.random((4, 8, 8, 1)).astype("float32")
    y = (x > 0.5).astype("float32").repeat(channels, axis=-1)
    model = _tiny_model(channels)
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, epochs=1, batch_size=2, verbose=0)
    before = model.evaluate(x, y, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.loss) is type(loss)
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(before, rel=1e-5)


def test_fit_under_mixed_float16_policy():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _tiny_model()
        model.compile(optimizer="adam", loss=losses.MDiceLoss())
        rng = np.random.default_rng(3)
        x = rng.random((2, 8, 8, 1)).astype("float32")
        history = model.fit(x, (x > 0.9).astype("float32"), epochs=1, verbose=0)
        assert model.output.dtype == "float16"
        assert np.isfinite(history.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")
