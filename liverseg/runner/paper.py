"""The contract of a method: a `Paper` subclass, instantiated as `PAPER` in `experiments/<name>/paper.py`.

A method declares what is its own (name, title, config, variants, training stages) and overrides only
the hooks whose defaults do not fit it. Every hook takes one `RunContext` (config, run directory,
slice cache, split), so the runner, `liverseg compare`, `liverseg predict` and the benchmarks call
each one the same way. The smallest complete method (see README, "Adding a method")::

    class Baseline(Paper):
        name, title, variants = "baseline", "A plain U-Net", ("unet",)
        config_class = BaselineConfig  # its module's get_config(profile) gives the profiles

        def stages(self, ctx):
            return [self.stage(ctx, "unet", lambda: build_unet(ctx.cfg))]

    PAPER = Baseline()

Defaults: the profiles of `config_class`'s module (`get_config`); the stages of the package's
`stages.stages(cfg)`; a patient split from `cfg.val_patients`
/ `cfg.test_patients` (shares, or patient counts when >= 1), stratified by tumour presence unless
`stratify_split` is False; a variant's predictor loads the best checkpoint of its stage into
`predictor_class` (the shared slice predictor); `stage()` builds a stage's loss and metrics from
`cfg.train`, so `--set train.loss=...` changes what is trained; one report row per variant, each
beginning with `row_label()`; the stored scores in `expected_scores.json` beside the class's module.
"""
from __future__ import annotations

import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from liverseg.config import PROFILES
from liverseg.errors import OptionError
from liverseg.io.run_layout import RunDir
from liverseg.runner.stage import Stage, training_stage

# the scores a tumour method is checked on (a liver-only method narrows them)
DEFAULT_EXPECTED_KEYS = ("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global")
ROW_COLUMNS = ("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global",
               "liver_assd")


@dataclass
class RunContext:
    """What a hook may read: the resolved config and, once they exist, the run directory, the slice
    cache (`liverseg.data.cache.SliceCache`) and the split (`{"train", "val", "test": case ids}`)."""

    cfg: Any
    run_dir: Path | None = None
    cache: Any = None
    split: dict | None = None


class Paper:
    """A method as the runner sees it. Class attributes describe it; methods are its hooks."""

    name: str = ""
    title: str = ""
    config_class: type | None = None
    profiles: tuple[str, ...] = PROFILES
    datasets: tuple[str, ...] = ("phantom", "lits", "msd", "ircadb")
    variants: tuple[str, ...] = ()  # the default variant (the method itself) first
    # the paper's own table rows, and its headline numbers under our metric keys:
    # {"data": where they were measured, "<key>": value}
    paper_rows: tuple[dict, ...] = ()
    claimed: dict = {}
    structures: tuple[str, ...] = ("liver", "tumour")  # ("liver",) for a liver-only method
    expected_keys: tuple[str, ...] = DEFAULT_EXPECTED_KEYS
    overlay_column: str = "tumour_dice"  # the per-case score that picks the report's overlays
    # below this many patients the runner trains on all of them and validates on held-out slice blocks
    min_patients_for_split: int = 4
    stratify_split: bool = True  # the default split stratifies the patients by tumour presence
    predictor_class: type | None = None  # the default predictor's class (the shared slice predictor)

    # ---- what every method has: found by convention in its package, or overridden ---------------
    def get_config(self, profile: str):
        """The resolved config of a profile (`paper`, `cpu`, `smoke`), an instance of `config_class`.
        Default: `get_config(profile)` of `config_class`'s module (`liverseg.config.profile_getter`)."""
        module = importlib.import_module(self.config_class.__module__) if self.config_class else None
        if not callable(getattr(module, "get_config", None)):
            raise NotImplementedError(f"{self.name}: config_class's module has no get_config(profile); "
                                      "override Paper.get_config")
        return module.get_config(profile)

    def stages(self, ctx: RunContext) -> list[Stage]:
        """The training stages, in order. Default: `stages(cfg)` of the `stages` module of the class's
        package (`experiments/<name>/stages.py`)."""
        for klass in type(self).__mro__:  # a subclass defined elsewhere keeps its paper's stages
            if klass is Paper:
                break
            package = klass.__module__.rpartition(".")[0]
            if package and importlib.util.find_spec(f"{package}.stages") is not None:
                return importlib.import_module(f"{package}.stages").stages(ctx.cfg)
        raise NotImplementedError(f"{self.name}: no stages module with stages(cfg) beside {type(self).__module__}; "
                                  "override Paper.stages")

    # ---- hooks with defaults ---------------------------------------------------------------------
    def split(self, ctx: RunContext, table) -> dict | None:
        """Patients to train, validate and test (`cfg.val_patients`, `cfg.test_patients`), stratified by
        tumour presence unless `stratify_split` is False; None when the data hold fewer than
        `min_patients_for_split` patients (the runner then holds out slice blocks)."""
        from liverseg.data.splits import split_patients

        n = len(table)
        if n < self.min_patients_for_split:
            return None
        val, test = (_share(getattr(ctx.cfg, key), n) for key in ("val_patients", "test_patients"))
        strata = {c: ("tumour" if v > 0 else "none") for c, v in zip(table.case_id, table.tumour_mm3)}
        parts = split_patients(list(table.case_id), val_fraction=val, test_fraction=test, seed=ctx.cfg.seed,
                               stratify=strata if self.stratify_split else None)
        how = ", stratified by tumour presence" if self.stratify_split else ""
        note = f"{len(parts['train'])} / {len(parts['val'])} / {len(parts['test'])} patients (seed {ctx.cfg.seed}{how})"
        return {"train": parts["train"], "val": parts["val"], "test": parts["test"], "note": note}

    def variant_stages(self, ctx: RunContext, variant: str) -> tuple[str, ...]:
        """The stages whose checkpoints a variant's predictor loads (the runner adds the stages they
        warm-start from): the stage named like the variant, else every stage."""
        names = tuple(s.name for s in self.stages(ctx))
        return (variant,) if variant in names else names

    def predictor(self, ctx: RunContext, variant: str):
        """A callable Volume -> Prediction: the best checkpoint of the variant's (last) stage in
        `predictor_class`."""
        from liverseg.io.checkpoints import load_model

        self.check_variant(variant)
        if self.predictor_class is None:
            raise NotImplementedError(f"{self.name}: set predictor_class or override predictor()")
        stage = self.variant_stages(ctx, variant)[-1]
        return self.predictor_class(ctx.cfg, load_model(RunDir(ctx.run_dir).checkpoint(stage)), variant)

    def calibrate(self, ctx: RunContext) -> None:
        """After training, before inference (e.g. thresholds chosen on validation slices)."""

    def extra_evaluation(self, ctx: RunContext) -> tuple[dict, list] | None:
        """After the volume evaluation: (summary, figures) of the method's own measures, or None.
        `summary["scores"]` joins the scores checked against `expected_scores.json`; the whole
        summary is `summary["extra"]` for `our_rows`."""
        return None

    def our_rows(self, ctx: RunContext, summary: dict) -> list[dict]:
        """Rows of the report table beside `paper_rows`: one per variant."""
        label = self.row_label(ctx)
        return [{"method": f"{label}: {v}", **{k: summary[v].get(k) for k in ROW_COLUMNS}} for v in self.variants]

    def notes(self, ctx: RunContext) -> list[str]:
        """Paragraphs of the report's notes."""
        return []

    # ---- helpers ---------------------------------------------------------------------------------
    def stage(self, ctx: RunContext, name: str, build_model, sources=None, train=None, augment=None,
              **more) -> Stage:
        """A stage (`liverseg.runner.stage.training_stage`) whose loss and metrics are built from its `train`
        config (default `cfg.train`): `train.loss` names a loss of `liverseg.nn.objectives`, `train.metrics`
        its metrics, scored on `cfg.outputs`."""
        cfg = ctx.cfg
        return training_stage(name, build_model, cfg.train if train is None else train,
                              getattr(cfg, "outputs", ("liver",)), sources or (cfg.data,),
                              augment=getattr(cfg, "augment", None) if augment is None else augment, **more)

    def row_label(self, ctx: RunContext, detail: str = "") -> str:
        """"liverseg <profile> on <dataset> (<n> test patients[, detail])": how our report rows begin."""
        more = f", {detail}" if detail else ""
        return f"liverseg {ctx.cfg.profile} on {ctx.cfg.dataset} ({len(ctx.split['test'])} test patients{more})"

    def check_variant(self, variant: str) -> None:
        if variant not in self.variants:
            raise OptionError(f"{self.name} has no variant {variant!r}; choose one of {', '.join(self.variants)}")

    def context(self, cfg, run_dir=None, cache=None, split=None) -> RunContext:
        return RunContext(cfg, None if run_dir is None else Path(run_dir), cache, split)

    @property
    def default_variant(self) -> str:
        return self.variants[0]

    @property
    def expected_path(self) -> Path:
        """`expected_scores.json` beside the module that defines the class."""
        return Path(inspect.getfile(type(self))).with_name("expected_scores.json")

    def __repr__(self) -> str:
        return f"<Paper {self.name}>"


def _share(value: float, n: int) -> float:
    """A share of the patients (< 1) as it is; a patient count (>= 1) as its share of `n`, at most 0.45
    so that training keeps patients."""
    return float(value) if value < 1 else min(float(value) / n, 0.45)


__all__ = ["Paper", "RunContext"]
