"""The `Paper` contract's defaults and the registry's convention, without training: the split from
declared shares or counts, the stages a variant loads, the variant check, the expected-scores path,
losses built from the config (a `--set` changes the loss; a paper that builds its own refuses one)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pytest

from liverseg.config import DataConfig, RunConfig, TrainConfig, override
from liverseg.errors import OptionError
from liverseg.registry import installed, paper
from liverseg.runner.paper import Paper, RunContext

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ToyConfig(RunConfig):
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    outputs: tuple[str, ...] = ("liver", "tumour")
    val_patients: float = 0.1
    test_patients: float = 3


class Toy(Paper):
    name, title, config_class, variants = "toy", "toy", ToyConfig, ("b", "whole")

    def get_config(self, profile):
        return ToyConfig(profile)

    def stages(self, ctx):
        return [self.stage(ctx, "a", lambda: None), self.stage(ctx, "b", lambda: None)]


def _table(n: int) -> pd.DataFrame:
    return pd.DataFrame({"case_id": [f"c{i:02d}" for i in range(n)], "tumour_mm3": [float(i % 3) for i in range(n)]})


def test_default_split_takes_shares_and_counts_and_stratifies_by_tumour():
    toy = Toy()
    split = toy.split(RunContext(ToyConfig("cpu", seed=1)), _table(20))
    assert (len(split["train"]), len(split["val"]), len(split["test"])) == (15, 2, 3)
    assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    tumour = {f"c{i:02d}" for i in range(20) if i % 3}
    assert all(set(split[k]) & tumour and set(split[k]) - tumour for k in ("train", "test"))
    assert toy.split(RunContext(ToyConfig("cpu", seed=2)), _table(20))["test"] != split["test"]
    assert toy.split(RunContext(ToyConfig("cpu")), _table(3)) is None  # too few: slice blocks


def test_an_unstratified_split_is_the_plain_seeded_patient_split_and_rows_say_where_they_come_from():
    from liverseg.data.splits import split_patients

    class Plain(Toy):
        stratify_split = False

    cfg, table = ToyConfig("cpu", seed=1, test_patients=0.3, val_patients=0.2), _table(20)
    plain = Plain().split(RunContext(cfg), table)
    want = split_patients(list(table.case_id), val_fraction=0.2, test_fraction=0.3, seed=1)
    assert all(plain[k] == want[k] for k in ("train", "val", "test")) and "stratified" not in plain["note"]
    strata = {c: v > 0 for c, v in zip(table.case_id, table.tumour_mm3)}
    stratified = split_patients(list(table.case_id), val_fraction=0.2, test_fraction=0.3, seed=1, stratify=strata)
    assert Toy().split(RunContext(cfg), table)["test"] == stratified["test"] != want["test"]
    ctx = RunContext(replace(cfg, dataset="lits"), split=plain)
    assert Plain().row_label(ctx) == "liverseg cpu on lits (6 test patients)"
    assert Plain().row_label(ctx, "3D Dice") == "liverseg cpu on lits (6 test patients, 3D Dice)"


def test_profiles_default_to_get_config_of_the_config_module():
    from experiments.li_dalunet import config as li_config

    li = paper("li_dalunet")
    assert li.get_config("cpu") == li_config.get_config("cpu") and "get_config" not in type(li).__dict__

    class NoProfiles(Paper):  # ToyConfig's module (this one) has no get_config
        name, config_class = "noprofiles", ToyConfig

    with pytest.raises(NotImplementedError, match="noprofiles: config_class's module has no get_config"):
        NoProfiles().get_config("cpu")


def test_stages_default_to_the_stages_module_of_the_package():
    import experiments.gong.stages as gong_stages

    gong = paper("gong")
    cfg = gong.get_config("smoke")
    assert [s.name for s in gong.stages(gong.context(cfg))] == [s.name for s in gong_stages.stages(cfg)]

    class NoStages(Paper):  # defined in tests/, which has no stages module
        name = "nostages"

    with pytest.raises(NotImplementedError, match=r"nostages: no stages module with stages\(cfg\) beside tests\."):
        NoStages().stages(RunContext(ToyConfig("cpu")))
    derived = type("Derived", (type(gong),), {})()  # a subclass defined here keeps Gong's stages
    assert [s.name for s in derived.stages(gong.context(cfg))] == [s.name for s in gong_stages.stages(cfg)]


def test_variant_stages_default_and_the_variant_check():
    toy, ctx = Toy(), RunContext(ToyConfig("cpu"))
    assert toy.variant_stages(ctx, "b") == ("b",) and toy.variant_stages(ctx, "whole") == ("a", "b")
    with pytest.raises(OptionError, match="toy has no variant 'c'; choose one of b, whole"):
        toy.predictor(ctx, "c")


def test_expected_scores_sit_beside_the_class_and_every_method_is_found_by_its_folder():
    assert Toy().expected_path == Path(__file__).with_name("expected_scores.json")
    folders = sorted(p.parent.name for p in (REPO / "experiments").glob("*/paper.py"))
    assert installed() == folders and "unet_baseline" in folders
    for name in folders:
        assert paper(name).expected_path == REPO / "experiments" / name / "expected_scores.json"


def test_a_set_of_the_loss_changes_the_loss_of_a_default_stage():
    from liverseg.nn.losses import DiceBCELoss, TverskyLoss

    toy = Toy()
    cfg = toy.get_config("cpu")
    assert isinstance(toy.stages(RunContext(cfg))[0].loss(), DiceBCELoss)
    assert isinstance(toy.stages(RunContext(override(cfg, ["train.loss=tversky"])))[0].loss(), TverskyLoss)


def test_li_trains_the_loss_its_config_names():
    from liverseg.nn.losses import DiceLoss

    spec = paper("li_dalunet")
    cfg = override(spec.get_config("smoke"), ["train.loss=dice"])
    unet = next(s for s in spec.stages(spec.context(cfg)) if s.name == "unet")
    assert type(unet.loss()) is DiceLoss


def test_gruber_refuses_a_loss_it_would_not_train():
    spec = paper("gruber")
    cfg = spec.get_config("smoke")
    assert all(s.train.loss == "bce" for s in spec.stages(spec.context(cfg)))
    with pytest.raises(OptionError, match="train.loss must stay 'bce'"):
        spec.stages(spec.context(override(cfg, ["liver_train.loss=dice"])))


def test_liu_names_mean_what_the_library_names_mean():
    from liverseg.nn.losses import DiceLoss
    from liverseg.nn.objectives import make_loss

    from experiments.liu_crunet.stages import make_loss as liu_loss

    cfg = paper("liu_crunet").get_config("smoke")
    for name in ("dice", "dice_squared", "bce"):
        ours, library = liu_loss(cfg, name), make_loss(name)
        assert type(ours) is type(library) and ours.get_config() == library.get_config(), name
    assert make_loss("dice_squared").get_config()["squared"] and isinstance(make_loss("dice"), DiceLoss)
    mdice = liu_loss(replace(cfg, mdice_beta=0.9), "mdice").get_config()
    assert mdice["beta"] == 0.9 and mdice["alpha"] == cfg.mdice_alpha
