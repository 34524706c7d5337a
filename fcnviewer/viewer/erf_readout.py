"""Readable effective receptive fields: a log scale, contours around 50 % and 90 % of the gradient
mass, and the size of the field as figures (Luo et al. 2016: a Gaussian-like ERF fills only a
fraction of the theoretical field).

A field is speckled at the scale of a pixel (max-pool switches, ReLUs): the contours are those of
the field blurred over about :data:`BLUR_RADIUS` pixels (summed over 2x2 pixels, then twice a box
filter; both keep the mass), so they outline the blob instead of every speck. The 2x2 sums make
the blur four times cheaper (it runs for every stage of every probe); the lines keep 2 px steps.
The mass boxes are the raw field's.
:func:`erf_readout` runs where the field is computed (the worker thread: sorting and blurring a
large field take tens of milliseconds); painting its contour lines onto the coloured field is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fcnviewer.viewer.raster import edges

BoxTuple = tuple[int, int, int, int]

#: Shares of the gradient mass outlined by a contour, inner first.
MASS_SHARES = (0.5, 0.9)
#: Contour colours (RGB) by share: white inside, cyan outside.
CONTOUR_COLORS = {0.5: (255, 255, 255), 0.9: (0, 230, 255)}
#: The 90 % mass box's colour.
MASS_BOX_COLOR = (255, 60, 255)
#: Half-width of the box filter (applied twice) that the contours' field is blurred with, in pixels.
BLUR_RADIUS = 8
#: Decades below the field's top that the log scale shows.
LOG_DECADES = 4.0


@dataclass(frozen=True, eq=False)
class ErfReadout:
    """An ERF's contour levels (the values of its blurred field above which 50 % and 90 % of the
    mass lie) and lines (``(h, w)`` uint8: 1 on the 50 % line, 2 on the 90 % line, else 0), its
    90 % and 50 % mass boxes ``(x0, y0, x1, y1)`` in image pixels, and the 90 % box's area as a
    share of the theoretical box cut to the image (``None`` without one)."""

    levels: tuple[float, float]
    lines: np.ndarray
    mass90_box: BoxTuple
    mass50_box: BoxTuple
    share_of_theoretical: float | None


def erf_readout(values: np.ndarray, origin: tuple[int, int], theoretical: BoxTuple | None) -> ErfReadout:
    """The readout of an ``(h, w)`` field of the image window starting at ``origin`` (row, column)
    whose theoretical box (image pixels, not clipped; cut to the window here) is ``theoretical``."""
    from fcnviewer.core.receptive.boxes import Box
    from fcnviewer.core.receptive.mass import erf_stats, mass_box, mass_levels

    row, col = origin
    blurred = blur(values)  # full size again, so levels and lines are of image pixels
    levels = mass_levels(blurred, MASS_SHARES)
    lines = np.zeros(values.shape, dtype=np.uint8)
    for index, level in reversed(list(enumerate(levels, start=1))):  # the inner line drawn last, on top
        if level > 0:
            lines[edges(blurred >= level)] = index
    if theoretical is None:
        boxes, share = (mass_box(values, 0.9), mass_box(values, 0.5)), None
    else:
        x0, y0, x1, y1 = theoretical
        stats = erf_stats(values, Box(x0 - col, y0 - row, x1 - col, y1 - row))
        boxes, share = (stats.mass90_box, stats.mass50_box), stats.share_of_theoretical
    moved = [(b.x0 + col, b.y0 + row, b.x1 + col, b.y1 + row) for b in boxes]
    return ErfReadout(levels, lines, moved[0], moved[1], share)


def blur(values: np.ndarray, radius: int = BLUR_RADIUS) -> np.ndarray:
    """``values`` summed over 2x2 pixels, filtered twice by a box of ``radius`` / 2 on either side
    along each axis (edges repeated), each sum then spread back over its 4 pixels: an ``(h, w)``
    float32 map with the same total up to the edges."""
    height, width = values.shape
    out = np.pad(values.astype(np.float32), ((0, height % 2), (0, width % 2)), mode="edge")
    out = out.reshape(out.shape[0] // 2, 2, out.shape[1] // 2, 2).sum((1, 3)) / 4
    half = max(1, radius // 2)
    for _ in range(2):
        for axis in (0, 1):
            padded = np.pad(out, [(half + 1, half) if a == axis else (0, 0) for a in (0, 1)], mode="edge")
            summed = np.cumsum(padded, axis=axis, dtype=np.float64)
            upper = np.take(summed, range(2 * half + 1, summed.shape[axis]), axis=axis)
            lower = np.take(summed, range(0, summed.shape[axis] - 2 * half - 1), axis=axis)
            out = ((upper - lower) / (2 * half + 1)).astype(np.float32)
    return np.repeat(np.repeat(out, 2, axis=0), 2, axis=1)[:height, :width]


def log_scaled(values: np.ndarray, top: float) -> tuple[np.ndarray, tuple[float, float]]:
    """``log10`` of a non-negative field and the limits showing :data:`LOG_DECADES` below ``top``."""
    high = float(np.log10(top)) if top > 0 else 0.0
    low = high - LOG_DECADES
    data = np.log10(np.maximum(values, np.float32(10.0**low))).astype(np.float32)
    return data, (low, high)


def paint_readout(
    rgba: np.ndarray, readout: ErfReadout, origin: tuple[int, int], *, contours: bool, mass_box: bool
) -> None:
    """Draw, opaque, into the ``(h, w, 4)`` colouring of the field of the window at ``origin``: the
    50 % and 90 % mass contours and the 90 % mass box (2 px lines)."""
    if contours:
        for index, share in enumerate(MASS_SHARES, start=1):
            rgba[readout.lines == index] = (*CONTOUR_COLORS[share], 255)
    if mass_box:
        row, col = origin
        x0, y0, x1, y1 = readout.mass90_box
        x0, x1, y0, y1 = x0 - col, x1 - col, y0 - row, y1 - row
        colour = (*MASS_BOX_COLOR, 255)
        rgba[y0 : y0 + 2, x0 : x1 + 1] = colour
        rgba[max(y1 - 1, y0) : y1 + 1, x0 : x1 + 1] = colour
        rgba[y0 : y1 + 1, x0 : x0 + 2] = colour
        rgba[y0 : y1 + 1, max(x1 - 1, x0) : x1 + 1] = colour
