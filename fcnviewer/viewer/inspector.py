"""What the inspector shows of a pinned pixel, as plain data: its classes at every stage with their
probabilities, its receptive-field boxes and (later, from the worker) the branch contributions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fcnviewer.core.pixels import TopClasses, classes_at

if TYPE_CHECKING:
    from fcnviewer.core.prediction import Prediction

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class StageReport:
    """One stage, level or ``"final"`` at a pixel: top classes with probabilities (none for a
    level, which holds features), its box, and whether it sees the whole image besides."""

    stage: str
    top: TopClasses
    box: Box | None
    whole_image: bool = False


@dataclass(frozen=True)
class PixelReport:
    """What the network made of one pixel; ``contributions`` arrive later from the worker."""

    y: int
    x: int
    stages: tuple[StageReport, ...]
    contributions: Mapping[str, float] | None = None
    contribution_class: int | None = None
    note: str = ""

    def with_contributions(self, contributions: Mapping[str, float], class_index: int, note: str = "") -> PixelReport:
        """This report with the branch contributions filled in."""
        return replace(self, contributions=dict(contributions), contribution_class=class_index, note=note)


def pixel_report(
    prediction: Prediction, y: int, x: int, boxes: Mapping[str, Box], whole_image: Collection[str] = ()
) -> PixelReport:
    """The report of pixel ``(y, x)``: stage probabilities are the softmax of the image-aligned
    stage scores there; ``"final"`` uses the final logits. Boxes of levels (U-Net's decoder
    levels, which have no class scores) get rows without classes, before ``"final"``."""
    classes = classes_at(prediction, y, x)
    names = [*(n for n in classes if n != "final"), *(n for n in boxes if n not in classes), "final"]
    stages = (StageReport(n, classes.get(n, ()), boxes.get(n), n in whole_image) for n in names)
    return PixelReport(y, x, tuple(stages))


def with_contributions(
    reports: list[PixelReport],
    y: int,
    x: int,
    contributions: Mapping[str, float],
    class_index: int,
    note: str,
    *,
    waiting: bool,
) -> list[PixelReport]:
    """``reports`` with the branch contributions of ``(y, x)`` filled in; unless more probes are
    ``waiting``, the earlier reports still without theirs say that a newer click replaced their job."""
    updated = []
    for report in reports:
        if (report.y, report.x) == (y, x) and report.contributions is None:
            report = report.with_contributions(contributions, class_index, note)
        elif report.contributions is None and not waiting and report is not reports[-1]:
            report = report.with_contributions({}, 0, "not computed: a newer click replaced it")
        updated.append(report)
    return updated
