"""Signed-distance shapes in millimetres for the synthetic CT phantom.

Every shape has `sdf(x, y, z)`: an approximate signed distance in mm (negative inside) that
broadcasts over its arguments, and `bbox`: a (3, 2) array of [min, max] per axis in mm
(infinite along an axis the shape does not depend on). The renderer passes coordinate vectors
shaped (nx, 1, 1), (1, ny, 1), (1, 1, nz), so a shape that ignores z returns a 2-D
(nx, ny, 1) array and costs one slice, not a volume; tumour placement passes flat point arrays.
Coordinates: x to the patient's right, y anterior, z superior (body frame, see phantom_anatomy).
"""
from __future__ import annotations

import numpy as np

INF = np.inf


def _bbox(x0, x1, y0, y1, z0=-INF, z1=INF) -> np.ndarray:
    return np.array([[x0, x1], [y0, y1], [z0, z1]], dtype=float)


class Shape:
    bbox: np.ndarray

    def sdf(self, x, y, z):
        raise NotImplementedError

    def mask(self, x, y, z):
        """Boolean inside-mask; shapes that are not true distance fields override this."""
        return self.sdf(x, y, z) < 0

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether each (N, 3) point lies inside by at least `margin` mm."""
        p = np.asarray(points, dtype=float)
        return np.asarray(self.sdf(p[:, 0], p[:, 1], p[:, 2])) < -margin


def rotation(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """3x3 rotation: `roll` about x, then `pitch` about y, then `yaw` about z (radians)."""
    cz, sz = np.cos(yaw), np.sin(yaw)
    cy, sy = np.cos(pitch), np.sin(pitch)
    cx, sx = np.cos(roll), np.sin(roll)
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return rz @ ry @ rx


def _local(rot: np.ndarray, dx, dy, dz):
    """Coordinates in the shape's own frame (R^T d), skipping zero terms so 2-D stays 2-D."""
    out = []
    for k in range(3):
        terms = [float(c) * d for c, d in zip(rot[:, k], (dx, dy, dz)) if abs(c) > 1e-12]
        acc = terms[0] if terms else 0.0 * dx
        for t in terms[1:]:
            acc = acc + t
        out.append(acc)
    return out


class Ellipsoid(Shape):
    """Ellipsoid with semi-axes `semi` (mm) along the columns of `rot`; sdf scaled by the shortest axis."""

    def __init__(self, centre, semi, rot=None):
        self.c = np.asarray(centre, dtype=float)
        self.s = np.asarray(semi, dtype=float)
        self.rot = np.eye(3) if rot is None else np.asarray(rot, dtype=float)
        half = np.sqrt((self.rot ** 2) @ (self.s ** 2))  # exact half-extent of a rotated ellipsoid
        self.bbox = np.stack([self.c - half, self.c + half], axis=1)

    def sdf(self, x, y, z):
        c0, c1, c2 = (float(v) for v in self.c)
        s0, s1, s2 = (float(v) for v in self.s)
        lx, ly, lz = _local(self.rot, x - c0, y - c1, z - c2)
        q = (lx / s0) ** 2 + (ly / s1) ** 2
        q = q + (lz / s2) ** 2
        return (np.sqrt(q) - 1.0) * min(s0, s1, s2)


class EllipticCylinder(Shape):
    """Elliptic cylinder along z: semi-axes (a, b) rotated by `angle` in the axial plane."""

    def __init__(self, cx, cy, a, b, angle=0.0, z0=-INF, z1=INF):
        self.cx, self.cy, self.a, self.b, self.angle = (float(v) for v in (cx, cy, a, b, angle))
        self.z0, self.z1 = float(z0), float(z1)
        r = max(a, b)
        self.bbox = _bbox(cx - r, cx + r, cy - r, cy + r, z0, z1)

    def sdf(self, x, y, z):
        ca, sa = float(np.cos(self.angle)), float(np.sin(self.angle))
        dx, dy = x - self.cx, y - self.cy
        u = (ca * dx + sa * dy) / self.a
        v = (-sa * dx + ca * dy) / self.b
        d = (np.sqrt(u * u + v * v) - 1.0) * min(self.a, self.b)
        if np.isfinite(self.z0) or np.isfinite(self.z1):
            d = np.maximum(d, np.maximum(self.z0 - z, z - self.z1))
        return d


class Box2D(Shape):
    """Axis-aligned rectangle in the axial plane, extruded along z between z0 and z1."""

    def __init__(self, x0, x1, y0, y1, z0=-INF, z1=INF):
        self.bbox = _bbox(min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1), z0, z1)

    def sdf(self, x, y, z):
        d = None
        for (lo, hi), v in zip(self.bbox.tolist(), (x, y, z)):
            if np.isfinite(lo) or np.isfinite(hi):
                e = np.maximum(lo - v, v - hi)
                d = e if d is None else np.maximum(d, e)
        return -INF if d is None else d


class Capsule(Shape):
    """Tube of radius r around the segment a-b (a vessel)."""

    def __init__(self, a, b, r):
        self.a, self.b, self.r = np.asarray(a, float), np.asarray(b, float), float(r)
        lo, hi = np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r
        self.bbox = np.stack([lo, hi], axis=1)

    def sdf(self, x, y, z):
        a0, a1, a2 = self.a.tolist()
        b0, b1, b2 = (self.b - self.a).tolist()
        dx, dy, dz = x - a0, y - a1, z - a2
        t = np.clip((dx * b0 + dy * b1 + dz * b2) / max(b0 * b0 + b1 * b1 + b2 * b2, 1e-9), 0.0, 1.0)
        return np.sqrt((dx - t * b0) ** 2 + (dy - t * b1) ** 2 + (dz - t * b2) ** 2) - self.r


class BodyDepth(Shape):
    """Band of the axial body outline between depths d0 and d1 (mm, measured inward along the ray
    from the body centre). The outline is an ellipse with semi-axes a (x), b (anterior) and
    b_post (posterior, flatter back)."""

    def __init__(self, a, b, b_post, d0=0.0, d1=INF, z0=-INF, z1=INF):
        self.a, self.b, self.b_post, self.d0, self.d1 = (float(v) for v in (a, b, b_post, d0, d1))
        self.bbox = _bbox(-a, a, -b_post, b, z0, z1)

    def depth(self, x, y):
        ft = np.float32 if np.asarray(y).dtype == np.float32 else np.float64
        by = np.where(y >= 0, ft(self.b), ft(self.b_post))
        rho = np.sqrt((x / self.a) ** 2 + (y / by) ** 2)
        r = np.sqrt(x * x + y * y)
        return np.where(rho > 1e-6, r * (1.0 / np.maximum(rho, 1e-6) - 1.0), ft(min(self.a, self.b_post)))

    def sdf(self, x, y, z):
        d = self.depth(x, y)
        out = np.maximum(self.d0 - d, d - self.d1)
        (_, _), (_, _), (z0, z1) = self.bbox.tolist()
        if np.isfinite(z0) or np.isfinite(z1):
            out = np.maximum(out, np.maximum(z0 - z, z - z1))
        return out


class Dome:
    """Diaphragm height z(x, y): two paraboloid domes (right higher), floored at `floor`."""

    def __init__(self, right, left, width, drop, floor):
        self.right = tuple(float(v) for v in right)  # (x, y, z_top) of each dome
        self.left = tuple(float(v) for v in left)
        self.width = tuple(float(v) for v in width)  # (wx, wy), mm
        self.drop, self.floor = float(drop), float(floor)

    def height(self, x, y):
        wx, wy = self.width
        out = None
        for cx, cy, top in (self.right, self.left):
            h = top - self.drop * (((x - cx) / wx) ** 2 + ((y - cy) / wy) ** 2)
            out = h if out is None else np.maximum(out, h)
        return np.maximum(out, self.floor)


class DomeSide(Shape):
    """Half-space above (`above=True`) or below the dome, offset by `offset` mm."""

    def __init__(self, dome: Dome, above: bool, offset: float = 0.0):
        self.dome, self.above, self.offset = dome, above, float(offset)
        top = max(dome.right[2], dome.left[2]) + offset
        self.bbox = _bbox(-INF, INF, -INF, INF, dome.floor + offset if above else -INF, INF if above else top)

    def sdf(self, x, y, z):
        d = z - (self.dome.height(x, y) + self.offset)
        return -d if self.above else d


class PeriodicZ(Shape):
    """Slabs along z: inside where ((z - phase) mod pitch) lies in [lo, hi) (vertebral levels)."""

    def __init__(self, pitch, phase, lo, hi):
        self.pitch, self.phase, self.lo, self.hi = (float(v) for v in (pitch, phase, lo, hi))
        self.bbox = _bbox(-INF, INF, -INF, INF)

    def sdf(self, x, y, z):
        u = np.mod(z - self.phase, self.pitch)
        return np.maximum(self.lo - u, u - self.hi)


class Union(Shape):
    def __init__(self, *parts, k: float = 0.0):
        self.parts, self.k = parts, float(k)  # k > 0: smooth union with blending radius k (mm)
        b = np.stack([p.bbox for p in parts])
        self.bbox = np.stack([b[:, :, 0].min(0), b[:, :, 1].max(0)], axis=1)

    def sdf(self, x, y, z):
        d = self.parts[0].sdf(x, y, z)
        for p in self.parts[1:]:
            e = p.sdf(x, y, z)
            if self.k > 0:
                h = np.clip(0.5 + 0.5 * (e - d) / self.k, 0.0, 1.0)
                d = e + (d - e) * h - self.k * h * (1.0 - h)
            else:
                d = np.minimum(d, e)
        return d


class Intersect(Shape):
    def __init__(self, *parts):
        self.parts = parts
        b = np.stack([p.bbox for p in parts])
        self.bbox = np.stack([b[:, :, 0].max(0), b[:, :, 1].min(0)], axis=1)

    def sdf(self, x, y, z):
        d = self.parts[0].sdf(x, y, z)
        for p in self.parts[1:]:
            d = np.maximum(d, p.sdf(x, y, z))
        return d


class Subtract(Shape):
    def __init__(self, base: Shape, *holes: Shape):
        self.base, self.holes = base, holes
        self.bbox = base.bbox

    def sdf(self, x, y, z):
        d = self.base.sdf(x, y, z)
        for h in self.holes:
            d = np.maximum(d, -h.sdf(x, y, z))
        return d


class Deform(Shape):
    """Adds smooth low-frequency bumps: sdf + sum_k amp_k cos(w_k . p + phi_k) (amp in mm)."""

    def __init__(self, base: Shape, amps, waves, phases):
        self.base = base
        self.amps = np.asarray(amps, float)
        self.waves = np.asarray(waves, float).reshape(-1, 3)
        self.phases = np.asarray(phases, float)
        pad = float(np.abs(self.amps).sum())
        self.bbox = base.bbox + np.array([-pad, pad])

    def sdf(self, x, y, z):
        return self.base.sdf(x, y, z) + fourier_sum(self.amps, self.waves, self.phases, x, y, z)


def _is_grid(x, y, z) -> bool:
    return (np.ndim(x) == 3 and np.ndim(y) == 3 and np.ndim(z) == 3 and np.shape(x)[1:] == (1, 1)
            and np.shape(y)[0] == 1 and np.shape(y)[2] == 1 and np.shape(z)[:2] == (1, 1))


def fourier_sum(amps, waves, phases, x, y, z):
    """sum_k amp_k cos(w_k . p + phi_k). On a grid (x (nx,1,1), y (1,ny,1), z (1,1,nz)) each mode
    splits as cos(A + B) = cos A cos B - sin A sin B with A in-plane and B along z, and the sum
    becomes one (nx*ny, 2K) @ (2K, nz) matrix product."""
    amps = np.ravel(amps).tolist()
    waves = np.reshape(waves, (-1, 3)).tolist()
    phases = np.ravel(phases).tolist()
    if not amps:
        return 0.0
    if _is_grid(x, y, z):
        nx, ny, nz = np.shape(x)[0], np.shape(y)[1], np.shape(z)[2]
        cols, rows = [], []
        for a, (wx, wy, wz), ph in zip(amps, waves, phases):
            inplane = (wx * x + wy * y + ph).reshape(-1)
            cols += [a * np.cos(inplane), -a * np.sin(inplane)]
            rows += [np.cos(wz * z).reshape(-1), np.sin(wz * z).reshape(-1)]
        return (np.stack(cols, axis=1) @ np.stack(rows, axis=0)).reshape(nx, ny, nz)
    out = 0.0
    for a, (wx, wy, wz), ph in zip(amps, waves, phases):
        out = out + a * np.cos(wx * x + wy * y + wz * z + ph)
    return out


def random_modes(rng: np.random.Generator, n: int, amp: tuple[float, float], wavelength: tuple[float, float]):
    """`n` random Fourier modes (amplitudes mm, wave vectors rad/mm, phases) for `Deform`."""
    amps = rng.uniform(*amp, size=n)
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    waves = dirs * (2 * np.pi / rng.uniform(*wavelength, size=(n, 1)))
    return amps, waves, rng.uniform(0, 2 * np.pi, size=n)


def sphere_directions() -> np.ndarray:
    """32 unit vectors (cube corners, edge and face centres, plus axes) for inside checks."""
    v = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1) if (i, j, k) != (0, 0, 0)], float)
    return v / np.linalg.norm(v, axis=1, keepdims=True)
