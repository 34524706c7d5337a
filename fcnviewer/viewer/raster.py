"""Helpers for drawing rasters."""

from __future__ import annotations

import numpy as np


def edges(values: np.ndarray) -> np.ndarray:
    """Where ``values`` changes between neighbours, 2 pixels wide (both sides of each boundary)."""
    edge = np.zeros(values.shape, dtype=bool)
    across, down = values[:, 1:] != values[:, :-1], values[1:, :] != values[:-1, :]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    edge[1:, :] |= down
    edge[:-1, :] |= down
    return edge
