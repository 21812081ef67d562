"""Bi's networks without training: the paper-profile ResNet-38 against Table 1 row by row, the cascade's
inputs, the VGG-FCN baseline, the multi-scale sizes, the hole filling, the SGD recipe and `--set weights=FILE`."""
from __future__ import annotations

from dataclasses import replace

import cv2
import keras
import numpy as np
import pytest

from liverseg.errors import InputError

from experiments.bi_cascaded_resnet.config import get_config
from experiments.bi_cascaded_resnet.model import LEVEL1, LEVEL2, build_cascade, build_resnet, build_vgg_fcn
from experiments.bi_cascaded_resnet.predict import BiPredictor, fill_holes, pad_to_grid
from experiments.bi_cascaded_resnet.stages import stages, with_weights

# Table 1: (level, output size, conv widths, units, first unit's stride, dilations first unit / others)
TABLE_1 = [
    ("b2", 252, (128, 128), 3, 2, (1, 1), (1, 1)),
    ("b3", 126, (256, 256), 3, 2, (1, 1), (1, 1)),
    ("b4", 63, (512, 512), 6, 2, (1, 1), (1, 1)),
    ("b5", 63, (512, 1024), 3, 1, (1, 2), (2, 2)),
    ("b6", 63, (512, 1024, 2048), 1, 1, (1, 4, 1), (1, 4, 1)),
    ("b7", 63, (1024, 2048, 4096), 1, 1, (1, 4, 1), (1, 4, 1)),
]


@pytest.fixture(scope="module")
def paper_resnet():
    cfg = get_config("paper")
    return build_resnet(cfg, 1, name="rn", size=cfg.net.input_size)


def _units(model, level: str) -> int:
    return sum(1 for layer in model.layers if layer.name.startswith(f"rn_{level}_") and layer.name.endswith("_add"))


def test_paper_resnet_matches_table_1_row_by_row(paper_resnet):
    m = paper_resnet
    assert m.input.shape == (None, 504, 504, 1)
    stem = m.get_layer("rn_stem")
    assert (stem.filters, stem.kernel_size, stem.strides) == (64, (3, 3), (1, 1)) and stem.output.shape[1] == 504
    for level, size, widths, units, stride, first, others in TABLE_1:
        assert _units(m, level) == units, level
        for unit in range(1, units + 1):
            convs = [m.get_layer(f"rn_{level}_{unit}_conv{i + 1}") for i in range(len(widths))]
            assert tuple(c.filters for c in convs) == widths, (level, unit)
            assert tuple(c.kernel_size[0] for c in convs) == ((3, 3) if len(widths) == 2 else (1, 3, 1))
            assert tuple(c.dilation_rate[0] for c in convs) == (first if unit == 1 else others), (level, unit)
            assert convs[0].strides[0] == (stride if unit == 1 else 1)
            assert m.get_layer(f"rn_{level}_{unit}_add").output.shape[1:3] == (size, size), (level, unit)
    drops = {lv: m.get_layer(f"rn_{lv}_1_drop").rate for lv in ("b6", "b7")}
    assert drops == {"b6": 0.3, "b7": 0.5}
    cls1, score = m.get_layer("rn_cls1"), m.get_layer("rn_score")
    assert (cls1.filters, cls1.dilation_rate, score.filters, score.dilation_rate) == (512, (12, 12), 2, (12, 12))
    assert score.output.shape == (None, 63, 63, 2)  # the 63 x 63 score map
    assert m.get_layer("rn_up").factor == 8 and m.output.shape == (None, 504, 504, 2)
    assert 120e6 < m.count_params() < 130e6  # ResNet-38 is about 124 M parameters


def test_units_are_pre_activation(paper_resnet):
    m = paper_resnet
    conv = m.get_layer("rn_b3_2_conv1")
    relu = conv._inbound_nodes[0].parent_nodes[0].operation
    bn = relu._inbound_nodes[0].parent_nodes[0].operation
    assert relu.name == "rn_b3_2_relu0" and isinstance(bn, keras.layers.BatchNormalization)
    assert isinstance(m.get_layer("rn_b3_2_add"), keras.layers.Add)
    # the strided first unit projects its pre-activated input (1x1 subsampling, then a 1x1 conv)
    assert m.get_layer("rn_b3_1_proj_pool").strides == (2, 2) and m.get_layer("rn_b3_1_proj").kernel_size == (1, 1)


def test_cascade_reads_the_slice_and_both_maps_of_the_frozen_first_resnet(tmp_path):
    cfg = get_config("smoke")
    cascade = build_cascade(cfg)
    level1, level2 = cascade.get_layer(LEVEL1), cascade.get_layer(LEVEL2)
    assert not level1.trainable and level2.trainable
    assert level2.input.shape[-1] == 3  # eq. 3: I, Y^t, Y^v
    x = np.random.default_rng(0).random((2, 48, 48, 1), dtype=np.float32)
    maps = level1(x)
    np.testing.assert_allclose(np.asarray(cascade(x)), np.asarray(level2(np.concatenate([x, maps], -1))), atol=1e-5)
    by_name = {s.name: s for s in stages(cfg)}
    assert list(by_name) == ["vgg_fcn", "resnet", "cascade"]
    assert by_name["cascade"].init_from == {LEVEL1: "resnet"}
    assert by_name["resnet"].build_model().name == LEVEL1  # its checkpoint is the cascade's first level
    cascade.save(tmp_path / "c.keras")
    loaded = keras.saving.load_model(tmp_path / "c.keras", safe_mode=True, compile=False)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(cascade(x)), atol=1e-5)


def test_the_networks_predict_at_every_multi_scale_size():
    cfg = get_config("smoke")
    resnet, vgg = build_resnet(cfg), build_vgg_fcn(cfg)
    for size in (*cfg.test_sizes, 40):
        x = np.zeros((1, size, size, 1), np.float32)
        assert resnet.predict_on_batch(x).shape == (1, size, size, 2)
    assert vgg.predict_on_batch(np.zeros((1, 64, 64, 1), np.float32)).shape == (1, 64, 64, 2)
    # FCN-8s on the VGG16 of keras.applications (from scratch) with its fc6 / fc7 and two skips
    for name in ("block1_conv1", "block5_pool", "fc6", "fc7", "score_pool16", "score_pool8", "fuse_8"):
        vgg.get_layer(name)
    assert vgg.get_layer("fc6").kernel_size == (7, 7) and get_config("paper").net.vgg_fc_filters == 4096


def test_multi_scale_sizes_and_average():
    assert get_config("paper").test_sizes == (512, 544, 576, 608, 640)  # 2.4
    cfg = get_config("smoke")
    seen = []

    class Recorder:
        def predict_on_batch(self, x):
            seen.append(x.shape[1])
            return np.full((*x.shape[:3], 2), x.shape[1] / 100.0, np.float32)

    predictor = BiPredictor(cfg, Recorder(), "cascade_ms")
    probs = predictor.probabilities(np.zeros((3, 48, 48), np.float32))
    assert sorted(set(seen)) == [48, 56] and probs.shape == (3, 48, 48, 2)
    np.testing.assert_allclose(probs, (0.48 + 0.56) / 2, atol=1e-6)
    seen.clear()
    BiPredictor(cfg, Recorder(), "cascade").probabilities(np.zeros((3, 48, 48), np.float32))
    assert set(seen) == {48}
    seen.clear()
    BiPredictor(cfg, Recorder(), "vgg_fcn").probabilities(np.zeros((3, 48, 48), np.float32))
    assert set(seen) == {64}  # padded to the FCN-8s' stride 32
    assert pad_to_grid(np.ones((1, 33, 40, 1)), 8).shape == (1, 40, 40, 1)


def test_holes_are_filled_per_axial_slice_and_nothing_else():
    labels = np.zeros((2, 9, 9), np.uint8)
    labels[0, 1:8, 1:8] = 1
    labels[0, 6, 6] = 0  # a hole in the liver
    labels[0, 2:5, 2:5] = 2
    labels[0, 3, 3] = 1  # a hole in a lesion
    labels[1, 0, 0] = 1  # a stray voxel: kept (no largest component, no opening)
    out = fill_holes(labels)
    assert out[0, 6, 6] == 1 and out[0, 3, 3] == 2 and out[1, 0, 0] == 1
    assert (out[0, 1:8, 1:8] >= 1).all() and out.sum() - labels.sum() == 1 + 1


def test_paper_training_recipe():
    cfg = get_config("paper")
    t, d = cfg.train, cfg.data
    assert (t.optimizer, t.momentum, t.learning_rate, t.epochs) == ("sgd", 0.9, 0.0016, 100)
    assert (t.schedule, t.step_epochs, t.learning_rate * t.step_factor) == ("constant_then_linear", 60, 0.0008)
    assert (d.batch_size, d.sampling, d.positive_fraction, d.max_slices) == (10, "lesion_balanced", 0.5, 8802)
    assert (t.weight_decay, cfg.augment.zoom_range) == (5e-4, 0.3)  # ademxapp (NOTES.md): wd 5e-4, scales 0.7-1.3
    assert t.monitor == "mean(val_liver_dice,val_tumour_dice)"  # the lesion takes part in the checkpoint
    assert (d.crop, d.crop_size, cfg.preprocess.window) == ("centred", 504, (-160.0, 240.0))
    assert cfg.augment.zoom_range and cfg.augment.horizontal_flip  # random scaling and flips
    assert cfg.net.input_size == d.crop_size and stages(cfg)[0].sources[0].crop_size == 480  # FCN-8s: x32


def test_weights_option(tmp_path):
    cfg = get_config("smoke")
    source = build_resnet(cfg, name=LEVEL1)
    source.save_weights(tmp_path / "rn.weights.h5")
    target = with_weights(build_resnet(cfg, name=LEVEL1), str(tmp_path / "rn.weights.h5"))
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(InputError, match="missing.weights.h5"):
        with_weights(build_resnet(cfg), str(tmp_path / "missing.weights.h5"))


def test_bilinear_upsampling_equals_opencv():
    from liverseg.nn.upsample import BilinearUpsampling

    inputs = keras.Input((None, None, 2))
    model = keras.Model(inputs, BilinearUpsampling(8)(inputs))
    x = np.random.default_rng(1).random((2, 5, 7, 2), dtype=np.float32)
    want = np.stack([cv2.resize(s, (56, 40), interpolation=cv2.INTER_LINEAR) for s in x])
    np.testing.assert_allclose(model.predict_on_batch(x), want, atol=1e-5)


def _lits_like_manifest(cases: int = 30):
    """Per case 300 slices: 100 .. 199 liver, 140 .. 179 of them with lesion (40 lesion, 60 liver-only,
    200 with neither)."""
    import pandas as pd

    k = np.arange(300)
    return pd.concat([pd.DataFrame({"case_id": f"c{c}", "slice_index": k,
                                    "liver_pixels": ((k >= 100) & (k < 200)).astype(int) * 500,
                                    "tumour_pixels": ((k >= 140) & (k < 180)).astype(int) * 50})
                      for c in range(cases)], ignore_index=True)


@pytest.mark.parametrize("profile", ["paper", "cpu"])
def test_every_network_trains_on_lesion_slices_against_slices_with_neither(profile):
    """2.5: half the slices with liver and lesion, half with neither, for every network of Table 2."""
    from types import SimpleNamespace

    from liverseg.runner.data import stage_rows

    cache = SimpleNamespace(manifest=_lits_like_manifest())
    split = {"mode": "patients", "train": [f"c{c}" for c in range(30)]}
    cfg = get_config(profile)
    for stage in stages(cfg):
        rows = stage_rows(cache, split, "train", stage.sources[0], seed=0)
        lesion = rows.tumour_pixels.to_numpy() > 0
        assert len(rows) == 2 * 30 * 40, stage.name  # every lesion slice and as many with neither
        assert lesion.mean() == 0.5 and (rows.liver_pixels.to_numpy()[~lesion] == 0).all(), stage.name
    # the other reading, kept as an option: liver against no liver (lesion slices 40 % of the liver half)
    other = replace(cfg.data, sampling="liver_balanced")
    rows = stage_rows(cache, split, "train", other, seed=0)
    assert (rows.tumour_pixels > 0).mean() == pytest.approx(0.2)
