"""Help pages: a Markdown text from the package's resources in a scrollable, non-modal dialog."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from fcnviewer.core.resources import dense_classifiers_help


class HelpDialog(QDialog):
    """A Markdown page (tables, links) with a Close button."""

    def __init__(self, title: str, markdown: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(markdown)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(760, 640)


def dense_classifiers_dialog(parent: QWidget | None = None) -> HelpDialog:
    """The help on convolutionalised ImageNet classifiers (dense maps, crops, measured equivalence)."""
    return HelpDialog("Dense classifiers", dense_classifiers_help(), parent)
