"""Small LiTS-style label volumes for the evaluation tests: boxes of a label, written as NIfTI."""
from __future__ import annotations

import nibabel as nib
import numpy as np

SPACING = (0.8, 0.8, 2.0)


def write(path, labels, spacing=SPACING, affine=None):
    """`labels` as uint8 NIfTI at `path`, with `affine` or a diagonal one of `spacing`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*spacing, 1.0]) if affine is None else affine
    nib.Nifti1Image(labels.astype(np.uint8), affine).to_filename(str(path))
    return path


def block(shape, lo, hi, value=1, base=None):
    """`base` (or zeros of `shape`) with the box lo..hi set to `value`."""
    out = np.zeros(shape, np.uint8) if base is None else base.copy()
    out[tuple(slice(a, b) for a, b in zip(lo, hi))] = value
    return out
