"""Gong et al. as the runner sees it: the numbers the paper reports, our rows beside them, and the
`Paper` (registered as `gong`)."""
from __future__ import annotations

from liverseg.runner.paper import Paper

from experiments.gong import data, predict
from experiments.gong.config import GongConfig

TITLE = "Gong et al., A U-Net based multi-scale feature extraction for liver tumour segmentation in CT images"

# Table 1: "Dice score for five different tumour segmentation method" (LiTS, tumour Dice per case).
TABLE_1 = [
    {"method": "Dey, Hong [12]: Hybrid Cascaded Neural Network", "tumour_dice_per_case": 0.681},
    {"method": "He et al. [13]: Multi-scale Attention U-Net", "tumour_dice_per_case": 0.596},
    {"method": "Bellver et al. [14]: FCN with bounding box sampling", "tumour_dice_per_case": 0.590},
    {"method": "Vorontsov et al. [8]: Joint U-Net", "tumour_dice_per_case": 0.661},
    {"method": "Gong et al.: U-Net with multi-scale feature fusion (proposed)", "tumour_dice_per_case": 0.665},
]

# Section 3: "the accuracy of fine segmentation using the cropped image of the target area is about
# 12% higher than segmenting original scan directly" (relative, read as Dice_crop / Dice_whole - 1).
ABLATION = {"name": "fine stage on the tumour-centred crop vs on the whole slice", "relative_gain": 0.12}
PAPER_ABLATION_ROW = {"method": "Gong et al. section 3: fine stage on the crop vs on the whole scan",
                      "relative_gain": ABLATION["relative_gain"]}
PAPER_ROWS = [*TABLE_1, PAPER_ABLATION_ROW]
# The proposed method's own number, for `liverseg compare` (Table 1, LiTS).
CLAIMED = {"data": "Gong Table 1: 20 LiTS test patients of 60 with tumour (section 3)",
           "tumour_dice_per_case": 0.665}
SCORES = ("tumour_dice_per_case", "tumour_dice_global", "liver_dice_per_case", "liver_dice_global")


def relative_gain(summary: dict) -> float | None:
    """Tumour Dice per case of the crop cascade over the whole-slice ablation, minus 1."""
    crop, whole = summary["crop"]["tumour_dice_per_case"], summary["whole"]["tumour_dice_per_case"]
    return float(crop / whole - 1.0) if whole else None


class Gong(Paper):
    name = "gong"
    title = TITLE
    config_class = GongConfig
    # 3: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = tuple(predict.VARIANTS)  # "crop" (the method) first: the default variant
    claimed = CLAIMED
    paper_rows = tuple(PAPER_ROWS)

    def split(self, ctx, table):
        return data.choose_split(table, ctx.cfg, ctx.cfg.seed)

    def variant_stages(self, ctx, variant):
        return ("coarse", predict.VARIANTS[variant])

    def predictor(self, ctx, variant):
        self.check_variant(variant)
        return predict.GongCascade.from_run(ctx.run_dir, ctx.cfg, variant)

    def our_rows(self, ctx, summary: dict) -> list[dict]:
        cfg, split = ctx.cfg, ctx.split
        crop, whole = summary["crop"], summary["whole"]
        ours = {"method": f"liverseg, profile {cfg.profile} on {cfg.dataset} ({len(split['test'])} test cases)",
                **{k: crop[k] for k in SCORES}}
        ablation = {"method": f"liverseg ablation: tumour Dice per case crop {crop['tumour_dice_per_case']:.3f} vs "
                              f"whole {whole['tumour_dice_per_case']:.3f}", "relative_gain": relative_gain(summary)}
        return [ours, ablation]

    def notes(self, ctx) -> list[str]:
        return ["relative_gain = tumour Dice per case of the cascade with the fine stage on the tumour-centred crop, "
                "divided by that of the same fine network trained and applied on whole slices, minus 1."]


PAPER = Gong()
