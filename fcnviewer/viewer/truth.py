"""The shown image's ground truth, as plain Python (no Qt): its layers, per-class IU and shares, and
what it says at a pixel beside each stage's prediction.

A :class:`GroundTruth` is filled on the worker (:meth:`GroundTruth.show`, with the class IU the job
computed) and taken over on the GUI thread (:meth:`GroundTruth.take`), as the viewer model's
prediction layers are. Its layers join the viewer's layer list while a truth is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from fcnviewer.viewer.layers import LayerList, RasterLayer, skip_stages
from fcnviewer.viewer.layers.truth import IGNORE, ErrorLayer, SkipEffectLayer, TruthLayer, TruthRasterLayer

if TYPE_CHECKING:
    from fcnviewer.core.prediction import Prediction


def shown_class_names(model_names: Sequence[str], dataset_names: Sequence[str] | None) -> tuple[str, ...]:
    """The names the window gives the classes the model predicts: a dataset's where the model's are
    only numbers (``class 0``, ``class 1``, ...: a checkpoint that names none) and as many, else the
    model's own (the dataset's then name the truth alone)."""
    numbered = tuple(model_names) == tuple(f"class {i}" for i in range(len(model_names)))
    if dataset_names is not None and numbered and len(dataset_names) == len(model_names):
        return tuple(dataset_names)
    return tuple(model_names)


class GroundTruth:
    """The truth of the shown image and the layers drawn from it."""

    def __init__(self) -> None:
        self.truth_layer = TruthLayer(visible=False, opacity=0.6, description="the true classes (255: hatched grey)")
        self.error_layer = ErrorLayer(
            opacity=0.55, description="the final output against the truth: green right, red wrong, grey ignored"
        )
        self.fixed_layer = SkipEffectLayer(
            "fixed", visible=False, description="wrong at the coarsest stage, right in the final output"
        )
        self.broken_layer = SkipEffectLayer(
            "broke", visible=False, description="right at the coarsest stage, wrong in the final output"
        )
        self.truth: np.ndarray | None = None
        self.stages: tuple[str, ...] = ()
        #: Each class's IU on this image (``nan``: absent from truth and prediction) and share of the truth's pixels.
        self.class_iu: tuple[float, ...] = ()
        self.truth_shares: tuple[float, ...] = ()

    @property
    def layers(self) -> tuple[RasterLayer, ...]:
        """The layers shown for this truth (the skips' only with two stages or more)."""
        skips = (self.fixed_layer, self.broken_layer) if len(self.stages) > 1 else ()
        return (self.truth_layer, self.error_layer, *skips)

    def styles(self) -> dict[str, tuple[Any, ...]]:
        """How each layer colours its data."""
        return {layer.name: layer.style for layer in self._all_layers()}

    def _all_layers(self) -> tuple[TruthRasterLayer, ...]:
        return (self.truth_layer, self.error_layer, self.fixed_layer, self.broken_layer)

    def show(
        self,
        truth: np.ndarray,
        prediction: Prediction,
        palette: np.ndarray,
        class_names: Sequence[str],
        class_iu: Sequence[float],
        *,
        styles: dict[str, tuple[Any, ...]] | None = None,
    ) -> None:
        """Colour the layers of ``truth`` against ``prediction`` (``class_iu``: each class's IU here), the true
        classes named ``class_names``; one share of the truth for each class of ``palette`` (the model's)."""
        for layer in self._all_layers():
            if styles and layer.name in styles:
                layer.restyle(styles[layer.name])
        self.truth, self.class_iu = truth, tuple(float(v) for v in class_iu)
        counts = np.bincount(truth[truth != IGNORE].ravel(), minlength=len(palette))[: len(palette)]
        self.truth_shares = tuple(float(v) for v in counts / max(1, counts.sum()))
        self.stages = skip_stages(prediction.stages)
        self.truth_layer.set_truth(truth, palette, class_names)
        self.error_layer.set_errors(truth, prediction.labels, palette)
        if len(self.stages) > 1:
            coarse = prediction.stages[self.stages[0]].labels
            for layer in (self.fixed_layer, self.broken_layer):
                layer.set_effect(truth, coarse, prediction.labels, self.stages[0])

    def take(self, other: GroundTruth) -> None:
        """Show ``other``'s truth and layers (coloured elsewhere) without colouring them again."""
        self.truth, self.stages, self.class_iu, self.truth_shares = (
            other.truth,
            other.stages,
            other.class_iu,
            other.truth_shares,
        )
        for mine, theirs in zip(self._all_layers(), other._all_layers(), strict=True):
            if theirs.has_data:
                mine.take(theirs)
            else:
                mine.clear()

    def clear(self) -> None:
        """No truth for the shown image."""
        self.truth, self.stages, self.class_iu, self.truth_shares = None, (), (), ()
        for layer in self._all_layers():
            layer.clear()

    def sync_layers(self, layers: LayerList, above: RasterLayer, *, keep: bool) -> None:
        """Put this truth's layers in ``layers`` just above ``above`` (bottom to top: truth, errors,
        fixed, broken); with ``keep`` false (no dataset open), take them all out."""
        wanted = self.layers if keep else ()
        for layer in self._all_layers():
            if layer.name in layers and layer not in wanted:
                layers.remove(layer)
        for offset, layer in enumerate(wanted, start=1):
            if layer.name not in layers:
                layers.insert(layers.index(above) + offset, layer)

    def truth_at(self, y: int, x: int) -> int | None:
        """The true class at image pixel ``(y, x)`` (255: ignored), or ``None`` without a truth there."""
        if self.truth is None or not (0 <= y < self.truth.shape[0] and 0 <= x < self.truth.shape[1]):
            return None
        return int(self.truth[y, x])

    def describe(self, y: int, x: int, prediction: Prediction | None, class_names: Sequence[str]) -> str:
        """Status-bar text: the true class at ``(y, x)`` and, per stage, whether it predicted it."""
        truth = self.truth_at(y, x)
        if truth is None:
            return ""
        if truth == IGNORE:
            return "truth: ignore"
        name = class_names[truth] if truth < len(class_names) else str(truth)
        if prediction is None or prediction.size != self.truth.shape:  # type: ignore[union-attr]
            return f"truth: {name}"
        labels = prediction.labels_by_stage()
        marks = " · ".join(f"{n} {'✓' if int(v[y, x]) == truth else '✗'}" for n, v in labels.items())
        return f"truth: {name} ({marks})"
