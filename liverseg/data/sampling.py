"""Which cached slices a training stage sees: the `DataConfig.sampling` policies.

* "all": every slice of the cases.
* "liver": slices with liver (`liver_pixels > 0`, label >= 1).
* "tumour": slices with tumour (`tumour_pixels > 0`, label == 2).
* "balanced": tumour-positive slices and tumour-negative liver slices mixed so that positives make
  `cfg.positive_fraction` of the result; all slices of the scarcer group are kept and the other
  group is subsampled without replacement (seeded).
* "lesion_balanced": Bi et al. 2.5 ("4,401 slices representing both liver and liver lesions, and
  another 4,401 slices where both liver and liver lesions were not present"): slices with lesion (and
  so liver) versus slices with neither liver nor lesion, positives at `cfg.positive_fraction`; slices
  with liver and no lesion are left out.
* "liver_balanced": slices with liver versus slices without liver, positives at
  `cfg.positive_fraction` (also the other reading of Bi's sentence, with far fewer lesion slices).

When one group is empty the ratio cannot be met; the other group is returned whole, with a warning.
`cap_slices` then keeps at most `DataConfig.max_slices` / `max_val_slices` of them (seeded draw).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from liverseg.config import DataConfig
from liverseg.errors import OptionError

POLICIES = ("all", "liver", "tumour", "balanced", "lesion_balanced", "liver_balanced")


def _balance(pos: pd.DataFrame, neg: pd.DataFrame, fraction: float, rng: np.random.Generator) -> pd.DataFrame:
    if not 0 < fraction < 1:
        raise OptionError(f"data.positive_fraction={fraction}: must be strictly between 0 and 1")
    if len(pos) == 0 or len(neg) == 0:
        warnings.warn(f"balanced sampling: {len(pos)} positive and {len(neg)} negative slices; "
                      "ratio cannot be met, using all of them", stacklevel=3)
        return pd.concat([pos, neg])
    want_pos = round(len(neg) * fraction / (1 - fraction))
    if want_pos <= len(pos):
        pos = pos.iloc[np.sort(rng.choice(len(pos), size=max(1, want_pos), replace=False))]
    else:
        want_neg = max(1, round(len(pos) * (1 - fraction) / fraction))
        neg = neg.iloc[np.sort(rng.choice(len(neg), size=min(want_neg, len(neg)), replace=False))]
    return pd.concat([pos, neg])


def select_slices(manifest: pd.DataFrame, case_ids: Sequence[str], cfg: DataConfig, seed: int) -> pd.DataFrame:
    """Manifest rows of `case_ids` chosen by `cfg.sampling`, in case order then slice order.

    Deterministic for a seed (only the "*balanced" policies draw). The index is reset.
    """
    if cfg.sampling not in POLICIES:
        raise OptionError(f"data.sampling={cfg.sampling!r}: choose one of {', '.join(POLICIES)}")
    case_ids = [str(c) for c in case_ids]
    order = {c: i for i, c in enumerate(dict.fromkeys(case_ids))}
    rows = manifest[manifest["case_id"].astype(str).isin(order)].copy()
    unknown = sorted(set(order) - set(rows["case_id"].astype(str)))
    if unknown:
        raise OptionError(f"select_slices: case(s) not in the manifest: {', '.join(unknown[:5])}")
    liver = rows["liver_pixels"].to_numpy() > 0
    tumour = rows["tumour_pixels"].to_numpy() > 0
    rng = np.random.default_rng(seed)
    if cfg.sampling == "all":
        chosen = rows
    elif cfg.sampling == "liver":
        chosen = rows[liver]
    elif cfg.sampling == "tumour":
        chosen = rows[tumour]
    elif cfg.sampling == "balanced":
        chosen = _balance(rows[tumour], rows[liver & ~tumour], cfg.positive_fraction, rng)
    elif cfg.sampling == "lesion_balanced":
        chosen = _balance(rows[tumour], rows[~liver & ~tumour], cfg.positive_fraction, rng)
    else:
        chosen = _balance(rows[liver], rows[~liver], cfg.positive_fraction, rng)
    key = chosen["case_id"].astype(str).map(order)
    chosen = chosen.assign(_order=key.to_numpy()).sort_values(["_order", "slice_index"], kind="stable")
    return chosen.drop(columns="_order").reset_index(drop=True)


def cap_slices(rows: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    """At most `limit` of the rows (0 = all), drawn without replacement with the seed, in their order.

    The same rows, limit and seed give the same draw, so stages that select with one policy see
    one slice set (e.g. Gruber 3.1: 765 training slices for every network)."""
    if limit < 0:
        raise OptionError(f"data.max_slices={limit}: must be >= 0 (0 = all slices)")
    if not limit or len(rows) <= limit:
        return rows
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
    return rows.iloc[keep].reset_index(drop=True)


def tumour_mix(cfg: DataConfig, share: float) -> tuple[tuple[DataConfig, ...], tuple[float, ...]]:
    """`(sources, weights)` of a stage that draws `share` of its samples from tumour slices ("tumour"
    policy, same crops and targets) and the rest by `cfg`'s own policy, mixed sample by sample; with
    `share` 0 only `cfg` (and equal weights). Tumour pixels are about 1 in 40 of a tumour slice's liver
    and 1 in 300 of the liver slices' pixels: a few hundred steps of the papers' own mix teach a
    network the liver and no tumour."""
    from dataclasses import replace

    if not 0.0 <= share < 1.0:
        raise OptionError(f"tumour share {share}: must be in [0, 1)")
    if share == 0.0:
        return (cfg,), ()
    return (cfg, replace(cfg, sampling="tumour")), (1.0 - share, share)


__all__ = ["POLICIES", "select_slices", "cap_slices", "tumour_mix"]
