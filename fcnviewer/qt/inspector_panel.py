"""The inspector: for each pinned pixel, its class at every stage with top-3 probabilities,
receptive-field box sizes and each skip branch's contribution to the final logit."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PySide6.QtWidgets import QTextBrowser, QWidget

from fcnviewer.qt.layers import BoxesLayer, aligned_scores_at, softmax

#: Readable names of the branch keys of ``fcnviewer.core.receptive.branch_contributions``.
BRANCH_NAMES = {"stride32": "stride-32 path", "pool4": "pool4 path", "pool3": "pool3 path"}


@dataclass(frozen=True)
class StageReport:
    """One stage (or ``"final"``) at a pixel: top classes with probabilities, and its box."""

    stage: str
    top: tuple[tuple[int, float], ...]
    box: tuple[int, int, int, int] | None


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


def _top(probabilities: np.ndarray, k: int = 3) -> tuple[tuple[int, float], ...]:
    order = np.argsort(-probabilities)[:k]
    return tuple((int(i), float(probabilities[i])) for i in order)


def pixel_report(prediction: Any, y: int, x: int, boxes: Mapping[str, tuple[int, int, int, int]]) -> PixelReport:
    """The report of pixel ``(y, x)``: stage probabilities are the softmax of the image-aligned
    stage scores there; ``"final"`` uses the final logits."""
    stages = [
        StageReport(name, _top(softmax(aligned_scores_at(stage.scores, stage.geometry, y, x))), boxes.get(name))
        for name, stage in prediction.stages.items()
    ]
    stages.append(StageReport("final", _top(softmax(prediction.logits[:, y, x])), boxes.get("final")))
    return PixelReport(y, x, tuple(stages))


class InspectorPanel(QTextBrowser):
    """Shows :class:`PixelReport` s, newest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.class_names: Sequence[str] = ()
        self.palette_colours: np.ndarray = np.zeros((0, 3), np.uint8)
        self.reports: list[PixelReport] = []
        self._show_placeholder()

    def set_classes(self, class_names: Sequence[str], palette: np.ndarray) -> None:
        """Names and colours used to show classes."""
        self.class_names, self.palette_colours = tuple(class_names), palette

    def set_reports(self, reports: Sequence[PixelReport]) -> None:
        """Show ``reports`` (oldest first; shown newest first)."""
        self.reports = list(reports)
        if not self.reports:
            self._show_placeholder()
            return
        self.setHtml("".join(self._report_html(n, r) for n, r in reversed(list(enumerate(self.reports, start=1)))))

    def _show_placeholder(self) -> None:
        self.setHtml(
            "<p><i>Click a pixel to see what every stage makes of it. Shift+click keeps earlier pixels.</i></p>"
        )

    def _class_html(self, index: int) -> str:
        name = self.class_names[index] if index < len(self.class_names) else str(index)
        r, g, b = (
            (int(v) for v in self.palette_colours[index]) if index < len(self.palette_colours) else (128, 128, 128)
        )
        return f'<span style="color:rgb({r},{g},{b})">&#9632;</span> {html.escape(name)}'

    def _report_html(self, number: int, report: PixelReport) -> str:
        rows = []
        for stage in report.stages:
            colour = "rgb({},{},{})".format(*BoxesLayer.color(stage.stage))
            label = "final" if stage.stage == "final" else f"stride {stage.stage}"
            top = "<br>".join(f"{self._class_html(i)} {p:.1%}" for i, p in stage.top)
            box = f"{stage.box[2] - stage.box[0] + 1}×{stage.box[3] - stage.box[1] + 1}" if stage.box else ""
            swatch = f'<span style="color:{colour}">&#9632;</span>'
            rows.append(f'<tr><td>{swatch} {label}</td><td>{top}</td><td align="right">{box}</td></tr>')
        parts = [
            f"<h3>#{number} &nbsp; pixel x={report.x}, y={report.y}</h3>",
            '<table cellspacing="0" cellpadding="3" border="0">',
            '<tr><th align="left">stage</th><th align="left">top 3</th><th>RF box</th></tr>',
            *rows,
            "</table>",
        ]
        if report.contributions is None:
            parts.append("<p><i>Branch contributions: computing…</i></p>")
        elif report.contributions:
            total = sum(report.contributions.values())
            cls = self._class_html(report.contribution_class or 0)
            parts.append(f"<p><b>Final logit of</b> {cls}: {total:.3g}</p><table cellpadding='2'>")
            for key, value in report.contributions.items():
                parts.append(f"<tr><td>{BRANCH_NAMES.get(key, key)}</td><td align='right'>{value:+.3g}</td></tr>")
            parts.append("</table>")
        if report.note:
            parts.append(f"<p><i>{html.escape(report.note)}</i></p>")
        return "".join(parts) + "<hr>"
