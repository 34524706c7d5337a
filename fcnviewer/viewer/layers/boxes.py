"""The receptive-field boxes of pinned pixels."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fcnviewer.core.names import path_label
from fcnviewer.viewer.layers.base import Layer


@dataclass(frozen=True)
class Pin:
    """A clicked pixel and the input boxes ``(x0, y0, x1, y1)`` (inclusive) behind it, by stage;
    ``whole_image`` names the stages that a global pooling lets see the whole image besides (their
    box is that of their local paths)."""

    y: int
    x: int
    boxes: Mapping[str, tuple[int, int, int, int]]
    whole_image: frozenset[str] = frozenset()


#: Key prefix of the box of the crop a convolutionalised classifier's unit stands for, and its colour.
CROP_PREFIX, CROP_COLOR = "crop of unit", (120, 255, 120)

#: Box colours by stage name, distinct from each other and from the VOC palette's first colours.
STAGE_COLORS: dict[str, tuple[int, int, int]] = {
    "32": (255, 80, 80),
    "16": (255, 200, 0),
    "8": (0, 220, 255),
    "4": (80, 255, 120),
    "2": (255, 120, 220),
    "1": (255, 160, 60),
    "aux": (180, 120, 255),
    "final": (255, 255, 255),
}


#: The colour of a layer's box (the network panel's selection), distinct from every stage's.
LAYER_COLOR = (255, 64, 255)
#: Key prefixes of a layer's box and of a skip path's box (a path takes its stage's colour).
LAYER_PREFIX, PATH_PREFIX = "layer ", "path "
PATH_STAGES = {"stride32": "32", "pool4": "16", "pool3": "8", "high": "16", "low": "8"}


def clip_box(box: tuple[int, int, int, int], height: int, width: int) -> tuple[tuple[int, int, int, int] | None, int]:
    """``box`` ``(x0, y0, x1, y1)`` (inclusive) cut to a ``height`` x ``width`` image, and how far
    (pixels) it reaches past the image on its farthest side; ``None`` if nothing of it is inside."""
    x0, y0, x1, y1 = box
    beyond = max(0, -x0, -y0, x1 - (width - 1), y1 - (height - 1))
    clipped = (max(x0, 0), max(y0, 0), min(x1, width - 1), min(y1, height - 1))
    inside = clipped[0] <= clipped[2] and clipped[1] <= clipped[3]
    return (clipped if inside else None), beyond


def stage_label(stage: str) -> str:
    """How a stage is named to the user: ``stride 32``, or ``final``/``aux`` as they are; a skip
    path's box (``path stride32``, ``path pool4``, ``path low``) by :func:`~fcnviewer.core.names.path_label`."""
    if stage.startswith(PATH_PREFIX):
        return path_label(stage.removeprefix(PATH_PREFIX))
    return f"stride {stage}" if stage.isdigit() else stage


class BoxesLayer(Layer):
    """Receptive-field boxes of pinned pixels, one colour per stage.

    Events beyond :class:`Layer`'s: ``pins`` (the new tuple of pins).
    """

    _event_names = ("pins",)

    def __init__(self, name: str = "receptive fields", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._pins: tuple[Pin, ...] = ()

    @property
    def pins(self) -> tuple[Pin, ...]:
        """Pinned pixels, oldest first."""
        return self._pins

    def pin(self, pin: Pin, *, keep: bool = False) -> None:
        """Show ``pin``'s boxes; with ``keep`` the earlier pins stay."""
        self._set_pins((*self._pins, pin) if keep else (pin,))

    def clear(self) -> None:
        """Remove every pin."""
        if self._pins:
            self._set_pins(())

    def _set_pins(self, pins: tuple[Pin, ...]) -> None:
        self._pins = pins
        self.events.pins.emit(pins)
        self.events.rendered.emit()

    @staticmethod
    def color(stage: str) -> tuple[int, int, int]:
        """The colour of ``stage``'s boxes (of a layer's or a skip path's: see :data:`LAYER_PREFIX`)."""
        if stage.startswith(LAYER_PREFIX):
            return LAYER_COLOR
        if stage.startswith(CROP_PREFIX):
            return CROP_COLOR
        return STAGE_COLORS.get(PATH_STAGES.get(stage.removeprefix(PATH_PREFIX), stage), (200, 200, 200))
