"""Signal paths through a segmentation network, as data that analyses can walk.

A model describes how its outputs are computed from the input as :class:`Stream` objects:
chains of the actual modules (convolutions, pools, transposed convolutions) plus the
operations that are not modules (crops, scalings, interpolations, global pooling), and
sums, concatenations or products of such chains. The receptive field analysis reads kernel
sizes, strides, paddings and dilations from the modules themselves, so a change to a model can
never leave a hand-written table behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from torch import nn


@dataclass(frozen=True)
class Crop:
    """``h[..., offset:offset + n, offset:offset + n]``: output index ``i`` reads input ``i + offset``."""

    offset: int


@dataclass(frozen=True)
class Scale:
    """Multiplication by a constant: no effect on geometry."""

    factor: float


@dataclass(frozen=True)
class Upsample:
    """Bilinear (or nearest) interpolation by ``factor``: ``F.interpolate(scale_factor=factor)``, or a
    resize to a map about ``factor`` times larger. With ``align_corners`` (which reads up to one
    unit left of the plain rule, depending on the map's size) the rule is widened to cover both."""

    factor: int
    align_corners: bool = False


@dataclass(frozen=True)
class GlobalPool:
    """Pooling over the whole map (``AdaptiveAvgPool2d(1)``): every output reads every input unit."""


Op = nn.Module | Crop | Scale | Upsample | GlobalPool

#: Key in ``streams()`` of the map a network resizes bilinearly to the input's size as its output,
#: where that map is not its first stage (LRASPP: the sum of its two classifier branches).
RESIZED = "resized"

#: How the branches of a :class:`Stream` are combined: added (a fused score map, exactly
#: decomposable into its branches), concatenated along channels, or multiplied (a gate).
Combine = Literal["sum", "concat", "product"]


@dataclass(frozen=True, eq=False)
class Stream:
    """The ``combine`` of ``branches`` (the input image when there are none), then ``ops`` in order.

    ``label`` names a branch of a sum (its key in the branch contributions) where the model says.
    """

    branches: tuple[Stream, ...]
    ops: tuple[Op, ...]
    combine: Combine = "sum"
    label: str = ""

    @staticmethod
    def chain(ops: Iterable[Op]) -> Stream:
        """A plain chain of operations applied to the input image."""
        return Stream((), tuple(ops))

    @staticmethod
    def fuse(*branches: Stream) -> Stream:
        """The element-wise sum of ``branches``."""
        return Stream(tuple(branches), ())

    @staticmethod
    def concat(*branches: Stream) -> Stream:
        """The channel concatenation of ``branches`` (a sum for geometry, not for contributions)."""
        return Stream(tuple(branches), (), "concat")

    @staticmethod
    def product(*branches: Stream) -> Stream:
        """The element-wise product of ``branches`` (a gate, e.g. squeeze-and-excitation)."""
        return Stream(tuple(branches), (), "product")

    def then(self, ops: Iterable[Op]) -> Stream:
        """This stream followed by ``ops``."""
        return Stream(self.branches, self.ops + tuple(ops), self.combine, self.label)

    def named(self, label: str) -> Stream:
        """This stream with ``label`` as its name in branch contributions."""
        return Stream(self.branches, self.ops, self.combine, label)

    @property
    def is_global(self) -> bool:
        """Whether this stream's own ops pool over the whole map (it has no local box)."""
        return any(isinstance(op, GlobalPool) for op in self.ops)

    @property
    def sees_whole_image(self) -> bool:
        """Whether some path into this stream pools over the whole image."""
        return self.is_global or any(branch.sees_whole_image for branch in self.branches)
