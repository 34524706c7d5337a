"""The inspector: for each pinned pixel, its class at every stage with top-3 probabilities,
receptive-field box sizes and each skip branch's contribution to the final logit."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QTextBrowser, QWidget

from fcnviewer.viewer.inspector import PixelReport
from fcnviewer.viewer.layers import BoxesLayer
from fcnviewer.viewer.layers.boxes import CROP_PREFIX
from fcnviewer.viewer.viewer_model import ViewerModel

#: Readable names of the branch keys of ``fcnviewer.core.receptive.branch_contributions``.
BRANCH_NAMES = {
    "stride32": "stride-32 path",
    "pool4": "pool4 path",
    "pool3": "pool3 path",
    "low": "low branch (stride 8)",
    "high": "high branch (stride 16, gated)",
}


#: What "+ whole image" after a box means.
WHOLE_IMAGE_NOTE = (
    "+ whole image: a global pooling (image pooling, a squeeze-and-excitation gate) lets this stage see "
    "the whole image; the box, drawn dashed, is that of its local paths."
)


class InspectorPanel(QTextBrowser):
    """Shows :class:`PixelReport` s, newest first, in the class names and colours of ``model``."""

    def __init__(self, model: ViewerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setWordWrapMode(QTextOption.WrapMode.WordWrap)  # never "backgro/und": a narrow table scrolls
        self.model = model
        self.reports: list[PixelReport] = []
        #: Each skip path's receptive-field size, by branch key (set by ``qt.layer_view`` for the loaded model).
        self.path_sizes: dict[str, int] = {}
        #: The true class at a pixel (255: ignored), or ``None`` where there is no truth.
        self.truth_at: Callable[[int, int], int | None] = lambda _y, _x: None
        #: The names of the true classes (a dataset's may differ from the model's).
        self.truth_names: Callable[[], Sequence[str]] = lambda: self.model.class_names
        #: Gives the HTML shown above the reports (the effective receptive field's figures) at each render.
        self.summary_source: Callable[[], str] = str
        self._show_placeholder()

    def set_reports(self, reports: Sequence[PixelReport]) -> None:
        """Show ``reports`` (oldest first; shown newest first)."""
        self.reports = list(reports)
        if not self.reports:
            self._show_placeholder()
            return
        reports_html = "".join(self._report_html(n, r) for n, r in reversed(list(enumerate(self.reports, start=1))))
        self.setHtml(self.summary_source() + reports_html)

    @property
    def summary(self) -> str:
        """The HTML shown above the reports, as :attr:`summary_source` gives it now."""
        return self.summary_source()

    def refresh(self) -> None:
        """Render again (the summary changed)."""
        self.set_reports(self.reports)

    def _show_placeholder(self) -> None:
        self.setHtml(
            self.summary_source()
            or "<p><i>Click a pixel to see what every stage makes of it. Shift+click keeps earlier pixels. "
            "Ctrl+drag a rectangle for the effective receptive field of a region.</i></p>"
        )

    def class_html(self, index: int, names: Sequence[str] | None = None) -> str:
        """A class as HTML: its colour swatch and its name (from ``names``, by default the model's)."""
        names, palette = self.model.class_names if names is None else names, self.model.palette
        name = names[index] if index < len(names) else str(index)
        r, g, b = (int(v) for v in palette[index]) if index < len(palette) else (128, 128, 128)
        return f'<span style="color:rgb({r},{g},{b})">&#9632;</span> {html.escape(name)}'

    def _report_html(self, number: int, report: PixelReport) -> str:
        rows = []
        truth = self.truth_at(report.y, report.x)
        if truth is not None:
            shown = "<i>ignore</i>" if truth == 255 else self.class_html(truth, self.truth_names())
            rows.append(f'<tr><td><b>truth</b></td><td colspan="2"><b>{shown}</b></td></tr>')
        for stage in report.stages:
            colour = "rgb({},{},{})".format(*BoxesLayer.color(stage.stage))
            label = "final" if stage.stage == "final" else f"stride {stage.stage}"
            lines = [f"{self.class_html(i)} {p:.1%}" for i, p in stage.top]
            if lines and truth is not None and truth != 255:  # the stage's class against the truth
                lines[0] += " ✓" if stage.top[0][0] == truth else " <b style='color:#d22'>✗</b>"
            top = "<br>".join(lines) or "<i>features</i>"
            if stage.stage.startswith(CROP_PREFIX) and stage.box:  # the crop a classifier's unit scores
                label, (x0, y0, x1, y1) = stage.stage, stage.box
                top = f"<i>the classifier's view: x {x0}–{x1}, y {y0}–{y1}</i>"
            box = f"{stage.box[2] - stage.box[0] + 1}×{stage.box[3] - stage.box[1] + 1}" if stage.box else ""
            if stage.whole_image:
                box += " + whole image"
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
            cls = self.class_html(report.contribution_class or 0)
            parts.append(f"<p><b>Final logit of</b> {cls}: {total:.3g}</p><table cellpadding='2'>")
            for key, value in report.contributions.items():
                size = f"RF {self.path_sizes[key]}" if key in self.path_sizes else ""
                link = f"{size} <a href='path:{html.escape(key)}'>box &amp; ERF</a>"  # see qt.layer_view
                parts.append(
                    f"<tr><td>{BRANCH_NAMES.get(key, key)}</td><td align='right'>{value:+.3g}</td><td>{link}</td></tr>"
                )
            parts.append("</table>")
        if any(stage.whole_image for stage in report.stages):
            parts.append(f"<p><i>{WHOLE_IMAGE_NOTE}</i></p>")
        if report.note:
            parts.append(f"<p><i>{html.escape(report.note)}</i></p>")
        return "".join(parts) + "<hr>"
