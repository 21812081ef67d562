"""Structures inside the phantom liver: vessels (label 1) and hypodense tumours (label 2).

Tumours are placed by rejection sampling against the analytic liver shape: every point of a
tumour's surface (32 directions, lobulation included) must lie at least 2 mm inside the liver
and 2 mm outside every organ painted over the liver, and tumours keep 3 mm apart, so each one
is rendered whole and is surrounded by liver.
"""
from __future__ import annotations

import numpy as np

from data_prep.phantom_anatomy import LIVER_LIKE, ORG, Case, Layer
from data_prep.phantom_shapes import Capsule, Deform, Ellipsoid, random_modes, rotation, sphere_directions

TUMOUR_FREE_BLOCK = 6  # exactly one case in every 6 consecutive indices (0-5, 6-11, ...) has no tumour
MARGIN = 2.0  # mm


def tumour_free(seed: int, index: int) -> bool:
    """Whether case `index` of dataset `seed` has no tumour (one per block of 6, position random)."""
    block = index // TUMOUR_FREE_BLOCK
    return index % TUMOUR_FREE_BLOCK == int(np.random.default_rng([seed, block, 2]).integers(TUMOUR_FREE_BLOCK))


def sample_in_liver(case: Case, rng: np.random.Generator, n: int, margin: float, z_min: float = -np.inf,
                    max_rounds: int = 50) -> np.ndarray:
    """Up to `n` uniform random points at least `margin` mm inside the liver (and above z_min)."""
    lo, hi = case.liver.bbox[:, 0], case.liver.bbox[:, 1]
    lo = np.array([lo[0], lo[1], max(lo[2], z_min)])
    found = []
    for _ in range(max_rounds):
        pts = rng.uniform(lo, hi, size=(256, 3))
        found.extend(pts[case.liver.contains(pts, margin)])
        if len(found) >= n:
            break
    return np.array(found[:n]).reshape(-1, 3)


def add_liver_vessels(case: Case, rng, liver_hu, portal, sx, sy, z_lb, z_top, H, ivc_xy) -> None:
    """Portal branches from the hilum and hepatic veins towards the IVC, painted only inside the liver."""
    hu = liver_hu + (rng.uniform(35, 70) if portal else -rng.uniform(8, 15))
    hilum = np.array([rng.uniform(15, 30) * sx, rng.uniform(5, 20) * sy, z_lb + 0.35 * H])
    tubes = []
    for t in sample_in_liver(case, rng, int(rng.integers(3, 6)), 8.0):
        r = rng.uniform(3.5, 6.0)
        tubes.append(Capsule(hilum, t, r))
        fork = hilum + rng.uniform(0.4, 0.7) * (t - hilum)
        for t2 in sample_in_liver(case, rng, int(rng.integers(1, 3)), 6.0):
            tubes.append(Capsule(fork, t2, r * rng.uniform(0.5, 0.7)))
    top = np.array([ivc_xy[0], ivc_xy[1], z_top - 20])
    for t in sample_in_liver(case, rng, 3, 8.0, z_min=z_top - 80):
        tubes.append(Capsule(top, t, rng.uniform(3.0, 5.0)))
    for tube in tubes:
        case.layers.append(Layer("liver_vessel", ORG["liver_vessel"], tube, hu, label=None, where=LIVER_LIKE))


def _diameters(rng) -> tuple[str, list[float]]:
    """Tumour equivalent diameters (mm) of one case: a mix of large, medium and small lesions."""
    t = rng.random()
    if t < 0.35:
        kind = "large"
        d = [rng.uniform(30, 60) for _ in range(1 + int(rng.random() < 0.4))]
        d += [rng.uniform(3, 10) for _ in range(int(rng.integers(1, 5)))]
    elif t < 0.7:
        kind = "medium"
        d = [rng.uniform(12, 30) for _ in range(int(rng.integers(1, 4)))]
        d += [rng.uniform(3, 10) for _ in range(int(rng.integers(1, 4)))]
    else:
        kind = "small"
        d = [rng.uniform(3, 9.5)] + [float(np.exp(rng.uniform(np.log(3), np.log(14)))) for _ in range(int(rng.integers(1, 7)))]
    return kind, sorted(d, reverse=True)


def _tumour_hu(rng, liver_hu, d, semi):
    """HU f(x, y, z, sdf) of a tumour: hypodense core, sometimes an enhancing rim or a necrotic centre.
    A rim is limited so that the tumour's mean stays at least 8 HU below the liver."""
    core = -rng.uniform(10, 40)
    smin = float(min(semi))
    style = "plain"
    if d >= 25:
        style = ["plain", "rim", "necrotic"][int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
    if style == "rim":
        w = rng.uniform(2.0, 3.5)
        f = 1 - (1 - w / smin) ** 3
        rim = min(rng.uniform(0, 12), (-8 - (1 - f) * core) / f)
        fn = lambda x, y, z, s: np.where(s > -w, np.float32(liver_hu + rim), np.float32(liver_hu + core))  # noqa: E731
        return fn, style, core
    if style == "necrotic":
        nec = core - rng.uniform(10, 25)
        fn = lambda x, y, z, s: np.where(s < -0.5 * smin, np.float32(liver_hu + nec), np.float32(liver_hu + core))  # noqa: E731
        return fn, style, core
    return liver_hu + core, style, core


def add_tumours(case: Case, rng, liver_hu, free: bool) -> None:
    """Place the case's tumours (none when `free`), largest first; shrink a tumour that does not fit."""
    if free:
        case.info["tumour_type"] = "none"
        return
    kind, diameters = _diameters(rng)
    case.info["tumour_type"] = kind
    dirs = sphere_directions()
    placed = []
    for d in diameters:
        for _ in range(4):
            e = np.exp(rng.uniform(-0.2, 0.2, 3))
            semi = d / 2 * e / np.prod(e) ** (1 / 3)  # equivalent diameter d
            rot = rotation(*rng.uniform(-np.pi, np.pi, 3))
            shape = Ellipsoid((0, 0, 0), semi, rot)
            pad = 0.0
            if d >= 20:
                amps, waves, phases = random_modes(rng, 3, (0.03 * d / 2, 0.06 * d / 2), (1.2 * d / 2, 2.4 * d / 2))
                pad = float(np.abs(amps).sum())
            surface = (dirs * semi) @ rot.T * (1 + pad / semi.min())
            ok = None
            for c in sample_in_liver(case, rng, 48, float(semi.min()), max_rounds=10):
                if any(np.linalg.norm(c - p["centre"]) < semi.max() + p["semi"].max() + 2 * pad + 3 for p in placed):
                    continue
                pts = c + surface
                if not case.liver.contains(pts, MARGIN).all():
                    continue
                if any(b.contains(pts, -MARGIN).any() for b in case.liver_blockers):
                    continue
                ok = c
                break
            if ok is not None:
                shape = Ellipsoid(ok, semi, rot)
                if d >= 20:
                    shape = Deform(shape, amps, waves, phases)
                hu, style, core = _tumour_hu(rng, liver_hu, d, semi)
                case.layers.append(Layer("tumour", ORG["tumour"], shape, hu, label=2, where=LIVER_LIKE))
                placed.append(dict(centre=ok, diameter=float(d), semi=semi, style=style, core_offset=float(core)))
                break
            d *= 0.85
    case.tumours = placed
