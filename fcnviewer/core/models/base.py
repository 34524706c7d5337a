"""What the viewer, the receptive-field analysis and training rely on in a segmentation network.

A model family is an ``nn.Module`` subclass with the surface of :class:`SegmentationModel`;
it need not inherit from anything here (the check is structural).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from torch import Tensor

from fcnviewer.core.models.graph import Stream


@runtime_checkable
class SegmentationModel(Protocol):
    """A segmentation network we can look inside.

    ``forward(x)`` returns an ordered mapping: ``"out"`` first, the final logits
    ``(N, C, H, W)`` at the input's size, then one score map per name in ``stage_names``, at
    its own resolution. A model whose output is one coarse stage aligned to the image (a
    convolutionalised classifier's ``"32"``) may name it ``output_stage`` and offer
    ``stage_maps(x)``, the stage maps alone: the predictor then aligns that stage band by band
    instead of asking for a full-size ``"out"``. ``streams()`` gives the signal path to each stage map (and, where
    the output is computed from the modules, to ``"out"``), which
    :mod:`fcnviewer.core.receptive` walks.
    """

    @property
    def arch(self) -> str:
        """The architecture's name, one of :data:`fcnviewer.core.names.ARCHITECTURES`."""
        ...

    @property
    def num_classes(self) -> int:
        """The number of classes scored (channels of every map)."""
        ...

    @property
    def stage_names(self) -> tuple[str, ...]:
        """Names of the stage maps ``forward`` returns after ``"out"``, coarse to fine."""
        ...

    def __call__(self, x: Tensor) -> Mapping[str, Tensor]:
        """``forward`` (through ``nn.Module``'s hooks)."""
        ...

    def forward(self, x: Tensor) -> Mapping[str, Tensor]:
        """``{"out": logits, stage name: score map, ...}`` for an ``(N, 3, H, W)`` input."""
        ...

    def streams(self) -> Mapping[str, Stream]:
        """The signal paths from the input to each stage map (and to ``"out"`` where it has one)."""
        ...
