"""The one display convention of every axial slice figure (report overlays, side-by-side panels, the
notebooks): radiological, for slices of the canonical RAS layout of `liverseg.io.volumes.Volume`
(nibabel's RAS+: x grows towards the patient's Right, y towards Anterior).

`radiological(slice_xy)` turns an (X, Y) slice into the image to draw with `imshow` (default
origin "upper"): anterior at the top, the patient's right on the image's left, as a radiologist
reads a CT. `orientation_markers(ax)` writes R / L on the left / right edge and A / P on the top /
bottom edge. `show_slice` draws a CT slice with truth and prediction contours in this convention.
"""
from __future__ import annotations

import numpy as np

TRUTH_COLOUR, PRED_COLOUR = "lime", "red"


def radiological(slice_xy: np.ndarray) -> np.ndarray:
    """(X, Y) canonical RAS slice -> (rows, columns) image: row 0 most anterior, column 0 the patient's right."""
    slice_xy = np.asarray(slice_xy)
    if slice_xy.ndim < 2:
        raise ValueError(f"expected an (X, Y[, ...]) slice, got shape {slice_xy.shape}")
    return np.swapaxes(slice_xy, 0, 1)[::-1, ::-1]


def orientation_markers(ax, colour: str = "yellow", fontsize: int = 8) -> None:
    """R / L at the left / right edge, A / P at the top / bottom edge of an axial image drawn with
    `radiological`."""
    style = dict(transform=ax.transAxes, color=colour, fontsize=fontsize, fontweight="bold")
    ax.text(0.02, 0.5, "R", ha="left", va="center", **style)
    ax.text(0.98, 0.5, "L", ha="right", va="center", **style)
    ax.text(0.5, 0.98, "A", ha="center", va="top", **style)
    ax.text(0.5, 0.02, "P", ha="center", va="bottom", **style)


def show_ct(ax, ct_slice: np.ndarray, window=(-100, 200)) -> None:
    """The (X, Y) CT slice in grey, HU clipped to `window`, radiologically, with the markers."""
    lo, hi = window
    ax.imshow(radiological(np.clip(np.asarray(ct_slice, dtype=float), lo, hi)), cmap="gray", vmin=lo, vmax=hi,
              interpolation="nearest")
    orientation_markers(ax)
    ax.set_axis_off()


def contour(ax, mask_xy: np.ndarray, colour: str, style: str = "solid") -> bool:
    """The outline of an (X, Y) mask in the same convention; False (nothing drawn) for an empty or full mask."""
    shown = radiological(np.asarray(mask_xy, dtype=float))
    if shown.min() == shown.max():
        return False
    ax.contour(shown, levels=[0.5], colors=colour, linestyles=style, linewidths=1.0)
    return True


def show_slice(ax, ct_slice: np.ndarray, truth=None, pred=None, title: str = "", window=(-100, 200)):
    """CT slice (X, Y) with liver (solid) and tumour (dashed) contours of the truth (green) and the
    prediction (red), radiologically with R / L / A / P markers; returns `ax`."""
    show_ct(ax, ct_slice, window)
    for labels, colour in ((truth, TRUTH_COLOUR), (pred, PRED_COLOUR)):
        if labels is not None:
            labels = np.asarray(labels)
            contour(ax, labels >= 1, colour, "solid")
            contour(ax, labels == 2, colour, "dashed")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


__all__ = ["radiological", "orientation_markers", "show_ct", "contour", "show_slice", "TRUTH_COLOUR",
           "PRED_COLOUR"]
