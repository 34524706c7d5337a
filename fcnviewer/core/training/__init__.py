"""Training and evaluating FCN-VGG: the paper's staged schedule, its losses, metrics and data.

Modules: :mod:`.config` (settings, schedules), :mod:`.loop` (:func:`train`),
:mod:`.initialisation` (stage-to-stage weight transfer, from-scratch init), :mod:`.batches`
(batches and augmentation), :mod:`.step` (optimiser, rate, one step), :mod:`.losses`,
:mod:`.batch_norm`, :mod:`.evaluation` (:func:`evaluate`), :mod:`.metrics`, :mod:`.records`
(what a run records), and :mod:`.data` (synthetic scenes, dataset folders).
"""

from __future__ import annotations

from fcnviewer.core.training.batches import BatchStream, augment, batch_loader, to_batch
from fcnviewer.core.training.config import SCHEDULES, WEIGHT_DECAY, TrainConfig
from fcnviewer.core.training.evaluation import evaluate
from fcnviewer.core.training.initialisation import init_from_scratch, set_dropout, transfer_weights
from fcnviewer.core.training.loop import train
from fcnviewer.core.training.records import StageResult, command_line, stages_behind
from fcnviewer.core.training.step import learning_rate, make_optimizer, train_step

__all__ = [
    "SCHEDULES",
    "WEIGHT_DECAY",
    "BatchStream",
    "StageResult",
    "TrainConfig",
    "augment",
    "batch_loader",
    "command_line",
    "evaluate",
    "init_from_scratch",
    "learning_rate",
    "make_optimizer",
    "set_dropout",
    "stages_behind",
    "to_batch",
    "train",
    "train_step",
    "transfer_weights",
]
