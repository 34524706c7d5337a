"""Layer models: plain Python objects (numpy only, no Qt) that validate their properties and emit changes.

As in napari, the canvas and the control widgets subscribe to a layer's events; the layer
never knows them. Raster layers colour their data once into a C-contiguous ``(h, w, 4)``
uint8 RGBA array (``rgba``) when the data or a colouring property changes, so that showing,
hiding, reordering and fading a layer costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from fcnviewer.qt.colormaps import COLORMAPS, apply_colormap, apply_lookup

Callback = Callable[..., Any]


class Emitter:
    """Callbacks called with the emitted value, in connection order."""

    def __init__(self) -> None:
        self._callbacks: list[Callback] = []

    def connect(self, callback: Callback) -> None:
        """Call ``callback`` on every emission."""
        self._callbacks.append(callback)

    def disconnect(self, callback: Callback) -> None:
        """Stop calling ``callback``."""
        self._callbacks.remove(callback)

    def emit(self, *args: Any) -> None:
        """Call every connected callback with ``args``."""
        for callback in list(self._callbacks):
            callback(*args)


class EmitterGroup:
    """Named emitters: ``group.visible.connect(...)``."""

    def __init__(self, *names: str) -> None:
        for name in names:
            setattr(self, name, Emitter())

    def __getattr__(self, name: str) -> Emitter:  # only reached for unknown names
        raise AttributeError(f"no event named {name!r}")


class Geometry(Protocol):
    """Where a stage map's units sit on the image (``fcnviewer.core.alignment.StageGeometry``)."""

    stride: float
    offset: float

    def source_indices(self, pixels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def aligned_scores_at(scores: np.ndarray, geometry: Geometry, y: int, x: int) -> np.ndarray:
    """``(C,)`` image-aligned scores of a ``(C, h, w)`` stage map at image pixel ``(y, x)``.

    The same bilinear, clamped rule as ``upsample_to_image``, evaluated at one pixel.
    """
    y0, y1, wy = (a[0] for a in geometry.source_indices(np.array([y]), scores.shape[1]))
    x0, x1, wx = (a[0] for a in geometry.source_indices(np.array([x]), scores.shape[2]))
    top = scores[:, y0, x0] * (1 - wx) + scores[:, y0, x1] * wx
    bottom = scores[:, y1, x0] * (1 - wx) + scores[:, y1, x1] * wx
    return (top * (1 - wy) + bottom * wy).astype(np.float32)


def softmax(values: np.ndarray) -> np.ndarray:
    """Softmax of a 1-D array."""
    e = np.exp(values - values.max())
    return e / e.sum()


def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


class Layer:
    """A named, showable, fadeable thing on the canvas.

    Events: ``visible``, ``opacity`` (the new value) and ``rendered`` (what is drawn changed).
    """

    _event_names: tuple[str, ...] = ()

    def __init__(self, name: str, *, visible: bool = True, opacity: float = 1.0, description: str = "") -> None:
        self.name = name
        self.description = description
        self.events = EmitterGroup("visible", "opacity", "rendered", *self._event_names)
        self._visible = bool(visible)
        self._opacity = self._valid_opacity(opacity)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @staticmethod
    def _valid_opacity(value: float) -> float:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"opacity must be between 0 and 1, not {value}")
        return value

    @property
    def visible(self) -> bool:
        """Whether the layer is drawn."""
        return self._visible

    @visible.setter
    def visible(self, value: bool) -> None:
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"visible must be a bool, not {type(value).__name__}")
        if bool(value) != self._visible:
            self._visible = bool(value)
            self.events.visible.emit(self._visible)

    @property
    def opacity(self) -> float:
        """0 (transparent) to 1 (opaque)."""
        return self._opacity

    @opacity.setter
    def opacity(self, value: float) -> None:
        value = self._valid_opacity(value)
        if value != self._opacity:
            self._opacity = value
            self.events.opacity.emit(value)

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
        self._rgba = np.ascontiguousarray(self._render(), dtype=np.uint8)
        self.has_data = True
        self._announce()

    def _announce(self) -> None:
        """Tell subscribers that new colours are ready."""
        self.events.rendered.emit()

    def clear(self) -> None:
        """Draw nothing until new data comes."""
        self._rgba = np.zeros((1, 1, 4), dtype=np.uint8)
        self._rect = (0.0, 0.0, 1.0, 1.0)
        self.has_data = False
        self.events.rendered.emit()


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
        self._rect = (0.0, 0.0, float(image.shape[1]), float(image.shape[0]))
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

    def __init__(self, name: str, *, mode: str = "fill", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._mode = _check_choice("mode", mode, self.MODES)
        self._hidden_classes: frozenset[int] = frozenset()
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
        self._rect = (0.0, 0.0, float(labels.shape[1]), float(labels.shape[0]))
        self._refresh()

    @property
    def mode(self) -> str:
        """``fill`` or ``contour``."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        value = _check_choice("mode", value, self.MODES)
        if value != self._mode:
            self._mode = value
            self._refresh()
            self.events.mode.emit(value)

    @property
    def hidden_classes(self) -> frozenset[int]:
        """Classes not drawn."""
        return self._hidden_classes

    @hidden_classes.setter
    def hidden_classes(self, value: frozenset[int] | set[int]) -> None:
        value = frozenset(int(v) for v in value)
        if value != self._hidden_classes:
            self._hidden_classes = value
            self._refresh()
            self.events.hidden_classes.emit(value)

    def _render(self) -> np.ndarray:
        table = np.zeros((max(len(self._palette), 256), 4), dtype=np.uint8)
        table[: len(self._palette), :3] = self._palette
        table[: len(self._palette), 3] = 255
        table[list(self._hidden_classes), 3] = 0
        rgba = apply_lookup(table, self._labels)
        if self._mode == "contour":
            edge = np.zeros(self._labels.shape, dtype=bool)
            edge[:, 1:] |= self._labels[:, 1:] != self._labels[:, :-1]
            edge[1:, :] |= self._labels[1:, :] != self._labels[:-1, :]
            rgba[..., 3] &= np.where(edge, 255, 0).astype(np.uint8)
        return rgba

    def value_at(self, y: int, x: int) -> str | None:
        index = int(self._labels[y, x])
        return self._names[index] if index < len(self._names) else str(index)


class HeatmapLayer(RasterLayer):
    """Scalar data through a colormap over ``limits``; may be coarser than the image (``rect``).

    Events beyond :class:`Layer`'s: ``colormap`` (new name); ``data`` and ``limits`` (new
    value) after every colouring.
    """

    _event_names = ("colormap", "limits", "data")
    _style_names: ClassVar[tuple[str, ...]] = ("colormap",)
    _data_names: ClassVar[tuple[str, ...]] = ("_data", "_limits")

    def __init__(self, name: str, *, colormap: str = "viridis", alpha_from_value: bool = False, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self._colormap = _check_choice("colormap", colormap, COLORMAPS)
        self._alpha_from_value = alpha_from_value
        self._data = np.zeros((1, 1), dtype=np.float32)
        self._limits = (0.0, 1.0)

    @property
    def data(self) -> np.ndarray:
        """``(h, w)`` float32 values."""
        return self._data

    @property
    def data_range(self) -> tuple[float, float]:
        """Smallest and largest finite value of the data."""
        finite = self._data[np.isfinite(self._data)]
        return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)

    def set_data(
        self,
        data: np.ndarray,
        *,
        rect: tuple[float, float, float, float] | None = None,
        limits: tuple[float, float] | None = None,
    ) -> None:
        """Show ``data`` over ``rect`` (default: one value per image pixel), coloured over ``limits``
        (default: the data's range)."""
        if data.ndim != 2:
            raise ValueError(f"heatmap data must be (h, w), not {data.shape}")
        self._data = np.asarray(data, dtype=np.float32)
        self._rect = rect if rect is not None else (0.0, 0.0, float(data.shape[1]), float(data.shape[0]))
        self._limits = self._valid_limits(limits if limits is not None else self.data_range)
        self._refresh()

    def _announce(self) -> None:
        super()._announce()
        self.events.data.emit()
        self.events.limits.emit(self._limits)

    @staticmethod
    def _valid_limits(value: tuple[float, float]) -> tuple[float, float]:
        low, high = (float(v) for v in value)
        if not (np.isfinite(low) and np.isfinite(high)):
            raise ValueError(f"limits must be finite, not {value}")
        if low > high:
            raise ValueError(f"limits must be (low, high) with low <= high, not {value}")
        return low, high

    @property
    def colormap(self) -> str:
        """Name of the colormap (one of ``COLORMAPS``)."""
        return self._colormap

    @colormap.setter
    def colormap(self, value: str) -> None:
        value = _check_choice("colormap", value, COLORMAPS)
        if value != self._colormap:
            self._colormap = value
            self._refresh()
            self.events.colormap.emit(value)

    @property
    def limits(self) -> tuple[float, float]:
        """``(low, high)``: values mapped to the colormap's ends."""
        return self._limits

    @limits.setter
    def limits(self, value: tuple[float, float]) -> None:
        value = self._valid_limits(value)
        if value != self._limits:
            self._limits = value
            self._refresh()

    def _render(self) -> np.ndarray:
        return apply_colormap(self._data, self._colormap, self._limits, alpha_from_value=self._alpha_from_value)

    def _index(self, y: int, x: int) -> tuple[int, int]:
        """Data cell under image pixel ``(y, x)``."""
        rx, ry, rw, rh = self._rect
        h, w = self._data.shape
        row = int(np.clip((y + 0.5 - ry) * h / rh, 0, h - 1))
        col = int(np.clip((x + 0.5 - rx) * w / rw, 0, w - 1))
        return row, col

    def value_at(self, y: int, x: int) -> str | None:
        return f"{float(self._data[self._index(y, x)]):.3g}"


class ScoreLayer(HeatmapLayer):
    """One class's score in one stage map, shown at the map's own resolution (one cell per unit).

    Events beyond :class:`HeatmapLayer`'s: ``class_index``.
    """

    _event_names = (*HeatmapLayer._event_names, "class_index")
    _style_names = ("colormap", "class_index")
    _data_names = (*HeatmapLayer._data_names, "_scores", "_geometry", "class_names")

    def __init__(self, name: str, *, colormap: str = "coolwarm", **kwargs: Any) -> None:
        super().__init__(name, colormap=colormap, **kwargs)
        self._scores = np.zeros((1, 1, 1), dtype=np.float32)
        self._geometry: Geometry | None = None
        self._class_index = 0
        self.class_names: tuple[str, ...] = ("",)

    def set_scores(self, scores: np.ndarray, geometry: Geometry, class_names: Sequence[str]) -> None:
        """Show ``(C, h, w)`` stage scores whose unit ``m`` is centred on input pixel ``offset + stride * m``."""
        if scores.ndim != 3 or scores.shape[0] != len(class_names):
            raise ValueError(f"scores {scores.shape} do not match {len(class_names)} classes")
        self._scores, self._geometry, self.class_names = scores, geometry, tuple(class_names)
        self._class_index = min(self._class_index, len(class_names) - 1)
        self._show_class()

    @property
    def class_index(self) -> int:
        """The class whose score is shown."""
        return self._class_index

    @class_index.setter
    def class_index(self, value: int) -> None:
        value = int(value)
        if not 0 <= value < self._scores.shape[0]:
            raise ValueError(f"class_index must be in 0..{self._scores.shape[0] - 1}, not {value}")
        if value != self._class_index:
            self._class_index = value
            self._show_class()
            self.events.class_index.emit(value)

    def _show_class(self) -> None:
        assert self._geometry is not None
        stride, offset = float(self._geometry.stride), float(self._geometry.offset)
        _, h, w = self._scores.shape
        rect = (offset + 0.5 - stride / 2, offset + 0.5 - stride / 2, stride * w, stride * h)
        data = self._scores[self._class_index]
        bound = float(np.abs(data).max()) or 1.0
        self.set_data(data, rect=rect, limits=(-bound, bound))

    def value_at(self, y: int, x: int) -> str | None:
        if self._geometry is None:
            return None
        score = aligned_scores_at(self._scores, self._geometry, y, x)[self._class_index]
        return f"{self.class_names[self._class_index]} {score:.3g}"


class UncertaintyLayer(HeatmapLayer):
    """Confidence (max probability) or entropy of the final prediction.

    Events beyond :class:`HeatmapLayer`'s: ``mode``.
    """

    MODES = ("confidence", "entropy")
    _event_names = (*HeatmapLayer._event_names, "mode")
    _style_names = ("colormap", "mode")
    _data_names = (*HeatmapLayer._data_names, "_maps", "_num_classes")

    def __init__(self, name: str = "uncertainty", *, mode: str = "confidence", **kwargs: Any) -> None:
        super().__init__(name, colormap="magma", **kwargs)
        self._mode = _check_choice("mode", mode, self.MODES)
        self._maps: dict[str, np.ndarray] = {}
        self._num_classes = 2

    def set_maps(self, confidence: np.ndarray, entropy: np.ndarray, num_classes: int) -> None:
        """Show the ``(H, W)`` confidence or entropy (nats) of a prediction over ``num_classes``."""
        self._maps = {"confidence": confidence, "entropy": entropy}
        self._num_classes = num_classes
        self._show_mode()

    @property
    def mode(self) -> str:
        """``confidence`` or ``entropy``."""
        return self._mode

    @mode.setter
    def mode(self, value: str) -> None:
        value = _check_choice("mode", value, self.MODES)
        if value != self._mode:
            self._mode = value
            self._show_mode()
            self.events.mode.emit(value)

    def _show_mode(self) -> None:
        if self._maps:
            top = 1.0 if self._mode == "confidence" else float(np.log(max(self._num_classes, 2)))
            self.set_data(self._maps[self._mode], limits=(0.0, top))

    def value_at(self, y: int, x: int) -> str | None:
        return f"{self._mode} {float(self._data[y, x]):.3f}"


class ErfLayer(HeatmapLayer):
    """Effective receptive field (|d logit / d input|) of a clicked pixel, one map per stage.

    Events beyond :class:`HeatmapLayer`'s: ``stage``.
    """

    _event_names = (*HeatmapLayer._event_names, "stage")
    _data_names = (*HeatmapLayer._data_names, "_fields", "_origin")

    def __init__(self, name: str = "effective RF", **kwargs: Any) -> None:
        super().__init__(name, colormap="inferno", alpha_from_value=True, **kwargs)
        self._fields: dict[str, np.ndarray] = {}
        self._origin = (0, 0)
        self._stage = "final"

    @property
    def stages(self) -> tuple[str, ...]:
        """Stages with a field."""
        return tuple(self._fields)

    def set_fields(self, fields: Mapping[str, np.ndarray], origin: tuple[int, int] = (0, 0)) -> None:
        """Show ``(h, w)`` fields by stage name (``"final"`` and stage names) of the image window
        whose top-left pixel is ``origin`` (row, column); zero elsewhere."""
        self._fields = dict(fields)
        self._origin = origin
        if self._stage not in self._fields and self._fields:
            self._stage = next(iter(self._fields))
        self._show_stage()

    def clear(self) -> None:
        self._fields = {}
        super().clear()

    @property
    def stage(self) -> str:
        """Which stage's field is shown."""
        return self._stage

    @stage.setter
    def stage(self, value: str) -> None:
        value = _check_choice("stage", value, self.stages)
        if value != self._stage:
            self._stage = value
            self._show_stage()
            self.events.stage.emit(value)

    def _show_stage(self) -> None:
        if self._fields:
            data = self._fields[self._stage]
            top = _saturation_level(data) or float(data.max()) or 1.0
            (row, col), (h, w) = self._origin, data.shape
            self.set_data(data, rect=(float(col), float(row), float(w), float(h)), limits=(0.0, top))


def _saturation_level(data: np.ndarray, fraction: float = 0.005) -> float:
    """The value that only the top ``fraction`` of a heavy-tailed field exceeds (on a 1-in-16 sample).

    ``np.partition``, not ``np.percentile``: the latter imports ``numpy.ma`` on first use, a
    stall of tens of milliseconds on the GUI thread at the first click.
    """
    sample = data[::4, ::4].ravel()
    k = min(sample.size - 1, int(sample.size * (1.0 - fraction)))
    return float(np.partition(sample, k)[k])


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
        self._rect = (0.0, 0.0, float(coarse.shape[1]), float(coarse.shape[0]))
        self._refresh()

    @property
    def changed_fraction(self) -> float:
        """Share of pixels changed."""
        return float(self._mask.mean())

    def _render(self) -> np.ndarray:
        table = np.array([(0, 0, 0, 0), (*self._color, 255)], dtype=np.uint8)
        return apply_lookup(table, self._mask.view(np.uint8))

    def value_at(self, y: int, x: int) -> str | None:
        return f"changed {self._pair[0]}→{self._pair[1]}" if self._mask[y, x] else None


@dataclass(frozen=True)
class Pin:
    """A clicked pixel and the input boxes ``(x0, y0, x1, y1)`` (inclusive) behind it, by stage."""

    y: int
    x: int
    boxes: Mapping[str, tuple[int, int, int, int]]


#: Box colours by stage name, distinct from each other and from the VOC palette's first colours.
STAGE_COLORS: dict[str, tuple[int, int, int]] = {
    "32": (255, 80, 80),
    "16": (255, 200, 0),
    "8": (0, 220, 255),
    "aux": (180, 120, 255),
    "final": (255, 255, 255),
}


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
        self._pins = (*self._pins, pin) if keep else (pin,)
        self.events.pins.emit(self._pins)
        self.events.rendered.emit()

    def clear(self) -> None:
        """Remove every pin."""
        if self._pins:
            self._pins = ()
            self.events.pins.emit(self._pins)
            self.events.rendered.emit()

    @staticmethod
    def color(stage: str) -> tuple[int, int, int]:
        """The colour of ``stage``'s boxes."""
        return STAGE_COLORS.get(stage, (200, 200, 200))


class LayerList:
    """Layers in drawing order (index 0 at the bottom).

    Events: ``inserted`` (index, layer), ``removed`` (index, layer), ``moved`` (old, new index).
    """

    def __init__(self) -> None:
        self._layers: list[Layer] = []
        self.events = EmitterGroup("inserted", "removed", "moved")
        self._before_solo: dict[str, bool] | None = None

    def __len__(self) -> int:
        return len(self._layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(list(self._layers))

    def __getitem__(self, key: int | str) -> Layer:
        if isinstance(key, str):
            for layer in self._layers:
                if layer.name == key:
                    return layer
            raise KeyError(key)
        return self._layers[key]

    def __contains__(self, name: object) -> bool:
        return any(layer.name == name for layer in self._layers)

    def index(self, layer: Layer) -> int:
        """Position of ``layer``."""
        return self._layers.index(layer)

    def append(self, layer: Layer) -> None:
        """Add ``layer`` on top."""
        self.insert(len(self._layers), layer)

    def insert(self, index: int, layer: Layer) -> None:
        """Add ``layer`` at ``index``; names are unique."""
        if layer.name in self:
            raise ValueError(f"a layer named {layer.name!r} exists already")
        index = max(0, min(index, len(self._layers)))
        self._layers.insert(index, layer)
        self.events.inserted.emit(index, layer)

    def remove(self, layer: Layer) -> None:
        """Take ``layer`` out."""
        index = self._layers.index(layer)
        del self._layers[index]
        self.events.removed.emit(index, layer)

    def move(self, src: int, dst: int) -> None:
        """Move the layer at ``src`` to ``dst``."""
        if not (0 <= src < len(self._layers) and 0 <= dst < len(self._layers)):
            raise IndexError(f"cannot move layer {src} to {dst} in a list of {len(self._layers)}")
        if src != dst:
            self._layers.insert(dst, self._layers.pop(src))
            self.events.moved.emit(src, dst)

    def toggle_solo(self, layer: Layer) -> None:
        """Show only ``layer`` (and the image under it); called again, restore what was shown."""
        if self._before_solo is not None:
            before, self._before_solo = self._before_solo, None
            for other in self._layers:
                other.visible = before.get(other.name, other.visible)
            return
        self._before_solo = {other.name: other.visible for other in self._layers}
        for other in self._layers:
            other.visible = other is layer or isinstance(other, ImageLayer)

    @property
    def soloing(self) -> bool:
        """Whether a layer is shown solo."""
        return self._before_solo is not None
