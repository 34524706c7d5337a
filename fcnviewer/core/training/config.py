"""The settings of a training run, and the checks of those that can be wrong."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from fcnviewer.core.names import TRAIN_ARCHS, TRAIN_PRECISIONS

#: The paper's staged training: FCN-32s, then 16s from it, then 8s from the 16s.
STAGED: tuple[str, ...] = ("fcn32s", "fcn16s", "fcn8s")
#: Architectures trained one after the other for each ``--arch``.
SCHEDULES: dict[str, tuple[str, ...]] = {name: STAGED if name == "staged" else (name,) for name in TRAIN_ARCHS}
WEIGHT_DECAY = 5e-4


@dataclass
class TrainConfig:
    """Settings of a training run (one or several stages)."""

    arch: str = "staged"
    width: float = 1.0
    num_classes: int = 21
    steps: tuple[int, ...] = (1000,)
    batch: int = 8
    lr: float = 0.01
    momentum: float = 0.9
    optimizer: str = "sgd"
    class_weights: tuple[float, ...] | None = None
    lovasz: float = 0.0
    learn_upsampling: bool = False
    weight_decay: float = WEIGHT_DECAY
    schedule: str = "poly"
    warmup: int = 100
    dropout: float = 0.5
    batch_norm: bool = False
    precision: str = "float32"
    workers: int = 0
    clip: float = 10.0
    scale: tuple[float, float] = (0.7, 1.4)
    crop: int | None = None
    seed: int = 0
    val_every: int = 500
    save_every: int = 500
    out: Path = Path("runs/train")
    device: str | None = None
    threads: int | None = None
    init: Path | None = None
    resume: Path | None = None
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def stage_steps(self, index: int) -> int:
        """Steps of stage ``index`` (the last entry of ``steps`` serves every later stage)."""
        return self.steps[min(index, len(self.steps) - 1)]


def autocast_dtype(precision: str) -> torch.dtype:
    """The autocast dtype of a training ``precision`` (:data:`~fcnviewer.core.names.TRAIN_PRECISIONS`).

    bfloat16 runs forward and backward under autocast; weights, loss and optimiser stay float32.
    """
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f"unknown training precision {precision!r}; expected {' or '.join(TRAIN_PRECISIONS)}")
    return getattr(torch, precision)


def class_weight_tensor(config: TrainConfig, device: torch.device) -> Tensor | None:
    """``config.class_weights`` as a float32 tensor on ``device`` (one per class), or ``None``."""
    if config.class_weights is None:
        return None
    if len(config.class_weights) != config.num_classes:
        raise ValueError(f"{len(config.class_weights)} class weights for {config.num_classes} classes")
    return torch.tensor(config.class_weights, dtype=torch.float32, device=device)
