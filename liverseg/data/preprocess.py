"""Per-slice intensity recipe (HU window, denoise, smooth, histogram equalisation, resize).

A paper's recipe is a `liverseg.config.PreprocessConfig`; `preprocess_slices` applies it to a whole
canonical volume and is used both when the slice cache is written (`liverseg prep`) and at inference
time, so it never looks at labels. Every step works per axial slice (in-plane only):

    hu (x, y, z) --transpose--> (z, x, y) --window--> [0, 1] --denoise--> --smooth--> --equalize--> --resize--> (Z, S, S)

Choices, each fixed here so that a cache and an inference run see the same numbers:

- window: HU clipped to [lo, hi] and scaled linearly to [0, 1].
- median denoise: exact median with replicated borders; `cv2.medianBlur` on float32 for kernels 3 and 5
  (fast and exact), `scipy.ndimage.median_filter(mode="nearest")` for other sizes (same result, slower).
- bilateral denoise: `cv2.bilateralFilter` on float32, diameter `size`, colour sigma 0.1 (in [0, 1]
  units, i.e. 10% of the window: 30 HU for a 300 HU window), spatial sigma `size / 2` pixels.
- smoothing: Gaussian, `cv2.GaussianBlur` with replicated borders, kernel width 2 * ceil(4 sigma) + 1.
- equalisation works on 256 levels (the slice is quantised with `round(255 * v)`):
  "global" is the classic histogram equalisation (as `cv2.equalizeHist`): level i maps to
  (cdf(i) - cdf(min)) / (N - cdf(min)), so the lowest level present (the air / fat plateau below the
  window, often most of the slice) stays at 0 instead of being lifted to the plateau's share of the
  pixels, and the remaining levels spread over [0, 1]; a constant slice is returned unchanged.
  "clahe" is `cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))` (OpenCV's defaults, as in
  skimage's usual 1/8-of-the-image tiles); pixels at level 0 (at or below the window floor) are kept at
  0 so the background plateau is not turned into grey noise by the redistributed clipped counts.
  Both outputs are multiples of 1/255 in [0, 1] and monotone in the input within a slice (global) or
  tile (CLAHE).
- resize: square S x S per slice (non-square slices are stretched); images use `cv2.INTER_AREA` when
  shrinking (averages the covered pixels: no aliasing) and `cv2.INTER_LINEAR` when enlarging; labels
  use `cv2.INTER_NEAREST_EXACT` (pixel-centre aligned nearest neighbour, keeps the label set).
"""
from __future__ import annotations

import cv2
import numpy as np
import scipy.ndimage as ndi

from liverseg.config import PreprocessConfig, config_hash
from liverseg.errors import OptionError

DENOISE_METHODS = ("none", "median", "bilateral")
EQUALIZE_METHODS = ("none", "global", "clahe")
BILATERAL_SIGMA_COLOR = 0.1
CLAHE_CLIP_LIMIT = 2.0
CLAHE_TILES = (8, 8)
LEVELS = 256


def _as_stack(slices) -> np.ndarray:
    arr = np.asarray(slices, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"expected slices (Z, H, W), got shape {arr.shape}")
    return arr


def window(hu, lo: float, hi: float) -> np.ndarray:
    """Clip HU to [lo, hi] and scale linearly to [0, 1] (float32)."""
    lo, hi = float(lo), float(hi)
    if not hi > lo:
        raise OptionError(f"HU window ({lo}, {hi}): the upper bound must be above the lower bound")
    out = np.asarray(hu, dtype=np.float32) - np.float32(lo)
    out *= np.float32(1.0 / (hi - lo))
    return np.clip(out, 0.0, 1.0, out=out)


def denoise(slices01, method: str, size: int = 3) -> np.ndarray:
    """Per-slice denoising of (Z, H, W) float images in [0, 1]: "none", "median" or "bilateral"."""
    if method not in DENOISE_METHODS:
        raise OptionError(f"denoise {method!r}: choose one of {', '.join(DENOISE_METHODS)}")
    arr = _as_stack(slices01)
    if method == "none" or size <= 1:
        return arr
    size = int(size)
    if method == "median":
        if size % 2 == 0:
            raise OptionError(f"median denoise size {size}: must be odd")
        if size in (3, 5):
            return np.stack([cv2.medianBlur(np.ascontiguousarray(s), size) for s in arr])
        return ndi.median_filter(arr, size=(1, size, size), mode="nearest")
    sigma_space = max(size / 2.0, 0.5)
    return np.stack([cv2.bilateralFilter(np.ascontiguousarray(s), size, BILATERAL_SIGMA_COLOR, sigma_space,
                                         borderType=cv2.BORDER_REPLICATE) for s in arr])


def smooth(slices01, sigma: float) -> np.ndarray:
    """In-plane Gaussian smoothing of each slice (sigma in pixels; 0 leaves the slices as they are)."""
    arr = _as_stack(slices01)
    if sigma <= 0:
        return arr
    ksize = 2 * int(np.ceil(4.0 * sigma)) + 1
    return np.stack([cv2.GaussianBlur(np.ascontiguousarray(s), (ksize, ksize), sigma,
                                      borderType=cv2.BORDER_REPLICATE) for s in arr])


def _to_levels(arr: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(arr, 0.0, 1.0) * (LEVELS - 1)).astype(np.uint8)


def _equalize_global(levels: np.ndarray) -> np.ndarray:
    """Histogram equalisation of each (H, W) slice of uint8 levels through a 256-entry lookup table."""
    out = np.empty(levels.shape, dtype=np.float32)
    total = levels[0].size
    for k, s in enumerate(levels):
        hist = np.bincount(s.ravel(), minlength=LEVELS)
        cdf = np.cumsum(hist)
        cdf_min = hist[np.argmax(hist > 0)]
        if cdf_min == total:  # constant slice: nothing to spread
            out[k] = s / np.float32(LEVELS - 1)
            continue
        lut = np.clip((cdf - cdf_min) / float(total - cdf_min), 0.0, 1.0)
        lut = (np.rint(lut * (LEVELS - 1)) / (LEVELS - 1)).astype(np.float32)
        out[k] = lut[s]
    return out


def _equalize_clahe(levels: np.ndarray) -> np.ndarray:
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP_LIMIT, tileGridSize=CLAHE_TILES)
    out = np.stack([clahe.apply(np.ascontiguousarray(s)) for s in levels])
    out[levels == 0] = 0
    return out.astype(np.float32) / (LEVELS - 1)


def equalize(slices01, method: str) -> np.ndarray:
    """Per-slice histogram equalisation on 256 levels: "none", "global" or "clahe" (see module doc)."""
    if method not in EQUALIZE_METHODS:
        raise OptionError(f"equalize {method!r}: choose one of {', '.join(EQUALIZE_METHODS)}")
    arr = _as_stack(slices01)
    if method == "none":
        return arr
    levels = _to_levels(arr)
    return _equalize_global(levels) if method == "global" else _equalize_clahe(levels)


def resize_slices(slices, size: int, order: str = "linear") -> np.ndarray:
    """Resize each (H, W) slice of a (Z, H, W) stack to (size, size).

    `order="linear"` (images, float32 out): INTER_AREA when shrinking, INTER_LINEAR when enlarging.
    `order="nearest"` (labels, dtype kept): pixel-centre aligned nearest neighbour.
    """
    if order not in ("linear", "nearest"):
        raise ValueError(f"order {order!r}: 'linear' or 'nearest'")
    arr = np.asarray(slices)
    if arr.ndim != 3:
        raise ValueError(f"expected slices (Z, H, W), got shape {arr.shape}")
    size = int(size)
    if size < 1:
        raise OptionError(f"slice size {size}: must be positive")
    if arr.shape[1:] == (size, size):
        return arr.astype(np.float32) if order == "linear" else arr.copy()
    if order == "nearest":
        src = arr if arr.dtype in (np.uint8, np.uint16, np.int16, np.float32) else arr.astype(np.int32)
        out = np.stack([cv2.resize(np.ascontiguousarray(s), (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
                        for s in src])
        return out.astype(arr.dtype, copy=False)
    shrinking = size < arr.shape[1] and size < arr.shape[2]
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    src = arr.astype(np.float32, copy=False)
    return np.stack([cv2.resize(np.ascontiguousarray(s), (size, size), interpolation=interp) for s in src])


def to_slices(volume_xyz) -> np.ndarray:
    """(x, y, z) canonical array -> (z, x, y) stack of axial slices (a copy, C-contiguous)."""
    arr = np.asarray(volume_xyz)
    if arr.ndim != 3:
        raise ValueError(f"expected a 3D (x, y, z) volume, got shape {arr.shape}")
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def preprocess_slices(hu_xyz: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """A paper's recipe on a whole canonical HU volume (x, y, z) -> float32 slices (Z, S, S) in [0, 1]."""
    lo, hi = cfg.window
    out = window(to_slices(hu_xyz), lo, hi)
    out = denoise(out, cfg.denoise, cfg.denoise_size)
    out = smooth(out, cfg.smooth_sigma)
    out = equalize(out, cfg.equalize)
    out = resize_slices(out, cfg.size, order="linear")
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def label_slices(labels_xyz: np.ndarray, size: int) -> np.ndarray:
    """Canonical label volume (x, y, z) -> uint8 slices (Z, S, S), nearest-neighbour resized."""
    return resize_slices(to_slices(labels_xyz).astype(np.uint8, copy=False), size, order="nearest")


def recipe_hash(cfg: PreprocessConfig) -> str:
    """Stable short hash of a recipe (keys the slice cache)."""
    return config_hash(cfg)


__all__ = [
    "window", "denoise", "smooth", "equalize", "resize_slices", "to_slices",
    "preprocess_slices", "label_slices", "recipe_hash",
]
