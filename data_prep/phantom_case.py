"""All random choices of one synthetic CT case: `draw_case(seed, index)` gives its `Case`.

The anatomy is drawn part by part (acquisition, body outline, body wall, spine/lungs/diaphragm,
liver, organs over the liver, bowel, bone, then tumours) from one generator seeded with
(seed, index, 0); the parts must keep their order and their draws, or every case changes.
Nothing here depends on the image size. Types and shapes come from `phantom_anatomy` and
`phantom_shapes`, liver vessels and tumours from `phantom_lesions`.
"""
from __future__ import annotations

import numpy as np

from data_prep.phantom_anatomy import ORG, ORIENTATIONS, SOFT, Case, Cone, Geometry, Layer, RibCage, Spine
from data_prep.phantom_lesions import add_liver_vessels, add_tumours, tumour_free
from data_prep.phantom_shapes import (
    INF, Box2D, Deform, Dome, DomeSide, Ellipsoid, EllipticCylinder, Intersect, PeriodicZ,
    Subtract, Union, fourier_sum, random_modes, rotation,
)


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def _shell(inner_hu, wall_hu, wall):
    """HU f(x, y, z, sdf): `wall_hu` within `wall` mm of the surface, `inner_hu` deeper."""
    return lambda x, y, z, d: np.where(d > -wall, np.float32(wall_hu), np.float32(inner_hu))


def _smooth_field(base, amps, waves, phases):
    """HU f(x, y, z, sdf): base plus a few low-frequency cosines (parenchymal texture)."""
    return lambda x, y, z, d: np.float32(base) + fourier_sum(amps, waves, phases, x, y, z)


def _blood(rng, g: Geometry, lo, hi):
    """Blood HU: lo..hi in the portal phase, 35-45 HU unenhanced (one draw either way)."""
    return _u(rng, lo, hi) if g.portal else _u(rng, 35, 45)


def _acquisition(rng):
    """In-plane spacing at 512 px, slice thickness and positions, liver height, orientation, noise,
    blur and contrast phase: (sp, thk, z, H, above, orientation, noise, blur, portal)."""
    sp = _u(rng, 0.6, 0.9)
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
    orientation = list(ORIENTATIONS)[int(rng.integers(len(ORIENTATIONS)))]
    noise, blur = _u(rng, 10, 20), _u(rng, 0.5, 1.0)
    portal = bool(rng.random() < 0.7)  # portal-venous contrast phase, else unenhanced
    return sp, thk, z, H, above, orientation, noise, blur, portal


def _outline(rng, sp, z, H, above, portal):
    """Body outline and wall (organ positions scale with the abdominal cavity), position in the
    field of view and in the world, diaphragm domes, tissue HU: (Geometry, fov_centre, world_offset)."""
    fov = 512 * sp
    ax = fov / 2 * _u(rng, 0.74, 0.88)
    by = ax * _u(rng, 0.66, 0.8)
    t_fat = float(np.clip(6 + 0.4 * (ax - 120) + _u(rng, -4, 6), 4, 40))
    t_mus = _u(rng, 9, 14)
    wall = t_fat + t_mus
    sx, sy = float(np.clip((ax - wall) / 115, 0.75, 1.35)), float(np.clip((by - wall) / 75, 0.75, 1.35))
    sb = float(np.clip(np.sqrt(sx * sy), 0.85, 1.15))
    cx, cy = _u(rng, -0.04, 0.04) * fov / 2, _u(rng, 0.0, 0.08) * fov / 2
    world = np.array([cx, cy, -round(_u(rng, 100, 600))])
    z_top = float(z[-1]) - above
    z_lb = z_top - H
    zl_top = z_top - _u(rng, 8, 22)
    dome = Dome(right=(45 * sx, -5 * sy, z_top), left=(-50 * sx, -5 * sy, zl_top),
                width=(95 * sx, 85 * sy), drop=_u(rng, 35, 55), floor=z_lb + 0.45 * H)
    liver_hu = _u(rng, 62, 84) if portal else _u(rng, 48, 65)
    muscle_hu, fat_hu = _u(rng, 42, 58), _u(rng, -110, -85)
    g = Geometry(portal, fov, ax, by, 0.9 * by, t_fat, t_mus, wall, sx, sy, sb, H, z_top, z_lb, zl_top, dome,
                 liver_hu, muscle_hu, fat_hu)
    return g, (-cx, -cy), world


def _body_wall(case: Case, rng, g: Geometry) -> None:
    """Table under the back, subcutaneous fat, skin, muscle wall and cavity fat."""
    L = case.layers.append
    for y0 in (-g.bp - 2, -g.bp - 20):
        L(Layer("table", ORG["table"], Box2D(-0.85 * g.fov / 2, 0.85 * g.fov / 2, y0 - 3, y0), _u(rng, 120, 250)))
    L(Layer("subcutaneous_fat", ORG["subcutaneous_fat"], g.body(0), g.fat_hu + _u(rng, -10, 5)))
    L(Layer("skin", ORG["skin"], g.body(0, 2.0), _u(rng, 20, 50)))
    L(Layer("muscle", ORG["muscle"], g.body(g.t_fat, g.wall), g.muscle_hu))
    L(Layer("visceral_fat", ORG["visceral_fat"], g.body(g.wall), g.fat_hu))


def _spine_lungs_diaphragm(case: Case, rng, g: Geometry) -> Spine:
    """Spine position and paraspinal muscles, lungs and diaphragm above the domes, psoas muscles."""
    L = case.layers.append
    yb, sx = -g.bp, g.sx
    y_c = yb + g.t_fat + _u(rng, 30, 38) * g.sy
    r_vb = _u(rng, 16, 20) * g.sb
    y_vb = y_c + 12 + 0.9 * r_vb
    for s in (1, -1):
        L(Layer("paraspinal", ORG["paraspinal"],
                EllipticCylinder(s * _u(rng, 24, 30) * sx, yb + g.t_fat + _u(rng, 16, 20), _u(rng, 22, 28) * sx,
                                 _u(rng, 15, 19), angle=s * 0.25), g.muscle_hu + _u(rng, -5, 5)))
    r_ao = _u(rng, 9, 12.5)
    mediastinum = Box2D(-30 * sx, 22 * sx, y_vb - 0.9 * r_vb - 5, y_vb + 0.9 * r_vb + 2 * r_ao + 12)
    lung_hu, by, dome = _u(rng, -880, -820), g.by, g.dome
    L(Layer("lung", ORG["lung"], Subtract(Intersect(DomeSide(dome, True, 4.0), g.body(g.wall + 2)), mediastinum),
            lambda x, y, z, d: np.float32(lung_hu) + np.float32(40.0) * np.clip(-y / by, 0, 1),
            where=(ORG["visceral_fat"],)))
    L(Layer("diaphragm", ORG["diaphragm"],
            Intersect(DomeSide(dome, True, -1.0), DomeSide(dome, False, 4.0), g.cavity()),
            g.muscle_hu, where=(ORG["visceral_fat"], ORG["lung"])))
    z_kr = g.z_lb + _u(rng, 5, 30)
    z_kl = z_kr + _u(rng, 8, 22)
    for s in (1, -1):
        L(Layer("psoas", ORG["psoas"], Cone(s * (1.1 * r_vb + 10), y_vb, z_kr + 10, 0.22, 24 * g.sb),
                g.muscle_hu, where=(ORG["visceral_fat"],)))
    return Spine(y_c, r_vb, y_vb, r_ao, z_kr, z_kl)


def _liver(case: Case, rng, g: Geometry, sp: Spine) -> None:
    """Smooth union of right and left lobes, deformed, under the right dome, in the cavity, then
    its vessels."""
    sx, sy, z_lb = g.sx, g.sy, g.z_lb
    hz = (g.H + 12) / 2
    right = Ellipsoid((58 * sx, -2 * sy, z_lb + hz), (_u(rng, 72, 82) * sx, _u(rng, 76, 88) * sy, hz),
                      rotation(_u(rng, -0.15, 0.15)))
    left = Ellipsoid((_u(rng, -30, -15) * sx, _u(rng, 32, 42) * sy, g.zl_top - _u(rng, 30, 45)),
                     (_u(rng, 58, 75) * sx, _u(rng, 26, 36) * sy, _u(rng, 35, 50)), rotation(_u(rng, -0.25, 0.1)))
    lobes = Union(right, left, k=18.0)
    liver = Intersect(Deform(lobes, *random_modes(rng, 7, (1.5, 4.5), (60.0, 180.0))),
                      DomeSide(g.dome, False, -1.0), g.cavity(), Box2D(-INF, INF, -INF, INF, z_lb - 10, INF))
    liver = Subtract(liver, EllipticCylinder(0.0, sp.y_vb, 1.1 * sp.r_vb + 12, 0.9 * sp.r_vb + 12),
                     Box2D(-INF, 1.1 * sp.r_vb + 20, -INF, sp.y_vb))  # nothing behind or beside the spine
    case.liver = liver
    tex = random_modes(rng, 2, (2.0, 4.0), (40.0, 90.0))
    case.layers.append(Layer("liver", ORG["liver"], liver, _smooth_field(g.liver_hu, *tex), label=1,
                             where=(ORG["visceral_fat"],)))
    add_liver_vessels(case, rng, g.liver_hu, g.portal, sx, sy, z_lb, g.z_top, g.H,
                      ivc_xy=(0.9 * sp.r_vb + 8, sp.y_vb + 0.9 * sp.r_vb + 10))


def _vessels_kidneys(rng, g: Geometry, sp: Spine) -> list:
    """Aorta, IVC and the two kidneys with their sinus fat, as (name, shape, HU)."""
    r_vb, y_vb = sp.r_vb, sp.y_vb
    organs = [
        ("aorta", EllipticCylinder(-0.5 * r_vb, y_vb + 0.9 * r_vb + sp.r_ao + 2, sp.r_ao, sp.r_ao),
         _blood(rng, g, 140, 200)),
        ("ivc", EllipticCylinder(0.9 * r_vb + 8, y_vb + 0.9 * r_vb + 10, _u(rng, 10, 13), _u(rng, 7, 10),
                                 z1=g.z_top + 5), _blood(rng, g, 110, 160)),
    ]
    kidney_hu = _u(rng, 140, 190) if g.portal else _u(rng, 28, 38)
    for s, zk in ((1, sp.z_kr), (-1, sp.z_kl)):
        kc = np.array([s * (1.1 * r_vb + _u(rng, 32, 42) * g.sx), y_vb - _u(rng, 0, 10) * g.sy, zk])
        rot = rotation(s * _u(rng, 0.3, 0.6), _u(rng, -0.25, 0.25))
        ks = np.array([_u(rng, 22, 27), _u(rng, 17, 22), _u(rng, 45, 55)])
        organs.append(("kidney", Ellipsoid(kc, ks, rot), kidney_hu))
        organs.append(("kidney_sinus", Ellipsoid(kc + rot @ np.array([-s * 0.55 * ks[0], 0.0, 0.0]),
                                                 ks * np.array([0.45, 0.5, 0.6]), rot), _u(rng, -60, -20)))
    return organs


def _spleen_pancreas_gallbladder(rng, g: Geometry, sp: Spine) -> list:
    """Spleen (liver-like HU), pancreas and, in 80% of cases, a gallbladder, as (name, shape, HU)."""
    sx, sy, portal = g.sx, g.sy, g.portal
    sc = np.array([-(g.ax - g.wall - 22 * sx), -18 * sy, g.zl_top - _u(rng, 45, 60)])
    srot = rotation(_u(rng, 0.1, 0.5))
    spleen = Subtract(Ellipsoid(sc, (_u(rng, 17, 23) * sx, _u(rng, 45, 58) * sy, _u(rng, 42, 58)), srot),
                      Ellipsoid(sc + srot @ np.array([26 * sx, 0, 0]), (20 * sx, 42 * sy, 70), srot))
    organs = [("spleen", Intersect(spleen, DomeSide(g.dome, False, -1.0)),
               g.liver_hu + (_u(rng, 0, 18) if portal else _u(rng, -12, 8)))]
    y_pan = sp.y_vb + 0.9 * sp.r_vb + 2 * sp.r_ao
    pancreas = Ellipsoid((-10 * sx, y_pan + _u(rng, 12, 20), sp.z_kl + _u(rng, 5, 25)),
                         (_u(rng, 45, 60) * sx, _u(rng, 9, 13), _u(rng, 10, 16)), rotation(_u(rng, -0.35, -0.1)))
    organs.append(("pancreas", pancreas, _u(rng, 80, 110) if portal else _u(rng, 35, 50)))
    if rng.random() < 0.8:
        gb = Ellipsoid((_u(rng, 20, 40) * sx, _u(rng, 30, 45) * sy, g.z_lb + _u(rng, 18, 35)),
                       (_u(rng, 12, 18) * sx, _u(rng, 11, 16) * sy, _u(rng, 22, 35)),
                       rotation(_u(rng, -np.pi, np.pi), _u(rng, -0.4, 0.4)))
        organs.append(("gallbladder", gb, _shell(_u(rng, 0, 20), _u(rng, 35, 60), 2.0)))
    return organs


def _stomach_heart(rng, g: Geometry) -> list:
    """Stomach (wall, fluid or contrast content, air anterior of a level) and heart, as (name, shape, HU)."""
    sx, sy, portal, below_domes = g.sx, g.sy, g.portal, DomeSide(g.dome, False, -1.0)
    st_c = np.array([-_u(rng, 35, 55) * sx, _u(rng, 15, 35) * sy, g.zl_top - _u(rng, 35, 55)])
    st_s = np.array([_u(rng, 32, 45) * sx, _u(rng, 25, 35) * sy, _u(rng, 40, 60)])
    level = st_c[1] + st_s[1] * _u(rng, -0.2, 1.2)  # air above (anterior of) this y; none if above the top
    content = _u(rng, 150, 300) if rng.random() < 0.15 else _u(rng, 5, 30)
    st_wall = _u(rng, 60, 80) if portal else _u(rng, 35, 45)
    organs = [("stomach", Intersect(Ellipsoid(st_c, st_s, rotation(_u(rng, -0.5, 0.2))), below_domes),
               lambda x, y, z, d: np.where(d > -4, np.float32(st_wall),
                                           np.where(y > level, np.float32(-1000), np.float32(content))))]
    heart = Ellipsoid((-_u(rng, 10, 25) * sx, _u(rng, 20, 35) * sy, g.zl_top + _u(rng, 25, 40)),
                      (_u(rng, 55, 68) * sx, _u(rng, 42, 52) * sy, _u(rng, 50, 60)), rotation(_u(rng, -0.6, -0.3)))
    organs.append(("heart", Intersect(heart, DomeSide(g.dome, True, 3.0)),
                   _shell(_blood(rng, g, 130, 180), _u(rng, 90, 120) if portal else _u(rng, 40, 50), _u(rng, 6, 10))))
    return organs


def _organs_over_liver(case: Case, rng, g: Geometry, sp: Spine) -> None:
    """Organs painted over the liver where they touch it (liver-like HU confounders among them);
    all but the kidney sinus block tumour placement."""
    organs = _vessels_kidneys(rng, g, sp)
    organs += _spleen_pancreas_gallbladder(rng, g, sp)
    organs += _stomach_heart(rng, g)
    for name, shape, hu in organs:
        organ = ORG["kidney"] if name == "kidney_sinus" else ORG[name]
        where = (ORG["kidney"],) if name == "kidney_sinus" else SOFT
        case.layers.append(Layer(name, organ, shape, hu, where=where))
        if name != "kidney_sinus":
            case.liver_blockers.append(shape)


def _bowel(case: Case, rng, g: Geometry) -> None:
    """4-8 bowel loops below the liver (the first one at the hepatic flexure), only in cavity fat."""
    sx, sy, z_lb = g.sx, g.sy, g.z_lb
    oral = rng.random() < 0.3
    for k in range(int(rng.integers(4, 9))):
        if k == 0:
            c = (_u(rng, 50, 75) * sx, _u(rng, 0, 30) * sy, z_lb + _u(rng, -5, 10))
        else:
            c = (_u(rng, -0.7, 0.7) * (g.ax - g.wall), _u(rng, -0.1, 0.7) * (g.by - g.wall), _u(rng, 0, z_lb + 25))
        kind = rng.random()
        inner = -1000.0 if kind < 0.35 else (_u(rng, 150, 350) if oral and kind > 0.7 else _u(rng, 0, 25))
        case.layers.append(Layer("bowel", ORG["bowel"],
                                 Ellipsoid(c, (_u(rng, 10, 22), _u(rng, 10, 22), _u(rng, 12, 40)),
                                           rotation(_u(rng, -np.pi, np.pi), _u(rng, -1, 1))),
                                 _shell(inner, _u(rng, 35, 50), 3.0), where=(ORG["visceral_fat"],)))


def _bone(case: Case, rng, g: Geometry, sp: Spine) -> None:
    """Vertebrae (discs every `pitch` mm), posterior arch, transverse processes, canal, ribs, sternum."""
    L, y_c, y_vb, r_vb, sb = case.layers.append, sp.y_c, sp.y_vb, sp.r_vb, g.sb
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
    rib_band = g.body(g.t_fat + 1, g.t_fat + 1 + min(_u(rng, 7, 10), g.t_mus - 1))
    L(Layer("ribs", ORG["rib"], RibCage(rib_band, _u(rng, 26, 34), _u(rng, 0, 34), _u(rng, 8, 11), _u(rng, 28, 40),
                                        g.z_lb + _u(rng, 5, 20), _u(rng, 60, 85), 0.15 * np.pi), _u(rng, 400, 700)))
    L(Layer("sternum", ORG["bone"],
            Box2D(-12, 12, g.by - g.t_fat - 12, g.by - g.t_fat - 3, g.z_top - _u(rng, 10, 30), INF), _u(rng, 350, 500)))


def draw_case(seed: int, index: int) -> Case:
    """All random choices of case `index` for dataset `seed` (size-independent, no arrays rendered)."""
    rng = np.random.default_rng([seed, index, 0])
    sp, thk, z, H, above, orientation, noise, blur, portal = _acquisition(rng)
    g, fov_centre, world = _outline(rng, sp, z, H, above, portal)
    case = Case(seed, index, sp, thk, z, fov_centre, world, orientation, noise, blur)
    case.info = dict(phase="portal" if portal else "plain", liver_hu=g.liver_hu, z_liver=(g.z_lb, g.z_top),
                     body_axes=(g.ax, g.by, g.bp), fat=g.t_fat, muscle=g.t_mus)
    _body_wall(case, rng, g)
    spine = _spine_lungs_diaphragm(case, rng, g)
    _liver(case, rng, g, spine)
    _organs_over_liver(case, rng, g, spine)
    _bowel(case, rng, g)
    _bone(case, rng, g, spine)
    add_tumours(case, rng, g.liver_hu, free=tumour_free(seed, index))
    return case
