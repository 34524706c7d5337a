"""Layer models: validated, evented properties; colouring; the layer list."""

from __future__ import annotations

import numpy as np
import pytest

from fcnviewer.viewer.colormaps import COLORMAPS, apply_colormap, lookup_table
from fcnviewer.viewer.events import Evented
from fcnviewer.viewer.layers import (
    ErfLayer,
    HeatmapLayer,
    ImageLayer,
    LabelLayer,
    LayerList,
    ScoreLayer,
    UncertaintyLayer,
)
from fcnviewer.viewer.viewer_model import ViewerModel

PALETTE = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0]], dtype=np.uint8)
NAMES = ("bg", "red", "green")


def recorder(emitter):  # type: ignore[no-untyped-def]
    calls: list[tuple] = []
    emitter.connect(lambda *args: calls.append(args))
    return calls


def test_setters_validate_and_emit_once_per_change() -> None:
    layer = LabelLayer("mask")
    opacity, visible = recorder(layer.events.opacity), recorder(layer.events.visible)
    layer.opacity = 0.25
    layer.opacity = 0.25
    layer.visible = False
    assert opacity == [(0.25,)] and visible == [(False,)]
    with pytest.raises(ValueError):
        layer.opacity = 1.5
    with pytest.raises(TypeError):
        layer.visible = "yes"  # type: ignore[assignment]
    with pytest.raises(ValueError):
        layer.mode = "outline"
    heat = HeatmapLayer("heat")
    with pytest.raises(ValueError):
        heat.colormap = "jet"
    with pytest.raises(ValueError):
        heat.limits = (2.0, 1.0)
    assert layer.opacity == 0.25 and heat.colormap == "viridis"


def test_label_layer_colours_hides_classes_and_draws_contours() -> None:
    labels = np.array([[0, 1, 1], [0, 2, 2], [0, 2, 2]], dtype=np.uint8)
    layer = LabelLayer("mask")
    layer.set_labels(labels, PALETTE, NAMES)
    rgba = layer.rgba
    assert rgba.flags.c_contiguous and rgba.dtype == np.uint8 and rgba.shape == (3, 3, 4)
    assert tuple(rgba[0, 1]) == (255, 0, 0, 255)
    layer.hidden_classes = {1}
    assert layer.rgba[0, 1, 3] == 0 and layer.rgba[2, 2, 3] == 255
    layer.hidden_classes = set()
    layer.mode = "contour"
    assert layer.rgba[2, 2, 3] == 0  # inside class 2
    assert layer.rgba[1, 1, 3] == 255  # class edge
    assert layer.value_at(1, 1) == "green"


def test_heatmap_colours_over_limits_and_places_coarse_maps() -> None:
    layer = HeatmapLayer("heat", colormap="gray")
    layer.set_data(np.array([[0.0, 1.0], [2.0, 4.0]], np.float32), rect=(0, 0, 64, 64))
    assert layer.limits == (0.0, 4.0)
    assert tuple(layer.rgba[1, 1, :3]) == (255, 255, 255) and tuple(layer.rgba[0, 0, :3]) == (0, 0, 0)
    assert layer.value_at(40, 10) == "2"  # lower-left cell of a 2x2 map over 64x64 pixels
    layer.limits = (0.0, 2.0)
    assert tuple(layer.rgba[1, 0, :3]) == (255, 255, 255)


def test_colormaps_are_256_entry_opaque_tables() -> None:
    for name in COLORMAPS:
        table = lookup_table(name)
        assert table.shape == (256, 4) and table.dtype == np.uint8 and (table[:, 3] == 255).all()
    rgba = apply_colormap(np.linspace(0, 1, 10).reshape(2, 5), "viridis", (0, 1), alpha_from_value=True)
    assert rgba[0, 0, 3] == 0 and rgba[1, 4, 3] == 255


def test_layer_list_moves_and_solos() -> None:
    layers = LayerList()
    image, mask, heat = ImageLayer(), LabelLayer("mask"), HeatmapLayer("heat", visible=False)
    for layer in (image, mask, heat):
        layers.append(layer)
    moved = recorder(layers.events.moved)
    layers.move(2, 1)
    assert [layer.name for layer in layers] == ["image", "heat", "mask"] and moved == [(2, 1)]
    with pytest.raises(ValueError):
        layers.append(LabelLayer("mask"))
    layers.toggle_solo(heat)
    assert (image.visible, heat.visible, mask.visible) == (True, True, False)
    layers.toggle_solo(heat)
    assert (image.visible, heat.visible, mask.visible) == (True, False, True)


def test_erf_saturates_its_heavy_tail_without_importing_numpy_ma() -> None:
    import subprocess
    import sys

    rng = np.random.default_rng(0)
    field = rng.exponential(1.0, (200, 200)).astype(np.float32) ** 4  # heavy-tailed, like a gradient field
    erf = ErfLayer()
    erf.set_fields({"final": field, "zero": np.zeros((8, 8), np.float32)})
    low, top = erf.limits
    sample = field[::4, ::4]
    assert low == 0.0 and top < float(field.max())
    assert (sample > top).mean() <= 0.005 <= (sample >= top).mean()  # the top 0.5 % saturate
    erf.stage = "zero"
    assert erf.limits == (0.0, 1.0)
    # numpy.ma (tens of ms to import under PySide's import hook) stays out of a click's path
    code = (
        "import sys, numpy as np; from fcnviewer.viewer.layers import ErfLayer; "
        "ErfLayer().set_fields({'final': np.ones((64, 64), np.float32)}); print('numpy.ma' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_adopt_takes_colours_made_elsewhere_only_when_styled_alike() -> None:
    labels = np.array([[0, 1], [2, 2]], dtype=np.uint8)
    elsewhere, here = LabelLayer("mask", mode="contour"), LabelLayer("mask")
    elsewhere.set_labels(labels, PALETTE, NAMES)
    assert not here.adopt(elsewhere) and not here.has_data  # fill vs contour
    here.restyle(elsewhere.style)
    rendered = recorder(here.events.rendered)
    assert here.adopt(elsewhere)
    assert here.rgba is elsewhere.rgba and here.labels is labels and rendered == [()]
    assert not here.adopt(HeatmapLayer("mask"))


def _score_layer() -> ScoreLayer:
    from fcnviewer.core.alignment import StageGeometry

    layer = ScoreLayer("score 32")
    layer.set_scores(np.random.default_rng(0).normal(size=(3, 2, 3)).astype(np.float32), StageGeometry(32, 15.5), NAMES)
    return layer


def _erf_layer() -> ErfLayer:
    layer = ErfLayer()
    layer.set_fields({"final": np.ones((4, 4), np.float32), "8": np.arange(16, dtype=np.float32).reshape(4, 4)})
    return layer


def _uncertainty_layer() -> UncertaintyLayer:
    layer = UncertaintyLayer()
    layer.set_maps(np.full((2, 2), 0.5, np.float32), np.ones((2, 2), np.float32), 3)
    return layer


@pytest.mark.parametrize(
    ("make", "name", "value", "bad", "error"),
    [
        (lambda: LabelLayer("mask"), "visible", False, 1, TypeError),
        (lambda: LabelLayer("mask"), "opacity", 0.5, -0.1, ValueError),
        (lambda: LabelLayer("mask"), "mode", "contour", "outline", ValueError),
        (lambda: HeatmapLayer("heat"), "colormap", "magma", "jet", ValueError),
        (_score_layer, "class_index", 2, 3, ValueError),
        (_uncertainty_layer, "mode", "confidence", "variance", ValueError),
        (_erf_layer, "stage", "8", "16", ValueError),
    ],
)
def test_every_evented_property_validates_and_emits_only_on_a_change(make, name, value, bad, error) -> None:  # type: ignore[no-untyped-def]
    layer = make()
    assert isinstance(getattr(type(layer), name), Evented)
    events, rendered = recorder(getattr(layer.events, name)), recorder(layer.events.rendered)
    before = getattr(layer, name)
    setattr(layer, name, before)
    assert events == [] and rendered == []  # an unchanged value: nothing runs, nothing is emitted
    setattr(layer, name, value)
    setattr(layer, name, value)
    assert getattr(layer, name) == value and events == [(value,)]
    with pytest.raises(error):
        setattr(layer, name, bad)
    assert getattr(layer, name) == value and events == [(value,)]


def test_colouring_properties_recolour_once_per_change() -> None:
    layer = _score_layer()
    rendered, limits = recorder(layer.events.rendered), recorder(layer.events.limits)
    layer.class_index = 1
    bound = float(np.abs(layer.data).max())
    assert layer.data is not None and layer.limits == (-bound, bound) and len(rendered) == 1
    layer.limits = (-1.0, 1.0)
    layer.limits = (-1.0, 1.0)
    assert limits == [((-bound, bound),), ((-1.0, 1.0),)] and len(rendered) == 2
    with pytest.raises(ValueError):
        layer.limits = (0.0, float("inf"))
    labels = LabelLayer("mask")
    labels.set_labels(np.array([[0, 1]], np.uint8), PALETTE, NAMES)
    rendered, hidden = recorder(labels.events.rendered), recorder(labels.events.hidden_classes)
    labels.hidden_classes = [1]  # any iterable of class indices
    labels.hidden_classes = {1}
    assert hidden == [(frozenset({1}),)] and len(rendered) == 1 and labels.rgba[0, 1, 3] == 0


def test_constructors_validate_their_first_values() -> None:
    with pytest.raises(ValueError):
        LabelLayer("mask", mode="outline")
    with pytest.raises(ValueError):
        HeatmapLayer("heat", colormap="jet")
    with pytest.raises(ValueError):
        LabelLayer("mask", opacity=2.0)
    assert UncertaintyLayer(mode="entropy").mode == "entropy"


def test_the_viewer_models_hidden_classes_reach_every_label_layer_once() -> None:
    model = ViewerModel()
    model.set_classes(NAMES, PALETTE)
    hidden, mask = recorder(model.events.hidden_classes), recorder(model.mask_layer.events.hidden_classes)
    model.hidden_classes = {2}
    model.hidden_classes = frozenset({2})
    assert hidden == [(frozenset({2}),)] and mask == [(frozenset({2}),)]
    assert model.mask_layer.hidden_classes == {2}
    with pytest.raises(ValueError):
        model.hidden_classes = {3}
    assert model.hidden_classes == {2}


def _prediction(stages: tuple[str, ...]):  # type: ignore[no-untyped-def]
    from fcnviewer.core.alignment import StageGeometry
    from fcnviewer.core.prediction import Prediction, StageMap

    labels = np.zeros((8, 8), dtype=np.uint8)
    maps = {s: StageMap(s, np.zeros((3, 1, 1), np.float32), StageGeometry(float(s), 0.0), labels) for s in stages}
    return Prediction(np.zeros((3, 8, 8), np.float32), labels, np.ones((8, 8), np.float32), maps, "cpu", 0.0)


def test_stage_layers_keep_their_order_whatever_was_shown_before() -> None:
    model = ViewerModel()
    model.set_classes(NAMES, PALETTE)
    fresh = ViewerModel()
    fresh.set_classes(NAMES, PALETTE)
    fresh.set_prediction(_prediction(("32", "16", "8")))
    for stages in (("8",), ("32", "16", "8"), ("16", "8"), ("32", "16", "8")):  # e.g. an FCN-ResNet, then FCN-8s
        model.set_prediction(_prediction(stages))
    assert [layer.name for layer in model.layers] == [layer.name for layer in fresh.layers]
    names = [layer.name for layer in fresh.layers]
    assert names.index("stage 32") < names.index("stage 16") < names.index("stage 8") < names.index("final mask")
    assert names.index("score 32") < names.index("score 16") < names.index("score 8") < names.index("uncertainty")
