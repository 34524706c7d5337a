"""The controls of one layer: one class per kind of layer, found for a layer along its class
hierarchy (napari's ``layer_to_controls``).

Each is wired both ways: a widget edit sets the layer's property; a change of the property
updates the widget with its signals blocked (no feedback loop).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QSignalBlocker, Qt
from PySide6.QtGui import QColor, QKeyEvent, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QToolButton,
    QWidget,
)

from fcnviewer.viewer.colormaps import COLORMAPS, lookup_table
from fcnviewer.viewer.events import Emitter
from fcnviewer.viewer.layers import ErfLayer, HeatmapLayer, LabelLayer, Layer, ScoreLayer, UncertaintyLayer
from fcnviewer.viewer.layers.truth import ErrorLayer

#: Narrowest a range spin box gets (its own size hint fits its whole range).
SPIN_MIN_WIDTH = 40
#: Characters a combo box shows at least (longer class names are cut in the closed box, not the popup).
COMBO_MIN_CHARACTERS = 6


def _compact(combo: QComboBox) -> QComboBox:
    """``combo``, asking for room for a few characters rather than for its longest entry."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(COMBO_MIN_CHARACTERS)
    return combo


def _searchable(combo: QComboBox) -> QComboBox:
    """``combo``, editable to find an entry by any part of its name (1000 ImageNet classes need it).

    Typing filters a popup of the matching names; picking one, or Enter on an exact name, selects
    it; any other text is put back to the current entry's name when the box loses focus.
    """
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    completer = combo.completer()
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    line = combo.lineEdit()
    line.setPlaceholderText("type to search")
    line.editingFinished.connect(lambda: line.setText(combo.itemText(combo.currentIndex())))
    return combo


class ColorBar(QWidget):
    """A horizontal colour bar of a colormap with its low and high values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colormap = "viridis"
        self.limits = (0.0, 1.0)
        self.setMinimumHeight(34)

    def set_colormap(self, name: str, limits: tuple[float, float]) -> None:
        """Show ``name`` over ``limits``."""
        self.colormap, self.limits = name, limits
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        bar = self.rect().adjusted(2, 2, -2, -self.height() // 2)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        table = lookup_table(self.colormap)
        for i in range(0, 256, 32):
            gradient.setColorAt(i / 255, QColor(*table[i, :3]))
        gradient.setColorAt(1.0, QColor(*table[255, :3]))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().windowText().color())
        text = self.rect().adjusted(2, self.height() // 2, -2, 0)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{self.limits[0]:.3g}")
        painter.drawText(text, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{self.limits[1]:.3g}")


class Slider(QSlider):
    """A slider that keeps its own keys: with focus, the arrows and Page Up/Down move it
    instead of firing the window's shortcuts (next / previous image)."""

    KEYS = frozenset({
        Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down,
        Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End,
    })  # fmt: skip

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in self.KEYS
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.accept()  # the key goes to keyPressEvent, not to a shortcut
            return True
        return super().event(event)


class LayerControls(QWidget):
    """Controls every layer has: its opacity. Kinds of layer with more properties subclass it
    and add their rows in :meth:`_add_rows`."""

    def __init__(self, layer: Layer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer = layer
        self._links: list[tuple[Emitter, Callable[..., Any]]] = []
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 4, 0, 0)
        # In a narrow dock a row's field goes below its label: the controls never widen the dock.
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.opacity_slider = Slider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(round(layer.opacity * 100))
        self.opacity_slider.valueChanged.connect(self._on_opacity_slider_changed)
        self.opacity_value = QLabel()
        self.opacity_value.setMinimumWidth(self.opacity_value.fontMetrics().horizontalAdvance("100 %"))
        self.opacity_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._show_opacity(self.opacity_slider.value())
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_value)
        self.form.addRow("Opacity", opacity_row)
        self._subscribe(layer.events.opacity, self._on_opacity_changed)
        self._add_rows()

    def _add_rows(self) -> None:
        """Add the rows of this kind of layer's own properties."""

    def _subscribe(self, emitter: Emitter, callback: Callable[..., Any]) -> None:
        emitter.connect(callback)
        self._links.append((emitter, callback))

    def unsubscribe(self) -> None:
        """Stop listening to the layer (before the widget goes)."""
        for emitter, callback in self._links:
            emitter.disconnect(callback)
        self._links.clear()

    def _choice_row(self, label: str, prop: str, choices: Sequence[str]) -> QComboBox:
        """A combo box bound to the layer's string property ``prop`` (and its event of that name)."""
        combo = _compact(QComboBox())
        combo.addItems(list(choices))
        combo.setCurrentText(getattr(self.layer, prop))
        combo.currentTextChanged.connect(lambda text: text and setattr(self.layer, prop, text))

        def on_changed(new: str) -> None:
            with QSignalBlocker(combo):
                combo.setCurrentText(new)

        self._subscribe(getattr(self.layer.events, prop), on_changed)
        self.form.addRow(label, combo)
        return combo

    def _on_opacity_slider_changed(self, value: int) -> None:
        self.layer.opacity = value / 100
        self._show_opacity(value)

    def _on_opacity_changed(self, value: float) -> None:
        with QSignalBlocker(self.opacity_slider):
            self.opacity_slider.setValue(round(value * 100))
        self._show_opacity(round(value * 100))

    def _show_opacity(self, percent: int) -> None:
        self.opacity_value.setText(f"{percent} %")


class LabelControls(LayerControls):
    """A label layer's: opacity, fill or contour."""

    layer: LabelLayer

    def _add_rows(self) -> None:
        self.mode_combo = self._choice_row("Mode", "mode", self.layer.MODES)


class HeatmapControls(LayerControls):
    """A heatmap's: opacity, then its kind's own rows (:meth:`_add_choice_rows`), colormap, range
    (with Auto) and a colour bar."""

    layer: HeatmapLayer

    def _add_rows(self) -> None:
        self._add_choice_rows()
        layer = self.layer
        self.colormap_combo = self._choice_row("Colormap", "colormap", COLORMAPS)
        row = QHBoxLayout()
        self.low_spin, self.high_spin = QDoubleSpinBox(), QDoubleSpinBox()
        for spin in (self.low_spin, self.high_spin):
            spin.setRange(-1e9, 1e9)
            spin.setDecimals(3)
            spin.setMinimumWidth(SPIN_MIN_WIDTH)  # its own hint fits "-1000000000.000": far too wide
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(self._on_range_spin_changed)
            row.addWidget(spin)
        self.auto_button = QToolButton()
        self.auto_button.setText("Auto")
        self.auto_button.setToolTip("Range from the data's minimum to maximum")
        self.auto_button.clicked.connect(self._on_auto_clicked)
        self.form.addRow("Range", row)
        self.color_bar = ColorBar()
        bar_row = QHBoxLayout()
        bar_row.addWidget(self.color_bar, 1)
        bar_row.addWidget(self.auto_button)
        self.form.addRow("", bar_row)
        self._subscribe(layer.events.limits, self._on_limits_changed)
        self._subscribe(layer.events.colormap, self._on_colormap_changed)
        self._on_limits_changed(layer.limits)

    def _add_choice_rows(self) -> None:
        """Rows above the colormap (a class, a mode, a stage)."""

    def _on_auto_clicked(self) -> None:
        self.layer.limits = self.layer.data_range

    def _on_range_spin_changed(self, _: float) -> None:
        low, high = self.low_spin.value(), self.high_spin.value()
        if low <= high:
            self.layer.limits = (low, high)

    def _on_limits_changed(self, limits: tuple[float, float]) -> None:
        span = abs(limits[1] - limits[0]) or abs(limits[1]) or 1.0
        decimals = int(min(12, max(3, 3 - math.floor(math.log10(span)))))  # three significant digits of the span
        for spin, value in zip((self.low_spin, self.high_spin), limits, strict=True):
            with QSignalBlocker(spin):
                spin.setDecimals(decimals)
                spin.setValue(value)
            spin.setSingleStep(span / 20)
        self.color_bar.set_colormap(self.layer.colormap, limits)

    def _on_colormap_changed(self, name: str) -> None:
        self.color_bar.set_colormap(name, self.layer.limits)


def _set_blocked(widget: QWidget, setter: Callable[[Any], None], value: Any) -> None:
    """``setter(value)`` with ``widget``'s signals blocked."""
    with QSignalBlocker(widget):
        setter(value)


def _refill(combo: QComboBox, items: Sequence[str]) -> bool:
    """Put ``items`` into ``combo`` (signals blocked) unless it holds them already; whether it did."""
    if tuple(combo.itemText(i) for i in range(combo.count())) == tuple(items):
        return False
    with QSignalBlocker(combo):
        combo.clear()
        combo.addItems(list(items))
    return True


class ScoreControls(HeatmapControls):
    """A stage score layer's: which class's score shows."""

    layer: ScoreLayer

    def _add_choice_rows(self) -> None:
        self.class_combo = _searchable(_compact(QComboBox()))
        self.class_combo.addItems(list(self.layer.class_names))
        self.class_combo.setCurrentIndex(self.layer.class_index)
        self.class_combo.currentIndexChanged.connect(self._on_class_combo_changed)
        self.form.addRow("Class", self.class_combo)
        self._subscribe(self.layer.events.class_index, self._on_class_index_changed)
        self._subscribe(self.layer.events.data, self._on_data_changed)

    def _on_class_combo_changed(self, index: int) -> None:
        if index >= 0:
            self.layer.class_index = index

    def _on_class_index_changed(self, index: int) -> None:
        with QSignalBlocker(self.class_combo):
            self.class_combo.setCurrentIndex(index)

    def _on_data_changed(self) -> None:
        """New scores may be of other classes: refill the choices."""
        if _refill(self.class_combo, self.layer.class_names):
            self._on_class_index_changed(self.layer.class_index)


class UncertaintyControls(HeatmapControls):
    """The uncertainty layer's: confidence or entropy."""

    layer: UncertaintyLayer

    def _add_choice_rows(self) -> None:
        self.mode_combo = self._choice_row("Mode", "mode", self.layer.MODES)


class ErfControls(HeatmapControls):
    """The effective RF layer's: which stage's field shows, its scale, contours and mass box; how
    the next probe averages it (SmoothGrad's copies and noise, images)."""

    layer: ErfLayer

    def _add_choice_rows(self) -> None:
        self.stage_combo = self._choice_row("Stage", "stage", self.layer.stages)
        self._subscribe(self.layer.events.data, self._on_data_changed)
        self.scale_combo = self._choice_row("Scale", "scale", self.layer.SCALES)
        self.contours_check = self._check(
            "contours", "50, 90 %", "contours around 50 % (white) and 90 % (cyan) of the mass"
        )
        self._row("Contours", self.contours_check)
        self.mass_box_check = self._check("mass_box", "90 %", "the box holding 90 % of the mass (magenta)")
        self._row("Mass box", self.mass_box_check)
        self.copies_spin = self._spin("copies", QSpinBox(), (1, 256), "SmoothGrad: noisy copies averaged (1: none)")
        self.noise_spin = self._spin("noise", QDoubleSpinBox(), (0, 255), "SmoothGrad: noise, in pixel values (0..255)")
        self.copies_spin.setSuffix(" ×")
        self.noise_spin.setPrefix("σ ")
        self.noise_spin.setDecimals(1)
        self._row("SmoothGrad", self.copies_spin, self.noise_spin)
        self.images_spin = self._spin("images", QSpinBox(), (1, 64), "images of the list (this size) averaged")
        self._row("Images", self.images_spin)

    def _row(self, label: str, *widgets: QWidget) -> None:
        row = QHBoxLayout()
        for widget in widgets:
            row.addWidget(widget)
        self.form.addRow(label, row)

    def _check(self, prop: str, text: str, tip: str) -> QCheckBox:
        """A check box bound to the layer's bool property ``prop``."""
        check = QCheckBox(text)
        check.setToolTip(tip)
        check.setChecked(getattr(self.layer, prop))
        check.toggled.connect(lambda on: setattr(self.layer, prop, on))
        self._subscribe(getattr(self.layer.events, prop), lambda on: _set_blocked(check, check.setChecked, on))
        return check

    def _spin(
        self, prop: str, spin: QSpinBox | QDoubleSpinBox, limits: tuple[int, int], tip: str
    ) -> QSpinBox | QDoubleSpinBox:
        """A spin box over ``limits`` bound to the layer's number property ``prop``."""
        spin.setRange(*limits)
        spin.setValue(getattr(self.layer, prop))
        spin.setMinimumWidth(SPIN_MIN_WIDTH)
        spin.setKeyboardTracking(False)  # one probe per value typed, not per digit
        spin.setToolTip(tip)
        spin.valueChanged.connect(lambda value: setattr(self.layer, prop, value))
        self._subscribe(getattr(self.layer.events, prop), lambda value: _set_blocked(spin, spin.setValue, value))
        return spin

    def _on_data_changed(self) -> None:
        """New fields may be of other stages: refill the choices."""
        if _refill(self.stage_combo, self.layer.stages):
            with QSignalBlocker(self.stage_combo):
                self.stage_combo.setCurrentText(self.layer.stage)


class ErrorControls(LayerControls):
    """The errors layer's: wrong pixels in red or in the colour of the class predicted."""

    layer: ErrorLayer

    def _add_rows(self) -> None:
        self.wrong_combo = self._choice_row("Wrong", "wrong_color", self.layer.WRONG_COLORS)


#: The controls class of each kind of layer; a layer gets that of its nearest listed base class.
LAYER_CONTROLS: dict[type[Layer], type[LayerControls]] = {
    Layer: LayerControls,
    LabelLayer: LabelControls,
    HeatmapLayer: HeatmapControls,
    ScoreLayer: ScoreControls,
    UncertaintyLayer: UncertaintyControls,
    ErfLayer: ErfControls,
    ErrorLayer: ErrorControls,
}


def controls_class(kind: type[Layer]) -> type[LayerControls]:
    """The controls class of layers of type ``kind``, resolved along its class hierarchy."""
    for base in kind.__mro__:
        if base in LAYER_CONTROLS:
            return LAYER_CONTROLS[base]
    raise TypeError(f"no controls for {kind.__name__}")


def controls_for(layer: Layer, parent: QWidget | None = None) -> LayerControls:
    """A new control widget for ``layer``."""
    return controls_class(type(layer))(layer, parent)
