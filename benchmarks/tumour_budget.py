"""How many training steps, at which input size, a cpu-profile network needs to find the phantom's tumours.

    python benchmarks/tumour_budget.py --size 128 --steps 400      # Gong's coarse U-Net at 128 px
    python benchmarks/tumour_budget.py --size 256 --steps 300      # the same at the phantom's 256 px

The most favourable case for the tumour: Gong's coarse U-Net (the cpu profile's 8 filters, depth 4,
liver and tumour sigmoid channels, Dice + cross-entropy, Adam 1e-3, no dropout) trained on the
tumour slices only (batch 8, no augmentation) of the cpu phantom's training patients, scored every
`--every` steps by the tumour Dice over the tumour slices of the test patients (threshold 0.5, global
over those slices). Slices come from the 256 px cache of Gong's preprocessing and are area-resampled
to `--size`. Prints one line per evaluation and a JSON line at the end, with seconds per step; the
wall clock depends on what else the machine runs (state it with the figures). A paper's cpu profile
trains several networks and its liver first, so its tumour network gets a fraction of these steps.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def slices(cache, cases, size: int):
    """(images (N, s, s, 1), targets (N, s, s, 2) liver / tumour) of the tumour slices of `cases`."""
    import cv2
    import numpy as np

    xs, ys = [], []
    for case in cases:
        image, label = cache.image(case), cache.label(case)
        for k in np.flatnonzero((np.asarray(label) == 2).any(axis=(1, 2))):
            xs.append(cv2.resize(np.asarray(image[k], np.float32), (size, size), interpolation=cv2.INTER_AREA))
            target = np.stack([label[k] >= 1, label[k] == 2], -1).astype(np.float32)
            ys.append(cv2.resize(target, (size, size), interpolation=cv2.INTER_AREA) > 0.5)
    return np.asarray(xs)[..., None], np.asarray(ys, np.float32)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="input size the slices are resampled to")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=50, help="evaluate every this many steps")
    parser.add_argument("--filters", type=int, default=8, help="base filters (Gong cpu profile: 8)")
    parser.add_argument("--split", type=Path, help="split.json (train / val / test case ids) to use; default: "
                        "a seeded split of the phantom's patients, 15 %% validation, 25 %% test, stratified by tumour")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "liverseg-tumour-budget")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from liverseg.data.splits import split_patients
    from liverseg.nn.losses import DiceBCELoss
    from liverseg.nn.models import build_unet
    from liverseg.runner.data import prepare_cache, source_has_tumour
    from dataclasses import replace

    from experiments.gong.config import get_config

    cfg = get_config("cpu")
    cfg = replace(cfg, preprocess=replace(cfg.preprocess, size=cfg.phantom.size))
    cache = prepare_cache("gong", cfg, args.work)
    cases = [str(c) for c in cache.case_ids]
    if args.split:
        parts = json.loads(args.split.read_text())
    else:
        parts = split_patients(cases, 0.15, 0.25, 0, stratify={c: source_has_tumour(cache, c) for c in cases})
    x_train, y_train = slices(cache, parts["train"], args.size)
    x_test, y_test = slices(cache, parts["test"], args.size)
    print(f"{len(x_train)} training and {len(x_test)} test tumour slices at {args.size} px", flush=True)

    keras.utils.set_random_seed(0)
    net = build_unet((args.size, args.size, 1), n_outputs=2, base_filters=args.filters, depth=4,
                     max_filters=args.filters * 8, dropout=0.0, name="coarse")
    net.compile(keras.optimizers.Adam(1e-3), loss=DiceBCELoss())
    rng = np.random.default_rng(0)
    truth = y_test[..., 1] > 0.5
    curve, trained = [], 0.0
    for step in range(args.every, args.steps + 1, args.every):
        began = time.perf_counter()
        for _ in range(args.every):
            i = rng.integers(0, len(x_train), 8)
            net.train_on_batch(x_train[i], y_train[i])
        trained += time.perf_counter() - began
        pred = net.predict(x_test, batch_size=16, verbose=0)[..., 1] > 0.5
        dice = float(2 * (pred & truth).sum() / max(pred.sum() + truth.sum(), 1))
        curve.append({"step": step, "tumour_dice": round(dice, 4), "train_s": round(trained, 1)})
        print(f"step {step}: test tumour Dice {dice:.3f} ({trained:.0f} s)", flush=True)
    print(json.dumps({"size": args.size, "filters": args.filters, "s_per_step": round(curve[-1]["train_s"] / args.steps, 3),
                      "curve": curve}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
