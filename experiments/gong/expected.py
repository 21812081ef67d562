"""Stored smoke-profile scores for the CI regression test, and `make update-expected-gong`.

    python -m experiments.gong.expected --update      # re-record expected_scores.json, print the diff

The smoke profile runs on a fixed phantom (phantom seed 0) with training seed 0; CPU op determinism
makes that run repeatable. The tolerance comes from the spread over training seeds 0..N-1: three
standard deviations of each Dice, at least 0.02 — a change that moves a score by more than a seed
change does is a regression.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

EXPECTED = Path(__file__).with_name("expected_scores.json")
KEYS = ("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global")
MIN_TOLERANCE = 0.02


def smoke_scores(run_dir: Path, seed: int = 0) -> dict[str, float]:
    """Run the smoke profile into `run_dir` and return the cascade's Dice scores."""
    from experiments.gong.reproduce import main

    code = main(["--profile", "smoke", "--seed", str(seed), "--run-dir", str(run_dir)])
    if code:
        raise RuntimeError(f"smoke run failed with exit code {code}")
    summary = json.loads((run_dir / "evaluation" / "summary.json").read_text())
    return {k: float(summary["crop"][k]) for k in KEYS}


def record(seeds: int = 3) -> dict:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            runs.append(smoke_scores(Path(tmp) / f"seed{seed}", seed))
    spread = {k: float(np.std([r[k] for r in runs])) for k in KEYS}
    out = {
        "profile": "smoke",
        "phantom_seed": 0,
        "seed": 0,
        "scores": runs[0],
        "tolerance": {k: round(max(MIN_TOLERANCE, 3 * spread[k]), 4) for k in KEYS},
        "spread_over_seeds": {"seeds": list(range(seeds)), "std": spread,
                              "runs": [{k: round(r[k], 4) for k in KEYS} for r in runs]},
        "justification": "tolerance = max(0.02, 3 x std over training seeds) per score; seed 0 is "
                         "bit-for-bit repeatable on CPU, so the tolerance absorbs library/platform drift only.",
    }
    if not any(r["tumour_dice_per_case"] for r in runs):
        out["note"] = ("tumour Dice is 0 for every seed at the smoke size (64 px, 10 coarse epochs: the coarse "
                       "tumour channel does not fire yet, so no crop reaches the fine stage); the smoke "
                       "regression guards the liver, the cpu profile's report shows the tumour stage working")
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments.gong.expected")
    p.add_argument("--update", action="store_true", help="re-record expected_scores.json")
    p.add_argument("--seeds", type=int, default=3)
    args = p.parse_args(argv)
    old = json.loads(EXPECTED.read_text()) if EXPECTED.is_file() else {}
    if not args.update:
        print(json.dumps(old, indent=1))
        return 0
    new = record(args.seeds)
    for k in KEYS:
        before = old.get("scores", {}).get(k)
        after = new["scores"][k]
        print(f"{k:24s} {before if before is None else f'{before:.4f}'} -> {after:.4f} "
              f"(tolerance {new['tolerance'][k]})")
    EXPECTED.write_text(json.dumps(new, indent=1) + "\n")
    print(f"wrote {EXPECTED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
