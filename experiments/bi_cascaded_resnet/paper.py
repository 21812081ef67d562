"""Bi et al. as the runner sees it: Table 2, our five rows beside it (liver and lesion Dice and Jaccard,
LiTS measures), the split of 2.1, and the `Paper` (registered as `bi_cascaded_resnet`)."""
from __future__ import annotations

import math

from liverseg.runner.paper import Paper
from liverseg.runner.reporting import side_by_side_evaluation

from experiments.bi_cascaded_resnet import predict
from experiments.bi_cascaded_resnet.config import TABLE_ORDER, VARIANT_TITLES, VARIANTS, BiConfig

TITLE = "Bi, Kim, Kumar, Feng, Automatic Liver Lesion Detection using Cascaded Deep Residual Networks"

# Table 2 (%, the 13 validation studies of LiTS): liver Dice, lesion Dice, liver Jaccard, lesion Jaccard
_TABLE_2 = {
    "vgg_fcn": (91.96, 29.88, 85.47, 19.65),
    "resnet": (95.27, 48.50, 91.17, 37.24),
    "cascade": (95.51, 49.83, 91.45, 38.59),
    "cascade_crf": (95.24, 31.65, 91.01, 23.86),
    "cascade_ms": (95.90, 50.01, 92.19, 38.79),
}
COLUMNS = ("liver_dice", "tumour_dice", "liver_jaccard", "tumour_jaccard")
# The multi-scale cascade, for `liverseg compare` (Table 2, the 13 validation studies of LiTS)
CLAIMED = {"data": "Bi Table 2: 13 LiTS validation studies", "liver_dice_per_case": 0.9590,
           "tumour_dice_per_case": 0.5001}
PAPER_ROWS = [{"method": f"Bi Table 2: {VARIANT_TITLES[v]}", **{k: x / 100.0 for k, x in zip(COLUMNS, _TABLE_2[v])}}
              for v in TABLE_ORDER]
# the CRF row is listed but not run: no fully connected 3D CRF package installs here (see README)
NOT_RUN = {"cascade_crf": "not run: no dense-CRF package builds on Python 3.11 / NumPy 2 (README)"}
PANEL_ORDER = ("vgg_fcn", "resnet", "cascade", "cascade_ms")  # Fig. 3's rows that run


def jaccard_of_dice(dice: float) -> float:
    """Global Jaccard from global Dice (same voxel counts): J = D / (2 - D)."""
    return dice / (2.0 - dice) if dice is not None and not math.isnan(dice) else math.nan


class Bi(Paper):
    name = "bi_cascaded_resnet"
    title = TITLE
    config_class = BiConfig
    # 2.1: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = VARIANTS  # "cascade_ms" first: the default variant
    claimed = CLAIMED
    paper_rows = tuple(PAPER_ROWS)
    # the lesion's guard on the smoke profile is its slice specificity: a few dozen steps at 48 px learn
    # no phantom lesion (lesion Dice 0 in every seed, a band that would reach zero); see README
    expected_keys = ("liver_dice_per_case", "liver_dice_global", "tumour_free_slice_specificity")
    predictor_class = predict.BiPredictor
    # split: the default, not stratified. 2.1: LiTS' 131 training studies split by patient, 118 to train and
    # 13 to score (seeded); CHOICE: `cfg.val_patients` for the checkpoint monitor (the paper keeps the last
    # epoch of its fixed schedule)
    stratify_split = False

    def extra_evaluation(self, ctx):
        """Fig. 3 on the median test patient of the default variant, at its slice with the most lesion."""
        titles = {v: VARIANT_TITLES[v] for v in PANEL_ORDER}
        return side_by_side_evaluation(ctx, titles, VARIANTS[0], "fig3_side_by_side", "Fig. 3")

    def variant_stages(self, ctx, variant):
        return (predict.STAGE_OF[variant],)

    def our_rows(self, ctx, summary: dict) -> list[dict]:
        label = self.row_label(ctx)
        rows = []
        for variant in TABLE_ORDER:
            if variant in NOT_RUN:
                rows.append({"method": f"{label}: {VARIANT_TITLES[variant]} ({NOT_RUN[variant]})"})
                continue
            s = summary[variant]
            slice_rows = summary.get("extra", {}).get("rows", {}).get(variant, {})
            rows.append({
                "method": f"{label}: {VARIANT_TITLES[variant]}",
                "liver_dice": s["liver_dice_per_case"], "tumour_dice": s["tumour_dice_per_case"],
                "liver_jaccard": s["liver_jaccard"], "tumour_jaccard": s["tumour_jaccard"],
                "liver_dice_global": s["liver_dice_global"], "tumour_dice_global": s["tumour_dice_global"],
                "liver_jaccard_global": jaccard_of_dice(s["liver_dice_global"]),
                "tumour_jaccard_global": jaccard_of_dice(s["tumour_dice_global"]),
                **{k: s.get(k) for k in ("liver_voe", "liver_rvd", "liver_assd", "liver_msd",
                                         "tumour_voe", "tumour_rvd", "tumour_assd", "tumour_msd")},
                **slice_rows,
            })
        return rows

    def notes(self, ctx) -> list[str]:
        cfg, split = ctx.cfg, ctx.split
        sizes = ", ".join(str(s) for s in cfg.test_sizes)
        return [
            "liver_dice / tumour_dice / *_jaccard = mean over the test volumes (Dice per case, the LiTS challenge's "
            "figure; the paper does not say which of per case and global its Table 2 is); *_global pools the voxels "
            "of all test volumes. The LiTS surface measures (ASSD, MSD in mm) and VOE / RVD are per case, averaged.",
            "No ImageNet weights: every network starts from He initialisation (the paper fine-tunes ImageNet "
            "ResNet-38 and VGG16 models); `--set weights=FILE` loads a user's ResNet-38 weights. Expect lower scores, "
            "above all for the lesions and the VGG-FCN.",
            "ResNet and both cascade rows give the liver (Y^v) and the lesion (Y^t) maps from one network: Table 1's "
            "two output channels as two sigmoids. The cascade's second ResNet reads the slice and both maps of the "
            "first (frozen) ResNet at training and test time (eq. 3).",
            f"Multi-scale fusion: whole slices resized to {sizes} px, probabilities averaged (the paper: 512 .. 640 "
            "on 512 px slices). Every row fills holes per axial slice; nothing else.",
            "Cascaded ResNet (w 3D-CRF): not run. The fully connected 3D CRF of the paper (Kamnitsas et al.'s "
            "DenseCRF3D) is on PyPI only as SimpleCRF 0.2.1.1, whose C++ extension does not compile against "
            "NumPy 2 (NPY_IN_ARRAY is gone); pydensecrf has no PyPI release. The paper's row is shown; it lowered "
            "the lesion Dice from 49.83 to 31.65 %.",
            "tumour_free_slice_specificity = share of the test slices with liver and no lesion on which no lesion "
            "is predicted (false positives of the lesion channel).",
            f"Split: {split.get('note', '')}. The paper trains on 118 LiTS studies and scores 13.",
        ]


PAPER = Bi()
