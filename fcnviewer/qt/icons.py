"""The application icon (``resources/icons``, drawn by ``scripts/make_icons.py``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"


def app_icon() -> QIcon:
    """Every size of the icon in one ``QIcon`` (empty if the files are missing)."""
    icon = QIcon()
    for path in sorted(ICON_DIR.glob("fcnviewer-*.png")):
        icon.addFile(str(path))
    return icon
