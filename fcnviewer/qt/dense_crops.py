"""The crop a click stands for on a convolutionalised classifier's dense map (drawn with the pin's boxes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcnviewer.viewer.layers.boxes import CROP_PREFIX

if TYPE_CHECKING:
    from torch import nn

    from fcnviewer.core.prediction import Prediction

Box = tuple[int, int, int, int]


def dense_crop(model: nn.Module, y: int, x: int, prediction: Prediction) -> tuple[dict[str, Box], str]:
    """The box of the crop that the dense unit nearest ``(y, x)`` stands for, keyed ``crop of unit (r, c)``,
    and a note when the net's units stand for no single crop; both empty for other nets.

    Read from the map's shape the prediction holds (:func:`fcnviewer.core.dense.crop_in_map`): no
    network run, nothing compiled, on the GUI thread.
    """
    if getattr(model, "output_stage", None) is None or "32" not in prediction.stages:
        return {}, ""
    from fcnviewer.core.dense import crop_in_map  # torch is loaded by now (there is a model)

    found = crop_in_map(model, y, x, prediction.stages["32"].scores.shape[-2:])  # type: ignore[arg-type]
    if found is None:
        return {}, (
            f"{getattr(model, 'arch', 'this net')} has no single crop per location: it pools globally, "
            "so a 224x224 crop's scores are the mean of the 7x7 locations it covers"
        )
    (row, col), box = found
    return {f"{CROP_PREFIX} ({row}, {col})": (box.x0, box.y0, box.x1, box.y1)}, ""
