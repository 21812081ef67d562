"""Synthetic abdominal CT phantom written as a LiTS-style NIfTI dataset.

    python -m data_prep.phantom --output DIR --cases N --seed S [--size 512] [--slices 300-700]

writes DIR/volume-<i>.nii.gz (int16 HU) and DIR/segmentation-<i>.nii.gz (uint8: 0 background,
1 liver, 2 tumour) for i = 0..N-1. Each case is an abdomen with body wall, spine, ribs, lungs,
heart, spleen, kidneys, stomach, pancreas, gallbladder, bowel and vessels around a deformed
two-lobe liver that holds hypodense tumours of 3-60 mm (one case in six has none); see
`phantom_case` (the random anatomy), `phantom_anatomy` and `phantom_lesions`.

Sizes: the field of view in mm is the same at every `--size`; the in-plane spacing is
`spacing512 * 512 / size` with spacing512 drawn in 0.6-0.9 mm, and the slice thickness
(0.7-5 mm) does not depend on the size; `--slices N` (or `LO-HI`: a count drawn per case from
(seed, index)) samples the same craniocaudal extent with N slices instead (thinner slices: a
LiTS-sized volume of 300-700 slices, for memory and disk figures at the paper size). The anatomy
is drawn from (seed, index) alone, so a case is the same patient at every size. Sizes below 256
are rendered at a multiple of the size and averaged down (labels by majority), which mimics the
partial-volume effect of large voxels.

Stored orientations vary (RAS, LPS, LAS, LPI, RAI): the image and its label share one affine,
and the anatomy is right in world coordinates (`nibabel.as_closest_canonical` gives RAS).
Files are byte-identical for the same (seed, size): NIfTI bytes gzipped with mtime 0.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import os
import sys
import zlib
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np
from scipy.special import ndtri

from data_prep.phantom_anatomy import ORIENTATIONS, Case
from data_prep.phantom_case import draw_case
from liverseg.io.atomic import atomic_write_bytes
from liverseg.errors import InputError, OptionError

MIN_SIZE, MAX_SIZE = 32, 1024
RENDER_MIN = 256  # sizes below this are rendered finer and averaged down
GZIP_LEVEL = 1
HU_RANGE = (-1024, 3071)


def pixel_spacing(case: Case, size: int) -> float:
    return case.spacing512 * 512 / size


def grid(case: Case, size: int, factor: int = 1):
    """Voxel-centre coordinates (body frame, mm, float32) along x, y and z of a size x size image
    rendered `factor` times finer in-plane."""
    step = pixel_spacing(case, size) / factor
    n = size * factor
    axes = []
    for centre in case.fov_centre:
        axes.append((centre - case.fov / 2 + (np.arange(n) + 0.5) * step).astype(np.float32))
    return axes[0], axes[1], case.z.astype(np.float32)


def _paint(layer, gx, gy, gz, hu, lab, org, allowed) -> None:
    sl = []
    for g, (lo, hi) in zip((gx, gy, gz), layer.shape.bbox.tolist()):
        i0, i1 = int(np.searchsorted(g, lo, "left")), int(np.searchsorted(g, hi, "right"))
        if i1 <= i0:
            return
        sl.append(slice(i0, i1))
    x, y, z = gx[sl[0], None, None], gy[None, sl[1], None], gz[None, None, sl[2]]
    sub = tuple(sl)
    shape = (sl[0].stop - sl[0].start, sl[1].stop - sl[1].start, sl[2].stop - sl[2].start)
    if callable(layer.hu):
        d = layer.shape.sdf(x, y, z)
        m = np.broadcast_to(d < 0, shape)
    else:
        m = np.broadcast_to(layer.shape.mask(x, y, z), shape)
    if layer.where is not None:
        m = m & allowed[layer.where][org[sub]]
    if not m.any():
        return
    if callable(layer.hu):
        hu[sub][m] = np.broadcast_to(layer.hu(x, y, z, d), shape)[m]
    else:
        hu[sub][m] = layer.hu
    org[sub][m] = layer.organ
    if layer.label is not None:
        lab[sub][m] = layer.label


def _lookup(where: tuple[int, ...]) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[list(where)] = True
    return table


class _Allowed(dict):
    def __missing__(self, key):
        self[key] = _lookup(key)
        return self[key]


def render(case: Case, size: int):
    """Noise-free HU (float32), labels and organ map (uint8), canonical RAS axes (x, y, z)."""
    factor = math.ceil(RENDER_MIN / size) if size < RENDER_MIN else 1
    gx, gy, gz = grid(case, size, factor)
    dims = (gx.size, gy.size, gz.size)
    hu = np.full(dims, -1000.0, dtype=np.float32)
    lab = np.zeros(dims, dtype=np.uint8)
    org = np.zeros(dims, dtype=np.uint8)
    allowed = _Allowed()
    for layer in case.layers:
        _paint(layer, gx, gy, gz, hu, lab, org, allowed)
    if factor > 1:
        blocks = (size, factor, size, factor, dims[2])
        hu = hu.reshape(blocks).mean(axis=(1, 3), dtype=np.float32)
        counts = np.stack([(lab == k).reshape(blocks).sum(axis=(1, 3)) for k in (0, 1, 2)])
        lab = np.argmax(counts, axis=0).astype(np.uint8)  # ties go to the lower label
        org = np.ascontiguousarray(org[factor // 2::factor, factor // 2::factor])
    return hu, lab, org


def blur_inplane(volume: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every axial slice (sigma in pixels), slices treated as image channels."""
    if sigma <= 0:
        return volume
    out = np.empty_like(volume)
    step = 64  # OpenCV 4 takes up to 512 channels, OpenCV 5 up to 128
    for k in range(0, volume.shape[2], step):
        chunk = np.ascontiguousarray(volume[:, :, k:k + step])
        res = cv2.GaussianBlur(chunk, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
        out[:, :, k:k + step] = res.reshape(chunk.shape)
    return out


_NORMAL_TABLE = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)


def gaussian_noise(rng: np.random.Generator, shape, sigma: float) -> np.ndarray:
    """White Gaussian noise by inverse-CDF lookup of random 16-bit indices (exact quantiles of
    N(0, sigma^2) at 1/65536 resolution; several times faster than `standard_normal`)."""
    n = int(np.prod(shape))
    idx = np.frombuffer(rng.bytes(2 * n), dtype="<u2").reshape(shape)
    return _NORMAL_TABLE[idx] * np.float32(sigma)


def canonical_affine(case: Case, size: int) -> np.ndarray:
    sp = pixel_spacing(case, size)
    aff = np.diag([sp, sp, case.thickness, 1.0])
    first = np.array([c - case.fov / 2 + 0.5 * sp for c in case.fov_centre] + [float(case.z[0])])
    aff[:3, 3] = first + case.world_offset
    return aff


def reorient(arrays, affine: np.ndarray, orientation: str):
    """Flip the canonical arrays into a stored orientation; returns (arrays, affine)."""
    aff = affine.copy()
    axes = ORIENTATIONS[orientation]
    shape = arrays[0].shape
    for a in axes:
        aff[:3, 3] += aff[:3, a] * (shape[a] - 1)
        aff[:3, a] *= -1
    out = [np.ascontiguousarray(np.flip(arr, axes)) if axes else arr for arr in arrays]
    return out, aff


def parse_slices(text) -> tuple[int, int] | None:
    """`--slices`: None or "" (the drawn thickness), "N", or "LO-HI"; returns (lo, hi) or None."""
    if text is None or text == "":
        return None
    try:
        parts = [int(t) for t in str(text).split("-")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 2 or parts[0] > parts[-1]:
        raise OptionError(f"--slices must be N or LO-HI with 2 <= LO <= HI, got {text!r}")
    return parts[0], parts[-1]


def slice_count(seed: int, index: int, slices) -> int | None:
    """The number of slices of case `index` for a `--slices` value (None: the drawn thickness)."""
    bounds = parse_slices(slices) if not isinstance(slices, tuple) else slices
    if bounds is None:
        return None
    lo, hi = bounds
    return lo if lo == hi else int(np.random.default_rng([seed, index, 2]).integers(lo, hi + 1))


def with_slices(case: Case, n: int) -> Case:
    """The same case sampled with `n` slices over the same craniocaudal extent."""
    z0, z1 = float(case.z[0]), float(case.z[-1])
    case.z = np.linspace(z0, z1, n)
    case.thickness = (z1 - z0) / (n - 1)
    return case


def generate_case_full(seed: int, index: int, size: int = 512, slices=None):
    """(image int16, label uint8, organ map uint8, affine, Case) in the stored orientation;
    `slices` as `--slices` (None: the case's drawn slice thickness)."""
    case = draw_case(seed, index)
    n = slice_count(seed, index, slices)
    if n is not None:
        case = with_slices(case, n)
    hu, lab, org = render(case, size)
    hu = blur_inplane(hu, case.blur_sigma)
    noise_rng = np.random.default_rng([seed, index, 1])
    for k in range(0, hu.shape[2], 32):  # slabs keep the peak memory low
        hu[:, :, k:k + 32] += gaussian_noise(noise_rng, hu[:, :, k:k + 32].shape, case.noise_sigma)
    np.clip(hu, *HU_RANGE, out=hu)
    image = np.rint(hu).astype(np.int16)
    (image, lab, org), affine = reorient([image, lab, org], canonical_affine(case, size), case.orientation)
    return image, lab, org, affine, case


def generate_case(seed: int, index: int, size: int = 512, slices=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image (int16 HU), label (uint8 0/1/2), both in the stored voxel axes, and their 4x4 affine."""
    image, lab, _, affine, _ = generate_case_full(seed, index, size, slices)
    return image, lab, affine


def nifti_bytes(array: np.ndarray, affine: np.ndarray) -> bytes:
    """Deterministic .nii.gz bytes (gzip header with mtime 0 and no file name)."""
    img = nib.Nifti1Image(array, affine)
    img.header.set_data_dtype(array.dtype)
    img.header.set_xyzt_units("mm", "sec")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    # gzip container (wbits 31): zlib writes mtime 0 and no file name; run-length matching is
    # about twice as fast as the default strategy on noisy HU for a few % more bytes
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    return packer.compress(img.to_bytes()) + packer.flush()


def _check(cases, seed, size):
    if not isinstance(cases, int) or cases < 1:
        raise OptionError(f"--cases must be a positive integer, got {cases}")
    if not isinstance(seed, int) or seed < 0:
        raise OptionError(f"--seed must be a non-negative integer, got {seed}")
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise OptionError(f"--size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size}")


def _write_case(out: Path, seed: int, index: int, size: int, slices=None) -> list[Path]:
    image, lab, affine = generate_case(seed, index, size, slices)
    paths = []
    for name, arr in ((f"volume-{index}.nii.gz", image), (f"segmentation-{index}.nii.gz", lab)):
        atomic_write_bytes(out / name, nifti_bytes(arr, affine))
        paths.append(out / name)
    return paths


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def write_phantom(output, cases: int, seed: int, size: int = 512, progress: bool = True,
                  workers: int = 1, slices=None) -> list[Path]:
    """Write cases 0..cases-1 (each file atomically); returns the written paths in case order
    (volume-0, segmentation-0, volume-1, ...). `workers` > 1 renders cases in parallel processes;
    the bytes do not depend on it. `slices`: as `--slices` (None: each case's drawn thickness)."""
    _check(cases, seed, size)
    slices = parse_slices(slices)
    if not isinstance(workers, int) or workers < 1:
        raise OptionError(f"--workers must be a positive integer, got {workers}")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise OptionError(f"{out}: --output exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cases, desc=f"phantom {size}px", unit="case", file=sys.stderr)
    results: dict[int, list[Path]] = {}
    try:
        if workers == 1 or cases == 1:
            for i in range(cases):
                results[i] = _write_case(out, seed, i, size, slices)
                bar is not None and bar.update()
        else:
            # spawn, not fork: the caller may already run threads (TensorFlow, OpenCV)
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(min(workers, cases), mp_context=context) as pool:
                futures = {pool.submit(_write_case, out, seed, i, size, slices): i for i in range(cases)}
                for fut in concurrent.futures.as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar is not None and bar.update()
    finally:
        if bar is not None:
            bar.close()
    return [p for i in range(cases) for p in results[i]]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The phantom's options (shared by `python -m data_prep.phantom` and `liverseg phantom`)."""
    parser.add_argument("--output", required=True, type=Path, help="output folder")
    parser.add_argument("--cases", required=True, type=int, help="number of cases")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--size", type=int, default=512, help="in-plane size in pixels (default 512)")
    parser.add_argument("--slices", default=None, metavar="N|LO-HI",
                        help="slices per case over the same extent: N, or LO-HI drawn per case "
                             "(default: each case's drawn 0.7-5 mm thickness)")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="parallel processes (default: min(2, CPUs)); output bytes do not depend on it")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def run_args(args: argparse.Namespace) -> int:
    """Write the phantom; OS errors become an InputError naming the path."""
    try:
        write_phantom(args.output, args.cases, args.seed, args.size, progress=not args.quiet, workers=args.workers,
                      slices=getattr(args, "slices", None))
    except OSError as exc:
        raise InputError(exc.filename or args.output, exc.strerror or str(exc)) from None
    return 0


def main(argv=None) -> int:
    from liverseg.commands import run_command

    return run_command("python -m data_prep.phantom", add_arguments, run_args, argv, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    sys.exit(main())
