"""The numbers Gong et al. report, for the report's "paper vs ours" tables."""

TITLE = "Gong et al., A U-Net based multi-scale feature extraction for liver tumour segmentation in CT images"

# Table 1: "Dice score for five different tumour segmentation method" (LiTS, tumour Dice per case).
PAPER_RESULTS = [
    {"method": "Dey, Hong [12]: Hybrid Cascaded Neural Network", "tumour_dice_per_case": 0.681},
    {"method": "He et al. [13]: Multi-scale Attention U-Net", "tumour_dice_per_case": 0.596},
    {"method": "Bellver et al. [14]: FCN with bounding box sampling", "tumour_dice_per_case": 0.590},
    {"method": "Vorontsov et al. [8]: Joint U-Net", "tumour_dice_per_case": 0.661},
    {"method": "Gong et al.: U-Net with multi-scale feature fusion (proposed)", "tumour_dice_per_case": 0.665},
]

# Section 3: "the accuracy of fine segmentation using the cropped image of the target area is about
# 12% higher than segmenting original scan directly" (relative, read as Dice_crop / Dice_whole - 1).
ABLATION = {"name": "fine stage on the tumour-centred crop vs on the whole slice", "relative_gain": 0.12}
