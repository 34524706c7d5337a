"""Seeded synthetic scenes with per-pixel labels, built so that the FCN skips matter.

A scene is a textured, unevenly lit background with a few shapes painted over it, later
ones occluding earlier ones: discs, squares, triangles, rings and thin bars, from a few
pixels to about half the image. Every shape's colour, texture and shading come from the
same distribution as the background's, so colour alone never gives a class away: the
network has to look at shape (coarse, deep layers) and at fine detail such as a ring's
hole or a 2-4 px bar (the stride-8 and stride-16 skips).

Scenes are a pure function of ``(seed, height, width)``: a ``numpy.random.Generator``
over ``PCG64`` draws only uniform numbers and integers, and the drawing uses nothing but
IEEE basic arithmetic and square roots in float64 (no trigonometry, no Pillow, no
antialiasing), so the same seed gives the same bytes on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fcnviewer.core.preprocessing import Preprocessing

CLASS_NAMES: tuple[str, ...] = ("background", "disc", "square", "triangle", "ring", "bar")
#: One distinct colour per class (for label maps and overlays).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
)
NUM_CLASSES = len(CLASS_NAMES)
BACKGROUND, DISC, SQUARE, TRIANGLE, RING, BAR = range(NUM_CLASSES)

#: Input normalisation of the networks trained on these scenes (RGB in 0..1, centred).
SYNTHETIC_PREPROCESSING = Preprocessing("RGB", 1.0, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))

#: Seeds at and above this are never used for training (evaluation and samples).
EVAL_SEED_BASE = 1_000_000

#: The side the shape sizes are designed for; larger scenes get more shapes, not larger ones.
REFERENCE_SIDE = 160
_SQRT3_2 = 0.8660254037844386


def generate_scene(seed: int, height: int = REFERENCE_SIDE, width: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The scene for ``seed``: ``(image (H, W, 3) uint8 RGB, labels (H, W) uint8)``."""
    width = height if width is None else width
    if height < 8 or width < 8:
        raise ValueError(f"scenes must be at least 8x8 pixels, not {height}x{width}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, not {seed}")
    rng = np.random.Generator(np.random.PCG64(seed))
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    side = min(height, width)
    image, base = _background(rng, ys, xs)
    labels = np.zeros((height, width), dtype=np.uint8)

    area_factor = (height * width) / float(REFERENCE_SIDE * REFERENCE_SIDE)
    count = max(1, round(int(rng.integers(3, 8)) * max(area_factor, 0.25)))
    max_radius = 0.25 * min(side, 1.5 * REFERENCE_SIDE)
    for _ in range(count):
        cls = int(rng.integers(1, NUM_CLASSES))
        cy = rng.random() * (height - 1)
        cx = rng.random() * (width - 1)
        mask = _shape_mask(rng, cls, ys - cy, xs - cx, max_radius, side)
        if not mask.any():
            continue
        colour = _contrasting_colour(rng, base)
        fill = _fill(rng, colour, ys, xs)
        image[mask] = fill[mask]
        labels[mask] = cls

    image = _lighting(rng, image, ys, xs)
    image += (rng.random(image.shape) - 0.5) * (rng.random() * 40.0)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), labels


def _unit_vector(rng: np.random.Generator) -> tuple[float, float]:
    """A uniformly distributed direction, by rejection (no trigonometry)."""
    while True:
        a, b = rng.random() * 2 - 1, rng.random() * 2 - 1
        r2 = a * a + b * b
        if 0.01 < r2 <= 1.0:
            r = float(np.sqrt(r2))
            return a / r, b / r


def _small_biased(rng: np.random.Generator, lo: float, hi: float) -> float:
    hi = max(hi, lo)
    # exp/log would be libm-dependent; a power of a uniform is just as good here.
    t = rng.random()
    return lo + (hi - lo) * t * t


def _value_noise(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1]: a random grid of ``cells`` x ``cells`` bilinearly interpolated."""
    h, w = ys.shape
    grid = rng.random((cells + 1, cells + 1))
    u = ys / max(h - 1, 1) * cells
    v = xs / max(w - 1, 1) * cells
    i = np.minimum(np.floor(u).astype(np.int64), cells - 1)
    j = np.minimum(np.floor(v).astype(np.int64), cells - 1)
    fu, fv = u - i, v - j
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    top = grid[i, j] * (1 - fv) + grid[i, j + 1] * fv
    bottom = grid[i + 1, j] * (1 - fv) + grid[i + 1, j + 1] * fv
    return top * (1 - fu) + bottom * fu


def _texture(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """A zero-mean texture in about [-1, 1]: blotches, stripes or checks."""
    kind = int(rng.integers(0, 4))
    if kind == 0:
        return _value_noise(rng, ys, xs, int(rng.integers(3, 12))) * 2 - 1
    if kind == 1:  # stripes: a triangle wave along a random direction
        dy, dx = _unit_vector(rng)
        period = 6.0 + rng.random() * 18.0
        t = ((ys * dy + xs * dx) / period + rng.random()) % 1.0
        return np.abs(t * 2 - 1) * 2 - 1
    if kind == 2:  # checks
        period = 5.0 + rng.random() * 15.0
        c = (np.floor(ys / period) + np.floor(xs / period)) % 2
        return c * 2 - 1
    return (rng.random(ys.shape) - 0.5) * 2  # speckle


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.random(3) * 255.0


def _background(rng: np.random.Generator, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    base = _random_colour(rng)
    second = _random_colour(rng)
    mix = _value_noise(rng, ys, xs, int(rng.integers(2, 6)))[..., None] * (0.2 + 0.4 * rng.random())
    image = base * (1 - mix) + second * mix
    image = image + _texture(rng, ys, xs)[..., None] * (rng.random(3) * 40.0)
    mean = image.reshape(-1, 3).mean(axis=0)
    return image, mean


def _contrasting_colour(rng: np.random.Generator, background: np.ndarray) -> np.ndarray:
    for _ in range(50):
        colour = _random_colour(rng)
        if np.abs(colour - background).sum() > 90.0:
            return colour
    return 255.0 - background


def _fill(rng: np.random.Generator, colour: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """The colour field of a shape: its colour, shaded along a direction, maybe textured."""
    dy, dx = _unit_vector(rng)
    h, w = ys.shape
    ramp = (ys * dy + xs * dx) / max(h, w)
    fill = colour + ramp[..., None] * ((rng.random() - 0.5) * 120.0)
    if rng.random() < 0.5:
        fill = fill + _texture(rng, ys, xs)[..., None] * (rng.random(3) * 30.0)
    return fill


def _rotated(rng: np.random.Generator, dy: np.ndarray, dx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c, s = _unit_vector(rng)
    return dx * c + dy * s, -dx * s + dy * c


def _shape_mask(
    rng: np.random.Generator, cls: int, dy: np.ndarray, dx: np.ndarray, max_radius: float, side: int
) -> np.ndarray:
    """Pixels covered by a shape of class ``cls`` centred where ``dy = dx = 0``."""
    if cls == DISC:
        r = _small_biased(rng, 2.5, max_radius)
        return dy * dy + dx * dx <= r * r
    if cls == SQUARE:
        half = _small_biased(rng, 2.5, max_radius * 0.85)
        u, v = _rotated(rng, dy, dx)
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if cls == TRIANGLE:
        r = _small_biased(rng, 3.5, max_radius * 1.1)
        u, v = _rotated(rng, dy, dx)
        # Equilateral triangle with circumradius r: inside all three edges (inradius r/2).
        inside = v <= r / 2
        inside &= (-_SQRT3_2 * u - 0.5 * v) <= r / 2
        inside &= (_SQRT3_2 * u - 0.5 * v) <= r / 2
        return inside
    if cls == RING:
        outer = _small_biased(rng, 6.0, max_radius)
        thickness = 2.0 + rng.random() * min(5.0, outer * 0.5)
        inner = outer - thickness
        d2 = dy * dy + dx * dx
        return (d2 <= outer * outer) & (d2 >= inner * inner)
    if cls == BAR:
        half_width = 1.0 + rng.random()  # 2 to 4 px wide
        half_length = (0.1 + rng.random() * 0.3) * side
        u, v = _rotated(rng, dy, dx)
        return (np.abs(u) <= half_length) & (np.abs(v) <= half_width)
    raise ValueError(f"no shape for class {cls}")


def _lighting(rng: np.random.Generator, image: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Uneven illumination and a colour cast over the whole scene."""
    dy, dx = _unit_vector(rng)
    h, w = ys.shape
    ramp = (ys * dy + xs * dx) / max(h, w)
    ramp = ramp - ramp.mean()
    gain = 0.75 + 0.4 * rng.random() + ramp * (rng.random() * 0.6)
    cast = (rng.random(3) - 0.5) * 40.0
    return image * gain[..., None] + cast


class SyntheticScenes:
    """A map-style dataset (usable as a ``torch.utils.data.Dataset``) over a list of seeds.

    Item ``i`` is ``generate_scene(seeds[i], height, width)``: ``(image uint8 (H, W, 3),
    labels uint8 (H, W))``.
    """

    class_names = CLASS_NAMES
    palette = PALETTE

    def __init__(self, seeds: Sequence[int] | range, height: int = REFERENCE_SIDE, width: int | None = None) -> None:
        self.seeds = seeds
        self.height = height
        self.width = height if width is None else width

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return generate_scene(int(self.seeds[index]), self.height, self.width)

    @classmethod
    def train(cls, count: int = 100_000, size: int = REFERENCE_SIDE) -> SyntheticScenes:
        """Training seeds ``0 .. count - 1``."""
        return cls(range(count), size)

    @classmethod
    def evaluation(cls, count: int = 100, size: int = REFERENCE_SIDE, start: int = EVAL_SEED_BASE) -> SyntheticScenes:
        """Held-out seeds from ``start`` (default 1,000,000) on."""
        return cls(range(start, start + count), size)
