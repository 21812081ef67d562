"""SGD with L2 weight decay in the gradient (MXNet's / torch.optim.SGD's `weight_decay`, Bi et al.'s
ademxapp recipe) worked out by hand, and "mean(a,b)" checkpoint monitors."""
from __future__ import annotations

import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

from liverseg.config import TrainConfig
from liverseg.errors import OptionError
from liverseg.train.fit import fit, make_optimizer
from liverseg.train.monitors import MeanOfLogs, mean_parts
from liverseg.train.optimizers import SGDWithL2


def _train(**kw):
    return TrainConfig(**{**dict(epochs=3, learning_rate=0.1, optimizer="sgd", momentum=0.5,
                                 monitor="val_loss", monitor_mode="min", precision="float32"), **kw})


def test_sgd_with_l2_two_steps_by_hand():
    kernel, bias = keras.Variable(np.array([2.0], "float32"), name="kernel"), keras.Variable(
        np.array([2.0], "float32"), name="bias")
    opt = make_optimizer(_train(weight_decay=0.1), None)
    assert isinstance(opt, SGDWithL2) and opt.l2 == pytest.approx(0.1)
    grad = np.array([1.0], "float32")
    # torch.optim.SGD / MXNet: g' = g + wd w; v = m v - lr g'; w += v (Keras SGD's momentum form)
    w, v = 2.0, 0.0
    for _ in range(2):
        opt.apply_gradients([(grad, kernel), (grad, bias)])
        v = 0.5 * v - 0.1 * (1.0 + 0.1 * w)
        w = w + v
    assert float(kernel.numpy()[0]) == pytest.approx(w, abs=1e-6)
    # the bias is not decayed: plain momentum SGD
    assert float(bias.numpy()[0]) == pytest.approx(2.0 - 0.1 - (0.5 * 0.1 + 0.1), abs=1e-6)
    assert SGDWithL2.from_config(opt.get_config()).l2 == pytest.approx(0.1)


def test_weight_decay_options():
    assert type(make_optimizer(_train(), None)) is keras.optimizers.SGD
    with pytest.raises(OptionError, match="weight_decay"):
        make_optimizer(_train(optimizer="adam", weight_decay=1e-4), None)
    with pytest.raises(OptionError, match="weight_decay"):
        make_optimizer(_train(weight_decay=-1.0), None)


def test_mean_monitor_parsing_and_value():
    assert mean_parts("val_dice") is None
    assert mean_parts("mean(val_liver_dice, val_tumour_dice)") == ("val_liver_dice", "val_tumour_dice")
    with pytest.raises(OptionError, match="two"):
        mean_parts("mean(val_dice)")
    logs = {"val_a": 0.2, "val_b": 0.6}
    MeanOfLogs("mean(val_a,val_b)", ("val_a", "val_b")).on_epoch_end(0, logs)
    assert logs["mean(val_a,val_b)"] == pytest.approx(0.4)
    with pytest.raises(OptionError, match="val_c"):
        MeanOfLogs("m", ("val_a", "val_c")).on_epoch_end(0, {"val_a": 1.0})


def test_fit_checkpoints_on_a_mean_monitor(tmp_path):
    x = np.random.default_rng(0).random((16, 8, 8, 1), dtype=np.float32)
    y = (x > 0.5).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)

    def build():
        inp = keras.Input((8, 8, 1))
        out = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32")(inp)
        return keras.Model(inp, out)

    monitor = "mean(val_loss,val_mae)"
    fit(build, ds, ds, stage="s", run_dir=tmp_path, train=_train(monitor=monitor, optimizer="adam", momentum=0.0),
        loss="binary_crossentropy", metrics=["mae"], seed=0, verbose=0)
    rows = list(csv.DictReader(open(tmp_path / "s" / "history.csv")))
    assert len(rows) == 3
    for row in rows:
        assert float(row[monitor]) == pytest.approx((float(row["val_loss"]) + float(row["val_mae"])) / 2, rel=1e-5)
    assert (tmp_path / "s" / "best.keras").is_file()
