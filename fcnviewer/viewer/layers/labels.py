"""Layers drawn from per-pixel labels: the image itself, class labels, and where the skips changed them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from fcnviewer.viewer.colormaps import apply_lookup
from fcnviewer.viewer.events import Evented, as_class_set, initialize, one_of
from fcnviewer.viewer.layers.base import RasterLayer
from fcnviewer.viewer.raster import edges


class ImageLayer(RasterLayer):
    """The RGB image itself."""

    def __init__(self, name: str = "image", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._image = np.zeros((1, 1, 3), dtype=np.uint8)

    def set_image(self, image: np.ndarray) -> None:
        """Show an ``(H, W, 3)`` uint8 RGB image."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} {image.shape}")
        self._image = image
        self._full_image_rect(image)
        self._refresh()

    def _render(self) -> np.ndarray:
        alpha = np.full((*self._image.shape[:2], 1), 255, dtype=np.uint8)
        return np.concatenate([self._image, alpha], axis=2)

    def value_at(self, y: int, x: int) -> str | None:
        r, g, b = (int(v) for v in self._image[y, x])
        return f"RGB {r} {g} {b}"


class LabelLayer(RasterLayer):
    """Class labels in class colours, filled or as contours; some classes may be hidden.

    Events beyond :class:`Layer`'s: ``mode``, ``hidden_classes``.
    """

    MODES = ("fill", "contour")
    _event_names = ("mode", "hidden_classes")
    _style_names = ("mode", "hidden_classes")
    _data_names = ("_labels", "_palette", "_names")

    mode: Evented[str] = Evented(
        one_of(MODES), then="_on_mode_changed", doc="``fill`` or ``contour`` (2 px lines, drawn opaque)."
    )
    hidden_classes: Evented[frozenset[int]] = Evented(as_class_set, then="_refresh", doc="Classes not drawn.")

    def __init__(self, name: str, *, mode: str = "fill", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        initialize(self, mode=mode, hidden_classes=())
        self._labels = np.zeros((1, 1), dtype=np.uint8)
        self._palette = np.zeros((1, 3), dtype=np.uint8)
        self._names: tuple[str, ...] = ("",)

    @property
    def labels(self) -> np.ndarray:
        """``(H, W)`` class indices."""
        return self._labels

    def set_labels(self, labels: np.ndarray, palette: np.ndarray, class_names: Sequence[str]) -> None:
        """Show ``labels`` coloured by ``palette`` ``(C, 3)`` uint8."""
        if labels.ndim != 2:
            raise ValueError(f"labels must be (H, W), not {labels.shape}")
        if len(palette) != len(class_names):
            raise ValueError(f"{len(palette)} colours for {len(class_names)} class names")
        self._labels, self._palette, self._names = labels, np.asarray(palette, np.uint8), tuple(class_names)
        self._full_image_rect(labels)
        self._refresh()

    def _render(self) -> np.ndarray:
        table = np.zeros((max(len(self._palette), 256), 4), dtype=np.uint8)
        table[: len(self._palette), :3] = self._palette
        table[: len(self._palette), 3] = 255
        table[list(self._hidden_classes), 3] = 0
        rgba = apply_lookup(table, self._labels)
        if self._mode == "contour":
            rgba[..., 3] &= np.where(edges(self._labels), 255, 0).astype(np.uint8)
        return rgba

    def _on_mode_changed(self) -> None:
        if self._mode == "contour":
            self.opacity = 1.0  # thin lines at half opacity are hard to see
        self._refresh()

    def value_at(self, y: int, x: int) -> str | None:
        index = int(self._labels[y, x])
        return self._names[index] if index < len(self._names) else str(index)


def skip_stages(stages: Iterable[str]) -> tuple[str, ...]:
    """The stages the skips' effect is judged on, coarse to fine: all but an auxiliary head."""
    return tuple(name for name in stages if name != "aux")


class ChangeLayer(RasterLayer):
    """Pixels where a fine stage's label differs from the coarsest one's: what the skips changed."""

    _data_names = ("_mask", "_pair")

    def __init__(
        self, name: str = "skips changed", *, color: tuple[int, int, int] = (255, 0, 255), **kwargs: Any
    ) -> None:
        super().__init__(name, **kwargs)
        self._color = color
        self._mask = np.zeros((1, 1), dtype=bool)
        self._pair = ("", "")

    def set_labels(self, coarse: np.ndarray, fine: np.ndarray, pair: tuple[str, str]) -> None:
        """Mark where ``fine`` differs from ``coarse`` (stage names ``pair``, coarse first)."""
        self._mask = coarse != fine
        self._pair = pair
        self._full_image_rect(coarse)
        self._refresh()

    def _render(self) -> np.ndarray:
        table = np.array([(0, 0, 0, 0), (*self._color, 255)], dtype=np.uint8)
        return apply_lookup(table, self._mask.view(np.uint8))

    def value_at(self, y: int, x: int) -> str | None:
        return f"changed {self._pair[0]}→{self._pair[1]}" if self._mask[y, x] else None
