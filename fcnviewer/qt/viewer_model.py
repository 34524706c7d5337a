"""What the viewer shows, as plain Python (no Qt): the image, a prediction, its layers and classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fcnviewer.qt.layers import (
    BoxesLayer,
    ChangeLayer,
    EmitterGroup,
    ErfLayer,
    ImageLayer,
    LabelLayer,
    LayerList,
    RasterLayer,
    ScoreLayer,
    UncertaintyLayer,
)


def stage_layer_name(stage: str) -> str:
    """Name of the layer with ``stage``'s labels."""
    return f"stage {stage}"


def score_layer_name(stage: str) -> str:
    """Name of the layer with ``stage``'s class score."""
    return f"score {stage}"


class ViewerModel:
    """The layers (bottom to top: image, stage labels, final mask, skip changes, stage scores,
    uncertainty, effective RF, RF boxes) and the classes of the shown model.

    Events: ``classes`` (names/palette changed), ``hidden_classes`` (new set), ``prediction``
    (a new prediction is shown, or ``None`` when cleared).
    """

    def __init__(self) -> None:
        self.events = EmitterGroup("classes", "hidden_classes", "prediction")
        self.layers = LayerList()
        self.image_layer = ImageLayer()
        self.mask_layer = LabelLayer("final mask", opacity=0.5)
        self.change_layer = ChangeLayer(visible=False)
        self.uncertainty_layer = UncertaintyLayer(visible=False, opacity=0.8)
        self.erf_layer = ErfLayer(opacity=0.8)
        self.boxes_layer = BoxesLayer()
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
        self._hidden: frozenset[int] = frozenset()
        self.image: np.ndarray | None = None
        self.prediction: Any = None

    # ------------------------------------------------------------------ classes

    def set_classes(self, class_names: Sequence[str], palette: np.ndarray) -> None:
        """Names and ``(C, 3)`` uint8 colours of the model's classes."""
        self.class_names, self.palette = tuple(class_names), np.asarray(palette, dtype=np.uint8)
        self._hidden = frozenset()
        self.events.classes.emit()

    @property
    def hidden_classes(self) -> frozenset[int]:
        """Classes hidden in every label layer."""
        return self._hidden

    @hidden_classes.setter
    def hidden_classes(self, value: frozenset[int] | set[int]) -> None:
        value = frozenset(int(v) for v in value)
        if any(not 0 <= v < len(self.class_names) for v in value):
            raise ValueError(f"class indices must be in 0..{len(self.class_names) - 1}")
        if value != self._hidden:
            self._hidden = value
            for layer in self.label_layers():
                layer.hidden_classes = value
            self.events.hidden_classes.emit(value)

    def class_shares(self) -> np.ndarray:
        """Each class's share of the image in the final prediction (zeros before one)."""
        shares = np.zeros(len(self.class_names), dtype=np.float64)
        if self.prediction is not None:
            counts = np.bincount(self.prediction.labels.ravel(), minlength=len(self.class_names))
            shares = counts[: len(self.class_names)] / self.prediction.labels.size
        return shares

    def label_layers(self) -> list[LabelLayer]:
        """The final mask and the stage label layers."""
        return [layer for layer in self.layers if isinstance(layer, LabelLayer)]

    # ------------------------------------------------------------------ image and prediction

    @property
    def stages(self) -> tuple[str, ...]:
        """Stage names of the shown prediction, coarse to fine."""
        return tuple(self.prediction.stages) if self.prediction is not None else ()

    def set_image(self, image: np.ndarray) -> None:
        """Show a new image; what was predicted for the previous one is cleared."""
        self.image = image
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

    def set_prediction(self, prediction: Any) -> None:
        """Show ``prediction`` (a ``fcnviewer.core.inference.Prediction`` of the shown image)."""
        self.prediction = prediction
        self._ensure_stage_layers(tuple(prediction.stages))
        self.mask_layer.set_labels(prediction.labels, self.palette, self.class_names)
        for name, stage in prediction.stages.items():
            self.layers[stage_layer_name(name)].set_labels(stage.labels, self.palette, self.class_names)  # type: ignore[attr-defined]
            self.layers[score_layer_name(name)].set_scores(stage.scores, stage.geometry, self.class_names)  # type: ignore[attr-defined]
        names = [n for n in prediction.stages if n != "aux"]
        if len(names) > 1:
            self.change_layer.set_labels(
                prediction.stages[names[0]].labels, prediction.stages[names[-1]].labels, (names[0], names[-1])
            )
        self.uncertainty_layer.set_maps(prediction.confidence, prediction.entropy, len(self.class_names))
        self.erf_layer.clear()
        self.boxes_layer.clear()
        self.events.prediction.emit(prediction)

    def _ensure_stage_layers(self, stages: tuple[str, ...]) -> None:
        """Stage label layers just above the image, score layers above the skip changes; others removed."""
        wanted = {stage_layer_name(s) for s in stages} | {score_layer_name(s) for s in stages}
        for layer in self.layers:
            if isinstance(layer, LabelLayer | ScoreLayer) and layer is not self.mask_layer and layer.name not in wanted:
                self.layers.remove(layer)
        for stage in stages:
            if stage_layer_name(stage) not in self.layers:
                layer = LabelLayer(stage_layer_name(stage), visible=False, opacity=0.6)
                layer.hidden_classes = self._hidden
                self.layers.insert(self.layers.index(self.mask_layer), layer)
            if score_layer_name(stage) not in self.layers:
                self.layers.insert(
                    self.layers.index(self.uncertainty_layer),
                    ScoreLayer(score_layer_name(stage), visible=False, opacity=0.7),
                )
