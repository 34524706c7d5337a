"""Colormaps as 256-entry RGBA lookup tables (numpy only, no Qt)."""

from __future__ import annotations

import numpy as np

#: Control points (position, r, g, b) of each colormap, sampled from the matplotlib originals.
_CONTROL_POINTS: dict[str, tuple[tuple[float, int, int, int], ...]] = {
    "viridis": (
        (0.0, 68, 1, 84), (0.125, 71, 44, 122), (0.25, 59, 81, 139), (0.375, 44, 113, 142),
        (0.5, 33, 144, 141), (0.625, 39, 173, 129), (0.75, 92, 200, 99), (0.875, 170, 220, 50),
        (1.0, 253, 231, 37),
    ),
    "magma": (
        (0.0, 0, 0, 4), (0.125, 28, 16, 68), (0.25, 79, 18, 123), (0.375, 129, 37, 129),
        (0.5, 181, 54, 122), (0.625, 229, 80, 100), (0.75, 251, 135, 97), (0.875, 254, 194, 135),
        (1.0, 252, 253, 191),
    ),
    "inferno": (
        (0.0, 0, 0, 4), (0.125, 31, 12, 72), (0.25, 85, 15, 109), (0.375, 136, 34, 106),
        (0.5, 186, 54, 85), (0.625, 227, 89, 51), (0.75, 249, 140, 10), (0.875, 249, 201, 50),
        (1.0, 252, 255, 164),
    ),
    "coolwarm": (
        (0.0, 59, 76, 192), (0.25, 124, 159, 249), (0.5, 221, 221, 221), (0.75, 246, 151, 120),
        (1.0, 180, 4, 38),
    ),
    "gray": ((0.0, 0, 0, 0), (1.0, 255, 255, 255)),
}  # fmt: skip

COLORMAPS: tuple[str, ...] = tuple(_CONTROL_POINTS)


def lookup_table(name: str) -> np.ndarray:
    """``(256, 4)`` uint8 RGBA table of colormap ``name`` (opaque)."""
    if name not in _CONTROL_POINTS:
        raise ValueError(f"unknown colormap {name!r}; expected one of {', '.join(COLORMAPS)}")
    points = np.asarray(_CONTROL_POINTS[name], dtype=np.float64)
    t = np.linspace(0.0, 1.0, 256)
    table = np.full((256, 4), 255, dtype=np.uint8)
    for channel in range(3):
        table[:, channel] = np.rint(np.interp(t, points[:, 0], points[:, channel + 1]))
    return table


def apply_lookup(table: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``table[index]`` for an ``(n, 4)`` uint8 RGBA table, as ``(..., 4)`` C-contiguous uint8.

    Indexes the table as one uint32 per entry, several times faster than row indexing.
    """
    packed = np.ascontiguousarray(table, dtype=np.uint8).view(np.uint32).ravel()
    return packed[index].view(np.uint8).reshape(*index.shape, 4)


def apply_colormap(
    data: np.ndarray, name: str, limits: tuple[float, float], *, alpha_from_value: bool = False
) -> np.ndarray:
    """``(h, w)`` floats -> ``(h, w, 4)`` C-contiguous uint8 RGBA, ``limits`` mapped to the table's ends.

    With ``alpha_from_value`` the low end fades out (see :func:`fade_alpha`).
    """
    low, high = limits
    scale = 255.0 / (high - low) if high > low else 0.0
    index = np.clip((np.asarray(data, dtype=np.float32) - low) * scale, 0, 255).astype(np.uint8)
    table = lookup_table(name)
    if alpha_from_value:
        table[:, 3] = fade_alpha()
    return apply_lookup(table, index)


#: Where a fading colormap becomes opaque, as a fraction of its range.
FADE_END = 0.5


def fade_alpha() -> np.ndarray:
    """``(256,)`` uint8 opacity of a fading colormap: 0 at the low end, growing with the square of the
    value up to opaque at :data:`FADE_END`. The low ends of magma and inferno are near black: the
    square keeps them faint (4 % opacity at a tenth of the range, against 20 % for a linear ramp),
    so that a heatmap does not darken the image where its values are low."""
    ramp = np.clip(np.arange(256) / (255 * FADE_END), 0.0, 1.0)
    return np.rint(255 * ramp**2).astype(np.uint8)
