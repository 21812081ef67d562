"""Liu et al.'s networks inspected without training: the two levels' depths and layer counts (35 and
43), the pre-activation residual units, the intermediate processing (opening then closing, r = 5)
against scikit-image, MDice, the cascade's frozen level 1, and the ten folds of the paper profile."""
from __future__ import annotations

import argparse

import keras
import numpy as np
import pandas as pd
import pytest
from skimage.morphology import closing, disk, opening

from liverseg.nn.losses import DiceLoss, MDiceLoss
from liverseg.nn.morphology import BinaryMorphology

from experiments.liu_crunet.config import get_config
from experiments.liu_crunet.model import LEVEL1, build_cascade, build_runet, counted_layers
from experiments.liu_crunet.stages import make_loss, stages


def _pools(model):
    return [layer for layer in model._flatten_layers(include_self=False) if isinstance(layer, keras.layers.MaxPooling2D)]


def test_paper_levels_have_the_papers_depths_and_layer_counts():
    cfg = get_config("paper")
    level1, level2 = build_runet(cfg, cfg.net.level1_blocks), build_runet(cfg, cfg.net.level2_blocks, 2, "level2")
    assert level1.input_shape == (None, 512, 512, 1) and level2.input_shape == (None, 512, 512, 2)
    assert level1.output_shape == level2.output_shape == (None, 512, 512, 1)
    assert (len(_pools(level1)), len(_pools(level2))) == (4, 5)  # II-A: 4 and 5 down-sampling blocks
    assert (counted_layers(level1), counted_layers(level2)) == (35, 43)  # II-A: 35 and 43 layers
    assert level2.get_layer("level2_bridge_conv1").output.shape[1] == 16  # 512 / 2**5


def test_unit_block_is_a_preactivation_residual_of_three_convs():
    cfg = get_config("paper")
    model = build_runet(cfg, 4)
    names = [layer.name for layer in model.layers]
    block = [n for n in names if n.startswith("level1_down2_")]
    assert block[:2] == ["level1_down2_bn1", "level1_down2_relu1"]  # BN -> ReLU before the convolutions
    relu = model.get_layer("level1_down2_relu1").output.name
    assert model.get_layer("level1_down2_projection").input.name == relu  # projection of the pre-activated input
    assert model.get_layer("level1_down2_conv1").input.name == relu
    assert sum(n.startswith("level1_down2_conv") for n in block) == 3
    add = model.get_layer("level1_down2_add")
    assert {t.name for t in add.input} >= {model.get_layer("level1_down2_projection").output.name}
    conv = model.get_layer("level1_down2_conv1")
    assert isinstance(conv.kernel_initializer, keras.initializers.GlorotUniform)  # III-B: Xavier
    assert np.allclose(conv.get_weights()[1], 0.1)  # III-B: bias 0.1
    deconv = model.get_layer("level1_up2_deconv")
    assert deconv.strides == (2, 2) and model.get_layer("level1_up2_concat").input[0].name == \
        model.get_layer("level1_down2_add").output.name  # joined to the same-size down block


def test_intermediate_processing_is_opening_then_closing_with_radius_5():
    rng = np.random.default_rng(0)
    mask = np.zeros((96, 96), bool)
    mask[20:70, 15:80] = True
    mask[35:40, 30:36] = False  # a hole that closing fills
    mask[80:83, 5:8] = True  # a speck that opening removes
    mask[44:46, 80:92] = True  # a thin spur
    mask |= rng.random(mask.shape) > 0.997
    want = closing(opening(mask, disk(5)), disk(5))
    other_order = opening(closing(mask, disk(5)), disk(5))
    prob = np.where(mask, 0.9, 0.1).astype("float32")[None, ..., None]
    got = np.asarray(BinaryMorphology(0.5, 5, ("open", "close"))(prob))[0, ..., 0] > 0.5
    assert np.array_equal(got, want) and not np.array_equal(got, other_order)
    assert got[37, 33] and not got[81, 6]
    cfg = get_config("paper")
    cascade = build_cascade(cfg, cfg.net.level2_blocks, True, "crunet_d")
    layer = cascade.get_layer("crunet_d_processing")
    assert (layer.radius, layer.operations, layer.threshold) == (5, ("open", "close"), 0.5)
    assert build_cascade(cfg, 5, False, "crunet_b").get_layer("crunet_b_processing").operations == ()


def test_cascade_freezes_level_1_and_feeds_level_2_the_ct_and_the_mask(tmp_path):
    cfg = get_config("smoke")
    cascade = build_cascade(cfg, cfg.net.level2_blocks, True, "crunet_d")
    assert not cascade.get_layer(LEVEL1).trainable and cascade.get_layer("level2").trainable
    size = cfg.preprocess.size
    assert cascade.get_layer("level2").input_shape == (None, size, size, 2)
    by_name = {s.name: s for s in stages(cfg)}
    assert by_name["crunet_d"].init_from == {LEVEL1: "runet"} and by_name["crunet_c"].init_from == {LEVEL1: "runet_dice"}
    cascade.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras", safe_mode=True, compile=False)
    x = np.random.default_rng(0).random((1, size, size, 1), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(cascade(x)), atol=1e-6)


def test_losses_of_the_rows():
    cfg = get_config("paper")
    by_name = {s.name: s for s in stages(cfg)}
    mdice = by_name["crunet_d"].loss()
    assert isinstance(mdice, MDiceLoss) and (mdice.alpha, mdice.beta, mdice.smooth) == (0.5, 0.7, 1e-5)
    dice = by_name["crunet_c"].loss()
    assert isinstance(dice, DiceLoss) and dice.squared  # eq. 1: |P|^2 + |G|^2
    assert by_name["unet"].train.loss == "bce" and by_name["runet"].train.loss == "mdice"
    g = np.zeros((1, 8, 8, 1), np.float32)
    g[0, 2:6, 2:6] = 1
    p = np.clip(g * 0.8 + 0.05, 0, 1)
    tp, fp, fn = (p * g).sum(), (p * (1 - g)).sum(), ((1 - p) * g).sum()
    want = 1 - (2 * tp * tp + 1e-5) / ((p.sum() + g.sum()) * (tp + 0.5 * fp + 0.7 * fn) + 1e-5)
    assert float(make_loss(cfg, "mdice")(g, p)) == pytest.approx(want, rel=1e-5)
    t = cfg.train
    assert (t.learning_rate, t.final_learning_rate, t.schedule, cfg.data.batch_size) == (1e-4, 1e-10, "linear", 2)


def test_the_paper_profile_runs_ten_folds_and_the_single_split_profiles_one_run():
    from liverseg.runner.options import resolve_config

    from experiments.liu_crunet.paper import PAPER

    args = argparse.Namespace(dataset=None, data_dir=None, seed=0, set=[], profile="paper", folds=None)
    assert resolve_config(PAPER, args).folds == 10  # III-B
    assert resolve_config(PAPER, argparse.Namespace(**{**vars(args), "folds": 0})).folds == 0
    assert get_config("cpu").folds == get_config("smoke").folds == 0
    patients = [f"lits-{i}" for i in range(131)]
    table = pd.DataFrame({"case_id": patients, "tumour_mm3": 1.0})
    cfg = get_config("cpu")
    split = PAPER.split(PAPER.context(cfg), table)
    assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    assert abs(len(split["test"]) - cfg.test_patients * 131) <= 1


def test_all_components_variants_keep_every_component_and_load_their_stage(tmp_path):
    from experiments.liu_crunet.config import VARIANTS, variant_stage
    from experiments.liu_crunet.predict import LiuPredictor
    from experiments.liu_crunet.paper import PAPER

    cfg = get_config("smoke")
    probs = np.zeros((3, 8, 8, 1), np.float32)
    probs[:, 1:4, 1:4] = 0.9  # a large component
    probs[1, 6, 6] = 0.9  # and a stray voxel
    keep = LiuPredictor(cfg, None, "crunet_d_all_components").labels(probs)
    largest = LiuPredictor(cfg, None, "crunet_d").labels(probs)
    assert keep[1, 6, 6] == 1 and largest[1, 6, 6] == 0 and keep.sum() == largest.sum() + 1
    assert {"crunet_b_all_components", "crunet_d_all_components"} <= set(VARIANTS)
    assert PAPER.variant_stages(PAPER.context(cfg), "crunet_d_all_components") == ("crunet_d",)
    assert variant_stage("crunet_b_all_components") == "crunet_b" and variant_stage("runet") == "runet"


def test_mean_abs_rvd_reads_the_magnitude(tmp_path):
    from experiments.liu_crunet.figures import mean_abs_rvd

    (tmp_path / "evaluation" / "v").mkdir(parents=True)
    pd.DataFrame({"case": ["a", "b"], "liver_rvd": [0.1, -0.3]}).to_csv(tmp_path / "evaluation" / "v" / "per_case.csv")
    assert mean_abs_rvd(tmp_path, ["v"])["v"] == pytest.approx(0.2)
