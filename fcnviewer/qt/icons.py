"""The application icon (``fcnviewer/resources/icons``, drawn by ``scripts/make_icons.py``)."""

from __future__ import annotations

from PySide6.QtGui import QIcon

from fcnviewer.core.resources import icon_paths


def app_icon() -> QIcon:
    """Every size of the icon in one ``QIcon`` (empty if the files are missing)."""
    icon = QIcon()
    for path in icon_paths():
        icon.addFile(str(path))
    return icon
