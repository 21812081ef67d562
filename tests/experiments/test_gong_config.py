"""Gong's config holds the paper's values; profiles change sizes and epochs only."""
import json

import pytest

from liverseg.config import from_dict, override, to_dict
from liverseg.errors import OptionError

from experiments.gong.config import GongConfig, get_config


def test_paper_profile_has_the_papers_values():
    cfg = get_config("paper")
    assert cfg.preprocess.size == 512
    assert (cfg.coarse_model.base_filters, cfg.coarse_model.depth, cfg.coarse_model.kernel_size) == (64, 4, 3)
    assert cfg.coarse_model.padding == "same"
    assert (cfg.coarse_train.optimizer, cfg.coarse_train.learning_rate, cfg.coarse_train.epochs) == ("adam", 1e-4, 60)
    assert (cfg.fine_train.optimizer, cfg.fine_train.learning_rate, cfg.fine_train.epochs) == ("adam", 1e-5, 150)
    assert cfg.fine_model.stem_kernel == 7 and cfg.fine_model.poolings == 3
    assert cfg.fine_data.crop_size == 256 and cfg.fine_data.crop == "tiles"
    aug = cfg.augment
    assert (aug.rotation_range, aug.width_shift_range, aug.height_shift_range, aug.shear_range, aug.zoom_range) == (
        0.2, 0.05, 0.05, 0.05, 0.05)
    assert aug.horizontal_flip and not aug.vertical_flip
    assert (cfg.train_patients, cfg.test_patients) == (40, 20)
    assert cfg.coarse_data.sampling == "liver_balanced" and cfg.coarse_data.positive_fraction == 0.8
    assert cfg.fine_data.sampling == "tumour"


@pytest.mark.parametrize("profile", ["cpu", "smoke"])
def test_small_profiles_keep_the_architecture_family(profile):
    paper, small = get_config("paper"), get_config(profile)
    assert small.coarse_model.depth == paper.coarse_model.depth
    assert small.fine_model.poolings == paper.fine_model.poolings
    assert small.fine_model.stem_kernel == 7
    assert small.fine_data.crop_size * 2 == small.preprocess.size  # 256 of 512, scaled
    assert small.preprocess.size < 512 and small.coarse_train.epochs < paper.coarse_train.epochs
    assert small.phantom.cases >= 4 and small.train_patients + small.test_patients <= small.phantom.cases


def test_unknown_profile_is_an_option_error():
    with pytest.raises(OptionError, match="unknown profile 'gpu'"):
        get_config("gpu")


def test_config_json_round_trip_and_overrides():
    cfg = get_config("cpu")
    again = from_dict(GongConfig, json.loads(json.dumps(to_dict(cfg))))
    assert again == cfg
    changed = override(cfg, ["coarse_train.epochs=3", "preprocess.window=[-50, 150]", "augment.horizontal_flip=false"])
    assert changed.coarse_train.epochs == 3 and changed.preprocess.window == (-50.0, 150.0)
    assert not changed.augment.horizontal_flip
    with pytest.raises(OptionError, match="unknown option"):
        override(cfg, ["coarse_train.epoch=3"])


def test_loss_and_monitored_metrics_come_from_the_config():
    from liverseg.nn.objectives import make_loss, make_metrics

    cfg = get_config("paper")
    assert cfg.coarse_train.loss == cfg.fine_train.loss == "dice_bce"
    assert cfg.fine_train.monitor == "val_soft_dice" and "soft_dice" in cfg.fine_train.metrics
    assert type(make_loss(cfg.coarse_train.loss)).__name__ == "DiceBCELoss"
    names = [m.name for m in make_metrics(cfg.coarse_train.metrics, cfg.coarse_model.outputs)]
    assert cfg.coarse_train.monitor.removeprefix("val_") in names and "tumour_dice" in names
    with pytest.raises(OptionError, match="train.loss='hinge'"):
        make_loss("hinge")
    with pytest.raises(OptionError, match="unknown metric 'spleen_dice'"):
        make_metrics(("spleen_dice",), ("liver", "tumour"))
