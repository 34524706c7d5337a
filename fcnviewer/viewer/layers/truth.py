"""Layers drawn from the ground truth: the true classes, the errors, and what the skips fixed or broke."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fcnviewer.core.labels import IGNORE_INDEX
from fcnviewer.viewer.colormaps import apply_lookup
from fcnviewer.viewer.events import Evented, as_class_set, initialize, one_of
from fcnviewer.viewer.layers.base import RasterLayer

#: Label value of pixels the truth leaves out (core.labels.IGNORE_INDEX, as in VOC).
IGNORE = IGNORE_INDEX
#: Colours of ignored pixels (drawn hatched), correct and wrong pixels, and of the skips' effect.
#: In the errors layer correct pixels are drawn faint and ignored ones half, so that the wrong ones stand out.
IGNORE_COLOR = (150, 150, 150)
CORRECT_COLOR = (60, 190, 90)
WRONG_COLOR = (230, 40, 40)
FIXED_COLOR = (0, 200, 255)
BROKEN_COLOR = (255, 150, 0)
CORRECT_ALPHA, IGNORED_ALPHA = 90, 160


def hatch(shape: tuple[int, int], period: int = 6) -> np.ndarray:
    """``(H, W)`` bool diagonal stripes, a third of each ``period`` pixels on."""
    y, x = np.indices(shape, sparse=True)
    return (x + y) % period < max(1, period // 3)


class TruthRasterLayer(RasterLayer):
    """A layer made from the truth (on the worker, say) that another copy can take over."""

    def take(self, other: TruthRasterLayer) -> None:
        """Show ``other``'s data: its colours when coloured alike, else coloured again in this one's style."""
        if self.adopt(other):
            return
        for name in ("_rect", *self._data_names):
            setattr(self, name, getattr(other, name))
        self._refresh()


class TruthLayer(TruthRasterLayer):
    """The true classes in class colours; ignored pixels (255) hatched grey; some classes hidden."""

    _event_names = ("hidden_classes",)
    _style_names = ("hidden_classes",)
    _data_names = ("_truth", "_palette", "_names")

    hidden_classes: Evented[frozenset[int]] = Evented(as_class_set, then="_refresh", doc="Classes not drawn.")

    def __init__(self, name: str = "ground truth", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        initialize(self, hidden_classes=())
        self._truth = np.zeros((1, 1), dtype=np.uint8)
        self._palette = np.zeros((1, 3), dtype=np.uint8)
        self._names: tuple[str, ...] = ("",)

    def set_truth(self, truth: np.ndarray, palette: np.ndarray, class_names: Sequence[str]) -> None:
        """Show ``(H, W)`` uint8 labels ``truth`` coloured by ``palette`` ``(C, 3)``."""
        self._truth, self._palette, self._names = truth, np.asarray(palette, np.uint8), tuple(class_names)
        self._full_image_rect(truth)
        self._refresh()

    def _render(self) -> np.ndarray:
        table = np.zeros((256, 4), dtype=np.uint8)
        count = min(len(self._palette), IGNORE)
        table[:count, :3] = self._palette[:count]
        table[:count, 3] = 255
        table[[c for c in self._hidden_classes if c < count], 3] = 0
        table[IGNORE] = (*IGNORE_COLOR, 255)
        rgba = apply_lookup(table, self._truth).copy()
        ignored = self._truth == IGNORE
        rgba[..., 3][ignored & ~hatch(self._truth.shape)] = 0
        return rgba

    def value_at(self, y: int, x: int) -> str | None:
        index = int(self._truth[y, x])
        if index == IGNORE:
            return "ignore"
        return self._names[index] if index < len(self._names) else str(index)


class ErrorLayer(TruthRasterLayer):
    """Each pixel against the truth: correct (green), wrong (red, or the predicted class's colour)
    or ignored (grey). Events beyond :class:`Layer`'s: ``wrong_color``."""

    WRONG_COLORS = ("red", "predicted class")
    _event_names = ("wrong_color",)
    _style_names = ("wrong_color",)
    _data_names = ("_truth", "_labels", "_palette")

    wrong_color: Evented[str] = Evented(
        one_of(WRONG_COLORS), then="_refresh", doc="Wrong pixels in red or in the colour of the class predicted."
    )

    def __init__(self, name: str = "errors", *, wrong_color: str = "red", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        initialize(self, wrong_color=wrong_color)
        self._truth = np.zeros((1, 1), dtype=np.uint8)
        self._labels = np.zeros((1, 1), dtype=np.uint8)
        self._palette = np.zeros((1, 3), dtype=np.uint8)

    def set_errors(self, truth: np.ndarray, labels: np.ndarray, palette: np.ndarray) -> None:
        """Compare predicted ``labels`` with ``truth`` (both ``(H, W)``); ``palette`` colours wrong pixels."""
        self._truth, self._labels, self._palette = truth, labels, np.asarray(palette, np.uint8)
        self._full_image_rect(truth)
        self._refresh()

    def _render(self) -> np.ndarray:
        rgba = np.zeros((*self._truth.shape, 4), dtype=np.uint8)
        ignored = self._truth == IGNORE
        wrong = (self._truth != self._labels) & ~ignored
        rgba[(~wrong) & ~ignored] = (*CORRECT_COLOR, CORRECT_ALPHA)
        rgba[ignored] = (*IGNORE_COLOR, IGNORED_ALPHA)
        if self._wrong_color == "red":
            rgba[wrong] = (*WRONG_COLOR, 255)
        else:
            rgba[wrong, :3] = self._palette[np.minimum(self._labels[wrong], len(self._palette) - 1)]
            rgba[wrong, 3] = 255
        return rgba

    def value_at(self, y: int, x: int) -> str | None:
        truth = int(self._truth[y, x])
        return "ignored" if truth == IGNORE else ("correct" if truth == int(self._labels[y, x]) else "wrong")


class SkipEffectLayer(TruthRasterLayer):
    """Pixels the skips ``fixed`` (wrong at the coarsest stage, right in the final output) or
    ``broke`` (the reverse); ignored pixels count as neither."""

    KINDS = ("fixed", "broke")
    _data_names = ("_mask", "_stage")

    def __init__(self, kind: str, **kwargs: Any) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {', '.join(self.KINDS)}, not {kind!r}")
        super().__init__(f"{'fixed' if kind == 'fixed' else 'broken'} by skips", **kwargs)
        self.kind = kind
        self._color = FIXED_COLOR if kind == "fixed" else BROKEN_COLOR
        self._mask = np.zeros((1, 1), dtype=bool)
        self._stage = ""

    def set_effect(self, truth: np.ndarray, coarse: np.ndarray, final: np.ndarray, stage: str) -> None:
        """Compare the coarsest stage's labels ``coarse`` (stage ``stage``) and the final ``final`` with ``truth``."""
        counted = truth != IGNORE
        coarse_right, final_right = (coarse == truth) & counted, (final == truth) & counted
        self._mask = (final_right & ~coarse_right) if self.kind == "fixed" else (coarse_right & ~final_right & counted)
        self._stage = stage
        self._full_image_rect(truth)
        self._refresh()

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool: the pixels marked."""
        return self._mask

    def _render(self) -> np.ndarray:
        table = np.array([(0, 0, 0, 0), (*self._color, 255)], dtype=np.uint8)
        return apply_lookup(table, self._mask.view(np.uint8))

    def value_at(self, y: int, x: int) -> str | None:
        if not self._mask[y, x]:
            return None
        return f"{self.kind} by the skips (stride {self._stage} {'wrong' if self.kind == 'fixed' else 'right'})"
