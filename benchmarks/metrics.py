"""Time `liverseg.evaluation.volume_metrics` against medpy's dc + assd + hd on a real-size pair.

    .venv/bin/python benchmarks/metrics.py [--repeats 5] [--medpy-repeats 3] [--data DIR]

Truth: the liver (label >= 1) of ../shared/data/lits_sample/segmentation-0.nii.gz with its
spacing; prediction: a plausible error made from it (dilated by one voxel in the upper half,
eroded by one voxel in the lower half, shifted by (2, -2, 1) voxels). Without the sample a
synthetic 512 x 512 x 130 ellipsoid pair is used. Repetitions of both sides are interleaved so
that load from other processes hits both alike; medians are reported. The last line printed is
a JSON object with `speedup_vs_medpy` (medpy median / liverseg LiTS median). medpy is a
benchmark and test dependency only.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from liverseg.evaluation import volume_metrics  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("LIVERSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def load_pair(data: Path):
    """(pred, truth, spacing, source description)."""
    path = data / "lits_sample" / "segmentation-0.nii.gz"
    if path.exists():
        from liverseg.io.volumes import read_volume

        vol = read_volume(path, kind="label")
        truth, spacing, source = vol.array >= 1, vol.spacing, str(path)
    else:
        shape = (512, 512, 130)
        spacing = (0.7, 0.7, 1.5)
        grid = np.ogrid[tuple(slice(0, n) for n in shape)]
        centre, radii = (250, 230, 65), (150, 110, 50)
        truth = sum(((g - c) / r) ** 2 for g, c, r in zip(grid, centre, radii)) <= 1.0
        source = "synthetic ellipsoid 512x512x130 (shared sample not found)"
    half = truth.shape[2] // 2
    pred = truth.copy()
    pred[:, :, half:] = ndimage.binary_dilation(truth)[:, :, half:]
    pred[:, :, :half] = ndimage.binary_erosion(truth)[:, :, :half]
    pred = np.roll(pred, (2, -2, 1), axis=(0, 1, 2))
    return pred, truth, tuple(float(s) for s in spacing), source


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of liverseg's volume_metrics")
    parser.add_argument("--medpy-repeats", type=int, default=3, help="repetitions of medpy dc + assd + hd")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding lits_sample/")
    args = parser.parse_args(argv)
    import medpy.metric.binary as medpy_binary

    pred, truth, spacing, source = load_pair(args.data)
    print(f"pair: {source}, shape {truth.shape}, spacing {spacing} mm, "
          f"{int(truth.sum())} truth / {int(pred.sum())} pred voxels")

    def medpy_all():
        return dict(
            dice=medpy_binary.dc(pred, truth),
            assd=medpy_binary.assd(pred, truth, voxelspacing=spacing),
            msd=medpy_binary.hd(pred, truth, voxelspacing=spacing),
        )

    ours, ours_medpy, theirs = [], [], []
    lits = same_def = reference = None
    for i in range(max(args.repeats, args.medpy_repeats)):
        if i < args.repeats:
            t, lits = timed(lambda: volume_metrics(pred, truth, spacing))
            ours.append(t)
            t, same_def = timed(lambda: volume_metrics(pred, truth, spacing, assd="medpy"))
            ours_medpy.append(t)
        if i < args.medpy_repeats:
            t, reference = timed(medpy_all)
            theirs.append(t)
        mine = f"liverseg lits {ours[-1]:.3f}s  medpy-def {ours_medpy[-1]:.3f}s" if i < args.repeats else ""
        other = f"medpy {theirs[-1]:.3f}s" if i < args.medpy_repeats else ""
        print(f"rep {i}: {mine}  {other}".rstrip())
    diff = max(abs(same_def[k] - reference[k]) for k in reference)
    result = dict(
        benchmark="volume_metrics",
        source=source,
        shape=list(truth.shape),
        spacing=list(spacing),
        liverseg_lits_median_s=statistics.median(ours),
        liverseg_medpy_definition_median_s=statistics.median(ours_medpy),
        medpy_dc_assd_hd_median_s=statistics.median(theirs),
        speedup_vs_medpy=statistics.median(theirs) / statistics.median(ours),
        max_abs_diff_vs_medpy=diff,
        lits=dict(dice=lits["dice"], assd=lits["assd"], msd=lits["msd"], hd95=lits["hd95"]),
        medpy=dict(reference),
        repeats=[args.repeats, args.medpy_repeats],
        machine=f"{cpu_name()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
        python=platform.python_version(),
        date=datetime.date.today().isoformat(),
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
