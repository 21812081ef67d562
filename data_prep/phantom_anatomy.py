"""Random anatomy of one synthetic abdominal CT case, as a list of painted layers in millimetres.

Body frame (mm): x to the patient's right, y anterior, z superior (nibabel RAS+ directions);
the body outline is centred on x = y = 0 and z runs from 0 (lowest slice) up. Nothing here
depends on the image size: `draw_case(seed, index)` gives the same patient for every `--size`.

A case is a list of `Layer`s painted in order onto an HU volume, a label volume and an organ
map. A layer only overwrites voxels whose current organ is in its `where` set (None: any), so
later organs can dent the liver (kidney, gallbladder, IVC) but not the muscle wall or bone.
Tumours and liver lesions are placed by `phantom_lesions`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from data_prep.phantom_shapes import (
    INF, Box2D, BodyDepth, Dome, DomeSide, Ellipsoid, EllipticCylinder, Intersect, PeriodicZ,
    Shape, Subtract, Union, Deform, fourier_sum, random_modes, rotation,
)

ORGANS = (
    "air", "table", "subcutaneous_fat", "skin", "muscle", "visceral_fat", "paraspinal", "lung",
    "diaphragm", "psoas", "liver", "liver_vessel", "spleen", "kidney", "pancreas", "stomach",
    "gallbladder", "bowel", "heart", "aorta", "ivc", "bone", "canal", "rib", "tumour",
)
ORG = {name: i for i, name in enumerate(ORGANS)}
SOFT = (ORG["visceral_fat"], ORG["lung"], ORG["diaphragm"], ORG["liver"], ORG["liver_vessel"])
LIVER_LIKE = (ORG["liver"], ORG["liver_vessel"])
# stored orientations: axes of the canonical (RAS) array that are flipped on disk
ORIENTATIONS = {"RAS": (), "LPS": (0, 1), "LAS": (0,), "LPI": (0, 1, 2), "RAI": (2,)}


@dataclass
class Layer:
    name: str
    organ: int
    shape: Shape
    hu: float | Callable  # constant, or f(x, y, z, sdf) -> HU broadcastable to the mask
    label: int | None = 0  # label written (0 / 1 / 2); None keeps the current label
    where: tuple[int, ...] | None = None  # organs this layer may overwrite (None: any)


@dataclass
class Case:
    seed: int
    index: int
    spacing512: float  # in-plane spacing (mm) at size 512; size s uses spacing512 * 512 / s
    thickness: float  # slice spacing (mm), the same at every size
    z: np.ndarray  # slice positions, body frame (mm)
    fov_centre: tuple[float, float]  # centre of the field of view, body frame (mm)
    world_offset: np.ndarray  # world (RAS+) = body frame + world_offset
    orientation: str
    noise_sigma: float  # HU
    blur_sigma: float  # pixels, in-plane
    layers: list[Layer] = field(default_factory=list)
    liver: Shape | None = None
    liver_blockers: list[Shape] = field(default_factory=list)  # organs painted over the liver
    tumours: list[dict] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def fov(self) -> float:
        return 512 * self.spacing512


class Cone(Shape):
    """Circle whose radius grows downward from z_top (a psoas muscle)."""

    def __init__(self, cx, cy, z_top, rate, rmax):
        self.cx, self.cy, self.z_top, self.rate, self.rmax = (float(v) for v in (cx, cy, z_top, rate, rmax))
        self.bbox = np.array([[cx - rmax, cx + rmax], [cy - rmax, cy + rmax], [-INF, z_top]])

    def sdf(self, x, y, z):
        r = np.clip(self.rate * (self.z_top - z), 0.0, self.rmax)
        return np.sqrt((x - self.cx) ** 2 + (y - self.cy) ** 2) - r


class RibCage(Shape):
    """Rib cross-sections: a band under the body wall, cut into oblique slabs that descend from the
    spine towards the front (slope mm per radian of angle from the posterior midline), present
    above the costal margin z > costal0 + costal1 * (angle / pi)^2 and absent near the sternum."""

    def __init__(self, band: BodyDepth, pitch, phase, height, slope, costal0, costal1, gap):
        self.band = band
        self.pitch, self.phase, self.height, self.slope, self.costal0, self.costal1, self.gap = (
            float(v) for v in (pitch, phase, height, slope, costal0, costal1, gap))
        self.bbox = band.bbox.copy()
        self.bbox[2] = (costal0, INF)

    def mask(self, x, y, z):
        ring = np.broadcast_to(self.band.sdf(x, y, 0.0) < 0, np.broadcast_shapes(np.shape(x), np.shape(y)))
        ang = np.abs(np.angle(np.exp(1j * (np.arctan2(y, x) + np.pi / 2))))  # 0 at the back, pi at the front
        ang = np.broadcast_to(ang, ring.shape)
        ring = ring & (ang < np.pi - self.gap)
        idx = np.nonzero(ring.reshape(ring.shape[:2]))
        zz = np.ravel(z)[None, :]
        a = ang.reshape(ring.shape[:2])[idx][:, None]
        hit = (np.mod(zz + self.slope * a - self.phase, self.pitch) < self.height) & (
            zz > self.costal0 + self.costal1 * (a / np.pi) ** 2)
        out = np.zeros(ring.shape[:2] + (zz.shape[1],), dtype=bool)
        out[idx[0], idx[1], :] = hit
        return out

    def sdf(self, x, y, z):  # only the mask is meaningful; used by generic code paths
        return np.where(self.mask(x, y, z), -1.0, 1.0)


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _shell(inner_hu, wall_hu, wall):
    """HU f(x, y, z, sdf): `wall_hu` within `wall` mm of the surface, `inner_hu` deeper."""
    return lambda x, y, z, d: np.where(d > -wall, np.float32(wall_hu), np.float32(inner_hu))


def _smooth_field(base, amps, waves, phases):
    """HU f(x, y, z, sdf): base plus a few low-frequency cosines (parenchymal texture)."""
    return lambda x, y, z, d: np.float32(base) + fourier_sum(amps, waves, phases, x, y, z)


def draw_case(seed: int, index: int) -> Case:
    """All random choices of case `index` for dataset `seed` (size-independent, no arrays rendered)."""
    from data_prep.phantom_lesions import add_liver_vessels, add_tumours, tumour_free

    rng = np.random.default_rng([seed, index, 0])
    # acquisition: in-plane spacing at 512 px, slice thickness, covered length
    sp = _u(rng, 0.6, 0.9)
    fov = 512 * sp
    u = rng.random()
    thk = _u(rng, 0.7, 1.25) if u < 0.15 else _u(rng, 1.25, 2.5) if u < 0.5 else _u(rng, 2.5, 5.0)
    # craniocaudal layout: `above` mm of lungs/heart over the right dome, liver of height H, then
    # at least 25 mm of abdomen below; 150-250 mm covered (at most 180 mm for thin slices)
    H, above, below = _u(rng, 115, 165), _u(rng, 10, 40), _u(rng, 25, 80)
    cap = 180.0 if thk < 1.25 else 248.0
    below = float(np.clip(cap - H - above, 25.0, below))
    H = min(H, cap - above - below)
    n = int(round((H + above + below) / thk)) + 1
    z = np.arange(n) * thk
    length = float(z[-1])
    orientation = list(ORIENTATIONS)[int(rng.integers(len(ORIENTATIONS)))]
    noise, blur = _u(rng, 10, 20), _u(rng, 0.5, 1.0)
    portal = bool(rng.random() < 0.7)  # portal-venous contrast phase, else unenhanced

    # body outline and wall; organ positions scale with the abdominal cavity
    ax = fov / 2 * _u(rng, 0.74, 0.88)
    by = ax * _u(rng, 0.66, 0.8)
    bp = 0.9 * by
    t_fat = float(np.clip(6 + 0.4 * (ax - 120) + _u(rng, -4, 6), 4, 40))
    t_mus = _u(rng, 9, 14)
    wall = t_fat + t_mus
    sx, sy = float(np.clip((ax - wall) / 115, 0.75, 1.35)), float(np.clip((by - wall) / 75, 0.75, 1.35))
    sb = float(np.clip(np.sqrt(sx * sy), 0.85, 1.15))
    cx, cy = _u(rng, -0.04, 0.04) * fov / 2, _u(rng, 0.0, 0.08) * fov / 2
    world = np.array([cx, cy, -round(_u(rng, 100, 600))])

    z_top = length - above
    z_lb = z_top - H
    zl_top = z_top - _u(rng, 8, 22)
    dome = Dome(right=(45 * sx, -5 * sy, z_top), left=(-50 * sx, -5 * sy, zl_top),
                width=(95 * sx, 85 * sy), drop=_u(rng, 35, 55), floor=z_lb + 0.45 * H)

    liver_hu = _u(rng, 62, 84) if portal else _u(rng, 48, 65)
    muscle_hu, fat_hu = _u(rng, 42, 58), _u(rng, -110, -85)
    blood = (lambda lo, hi: _u(rng, lo, hi)) if portal else (lambda lo, hi: _u(rng, 35, 45))

    case = Case(seed, index, sp, thk, z, (-cx, -cy), world, orientation, noise, blur)
    case.info = dict(phase="portal" if portal else "plain", liver_hu=liver_hu, z_liver=(z_lb, z_top),
                     body_axes=(ax, by, bp), fat=t_fat, muscle=t_mus)
    L = case.layers.append
    body = lambda d0, d1=INF: BodyDepth(ax, by, bp, d0, d1)  # noqa: E731
    cavity = body(wall + 1)

    # table under the back, body wall, cavity fat
    yb = -bp
    for y0 in (yb - 2, yb - 20):
        L(Layer("table", ORG["table"], Box2D(-0.85 * fov / 2, 0.85 * fov / 2, y0 - 3, y0), _u(rng, 120, 250)))
    L(Layer("subcutaneous_fat", ORG["subcutaneous_fat"], body(0), fat_hu + _u(rng, -10, 5)))
    L(Layer("skin", ORG["skin"], body(0, 2.0), _u(rng, 20, 50)))
    L(Layer("muscle", ORG["muscle"], body(t_fat, wall), muscle_hu))
    L(Layer("visceral_fat", ORG["visceral_fat"], body(wall), fat_hu))

    # spine geometry (used by several organs)
    y_c = yb + t_fat + _u(rng, 30, 38) * sy
    r_vb = _u(rng, 16, 20) * sb
    y_vb = y_c + 12 + 0.9 * r_vb
    for s in (1, -1):
        L(Layer("paraspinal", ORG["paraspinal"],
                EllipticCylinder(s * _u(rng, 24, 30) * sx, yb + t_fat + _u(rng, 16, 20), _u(rng, 22, 28) * sx,
                                 _u(rng, 15, 19), angle=s * 0.25), muscle_hu + _u(rng, -5, 5)))

    # lungs and diaphragm above the domes
    r_ao = _u(rng, 9, 12.5)
    mediastinum = Box2D(-30 * sx, 22 * sx, y_vb - 0.9 * r_vb - 5, y_vb + 0.9 * r_vb + 2 * r_ao + 12)
    lung_hu = _u(rng, -880, -820)
    L(Layer("lung", ORG["lung"], Subtract(Intersect(DomeSide(dome, True, 4.0), body(wall + 2)), mediastinum),
            lambda x, y, z, d: np.float32(lung_hu) + np.float32(40.0) * np.clip(-y / by, 0, 1),
            where=(ORG["visceral_fat"],)))
    L(Layer("diaphragm", ORG["diaphragm"], Intersect(DomeSide(dome, True, -1.0), DomeSide(dome, False, 4.0), cavity),
            muscle_hu, where=(ORG["visceral_fat"], ORG["lung"])))
    z_kr = z_lb + _u(rng, 5, 30)
    z_kl = z_kr + _u(rng, 8, 22)
    for s in (1, -1):
        L(Layer("psoas", ORG["psoas"], Cone(s * (1.1 * r_vb + 10), y_vb, z_kr + 10, 0.22, 24 * sb),
                muscle_hu, where=(ORG["visceral_fat"],)))

    # liver: smooth union of right and left lobes, deformed, under the right dome, in the cavity
    hz = (H + 12) / 2
    right = Ellipsoid((58 * sx, -2 * sy, z_lb + hz), (_u(rng, 72, 82) * sx, _u(rng, 76, 88) * sy, hz),
                      rotation(_u(rng, -0.15, 0.15)))
    left = Ellipsoid((_u(rng, -30, -15) * sx, _u(rng, 32, 42) * sy, zl_top - _u(rng, 30, 45)),
                     (_u(rng, 58, 75) * sx, _u(rng, 26, 36) * sy, _u(rng, 35, 50)), rotation(_u(rng, -0.25, 0.1)))
    lobes = Union(right, left, k=18.0)
    liver = Intersect(Deform(lobes, *random_modes(rng, 7, (1.5, 4.5), (60.0, 180.0))),
                      DomeSide(dome, False, -1.0), cavity, Box2D(-INF, INF, -INF, INF, z_lb - 10, INF))
    liver = Subtract(liver, EllipticCylinder(0.0, y_vb, 1.1 * r_vb + 12, 0.9 * r_vb + 12),
                     Box2D(-INF, 1.1 * r_vb + 20, -INF, y_vb))  # nothing behind or beside the spine
    case.liver = liver
    tex = random_modes(rng, 2, (2.0, 4.0), (40.0, 90.0))
    L(Layer("liver", ORG["liver"], liver, _smooth_field(liver_hu, *tex), label=1, where=(ORG["visceral_fat"],)))
    add_liver_vessels(case, rng, liver_hu, portal, sx, sy, z_lb, z_top, H, ivc_xy=(0.9 * r_vb + 8, y_vb + 0.9 * r_vb + 10))

    # organs painted over the liver where they touch it (liver-like HU confounders among them)
    blockers = case.liver_blockers
    organs = [
        ("aorta", EllipticCylinder(-0.5 * r_vb, y_vb + 0.9 * r_vb + r_ao + 2, r_ao, r_ao), blood(140, 200)),
        ("ivc", EllipticCylinder(0.9 * r_vb + 8, y_vb + 0.9 * r_vb + 10, _u(rng, 10, 13), _u(rng, 7, 10),
                                 z1=z_top + 5), blood(110, 160)),
    ]
    kidney_hu = _u(rng, 140, 190) if portal else _u(rng, 28, 38)
    for s, zk in ((1, z_kr), (-1, z_kl)):
        kc = np.array([s * (1.1 * r_vb + _u(rng, 32, 42) * sx), y_vb - _u(rng, 0, 10) * sy, zk])
        rot = rotation(s * _u(rng, 0.3, 0.6), _u(rng, -0.25, 0.25))
        ks = np.array([_u(rng, 22, 27), _u(rng, 17, 22), _u(rng, 45, 55)])
        organs.append(("kidney", Ellipsoid(kc, ks, rot), kidney_hu))
        organs.append(("kidney_sinus", Ellipsoid(kc + rot @ np.array([-s * 0.55 * ks[0], 0.0, 0.0]),
                                                 ks * np.array([0.45, 0.5, 0.6]), rot), _u(rng, -60, -20)))
    sc = np.array([-(ax - wall - 22 * sx), -18 * sy, zl_top - _u(rng, 45, 60)])
    srot = rotation(_u(rng, 0.1, 0.5))
    spleen = Subtract(Ellipsoid(sc, (_u(rng, 17, 23) * sx, _u(rng, 45, 58) * sy, _u(rng, 42, 58)), srot),
                      Ellipsoid(sc + srot @ np.array([26 * sx, 0, 0]), (20 * sx, 42 * sy, 70), srot))
    organs.append(("spleen", Intersect(spleen, DomeSide(dome, False, -1.0)),
                   liver_hu + (_u(rng, 0, 18) if portal else _u(rng, -12, 8))))
    organs.append(("pancreas", Ellipsoid((-10 * sx, y_vb + 0.9 * r_vb + 2 * r_ao + _u(rng, 12, 20), z_kl + _u(rng, 5, 25)),
                                         (_u(rng, 45, 60) * sx, _u(rng, 9, 13), _u(rng, 10, 16)),
                                         rotation(_u(rng, -0.35, -0.1))), _u(rng, 80, 110) if portal else _u(rng, 35, 50)))
    if rng.random() < 0.8:
        gb = Ellipsoid((_u(rng, 20, 40) * sx, _u(rng, 30, 45) * sy, z_lb + _u(rng, 18, 35)),
                       (_u(rng, 12, 18) * sx, _u(rng, 11, 16) * sy, _u(rng, 22, 35)),
                       rotation(_u(rng, -np.pi, np.pi), _u(rng, -0.4, 0.4)))
        organs.append(("gallbladder", gb, _shell(_u(rng, 0, 20), _u(rng, 35, 60), 2.0)))
    st_c = np.array([-_u(rng, 35, 55) * sx, _u(rng, 15, 35) * sy, zl_top - _u(rng, 35, 55)])
    st_s = np.array([_u(rng, 32, 45) * sx, _u(rng, 25, 35) * sy, _u(rng, 40, 60)])
    level = st_c[1] + st_s[1] * _u(rng, -0.2, 1.2)  # air above (anterior of) this y; none if above the top
    content = _u(rng, 150, 300) if rng.random() < 0.15 else _u(rng, 5, 30)
    st_wall = _u(rng, 60, 80) if portal else _u(rng, 35, 45)
    organs.append(("stomach", Intersect(Ellipsoid(st_c, st_s, rotation(_u(rng, -0.5, 0.2))), DomeSide(dome, False, -1.0)),
                   lambda x, y, z, d: np.where(d > -4, np.float32(st_wall),
                                               np.where(y > level, np.float32(-1000), np.float32(content)))))
    heart = Ellipsoid((-_u(rng, 10, 25) * sx, _u(rng, 20, 35) * sy, zl_top + _u(rng, 25, 40)),
                      (_u(rng, 55, 68) * sx, _u(rng, 42, 52) * sy, _u(rng, 50, 60)), rotation(_u(rng, -0.6, -0.3)))
    organs.append(("heart", Intersect(heart, DomeSide(dome, True, 3.0)),
                   _shell(blood(130, 180), _u(rng, 90, 120) if portal else _u(rng, 40, 50), _u(rng, 6, 10))))
    for name, shape, hu in organs:
        organ = ORG["kidney"] if name == "kidney_sinus" else ORG[name]
        where = (ORG["kidney"],) if name == "kidney_sinus" else SOFT
        L(Layer(name, organ, shape, hu, where=where))
        if name != "kidney_sinus":
            blockers.append(shape)

    # bowel loops below the liver (the first one at the hepatic flexure), only in cavity fat
    oral = rng.random() < 0.3
    for k in range(int(rng.integers(4, 9))):
        if k == 0:
            c = (_u(rng, 50, 75) * sx, _u(rng, 0, 30) * sy, z_lb + _u(rng, -5, 10))
        else:
            c = (_u(rng, -0.7, 0.7) * (ax - wall), _u(rng, -0.1, 0.7) * (by - wall), _u(rng, 0, z_lb + 25))
        kind = rng.random()
        inner = -1000.0 if kind < 0.35 else (_u(rng, 150, 350) if oral and kind > 0.7 else _u(rng, 0, 25))
        L(Layer("bowel", ORG["bowel"], Ellipsoid(c, (_u(rng, 10, 22), _u(rng, 10, 22), _u(rng, 12, 40)),
                                                 rotation(_u(rng, -np.pi, np.pi), _u(rng, -1, 1))),
                _shell(inner, _u(rng, 35, 50), 3.0), where=(ORG["visceral_fat"],)))

    # bone: vertebrae (discs every `pitch` mm), posterior arch, ribs, sternum
    pitch, vphase, disc = _u(rng, 25, 32), _u(rng, 0, 32), _u(rng, 6, 9)
    cortex, cancellous, disc_hu = _u(rng, 700, 1000), _u(rng, 180, 300), _u(rng, 70, 100)
    arch_hu = _u(rng, 400, 700)

    def vertebra_hu(x, y, z, d):
        in_disc = np.mod(z - vphase, pitch) < disc
        return np.where(in_disc, np.float32(disc_hu), np.where(d > -2.0, np.float32(cortex), np.float32(cancellous)))

    L(Layer("vertebral_body", ORG["bone"], EllipticCylinder(0.0, y_vb, 1.1 * r_vb, 0.9 * r_vb), vertebra_hu))
    arch = Union(
        Intersect(Subtract(EllipticCylinder(0.0, y_c, 14 * sb, 13 * sb), EllipticCylinder(0.0, y_c, 8.0, 8.5)),
                  Box2D(-20, 20, y_c - 20, y_c + 4)),
        Box2D(5, 11, y_c, y_vb - 0.6 * r_vb), Box2D(-11, -5, y_c, y_vb - 0.6 * r_vb),
        Box2D(-3.5, 3.5, y_c - _u(rng, 30, 40), y_c - 10),
    )
    L(Layer("vertebral_arch", ORG["bone"], arch, arch_hu))
    tp = _u(rng, 24, 32) * sb
    transverse = Intersect(Union(Box2D(8, tp, y_c - 1, y_c + 5), Box2D(-tp, -8, y_c - 1, y_c + 5)),
                           PeriodicZ(pitch, vphase, disc + 6, pitch - 6))
    L(Layer("transverse_process", ORG["bone"], transverse, arch_hu))
    L(Layer("canal", ORG["canal"], EllipticCylinder(0.0, y_c, 8.0, 8.5), _u(rng, 15, 30)))
    rib_band = body(t_fat + 1, t_fat + 1 + min(_u(rng, 7, 10), t_mus - 1))
    L(Layer("ribs", ORG["rib"], RibCage(rib_band, _u(rng, 26, 34), _u(rng, 0, 34), _u(rng, 8, 11), _u(rng, 28, 40),
                                        z_lb + _u(rng, 5, 20), _u(rng, 60, 85), 0.15 * np.pi), _u(rng, 400, 700)))
    L(Layer("sternum", ORG["bone"], Box2D(-12, 12, by - t_fat - 12, by - t_fat - 3, z_top - _u(rng, 10, 30), INF),
            _u(rng, 350, 500)))

    add_tumours(case, rng, liver_hu, free=tumour_free(seed, index))
    return case
