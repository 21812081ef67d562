"""Li et al. as the runner sees it: the numbers of Table I, where they come from, our four rows beside
them, and the `Paper` (registered as `li_dalunet`)."""
from __future__ import annotations

from liverseg.runner.paper import Paper
from liverseg.runner.reporting import side_by_side_evaluation

from experiments.li_dalunet import predict
from experiments.li_dalunet.config import TABLE_ORDER, VARIANT_TITLES, VARIANTS, LiConfig

TITLE = "Li, Pan, Lin, Deep Learning-Based Liver Cancer Segmentation Using U-net (DALU-Net)"

# Table I, "Dice coefficient". NOTES.md: the four values and names are those of the ablation of
# Jeong et al., Sci. Rep. 12 (2022), Table 3: whole-liver Dice of a 3D network on 191 private
# living-donor CTs. They are not a measurement on 3D-IRCADb, and not of these 2D networks.
_SOURCE = "Li Table I (= Jeong et al. 2022 Table 3: 3D, 191 private donor CTs)"
TABLE_I = {"unet": 0.822, "aunet": 0.852, "aunet_ds": 0.887, "dalunet": 0.899}
PAPER_ROWS = [{"method": f"{_SOURCE}: {VARIANT_TITLES[v]}", "liver_dice": TABLE_I[v]} for v in TABLE_ORDER]
# DALU-Net's Table I value, for `liverseg compare`; NOTES.md: it is Jeong et al.'s 3D liver Dice.
CLAIMED = {"data": _SOURCE, "liver_dice_per_case": TABLE_I["dalunet"]}
COLUMNS = ("liver_dice_global", "tumour_dice_per_case", "tumour_dice_global", "liver_assd")


def parameter_counts(cfg) -> dict[str, int]:
    """Trainable and frozen weights of each Table I network at `cfg`'s size (they do not depend on the
    slice size)."""
    from experiments.li_dalunet.model import build_variant

    return {variant: int(build_variant(cfg, variant).count_params()) for variant in TABLE_ORDER}


def capacity_note(cfg) -> str:
    n = parameter_counts(cfg)
    return (f"Capacity: parameters U-Net {n['unet']:,}, AU-Net {n['aunet']:,}, AU-Net w/DS {n['aunet_ds']:,}, "
            f"DALU-Net {n['dalunet']:,} at this profile. The last ablation step (AU-Net w/DS -> DALU-Net) "
            f"adds ConvLSTM fusion and the dense bottleneck at once and multiplies the parameters by "
            f"{n['dalunet'] / n['aunet_ds']:.2f}: its gain mixes the two effects (and capacity), which Table I "
            "cannot separate; an AU-Net w/DS with the dense bottleneck alone would (not trained here).")


class Li(Paper):
    name = "li_dalunet"
    title = TITLE
    config_class = LiConfig
    # III-A: 3D-IRCADb-01. LiTS (and MSD Task03_Liver, LiTS repackaged) holds those 20 patients too.
    datasets = ("phantom", "ircadb", "lits", "msd")
    variants = VARIANTS  # "dalunet" first: the default variant
    claimed = CLAIMED
    paper_rows = tuple(PAPER_ROWS)
    overlay_column = "liver_dice"
    expected_keys = ("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global",
                     "tumour_free_slice_specificity")
    predictor_class = predict.LiPredictor
    # split: the default, III-A gives none. CHOICE: `cfg.val_patients` / `cfg.test_patients` patients
    # (3 / 3 of 20: 14 / 3 / 3), seeded, stratified by tumour presence

    def extra_evaluation(self, ctx):
        """Fig. 8 on the median test patient of the default variant, at its slice with the most tumour."""
        titles = {v: VARIANT_TITLES[v] for v in TABLE_ORDER}
        return side_by_side_evaluation(ctx, titles, "dalunet", "fig8_side_by_side", "Fig. 8")

    def our_rows(self, ctx, summary: dict) -> list[dict]:
        label = self.row_label(ctx, "3D Dice per patient")
        rows = []
        for variant in TABLE_ORDER:
            values = summary[variant]
            slice_rows = summary.get("extra", {}).get("rows", {}).get(variant, {})
            rows.append({"method": f"{label}: {VARIANT_TITLES[variant]}",
                         "liver_dice": values["liver_dice_per_case"], **{k: values.get(k) for k in COLUMNS},
                         **slice_rows})
        return rows

    def notes(self, ctx) -> list[str]:
        cfg = ctx.cfg
        return [
            capacity_note(cfg),
            "Li et al.'s Table I is not their own measurement: its four numbers are the whole-liver Dice of the "
            "ablation in Jeong et al. (Sci. Rep. 2022, Table 3), a 3D network on 191 private living-donor CT "
            "volumes. Our rows are the four 2D networks trained here on one split and scored by one scorer; the "
            "paper's column is shown for reference only and compares with a different task and data.",
            "liver_dice = Dice per patient, 3D, over the test patients (liver including tumour, label >= 1), the "
            "quantity of Table I; tumour is reported too (the paper reports none). "
            "tumour_free_slice_specificity = share of the test slices with liver and no tumour on which no tumour "
            "is predicted (false positives of the tumour channel).",
            f"U-Net: valid padding, inference by overlap-tile on a {cfg.net.unet_tile} px core with mirror padding; "
            "AU-Net, AU-Net w/DS and DALU-Net: same padding. Deep-supervision heads are trained with weights "
            f"{list(cfg.net.ds_weights[:cfg.net.depth])} (main first) and only the main head predicts.",
            "The 20 3D-IRCADb-01 patients are also LiTS training volumes (about 27-48): never score a model trained "
            "on LiTS on 3D-IRCADb; `liverseg predict` warns when its input CT was in the run's training data.",
        ]


PAPER = Li()
