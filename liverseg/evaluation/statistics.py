"""Per-case figures of one label volume (what `liverseg predict --statistics` writes).

    liver_volume_ml    voxels with label >= 1 (the liver including its tumours, the LiTS liver target) in mL
    tumour_volume_ml   voxels with label 2, in mL
    tumour_count       3D connected components of label 2 (face connectivity, as the lesion detection)
    tumour_burden      tumour_volume / liver_volume (0 without liver)
    liver_mean_hu      mean CT value over label >= 1 (NaN without liver or without a CT)
    tumour_mean_hu     mean CT value over label 2 (NaN without tumour or without a CT)

One mL is 1000 mm^3; the voxel volume is the product of the spacing in mm.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

COLUMNS = ("liver_volume_ml", "tumour_volume_ml", "tumour_count", "tumour_burden", "liver_mean_hu",
           "tumour_mean_hu")


def label_statistics(labels, spacing, image=None) -> dict:
    """The `COLUMNS` of `labels` (0/1/2) with voxel `spacing` (mm per axis); `image` (same shape, HU)
    gives the mean CT values."""
    labels = np.asarray(labels)
    if image is not None and np.shape(image) != labels.shape:
        raise ValueError(f"image shape {np.shape(image)} differs from the label shape {labels.shape}")
    voxel_ml = float(np.prod(np.asarray(spacing, dtype=np.float64))) / 1000.0
    liver, tumour = labels >= 1, labels == 2
    n_liver, n_tumour = int(liver.sum()), int(tumour.sum())
    _, count = ndimage.label(tumour)  # default structure: face connectivity

    def mean_hu(mask, n):
        if image is None or n == 0:
            return math.nan
        return float(np.asarray(image, dtype=np.float64)[mask].mean())

    return {
        "liver_volume_ml": n_liver * voxel_ml,
        "tumour_volume_ml": n_tumour * voxel_ml,
        "tumour_count": int(count),
        "tumour_burden": n_tumour / n_liver if n_liver else 0.0,
        "liver_mean_hu": mean_hu(liver, n_liver),
        "tumour_mean_hu": mean_hu(tumour, n_tumour),
    }


__all__ = ["COLUMNS", "label_statistics"]
