"""Layers of scalar data through a colormap: stage scores, uncertainty, effective receptive fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from fcnviewer.core.alignment import StageGeometry, aligned_scores_at
from fcnviewer.viewer.colormaps import COLORMAPS, apply_colormap
from fcnviewer.viewer.erf_readout import ErfReadout, log_scaled, paint_readout
from fcnviewer.viewer.events import Evented, as_bool, check_choice, initialize, one_of
from fcnviewer.viewer.layers.base import RasterLayer


def valid_limits(_: object, name: str, value: tuple[float, float]) -> tuple[float, float]:
    """Finite ``(low, high)`` with ``low <= high``."""
    low, high = (float(v) for v in value)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"{name} must be finite, not {value}")
    if low > high:
        raise ValueError(f"{name} must be (low, high) with low <= high, not {value}")
    return low, high


class HeatmapLayer(RasterLayer):
    """Scalar data through a colormap over ``limits``; may be coarser than the image (``rect``).

    Events beyond :class:`Layer`'s: ``colormap`` (new name); ``data`` and ``limits`` (new
    value) after every colouring.
    """

    _event_names = ("colormap", "limits", "data")
    _style_names: ClassVar[tuple[str, ...]] = ("colormap",)
    _data_names: ClassVar[tuple[str, ...]] = ("_data", "_limits")

    colormap: Evented[str] = Evented(
        one_of(COLORMAPS), then="_refresh", doc="Name of the colormap (one of ``COLORMAPS``)."
    )
    # Every colouring announces its limits (see _announce), so the setter itself emits nothing.
    limits: Evented[tuple[float, float]] = Evented(
        valid_limits, then="_refresh", emit=False, doc="``(low, high)``: values mapped to the colormap's ends."
    )

    def __init__(self, name: str, *, colormap: str = "viridis", alpha_from_value: bool = False, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        initialize(self, colormap=colormap, limits=(0.0, 1.0))
        self._alpha_from_value = alpha_from_value
        self._data = np.zeros((1, 1), dtype=np.float32)

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
        self._limits = valid_limits(self, "limits", limits if limits is not None else self.data_range)
        self._refresh()

    def _announce(self) -> None:
        super()._announce()
        self.events.data.emit()
        self.events.limits.emit(self._limits)

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


def _valid_class(layer: ScoreLayer, name: str, value: int) -> int:
    value, count = int(value), layer._scores.shape[0]
    if not 0 <= value < count:
        raise ValueError(f"{name} must be in 0..{count - 1}, not {value}")
    return value


class ScoreLayer(HeatmapLayer):
    """One class's score in one stage map, shown at the map's own resolution (one cell per unit).

    Events beyond :class:`HeatmapLayer`'s: ``class_index``.
    """

    _event_names = (*HeatmapLayer._event_names, "class_index")
    _style_names = ("colormap", "class_index")
    _data_names = (*HeatmapLayer._data_names, "_scores", "_geometry", "class_names")

    class_index: Evented[int] = Evented(_valid_class, then="_show_class", doc="The class whose score is shown.")

    def __init__(self, name: str, *, colormap: str = "coolwarm", **kwargs: Any) -> None:
        super().__init__(name, colormap=colormap, **kwargs)
        self._scores = np.zeros((1, 1, 1), dtype=np.float32)
        self._geometry: StageGeometry | None = None
        self._restyled = False
        initialize(self, class_index=0)
        self.class_names: tuple[str, ...] = ("",)

    def set_scores(
        self, scores: np.ndarray, geometry: StageGeometry, class_names: Sequence[str], *, start_class: int = 0
    ) -> None:
        """Show ``(C, h, w)`` stage scores whose unit ``m`` is centred on input pixel ``offset + stride * m``;
        with classes other than the shown ones, start on ``start_class`` (else, or after :meth:`restyle`,
        the class stays)."""
        if scores.ndim != 3 or scores.shape[0] != len(class_names):
            raise ValueError(f"scores {scores.shape} do not match {len(class_names)} classes")
        new_classes = tuple(class_names) != self.class_names and not self._restyled
        self._scores, self._geometry, self.class_names = scores, geometry, tuple(class_names)
        self._class_index = start_class if new_classes else min(self._class_index, len(class_names) - 1)
        self._restyled = False
        self._show_class()

    def restyle(self, style: tuple[Any, ...]) -> None:
        """:meth:`RasterLayer.restyle`; the class it sets stays for the next scores, whatever their classes."""
        super().restyle(style)
        self._restyled = True

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
    """Entropy (the default: bright where the network is unsure) or confidence (max probability)
    of the final prediction.

    Events beyond :class:`HeatmapLayer`'s: ``mode``.
    """

    MODES = ("confidence", "entropy")
    _event_names = (*HeatmapLayer._event_names, "mode")
    _style_names = ("colormap", "mode")
    _data_names = (*HeatmapLayer._data_names, "_maps", "_num_classes")

    mode: Evented[str] = Evented(one_of(MODES), then="_show_mode", doc="``confidence`` or ``entropy``.")

    def __init__(self, name: str = "uncertainty", *, mode: str = "entropy", **kwargs: Any) -> None:
        super().__init__(name, colormap="magma", alpha_from_value=True, **kwargs)
        initialize(self, mode=mode)
        self._maps: dict[str, np.ndarray] = {}
        self._num_classes = 2

    def set_maps(self, confidence: np.ndarray, entropy: np.ndarray, num_classes: int) -> None:
        """Show the ``(H, W)`` confidence or entropy (nats) of a prediction over ``num_classes``."""
        self._maps = {"confidence": confidence, "entropy": entropy}
        self._num_classes = num_classes
        self._show_mode()

    def _show_mode(self) -> None:
        """Entropy over 0 (sure) .. log C (uniform); confidence over 1/C (uniform) .. 1, its real range."""
        if self._maps:
            classes = max(self._num_classes, 2)
            limits = (1.0 / classes, 1.0) if self._mode == "confidence" else (0.0, float(np.log(classes)))
            self.set_data(self._maps[self._mode], limits=limits)

    def value_at(self, y: int, x: int) -> str | None:
        return f"{self._mode} {float(self._data[y, x]):.3f}"


def _in_range(low: float, high: float, kind: type = int) -> Any:
    """A validator of a ``kind`` number from ``low`` to ``high``."""

    def validate(_: object, name: str, value: Any) -> Any:
        value = kind(value)
        if not low <= value <= high:
            raise ValueError(f"{name} must be from {low:g} to {high:g}, not {value}")
        return value

    return validate


class ErfLayer(HeatmapLayer):
    """Effective receptive field (|d logit / d input|) of a clicked pixel or a dragged region, one
    map per stage, on a linear or log scale, with contours around 50 % and 90 % of its mass and
    its 90 % mass box (:mod:`fcnviewer.viewer.erf_readout`).

    ``copies``, ``noise`` and ``images`` say how the next probe averages it (SmoothGrad's noisy
    copies, the noise in pixel values, images of the same size).

    Events beyond :class:`HeatmapLayer`'s: ``stage``, ``scale``, ``contours``, ``mass_box``,
    ``copies``, ``noise``, ``images``.
    """

    SCALES = ("linear", "log")
    _event_names = (*HeatmapLayer._event_names, "stage", "scale", "contours", "mass_box", "copies", "noise", "images")
    _data_names = (*HeatmapLayer._data_names, "_fields", "_origin", "_readouts")

    stage: Evented[str] = Evented(
        lambda layer, name, value: check_choice(name, value, layer.stages),
        then="_show_stage",
        doc="Which stage's field is shown.",
    )
    scale: Evented[str] = Evented(one_of(SCALES), then="_show_stage", doc="``linear`` or ``log`` (four decades).")
    contours: Evented[bool] = Evented(as_bool, then="_show_stage", doc="Draw the 50 % and 90 % mass contours.")
    mass_box: Evented[bool] = Evented(as_bool, then="_show_stage", doc="Draw the box holding 90 % of the mass.")
    copies: Evented[int] = Evented(_in_range(1, 256), doc="SmoothGrad's noisy copies (1: none).")
    noise: Evented[float] = Evented(_in_range(0.0, 255.0, float), doc="SmoothGrad's noise, in pixel values.")
    images: Evented[int] = Evented(_in_range(1, 64), doc="Images of the list, of the shown size, averaged.")

    def __init__(self, name: str = "effective RF", **kwargs: Any) -> None:
        super().__init__(name, colormap="inferno", alpha_from_value=True, **kwargs)
        self._fields: dict[str, np.ndarray] = {}
        self._origin = (0, 0)
        self._readouts: dict[str, ErfReadout] = {}
        self._stage = "final"
        initialize(self, scale="linear", contours=True, mass_box=False, copies=1, noise=0.0, images=1)

    @property
    def stages(self) -> tuple[str, ...]:
        """Stages with a field."""
        return tuple(self._fields)

    @property
    def readout(self) -> ErfReadout | None:
        """The shown stage's contour levels and mass boxes, if they came with its field."""
        return self._readouts.get(self._stage)

    def set_fields(
        self,
        fields: Mapping[str, np.ndarray],
        origin: tuple[int, int] = (0, 0),
        readouts: Mapping[str, ErfReadout] | None = None,
    ) -> None:
        """Show ``(h, w)`` fields by stage name (``"final"`` and stage names) of the image window
        whose top-left pixel is ``origin`` (row, column); zero elsewhere; with their ``readouts``."""
        self._fields = dict(fields)
        self._origin = origin
        self._readouts = dict(readouts or {})
        if self._stage not in self._fields and self._fields:
            self._stage = next(iter(self._fields))
        self._show_stage()

    def clear(self) -> None:
        self._fields, self._readouts = {}, {}
        super().clear()

    def _show_stage(self) -> None:
        if self._fields:
            data = self._fields[self._stage]
            top = _saturation_level(data) or float(data.max()) or 1.0
            (row, col), (h, w) = self._origin, data.shape
            shown, limits = log_scaled(data, float(data.max())) if self._scale == "log" else (data, (0.0, top))
            self.set_data(shown, rect=(float(col), float(row), float(w), float(h)), limits=limits)

    def value_at(self, y: int, x: int) -> str | None:
        return f"{float(self._fields[self._stage][self._index(y, x)]):.3g}" if self._fields else None  # not its log

    def _render(self) -> np.ndarray:
        rgba = super()._render()
        readout = self.readout
        if readout is not None and (self._contours or self._mass_box):
            paint_readout(rgba, readout, self._origin, contours=self._contours, mass_box=self._mass_box)
        return rgba


def _saturation_level(data: np.ndarray, fraction: float = 0.005) -> float:
    """The value that only the top ``fraction`` of a heavy-tailed field exceeds (on a 1-in-16 sample).

    ``np.partition``, not ``np.percentile``: the latter imports ``numpy.ma`` on first use, a
    stall of tens of milliseconds on the GUI thread at the first click.
    """
    sample = data[::4, ::4].ravel()
    k = min(sample.size - 1, int(sample.size * (1.0 - fraction)))
    return float(np.partition(sample, k)[k])
