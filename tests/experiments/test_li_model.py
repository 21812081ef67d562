"""Li et al.'s four networks inspected without training: Ronneberger's 572 -> 388 valid U-Net and its
overlap-tile inference, the attention gates, deep-supervision heads and ConvLSTM fusion, mixed
precision on a 512 x 512 batch, `.keras` round trips in safe mode, and the paper's settings."""
from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pandas as pd
import pytest

from liverseg.errors import OptionError
from liverseg.nn.deep_supervision import DeepSupervisionLoss

from experiments.li_dalunet.config import TABLE_ORDER, get_config
from experiments.li_dalunet.paper import PAPER
from experiments.li_dalunet.model import UNET_CORE, build_unet_tile, build_variant
from experiments.li_dalunet.predict import LiPredictor
from experiments.li_dalunet.stages import loss, stages


def choose_split(table, cfg, seed):
    """The paper's split hook (the runner's default policy) on `table` with `seed`."""
    return PAPER.split(PAPER.context(replace(cfg, seed=seed)), table)


def tiny(size=32, depth=2, filters=4):
    cfg = get_config("smoke")
    return replace(cfg, preprocess=replace(cfg.preprocess, size=size),
                   net=replace(cfg.net, base_filters=filters, depth=depth, unet_tile=76))


def _layers(model, kind):
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, kind)]


def test_paper_unet_is_ronneberger_572_to_388():
    cfg = get_config("paper")
    tile = build_unet_tile(cfg)
    assert tile.input_shape == (None, 572, 572, 1) and tile.output_shape == (None, 388, 388, 2)
    convs = [c for c in _layers(tile, keras.layers.Conv2D) if c.kernel_size == (3, 3)]
    assert {c.padding for c in convs} == {"valid"}
    assert sorted({c.filters for c in convs}) == [64, 128, 256, 512, 1024]  # III-C: 64 -> 1024
    assert len(_layers(tile, keras.layers.MaxPooling2D)) == 4  # four poolings
    sizes = [tile.get_layer(f"{UNET_CORE}_enc{k}_c2_act").output.shape[1] for k in (1, 2, 3, 4)]
    assert sizes == [568, 280, 136, 64]  # III-C lists the stage inputs 572, 284, 140, 68
    whole = build_variant(cfg, "unet")
    assert whole.input_shape == (None, 512, 512, 1) and whole.output_shape == (None, 512, 512, 2)
    assert whole.get_layer(UNET_CORE).input_shape == (None, 700, 700, 1)  # 512 + mirror border -> 516 out


@pytest.mark.parametrize("variant, gates, heads, convlstm", [
    ("aunet", 3, 1, 0), ("aunet_ds", 3, 4, 0), ("dalunet", 3, 4, 4)])
def test_attention_variants_have_their_parts(variant, gates, heads, convlstm):
    model = build_variant(get_config("paper"), variant)
    names = [layer.name for layer in model.layers]
    # Oktay et al.: a gate on every skip below the top one, gated by the coarser level, with its W
    assert sum(n.endswith("_att_psi") for n in names) == gates
    assert sum(n.endswith("_att_out_conv") for n in names) == gates and f"{variant}_dec1_att_psi" not in names
    gate = model.get_layer(f"{variant}_dec2_att_phi")
    assert gate.input.shape[1] == 128 and model.get_layer(f"{variant}_dec2_att_theta").input.shape[1] == 256
    top = build_variant(replace(get_config("paper"), net=replace(get_config("paper").net, attention_top_skip=True,
                                                                  attention_projection=False)), variant)
    top_names = [layer.name for layer in top.layers]
    assert sum(n.endswith("_att_psi") for n in top_names) == gates + 1 and not any("_att_out_" in n for n in top_names)
    sigmoids = [n for n in names if n.endswith("_sigmoid") and "_att_" not in n]
    assert len(sigmoids) == heads and model.output_shape == (None, 512, 512, 2 * heads)
    assert len(_layers(model, keras.layers.ConvLSTM2D)) == convlstm
    assert {c.padding for c in _layers(model, keras.layers.Conv2D) if c.kernel_size == (3, 3)} == {"same"}
    if convlstm:
        lstm = model.get_layer("dalunet_dec1_fusion_convlstm")
        assert lstm.filters == 32 and lstm.go_backwards  # BCDU-Net D3: C / 2 filters, read backwards
        assert model.get_layer("dalunet_bottom_dense3_in").output.shape[-1] == 2048  # dense bottleneck


def test_deep_supervision_heads_are_weighted_main_first():
    cfg = get_config("paper")
    ds = loss(cfg, "dalunet")
    assert isinstance(ds, DeepSupervisionLoss) and ds.channels == 2
    assert ds.loss_weights == pytest.approx([w / 1.875 for w in (1.0, 0.5, 0.25, 0.125)])
    assert not isinstance(loss(cfg, "unet"), DeepSupervisionLoss)
    with pytest.raises(OptionError, match="ds_weights"):
        build_variant(replace(cfg, net=replace(cfg.net, ds_weights=(1.0,))), "dalunet")


def test_unet_overlap_tile_prediction_equals_the_whole_slice_model():
    cfg = tiny(size=40)
    model = build_variant(cfg, "unet")
    keras.utils.set_random_seed(3)
    model.set_weights([np.random.default_rng(i).normal(0, 0.3, w.shape).astype("float32")
                       for i, w in enumerate(model.get_weights())])
    predictor = LiPredictor(cfg, model, "unet")
    assert predictor.tile.input_shape == (None, 76, 76, 1) and predictor.tile.output_shape == (None, 36, 36, 2)
    slices = np.random.default_rng(0).random((3, 40, 40), dtype=np.float32)
    np.testing.assert_allclose(predictor.probabilities(slices), np.asarray(model(slices[..., None])), atol=2e-5)


@pytest.mark.parametrize("variant", ["dalunet"])  # attention gates, deep supervision and ConvLSTM
def test_mixed_float16_on_a_512_batch_has_no_nan(variant):
    cfg = tiny(size=512, depth=4, filters=2)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = build_variant(cfg, variant)
        x = np.random.default_rng(0).random((1, 512, 512, 1), dtype=np.float32)
        y = np.zeros((1, 512, 512, 2), np.float32)
        y[:, 200:300, 180:320, 0] = 1.0
        model.compile(optimizer="adagrad", loss=loss(cfg, variant))
        history = model.fit(x, y, epochs=1, verbose=0)
        out = np.asarray(model(x))
        lstm = [layer for layer in model.layers if isinstance(layer, keras.layers.ConvLSTM2D)]
    finally:
        keras.config.set_dtype_policy(previous)
    assert np.isfinite(history.history["loss"][0]) and np.isfinite(out).all() and out.dtype == np.float32
    assert model.get_layer(f"{variant}_dec2_att_psi").compute_dtype == "float16"
    if variant == "dalunet":
        assert lstm and all(layer.compute_dtype == "float16" for layer in lstm)


@pytest.mark.parametrize("variant", TABLE_ORDER)
def test_keras_round_trip_in_safe_mode(tmp_path, variant):
    from liverseg.io.checkpoints import load_model

    cfg = tiny(size=32)
    model = build_variant(cfg, variant)
    (tmp_path / variant).mkdir()
    model.save(tmp_path / variant / "best.keras")
    loaded = load_model(tmp_path / variant / "best.keras")
    x = np.random.default_rng(1).random((2, 32, 32, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_paper_training_and_preprocessing_settings():
    cfg = get_config("paper")
    assert cfg.preprocess.window == (-125.0, 125.0) and cfg.preprocess.equalize == "global"  # III-A, Fig. 2-4
    a = cfg.augment  # III-B
    # "small rotations (up to 10 percent)": 10 % of the +-180 degree range, not 0.1 degree
    assert (a.rotation_range, a.width_shift_range, a.height_shift_range, a.zoom_range) == (18.0, 0.05, 0.05, 0.05)
    assert a.shear_range > 0 and not a.horizontal_flip
    assert [s.name for s in stages(cfg)] == list(TABLE_ORDER)
    for stage in stages(cfg):  # III-C: Adagrad, cross-entropy, plateau + early stopping, 100 epochs (Fig. 6)
        t = stage.train
        assert (t.optimizer, t.loss, t.schedule, t.epochs) == ("adagrad", "bce", "plateau", 100)
        assert t.early_stopping_patience > 0 and stage.augment == cfg.augment


def test_split_is_fourteen_three_three_by_patient_and_seeded():
    table = pd.DataFrame({"case_id": [f"3Dircadb1.{i}" for i in range(1, 21)],
                          "tumour_mm3": [0.0 if i in (5, 7) else 1.0 for i in range(1, 21)]})
    cfg = get_config("paper")
    a, b = choose_split(table, cfg, 0), choose_split(table, cfg, 1)
    assert [len(a[k]) for k in ("train", "val", "test")] == [14, 3, 3]
    assert not set(a["test"]) & set(a["train"]) and a["test"] != b["test"]
    assert choose_split(table.head(3), cfg, 0) is None  # too few patients: held-out slice blocks


def test_deeply_supervised_networks_predict_with_their_main_head():
    cfg = tiny(size=32)
    model = build_variant(cfg, "aunet_ds")
    for layer in model.layers:  # main head certain of liver and tumour, the coarser heads of nothing
        if layer.name.endswith("_logits"):
            kernel, bias = layer.get_weights()
            layer.set_weights([np.zeros_like(kernel), np.full_like(bias, 9.0 if "_head_" in layer.name else -9.0)])
    probs = LiPredictor(cfg, model, "aunet_ds").probabilities(np.zeros((2, 32, 32), np.float32))
    assert probs.shape == (2, 32, 32, 2) and probs.min() > 0.99


def test_labels_keep_tumour_inside_the_largest_liver():
    from liverseg.evaluation.slice_scores import specificity

    cfg = tiny()
    probs = np.zeros((4, 16, 16, 2), np.float32)
    probs[:, 2:10, 2:10, 0] = 0.9  # the liver
    probs[1:3, 4:6, 4:6, 1] = 0.8  # a tumour inside it
    probs[:, 12:14, 12:14, 1] = 0.8  # "tumour" outside the liver
    probs[0, 13:15, 0:2, 0] = 0.9  # a stray liver island
    predictor = LiPredictor.__new__(LiPredictor)
    predictor.cfg = cfg
    labels = predictor.labels(probs)
    assert (labels[1:3, 4:6, 4:6] == 2).all() and (labels[:, 12:14, 12:14] == 0).all()
    assert (labels[0, 13:15, 0:2] == 0).all() and (labels[:, 2:4, 2:4] == 1).all()
    truth = labels.transpose(1, 2, 0).copy()
    truth[..., 1:3][truth[..., 1:3] == 2] = 1  # truth without tumour: slices 1 and 2 are false positives
    assert specificity([(truth, labels.transpose(1, 2, 0))]) == pytest.approx(0.5)


def test_readme_names_the_monitor_the_callbacks_watch():
    """III-C names the three callbacks, not what they watch: the README says what the config does."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "experiments" / "li_dalunet" / "README.md").read_text()
    monitor = get_config("paper").train.monitor
    assert monitor == "val_liver_soft_dice" and f"`{monitor}`" in readme
    assert "best validation loss" not in readme and "checkpoint on the validation loss" not in readme


def test_capacity_note_separates_dalunet_from_aunet_ds():
    from experiments.li_dalunet.paper import capacity_note, parameter_counts

    counts = parameter_counts(tiny(size=32))
    assert counts["dalunet"] > counts["aunet_ds"] > counts["aunet"]
    note = capacity_note(tiny(size=32))
    assert f"{counts['dalunet']:,}" in note and f"{counts['dalunet'] / counts['aunet_ds']:.2f}" in note


def test_paper_dalunet_more_than_doubles_aunet_ds_capacity():
    """The dense bottleneck at 1024 filters: the report must say the last step changes capacity."""
    from experiments.li_dalunet.paper import parameter_counts

    counts = parameter_counts(get_config("paper"))
    assert counts["dalunet"] / counts["aunet_ds"] > 2.0
