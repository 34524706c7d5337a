"""Signal paths through a segmentation network, as data that analyses can walk.

A model describes how its outputs are computed from the input as :class:`Stream` objects:
chains of the actual modules (convolutions, pools, transposed convolutions) plus the
operations that are not modules (crops, scalings), and sums of such chains. The receptive
field analysis reads kernel sizes, strides, paddings and dilations from the modules
themselves, so a change to a model can never leave a hand-written table behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class Crop:
    """``h[..., offset:offset + n, offset:offset + n]``: output index ``i`` reads input ``i + offset``."""

    offset: int


@dataclass(frozen=True)
class Scale:
    """Multiplication by a constant: no effect on geometry."""

    factor: float


Op = nn.Module | Crop | Scale


@dataclass(frozen=True, eq=False)
class Stream:
    """The sum of ``branches`` (the input image when there are none), then ``ops`` in order."""

    branches: tuple[Stream, ...]
    ops: tuple[Op, ...]

    @staticmethod
    def chain(ops: Iterable[Op]) -> Stream:
        """A plain chain of operations applied to the input image."""
        return Stream((), tuple(ops))

    @staticmethod
    def fuse(*branches: Stream) -> Stream:
        """The element-wise sum of ``branches``."""
        return Stream(tuple(branches), ())

    def then(self, ops: Iterable[Op]) -> Stream:
        """This stream followed by ``ops``."""
        return Stream(self.branches, self.ops + tuple(ops))
