"""Liu et al. as the runner sees it: Table I, our rows beside it (LiTS measures of the liver, per case
and mean), and the `Paper` (registered as `liu_crunet`)."""
from __future__ import annotations

from liverseg.runner.paper import Paper

from experiments.liu_crunet import figures, predict
from experiments.liu_crunet.config import ALL_COMPONENTS, TABLE_ORDER, VARIANT_TITLES, VARIANTS, LiuConfig
from experiments.liu_crunet.config import variant_stage

TITLE = "Liu et al., CR-U-Net: Cascaded U-Net with Residual Mapping for Liver Segmentation in CT Images"

# Table I (LiTS, ten-fold cross-validation): DICE (%), VOE, RVD, ASSD (mm), MSD (mm). NOTES.md: the VOE
# column is inconsistent with the Dice column (93.27 % implies VOE 0.126); shown, not cross-checked.
_TABLE_I = [
    ("U-Net [12]", "unet", 93.27, 0.076, 0.045, 6.728, 34.378),
    ("FCN [11]+CRF", None, 94.35, 0.088, 0.082, 5.917, 32.322),
    ("Liu Z et al. [14]", None, 94.80, None, None, None, None),
    ("Han X [16]", None, 96.25, 0.023, 0.023, 3.669, 28.178),
    ("R-U-Net", "runet", 95.76, 0.042, 0.043, 4.473, 28.815),
    ("CR-U-Net a", "crunet_a", 96.51, 0.036, 0.036, 4.049, 27.493),
    ("CR-U-Net b", "crunet_b", 96.52, 0.039, 0.039, 3.910, 27.830),
    ("CR-U-Net c", "crunet_c", 95.42, 0.033, 0.039, 7.447, 33.513),
    ("CR-U-Net d", "crunet_d", 97.16, 0.023, 0.020, 3.099, 25.628),
]
COLUMNS = ("liver_dice", "liver_voe", "liver_rvd", "liver_assd", "liver_msd")
# CR-U-Net d, for `liverseg compare` (Table I, LiTS, ten-fold cross-validation)
CLAIMED = {"data": "Liu Table I: LiTS, ten-fold cross-validation (liver only)", "liver_dice_per_case": 0.9716,
           "liver_voe": 0.023, "liver_rvd": 0.020, "liver_assd": 3.099, "liver_msd": 25.628}


def _paper_row(name, variant, *values) -> dict:
    dice, voe, rvd, assd, msd = values
    note = "" if variant else " (not reproduced)"
    return {"method": f"Liu Table I: {name}{note}", "liver_dice": dice / 100.0, "liver_voe": voe,
            "liver_rvd": rvd, "liver_assd": assd, "liver_msd": msd}


PAPER_ROWS = [_paper_row(*row) for row in _TABLE_I]


class Liu(Paper):
    name = "liu_crunet"
    title = TITLE
    config_class = LiuConfig
    # III-A: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = VARIANTS  # "crunet_d" first: the default variant
    claimed = CLAIMED
    structures = ("liver",)  # II: the liver only
    paper_rows = tuple(PAPER_ROWS)
    overlay_column = "liver_dice"
    expected_keys = ("liver_dice_per_case", "liver_dice_global")
    predictor_class = predict.LiuPredictor
    extra_evaluation = staticmethod(figures.extra_evaluation)
    # split: the default, not stratified (the cpu and smoke profiles; the paper profile runs III-B's ten
    # folds, `cfg.folds`). CHOICE: `cfg.test_patients` of the patients to test, `cfg.val_patients` for the
    # checkpoint
    stratify_split = False

    def variant_stages(self, ctx, variant):
        return (variant_stage(variant),)

    def our_rows(self, ctx, summary: dict) -> list[dict]:
        label = self.row_label(ctx)
        abs_rvd = summary.get("extra", {}).get("liver_rvd_abs", {})
        order = [*TABLE_ORDER, *(f"{v}{ALL_COMPONENTS}" for v in ("crunet_b", "crunet_d"))]
        return [{"method": f"{label}: {VARIANT_TITLES[v]}", "liver_dice": summary[v]["liver_dice_per_case"],
                 **{k: summary[v].get(k) for k in COLUMNS[1:3]}, "liver_rvd_abs": abs_rvd.get(v),
                 **{k: summary[v].get(k) for k in COLUMNS[3:]}, "liver_dice_global": summary[v]["liver_dice_global"]}
                for v in order if v in summary]

    def notes(self, ctx) -> list[str]:
        cfg = ctx.cfg
        return [
            "Liu et al. segment the liver only: every score here is the liver's (label >= 1), with the LiTS "
            "measures per test patient, averaged (DICE = Dice per case; VOE, RVD as fractions; ASSD, MSD in mm).",
            "Rows FCN+CRF, Liu Z et al. and Han X are the paper's numbers only (not reproduced here).",
            "liver_rvd = the signed mean over patients of (|P| - |G|) / |G|; liver_rvd_abs = the mean of its "
            "magnitude. Table I's RVD values are all positive: compare them with liver_rvd_abs.",
            "Every row of ours keeps the liver's largest 3D connected component (our post-processing, not the "
            "paper's); II-A argues the intermediate processing instead of such a step, so rows b and d are also "
            "given with every component kept ('every connected component kept').",
            "Table I's VOE column does not follow from its Dice column (Dice 93.27 % means VOE 0.126, not 0.076): "
            "compare Dice, ASSD and MSD.",
            f"Cascades: level 2 reads the CT and level 1's mask (sigmoid > {cfg.level1_threshold}, then opening "
            f"and closing with a disk of radius {cfg.morphology_radius}; b: the thresholded mask without them). "
            "Level 1 is the R-U-Net row's network (c: its own level 1 trained with the Dice loss), frozen.",
            "The paper's figures come from ten-fold cross-validation on LiTS: the paper profile runs the ten folds "
            "(`liverseg reproduce liu_crunet --profile paper`, folds.csv and folds_summary.csv beside them); this run "
            "scores one split.",
        ]


PAPER = Liu()
