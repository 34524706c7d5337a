"""How large an effective receptive field is: the boxes holding a share of its gradient mass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fcnviewer.core.receptive.boxes import Box


@dataclass(frozen=True)
class ErfStats:
    """The boxes holding 90 % and 50 % of an ERF's mass, and the 90 % box's area as a share of
    the theoretical box's (clipped to the image)."""

    mass90_box: Box
    mass50_box: Box
    share_of_theoretical: float

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly: boxes as ``[x0, y0, x1, y1]``."""
        return {
            "mass90_box": self.mass90_box.as_list(),
            "mass50_box": self.mass50_box.as_list(),
            "share_of_theoretical": self.share_of_theoretical,
        }


def mass_box(values: np.ndarray, share: float) -> Box:
    """A small inclusive box of the ``(H, W)`` non-negative map ``values`` holding at least ``share``
    of its total: starting from the whole map, the lighter of its four edge lines is peeled off
    while the rest still holds ``share`` (greedy, so not always the smallest possible box).
    An all-zero map gives the whole map."""
    rows, cols = values.sum(1, dtype=np.float64), values.sum(0, dtype=np.float64)
    need = share * rows.sum() * (1 - 1e-9)  # 0.9 * 100 is 90.00000000000001
    y0, y1, x0, x1 = 0, len(rows) - 1, 0, len(cols) - 1
    kept = rows.sum()
    while need > 0:
        edges = {"top": rows[y0], "bottom": rows[y1], "left": cols[x0], "right": cols[x1]}
        side = min((s for s in edges if _peelable(s, y0, y1, x0, x1)), key=edges.__getitem__, default=None)
        if side is None or kept - edges[side] < need:
            break
        kept -= edges[side]
        if side in ("top", "bottom"):
            y = y0 if side == "top" else y1
            cols[x0 : x1 + 1] -= values[y, x0 : x1 + 1]
            y0, y1 = (y0 + 1, y1) if side == "top" else (y0, y1 - 1)
        else:
            x = x0 if side == "left" else x1
            rows[y0 : y1 + 1] -= values[y0 : y1 + 1, x]
            x0, x1 = (x0 + 1, x1) if side == "left" else (x0, x1 - 1)
    return Box(x0, y0, x1, y1)


def mass_levels(values: np.ndarray, shares: Sequence[float]) -> tuple[float, ...]:
    """For each of ``shares``, the largest value ``v`` whose entries ``>= v`` in the non-negative map
    ``values`` hold at least that share of its total: the level of the contour around that share of
    the mass (ERFs are near Gaussian, so it is one blob); one sort for all. 0 for an all-zero map."""
    ordered = np.sort(values, axis=None)[::-1]
    cumulative = np.cumsum(ordered, dtype=np.float64)
    if not ordered.size or cumulative[-1] <= 0:
        return tuple(0.0 for _ in shares)
    indices = np.searchsorted(cumulative, np.asarray(shares) * cumulative[-1] * (1 - 1e-9))
    return tuple(float(ordered[min(int(i), ordered.size - 1)]) for i in indices)


def _peelable(side: str, y0: int, y1: int, x0: int, x1: int) -> bool:
    return y1 > y0 if side in ("top", "bottom") else x1 > x0


def erf_stats(values: np.ndarray, theoretical: Box) -> ErfStats:
    """:class:`ErfStats` of an ``(H, W)`` ERF whose theoretical box is ``theoretical`` (not clipped)."""
    height, width = values.shape
    x0, y0 = max(theoretical.x0, 0), max(theoretical.y0, 0)
    clip = Box(x0, y0, min(theoretical.x1, width - 1), min(theoretical.y1, height - 1))
    box90 = mass_box(values, 0.9)
    share = box90.width * box90.height / max(clip.width * clip.height, 1)
    return ErfStats(box90, mass_box(values, 0.5), float(share))
