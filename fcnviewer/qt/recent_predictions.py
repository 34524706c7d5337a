"""The network worker's latest predictions, so that an image the window shows and a dataset's walk
both ask for is run once.

With a dataset open, the image shown is also a step of the walk: the window predicts it to draw
it, the walk to score its row, in either order (the first image is asked for by both at once;
a row clicked before the walk reaches it is where the walk goes on). Whichever comes second takes
the first's prediction. A prediction is kept by the predictor that made it (a new model, device
or precision makes a new one) and the image's pixels, so it never serves another image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from fcnviewer.core.inference import Predictor, ProgressCallback
    from fcnviewer.core.prediction import Prediction

#: How many predictions are kept: the walk may run one other step between the window's request
#: for an image and its own (and each holds the stage maps of a whole image).
KEPT = 2


class RecentPredictions:
    """The last :data:`KEPT` predictions made through :meth:`predict`, newest first."""

    def __init__(self) -> None:
        self._kept: list[tuple[Predictor, np.ndarray, Prediction]] = []

    def predict(self, predictor: Predictor, image: np.ndarray, progress: ProgressCallback | None = None) -> Prediction:
        """``predictor.predict(image, progress=progress)``, or the prediction it already made of these pixels."""
        for i, (made_by, pixels, prediction) in enumerate(self._kept):
            if made_by is predictor and pixels.shape == image.shape and np.array_equal(pixels, image):
                self._kept.insert(0, self._kept.pop(i))
                return prediction
        prediction = predictor.predict(image, progress=progress)
        self._kept = [(predictor, image, prediction), *self._kept][:KEPT]
        return prediction
