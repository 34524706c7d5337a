"""The layer base classes: a showable, fadeable :class:`Layer` and the :class:`RasterLayer` drawn from RGBA."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from fcnviewer.viewer.events import EmitterGroup, Evented, as_bool, as_fraction, initialize


class Layer:
    """A named, showable, fadeable thing on the canvas.

    Events: ``visible``, ``opacity`` (the new value) and ``rendered`` (what is drawn changed).
    """

    _event_names: ClassVar[tuple[str, ...]] = ()

    visible: Evented[bool] = Evented(as_bool, doc="Whether the layer is drawn.")
    opacity: Evented[float] = Evented(as_fraction, doc="0 (transparent) to 1 (opaque).")

    def __init__(self, name: str, *, visible: bool = True, opacity: float = 1.0, description: str = "") -> None:
        self.name = name
        self.description = description
        self.events = EmitterGroup("visible", "opacity", "rendered", *self._event_names)
        initialize(self, visible=bool(visible), opacity=opacity)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    def value_at(self, y: int, x: int) -> str | None:
        """What the layer shows at image pixel ``(y, x)``, in words (``None``: nothing)."""
        return None


class RasterLayer(Layer):
    """A layer drawn from an RGBA array placed over the image by ``rect``.

    Its colouring properties (``style``) and data can be set on a copy elsewhere, e.g. on the
    worker thread, and then taken over by :meth:`adopt` without colouring anything again.
    """

    #: Properties that decide how the data is coloured, each stored as ``_<name>``.
    _style_names: ClassVar[tuple[str, ...]] = ()
    #: Attributes holding the data, taken over by :meth:`adopt`.
    _data_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._rgba = np.zeros((1, 1, 4), dtype=np.uint8)
        self._rect: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
        self.has_data = False

    @property
    def rgba(self) -> np.ndarray:
        """``(h, w, 4)`` C-contiguous uint8, coloured once per change of data or colouring."""
        return self._rgba

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """``(x, y, width, height)`` of the array in image pixels (pixel ``(0, 0)`` spans 0..1)."""
        return self._rect

    @property
    def style(self) -> tuple[Any, ...]:
        """Values of the colouring properties."""
        return tuple(getattr(self, name) for name in self._style_names)

    def restyle(self, style: tuple[Any, ...]) -> None:
        """Set the colouring properties to ``style`` without colouring (before new data comes)."""
        for name, value in zip(self._style_names, style, strict=True):
            setattr(self, f"_{name}", value)

    def adopt(self, other: RasterLayer) -> bool:
        """Take over ``other``'s data and colours if it is the same kind of layer, coloured the
        same way; whether it did."""
        if type(other) is not type(self) or other.style != self.style or not other.has_data:
            return False
        for name in ("_rgba", "_rect", *self._data_names):
            setattr(self, name, getattr(other, name))
        self.has_data = True
        self._announce()
        return True

    def _render(self) -> np.ndarray:
        raise NotImplementedError

    def _refresh(self) -> None:
        """Colour the data again (after a change of data or of a colouring property)."""
        self._rgba = np.ascontiguousarray(self._render(), dtype=np.uint8)
        self.has_data = True
        self._announce()

    def _announce(self) -> None:
        """Tell subscribers that new colours are ready."""
        self.events.rendered.emit()

    def _full_image_rect(self, data: np.ndarray) -> None:
        """Place ``data`` one value per image pixel."""
        self._rect = (0.0, 0.0, float(data.shape[1]), float(data.shape[0]))

    def clear(self) -> None:
        """Draw nothing until new data comes."""
        self._rgba = np.zeros((1, 1, 4), dtype=np.uint8)
        self._rect = (0.0, 0.0, 1.0, 1.0)
        self.has_data = False
        self.events.rendered.emit()
