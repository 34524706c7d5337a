"""What a network made of one image: the :class:`Prediction` and its :class:`StageMap` per stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from fcnviewer.core import postprocess, transfer
from fcnviewer.core.alignment import StageGeometry, upsample_to_image


@dataclass(frozen=True, eq=False)
class StageMap:
    """A stage's score map at its own resolution, with where its units sit on the image."""

    name: str
    scores: np.ndarray  # (C, h, w) float32
    geometry: StageGeometry
    labels: np.ndarray  # (H, W) argmax of the image-aligned scores

    def upsampled(self, height: int, width: int, class_index: int | None = None) -> np.ndarray:
        """The image-aligned scores ``(C, H, W)``, or ``(H, W)`` for one class."""
        scores = torch.from_numpy(self.scores if class_index is None else self.scores[class_index : class_index + 1])
        out = upsample_to_image(scores, self.geometry, height, width).numpy()
        return out if class_index is None else out[0]


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a network made of one image: numpy arrays on the host, except the full-size final
    ``scores``, which stay where the network ran until :attr:`logits` first reads them (a GPU
    prediction copies back its labels, confidence and stage maps, not 21 MB of scores a viewer
    may never read). ``logits`` are the network's own: ``(1, H, W)`` for a sigmoid head, whose
    label is foreground (1) where it passes 0.5.

    A model whose output is a coarse stage aligned to the image (``output_stage``: ``"32"`` of a
    convolutionalised classifier, 1000 maps, 4 kB a pixel at full size) has no full-size
    scores (``None``): its final scores are that stage's, read through :meth:`final_band`.
    """

    scores: np.ndarray | Tensor | None  # (C, H, W) float32 on any device; None when ``output_stage`` names the output
    labels: np.ndarray  # (H, W) uint8 (int16 past 256 classes)
    confidence: np.ndarray  # (H, W) float32 max probability
    stages: dict[str, StageMap]
    device: str
    seconds: float
    tiles: int = 1
    notes: tuple[str, ...] = field(default=())
    output_stage: str | None = None

    def labels_by_stage(self) -> dict[str, np.ndarray]:
        """The final labels under ``"final"``, then each stage's, all in image pixels (what ``eval``
        and the ground-truth views compare with the truth)."""
        return {"final": self.labels, **{name: stage.labels for name, stage in self.stages.items()}}

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the image."""
        return self.labels.shape  # type: ignore[return-value]

    @cached_property
    def logits(self) -> np.ndarray | None:
        """The final scores ``(C, H, W)`` float32 on the host (copied from the device on first
        use), or ``None`` with an ``output_stage``."""
        if self.scores is None or isinstance(self.scores, np.ndarray):
            return self.scores
        return transfer.to_host({"logits": self.scores})["logits"]

    def scores_at(self, y: int, x: int) -> np.ndarray:
        """The final scores ``(C,)`` at image pixel ``(y, x)`` on the host: one column copied from
        the device, not the whole map (``None`` scores: use the output stage)."""
        return torch.as_tensor(self.scores)[:, y, x].cpu().numpy()

    @property
    def num_classes(self) -> int:
        """Classes the final scores hold."""
        final = self.scores if self.output_stage is None else self.stages[self.output_stage].scores
        return final.shape[0]  # type: ignore[union-attr]

    def final_band(self, top: int, rows: int) -> Tensor:
        """The final scores ``(C, rows, W)`` of image rows ``top .. top + rows``: a view of ``scores``
        (on their device), or the output stage aligned to those rows."""
        if self.output_stage is None:
            return torch.as_tensor(self.scores)[:, top : top + rows]
        stage = self.stages[self.output_stage]
        return postprocess.stage_band(torch.from_numpy(stage.scores), stage.geometry, self.size[1])(top, rows)

    @cached_property
    def probabilities(self) -> np.ndarray:
        """Softmax over the classes shown, ``(C, H, W)`` float32 (computed on first use; a sigmoid
        head's ``(1, H, W)`` logits give background and foreground, ``C = 2``). Full size, even for
        a model with an ``output_stage``: ask for it on small images only."""
        return torch.softmax(postprocess.shown(self.final_band(0, self.size[0])), dim=0).cpu().numpy()

    @cached_property
    def entropy(self) -> np.ndarray:
        """Entropy of the class distribution in nats, ``(H, W)`` float32 (in bands of rows)."""
        return postprocess.entropy(self.final_band, self.num_classes, *self.size)
