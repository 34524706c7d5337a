"""What a training run records about itself: the machine, the command, the stages behind a network."""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch


@dataclass
class StageResult:
    """A finished stage: its architecture, saved network, steps, seconds and last validation scores."""

    arch: str
    path: Path
    steps: int
    seconds: float
    val: dict[str, Any] | None


def pick_device(name: str | None = None) -> torch.device:
    """``name``, else CUDA when available, else the CPU."""
    if name and name != "auto":
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def hardware_description(device: torch.device) -> str:
    """A one-line description of the machine a run is on."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.get_num_threads()} threads"


def command_line() -> str:
    """How this process was started, for the metadata."""
    return " ".join(shlex.quote(a) for a in ["fcnviewer", *sys.argv[1:]]) if sys.argv else ""


def stages_behind(training: dict[str, Any]) -> list[dict[str, Any]]:
    """The training stages that made a checkpoint's weights, oldest first: those its metadata
    lists, then its own (arch, steps, seconds, command); none for a checkpoint without ours."""
    if "stage" not in training:
        return []
    own = {key: training[key] for key in ("steps", "seconds", "command") if key in training}
    return [*training.get("previous_stages", []), {"arch": training["stage"], **own}]
