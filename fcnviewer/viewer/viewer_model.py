"""What the viewer shows, as plain Python (no Qt): the image, a prediction, its layers and classes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnviewer.viewer.events import EmitterGroup, Evented, as_class_set
from fcnviewer.viewer.layers import (
    BoxesLayer,
    ChangeLayer,
    ErfLayer,
    ImageLayer,
    LabelLayer,
    LayerList,
    RasterLayer,
    ScoreLayer,
    UncertaintyLayer,
    skip_stages,
)

if TYPE_CHECKING:
    from fcnviewer.core.prediction import Prediction


def stage_layer_name(stage: str) -> str:
    """Name of the layer with ``stage``'s labels."""
    return f"stage {stage}"


def score_layer_name(stage: str) -> str:
    """Name of the layer with ``stage``'s class score."""
    return f"score {stage}"


def is_background(name: str) -> bool:
    """Whether class 0, named ``name``, is a background: VOC's ``background``, COCO's
    ``__background__``, or ``class 0`` of a model whose names are unknown (label 0 is the background
    by the segmentation convention). ImageNet's class 0 (``tench``) is not."""
    return name.strip("_ ").lower() in ("background", "class 0")


def _valid_hidden_classes(model: ViewerModel, name: str, value: frozenset[int] | set[int]) -> frozenset[int]:
    value = as_class_set(model, name, value)
    if any(not 0 <= v < len(model.class_names) for v in value):
        raise ValueError(f"class indices must be in 0..{len(model.class_names) - 1}")
    return value


class ViewerModel:
    """The layers (bottom to top: image, stage labels, final mask, skip changes, stage scores,
    uncertainty, effective RF, RF boxes) and the classes of the shown model.

    Events: ``classes`` (names/palette changed), ``hidden_classes`` (new set), ``prediction``
    (a new prediction is shown, or ``None`` when cleared).
    """

    hidden_classes: Evented[frozenset[int]] = Evented(
        _valid_hidden_classes, then="_on_hidden_classes_changed", doc="Classes hidden in every label layer."
    )

    def __init__(self) -> None:
        self.events = EmitterGroup("classes", "hidden_classes", "prediction")
        self.layers = LayerList()
        self.image_layer = ImageLayer(description="the input image")
        self.mask_layer = LabelLayer("final mask", opacity=0.5, description="the network's prediction, class colours")
        self.change_layer = ChangeLayer(
            visible=False, description="pixels whose class the skip connections changed (finest vs coarsest stage)"
        )
        self.uncertainty_layer = UncertaintyLayer(
            visible=False,
            opacity=0.8,
            description="how unsure the prediction is: entropy of its class probabilities (bright: unsure)",
        )
        self.erf_layer = ErfLayer(
            opacity=0.8, description="effective receptive field of the clicked pixel: |d logit / d input|"
        )
        self.boxes_layer = BoxesLayer(
            description="theoretical receptive field of the clicked pixel at each stage (click; Shift+click keeps)"
        )
        for layer in (
            self.image_layer,
            self.mask_layer,
            self.change_layer,
            self.uncertainty_layer,
            self.erf_layer,
            self.boxes_layer,
        ):
            self.layers.append(layer)
        self.class_names: tuple[str, ...] = ()
        self.palette = np.zeros((0, 3), dtype=np.uint8)
        self._hidden_classes: frozenset[int] = frozenset()
        #: Whether class 0 (the background) is drawn in the label layers (default: transparent).
        self.show_background = False
        self.image: np.ndarray | None = None
        self.prediction: Prediction | None = None

    # ------------------------------------------------------------------ classes

    def set_classes(self, class_names: Sequence[str], palette: np.ndarray) -> None:
        """Names and ``(C, 3)`` uint8 colours of the model's classes; class 0, when it is a background
        (:func:`is_background`), is hidden unless :attr:`show_background` (napari's labels
        convention: label 0 is transparent)."""
        self.class_names, self.palette = tuple(class_names), np.asarray(palette, dtype=np.uint8)
        self._hidden_classes = frozenset()
        self.events.classes.emit()
        self.hidden_classes = self._default_hidden()

    def _default_hidden(self) -> frozenset[int]:
        background = bool(self.class_names) and is_background(self.class_names[0])
        return frozenset({0}) if background and not self.show_background else frozenset()

    def set_show_background(self, show: bool) -> None:
        """Draw class 0 (the background) in the label layers, or leave it transparent (the default)."""
        self.show_background = bool(show)
        if self.class_names:
            self.hidden_classes = (self._hidden_classes - {0}) | self._default_hidden()

    def _on_hidden_classes_changed(self) -> None:
        for layer in self.label_layers():
            layer.hidden_classes = self._hidden_classes

    def class_shares(self) -> np.ndarray:
        """Each class's share of the image in the final prediction (zeros before one)."""
        shares = np.zeros(len(self.class_names), dtype=np.float64)
        if self.prediction is not None:
            counts = np.bincount(self.prediction.labels.ravel(), minlength=len(self.class_names))
            shares = counts[: len(self.class_names)] / self.prediction.labels.size
        return shares

    def top_class(self) -> int:
        """The most frequent class of the final prediction that is not hidden by default (a background);
        0 before a prediction."""
        shares = self.class_shares()
        shares[list(self._default_hidden())] = -1
        return int(np.argmax(shares)) if self.prediction is not None and len(shares) else 0

    def describe_pixel(self, y: int, x: int) -> str:
        """Status-bar text for image pixel ``(y, x)``: position, final class and probability, stage labels."""
        text = f"x {x}, y {y}"
        prediction = self.prediction
        if prediction is None:
            return text
        names = self.class_names
        label = int(prediction.labels[y, x])
        text += f"  |  {names[label]} {prediction.confidence[y, x]:.1%}"
        stages = " · ".join(f"{n}: {names[int(s.labels[y, x])]}" for n, s in prediction.stages.items())
        return f"{text}  |  {stages}"

    def label_layers(self) -> list[LabelLayer]:
        """The final mask and the stage label layers."""
        return [layer for layer in self.layers if isinstance(layer, LabelLayer)]

    # ------------------------------------------------------------------ image and prediction

    @property
    def stages(self) -> tuple[str, ...]:
        """Stage names of the shown prediction, coarse to fine."""
        return tuple(self.prediction.stages) if self.prediction is not None else ()

    def set_image(self, image: np.ndarray, *, prepared: ImageLayer | None = None) -> None:
        """Show a new image (taking ``prepared``'s colours when it holds it); what was predicted
        for the previous one is cleared."""
        self.image = image
        if prepared is None or not self.image_layer.adopt(prepared):
            self.image_layer.set_image(image)
        self.clear_prediction()

    def clear_prediction(self) -> None:
        """Forget the prediction and clicks: only the image stays drawn."""
        self.prediction = None
        for layer in self.layers:
            if isinstance(layer, RasterLayer) and layer is not self.image_layer:
                layer.clear()
        self.boxes_layer.clear()
        self.events.prediction.emit(None)

    def styles(self) -> dict[str, tuple[Any, ...]]:
        """How each raster layer colours its data (see :attr:`RasterLayer.style`)."""
        return {layer.name: layer.style for layer in self.layers if isinstance(layer, RasterLayer)}

    def set_prediction(
        self,
        prediction: Prediction,
        *,
        styles: Mapping[str, tuple[Any, ...]] | None = None,
        prepared: ViewerModel | None = None,
    ) -> None:
        """Show ``prediction`` (a ``fcnviewer.core.inference.Prediction`` of the shown image).

        ``styles`` (from :meth:`styles`) sets how layers colour it; a layer whose twin in
        ``prepared`` (a model given the same prediction elsewhere, e.g. on the worker thread)
        is coloured alike takes over its colours instead of colouring again.
        """
        self.prediction = prediction
        self._place_change_layer(tuple(prediction.stages))
        self._ensure_stage_layers(tuple(prediction.stages))
        for layer, fill in self._fillers(prediction).items():
            if styles is not None and layer.name in styles:
                layer.restyle(styles[layer.name])
            twin = prepared.layers[layer.name] if prepared is not None and layer.name in prepared.layers else None
            if twin is None or not layer.adopt(twin):  # type: ignore[arg-type]
                fill()
        self.erf_layer.clear()
        self.boxes_layer.clear()
        self.events.prediction.emit(prediction)

    def _fillers(self, prediction: Prediction) -> dict[RasterLayer, Callable[[], None]]:
        """For each layer showing part of ``prediction``, how to fill it."""
        names, palette = self.class_names, self.palette
        top_class = functools.cache(self.top_class)  # one count of the classes for every score layer filled
        fillers: dict[RasterLayer, Callable[[], None]] = {
            self.mask_layer: lambda: self.mask_layer.set_labels(prediction.labels, palette, names),
            self.uncertainty_layer: lambda: self.uncertainty_layer.set_maps(
                prediction.confidence, prediction.entropy, len(names)
            ),
        }
        for name, stage in prediction.stages.items():
            labels, scores = self.layers[stage_layer_name(name)], self.layers[score_layer_name(name)]
            fillers[labels] = lambda layer=labels, s=stage: layer.set_labels(s.labels, palette, names)  # type: ignore[misc]
            fillers[scores] = lambda layer=scores, s=stage: layer.set_scores(  # type: ignore[misc]
                s.scores, s.geometry, names, start_class=top_class()
            )
        stages = skip_stages(prediction.stages)
        if len(stages) > 1:
            coarse, fine = prediction.stages[stages[0]].labels, prediction.stages[stages[-1]].labels
            fillers[self.change_layer] = lambda: self.change_layer.set_labels(coarse, fine, (stages[0], stages[-1]))
        return fillers

    def prediction_top(self) -> RasterLayer:
        """The topmost layer of the final labels: the skip-changes layer, or the mask for a
        one-stage net (where there is none); layers about the labels go just above it."""
        return self.change_layer if self.change_layer.name in self.layers else self.mask_layer

    def _place_change_layer(self, stages: tuple[str, ...]) -> None:
        """The skip-changes layer just above the final mask when there are skips (two stages or
        more, an auxiliary head aside); none for a one-stage net."""
        wanted = len(skip_stages(stages)) > 1
        if wanted and self.change_layer.name not in self.layers:
            self.layers.insert(self.layers.index(self.mask_layer) + 1, self.change_layer)
        elif not wanted and self.change_layer.name in self.layers:
            self.change_layer.clear()
            self.layers.remove(self.change_layer)

    def _ensure_stage_layers(self, stages: tuple[str, ...]) -> None:
        """Stage label layers just above the image, score layers above the skip changes, each
        group coarse to fine from the bottom whatever was shown before; others removed."""
        wanted = {stage_layer_name(s) for s in stages} | {score_layer_name(s) for s in stages}
        for layer in self.layers:
            if isinstance(layer, LabelLayer | ScoreLayer) and layer is not self.mask_layer and layer.name not in wanted:
                self.layers.remove(layer)
        for stage in stages:  # each goes just below its anchor, so above the coarser ones
            self._put_below(self._stage_labels(stage), self.mask_layer)
            self._put_below(self._stage_scores(stage), self.uncertainty_layer)

    def _put_below(self, layer: RasterLayer, anchor: RasterLayer) -> None:
        """Insert or move ``layer`` just below ``anchor``."""
        if layer.name not in self.layers:
            self.layers.insert(self.layers.index(anchor), layer)
            return
        src, dst = self.layers.index(layer), self.layers.index(anchor)
        self.layers.move(src, dst if src > dst else dst - 1)

    def _stage_labels(self, stage: str) -> LabelLayer:
        """The label layer of ``stage``, made if there is none yet."""
        name = stage_layer_name(stage)
        if name in self.layers:
            return self.layers[name]  # type: ignore[return-value]
        layer = LabelLayer(
            name,
            visible=False,
            opacity=0.6,
            description=f"what the stride-{stage} stage alone predicts (argmax of its scores)",
        )
        layer.hidden_classes = self._hidden_classes
        return layer

    def _stage_scores(self, stage: str) -> ScoreLayer:
        """The score layer of ``stage``, made if there is none yet."""
        name = score_layer_name(stage)
        if name in self.layers:
            return self.layers[name]  # type: ignore[return-value]
        return ScoreLayer(
            name,
            visible=False,
            opacity=0.7,
            description=f"one class's score in the stride-{stage} map, one cell per unit",
        )
