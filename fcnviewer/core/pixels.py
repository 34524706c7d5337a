"""What a prediction says at one image pixel: class probabilities at every stage (numpy, no torch).

Cheap enough for the GUI thread at a click: one bilinear read of each stage map
(:func:`~fcnviewer.core.alignment.aligned_scores_at`) and a softmax over the classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fcnviewer.core.alignment import aligned_scores_at

if TYPE_CHECKING:
    from fcnviewer.core.prediction import Prediction

#: Classes and their probabilities, most probable first.
TopClasses = tuple[tuple[int, float], ...]


def shown_scores(scores: np.ndarray) -> np.ndarray:
    """Scores over the classes shown, along axis 0: a one-class (sigmoid) head's logit ``z`` becomes
    ``(0, z)``, whose softmax is ``(1 - sigmoid(z), sigmoid(z))``; other scores are returned as they are."""
    if scores.shape[0] != 1:
        return scores
    return np.concatenate([np.zeros_like(scores), scores])


def softmax(values: np.ndarray) -> np.ndarray:
    """Softmax of a 1-D array (shifted by its maximum, so large scores do not overflow)."""
    e = np.exp(values - values.max())
    return e / e.sum()


def top_classes(scores: np.ndarray, k: int = 3) -> TopClasses:
    """The ``k`` most probable classes of ``(C,)`` scores (logits), with their softmax probabilities
    (a sigmoid head's: background and foreground, see :func:`shown_scores`)."""
    probabilities = softmax(shown_scores(scores))
    order = np.argsort(-probabilities)[:k]
    return tuple((int(i), float(probabilities[i])) for i in order)


def classes_at(prediction: Prediction, y: int, x: int, k: int = 3) -> dict[str, TopClasses]:
    """Top ``k`` classes at image pixel ``(y, x)`` by stage (from its image-aligned scores), then
    ``"final"`` (from the final scores, :func:`final_scores_at`)."""
    found = {
        name: top_classes(aligned_scores_at(stage.scores, stage.geometry, y, x), k)
        for name, stage in prediction.stages.items()
    }
    found["final"] = top_classes(final_scores_at(prediction, y, x), k)
    return found


def final_scores_at(prediction: Prediction, y: int, x: int) -> np.ndarray:
    """``(C,)`` final scores at image pixel ``(y, x)``: the logits there, or the output stage's
    image-aligned scores for a model without full-size logits."""
    if prediction.output_stage is None:
        return prediction.scores_at(y, x)
    stage = prediction.stages[prediction.output_stage]
    return aligned_scores_at(stage.scores, stage.geometry, y, x)
