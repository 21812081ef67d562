"""Types of one synthetic abdominal CT case: a list of painted layers in millimetres.

Body frame (mm): x to the patient's right, y anterior, z superior (nibabel RAS+ directions);
the body outline is centred on x = y = 0 and z runs from 0 (lowest slice) up. Nothing here
depends on the image size: `phantom_case.draw_case(seed, index)` draws the random anatomy and
gives the same patient for every `--size`.

A case is a list of `Layer`s painted in order onto an HU volume, a label volume and an organ
map. A layer only overwrites voxels whose current organ is in its `where` set (None: any), so
later organs can dent the liver (kidney, gallbladder, IVC) but not the muscle wall or bone.
Tumours and liver vessels are placed by `phantom_lesions`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from data_prep.phantom_shapes import INF, BodyDepth, Dome, Shape

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


@dataclass
class Geometry:
    """Body outline, liver levels and tissue HU of one case (mm, body frame), shared by the parts
    of `phantom_case.draw_case`."""
    portal: bool  # portal-venous contrast phase, else unenhanced
    fov: float  # field of view (mm)
    ax: float  # body half-width
    by: float  # body half-depth, anterior
    bp: float  # body half-depth, posterior
    t_fat: float  # subcutaneous fat thickness
    t_mus: float  # muscle wall thickness
    wall: float  # t_fat + t_mus
    sx: float  # organ scale along x (abdominal cavity width / average)
    sy: float  # organ scale along y
    sb: float  # bone scale
    H: float  # liver height
    z_top: float  # top of the right diaphragm dome
    z_lb: float  # bottom of the liver
    zl_top: float  # top of the left dome
    dome: Dome
    liver_hu: float
    muscle_hu: float
    fat_hu: float

    def body(self, d0: float, d1: float = INF) -> BodyDepth:
        """The body between depths d0 and d1 mm under the skin."""
        return BodyDepth(self.ax, self.by, self.bp, d0, d1)

    def cavity(self) -> BodyDepth:
        return self.body(self.wall + 1)


@dataclass
class Spine:
    """Positions set with the spine and used by later parts (mm, body frame)."""
    y_c: float  # spinal canal centre
    r_vb: float  # vertebral body radius
    y_vb: float  # vertebral body centre
    r_ao: float  # aortic radius
    z_kr: float  # right kidney centre (psoas top 10 mm above)
    z_kl: float  # left kidney centre


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
