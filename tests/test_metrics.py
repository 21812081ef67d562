"""Tests of liverseg.nn.metrics: values by hand over two batches, reset, evaluate() against NumPy,
serialisation, mixed-precision inputs."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from liverseg.nn.metrics import DiceCoefficient, IoUScore


def _img(values):
    return np.asarray(values, dtype="float32").reshape(1, 2, 2, 1)


# batch 1: image a: truth [1, 1, 0, 0], prediction [.9, .2, .7, .1] -> mask [1, 0, 1, 0]: I 1, P 2, G 2
#          image b: truth [0, 0, 0, 0], prediction [.1, .1, .1, .1] -> empty: I 0, P 0, G 0
# batch 2: image c: truth [1, 1, 1, 1], prediction [.6, .6, .6, .4] -> mask [1, 1, 1, 0]: I 3, P 3, G 4
BATCH1 = (np.concatenate([_img([1, 1, 0, 0]), _img([0, 0, 0, 0])]),
          np.concatenate([_img([0.9, 0.2, 0.7, 0.1]), _img([0.1, 0.1, 0.1, 0.1])]))
BATCH2 = (_img([1, 1, 1, 1]), _img([0.6, 0.6, 0.6, 0.4]))


def _run(metric, *batches):
    for y_true, y_pred in batches:
        metric.update_state(y_true, y_pred)
    return float(metric.result())


def test_dice_global_two_batches():
    # I = 1 + 0 + 3 = 4, P = 2 + 0 + 3 = 5, G = 2 + 0 + 4 = 6 -> 2 * 4 / 11
    assert _run(DiceCoefficient(), BATCH1, BATCH2) == pytest.approx(8 / 11, abs=1e-6)


def test_dice_per_image_two_batches():
    # a: 2 * 1 / 4 = .5; b: empty vs empty = 1; c: 2 * 3 / 7 = 6/7 -> mean (.5 + 1 + 6/7) / 3
    want = (0.5 + 1.0 + 6 / 7) / 3
    assert want != pytest.approx(8 / 11)
    assert _run(DiceCoefficient(per_image=True), BATCH1, BATCH2) == pytest.approx(want, abs=1e-6)


def test_iou_global_and_per_image():
    # global: I 4, union = P + G - I = 5 + 6 - 4 = 7 -> 4/7
    assert _run(IoUScore(), BATCH1, BATCH2) == pytest.approx(4 / 7, abs=1e-6)
    # per image: a 1 / 3, b 1 (empty), c 3 / 4 -> mean
    assert _run(IoUScore(per_image=True), BATCH1, BATCH2) == pytest.approx((1 / 3 + 1 + 0.75) / 3, abs=1e-6)


def test_empty_epoch_scores_one_and_miss_scores_zero():
    zeros = np.zeros((2, 3, 3, 1), "float32")
    assert _run(DiceCoefficient(), (zeros, zeros)) == 1.0
    assert _run(IoUScore(per_image=True), (zeros, zeros)) == 1.0
    assert _run(DiceCoefficient(), (np.ones_like(zeros), zeros)) == 0.0
    assert float(DiceCoefficient(per_image=True).result()) == 1.0  # nothing seen yet


def test_threshold_and_channel_selection():
    # channel 0 is BATCH2's image c; channel 1 is its complement with a perfect prediction
    y_true = np.concatenate([BATCH2[0], 1 - BATCH2[0]], axis=-1)
    y_pred = np.concatenate([BATCH2[1], 1 - BATCH2[0]], axis=-1)
    assert _run(DiceCoefficient(channel=0), (y_true, y_pred)) == pytest.approx(6 / 7, abs=1e-6)
    # channel 1: truth empty, prediction empty -> 1
    assert _run(DiceCoefficient(channel=1), (y_true, y_pred)) == 1.0
    # pooled: I 3, P 3, G 4 (channel 1 adds nothing) -> 6/7
    assert _run(DiceCoefficient(), (y_true, y_pred)) == pytest.approx(6 / 7, abs=1e-6)
    # threshold .65: prediction [.6, .6, .6, .4] is all background -> Dice 0
    assert _run(DiceCoefficient(threshold=0.65), BATCH2) == 0.0


def test_sample_weight_weights_images():
    metric = DiceCoefficient(per_image=True)
    metric.update_state(*BATCH1, sample_weight=np.array([3.0, 1.0], "float32"))
    # (3 * .5 + 1 * 1) / 4
    assert float(metric.result()) == pytest.approx(2.5 / 4, abs=1e-6)


def test_reset_state():
    metric = DiceCoefficient()
    _run(metric, BATCH1)
    metric.reset_state()
    assert _run(metric, BATCH2) == pytest.approx(6 / 7, abs=1e-6)
    metric = IoUScore(per_image=True)
    _run(metric, BATCH1)
    metric.reset_state()
    assert _run(metric, BATCH2) == pytest.approx(0.75, abs=1e-6)


def test_float16_inputs():
    y_true, y_pred = BATCH1
    metric = DiceCoefficient()
    metric.update_state(y_true.astype("float16"), y_pred.astype("float16"))
    assert float(metric.result()) == pytest.approx(0.5, abs=1e-6)
    assert metric.result().dtype == "float32"


@pytest.mark.parametrize("metric", [DiceCoefficient(channel=1, threshold=0.3, per_image=True, name="tdice"),
                                    IoUScore(name="iou_liver")], ids=["dice", "iou"])
def test_serialise_round_trip(metric):
    again = keras.metrics.deserialize(keras.metrics.serialize(metric))
    assert type(again) is type(metric)
    assert again.get_config() == metric.get_config()
    y_true = np.concatenate([BATCH2[0], BATCH2[0]], axis=-1)
    y_pred = np.concatenate([BATCH2[1], BATCH2[1] - 0.2], axis=-1)
    assert _run(again, (y_true, y_pred)) == pytest.approx(_run(metric, (y_true, y_pred)))


def _numpy_dice(y_true, y_pred, per_image):
    t, p = y_true >= 0.5, y_pred > 0.5
    if per_image:
        scores = []
        for ti, pi in zip(t, p):
            s = ti.sum() + pi.sum()
            scores.append(1.0 if s == 0 else 2 * (ti & pi).sum() / s)
        return float(np.mean(scores))
    s = t.sum() + p.sum()
    return 1.0 if s == 0 else float(2 * (t & p).sum() / s)


def test_compiled_model_history_and_evaluate(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 8, 8, 1)).astype("float32")
    y = (x > 0.3).astype("float32")
    y[2] = 0.0  # an image without foreground
    inp = keras.Input((8, 8, 1))
    out = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="head")(inp)
    model = keras.Model(inp, out)
    model.compile(optimizer="adam", loss="binary_crossentropy",
                  metrics=[DiceCoefficient(), DiceCoefficient(per_image=True, name="dice_img"), IoUScore()])
    ckpt = tmp_path / "best.keras"
    history = model.fit(x, y, validation_data=(x, y), epochs=2, batch_size=4, verbose=0, callbacks=[
        keras.callbacks.ModelCheckpoint(ckpt, monitor="val_dice", mode="max", save_best_only=True)])
    assert {"dice", "val_dice", "dice_img", "val_dice_img", "iou", "val_iou"} <= set(history.history)
    assert ckpt.exists()
    # evaluate over two batches (4 + 2 images) equals the NumPy scores over all six images
    scores = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert scores["dice"] == pytest.approx(_numpy_dice(y, pred, per_image=False), abs=1e-5)
    assert scores["dice_img"] == pytest.approx(_numpy_dice(y, pred, per_image=True), abs=1e-5)
    loaded = keras.models.load_model(ckpt, safe_mode=True)
    again = loaded.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert set(again) == set(scores)


def test_soft_dice_uses_probabilities_without_threshold():
    # p = [0.4, 0.2, 0.0, 0.3], g = [1, 0, 0, 1]: 2 * (0.4 + 0.3) / (0.9 + 2) = 1.4 / 2.9
    y_true = np.array([1, 0, 0, 1], np.float32).reshape(1, 2, 2, 1)
    y_pred = np.array([0.4, 0.2, 0.0, 0.3], np.float32).reshape(1, 2, 2, 1)
    soft = DiceCoefficient(threshold=None, name="soft_dice")
    soft.update_state(y_true, y_pred)
    np.testing.assert_allclose(float(soft.result()), 1.4 / 2.9, rtol=1e-6)
    hard = DiceCoefficient()
    hard.update_state(y_true, y_pred)
    assert float(hard.result()) == 0.0  # nothing above 0.5
    again = DiceCoefficient.from_config(soft.get_config())
    assert again.threshold is None
