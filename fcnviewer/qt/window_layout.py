"""How the main window shares its width between the canvas and the docks, and how its size and
dock layout are restored and saved."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow

from fcnviewer.qt.settings_store import SettingsStore

#: Qt's "no maximum" widget size.
QWIDGETSIZE_MAX = (1 << 24) - 1
#: Narrowest a dock gets (the inspector's table then scrolls; words are never broken).
DOCK_MIN_WIDTH = 120
#: Widest a dock gets, in pixels and as a share of the window's width: the canvas keeps the rest.
DOCK_MAX_WIDTH = 360
DOCK_MAX_SHARE = 0.2
#: Tallest share of the window's height a dock above or below the canvas gets.
DOCK_MAX_HEIGHT_SHARE = 0.3
#: Version of the saved dock layout: layouts saved by an older layout scheme are not restored.
STATE_VERSION = 2
#: The window's size at first (or smaller, to fit the screen).
DEFAULT_SIZE = QSize(1280, 800)


#: Dock areas above and below the canvas: their docks share its width rather than take it.
SPANNING_AREAS = (Qt.DockWidgetArea.TopDockWidgetArea, Qt.DockWidgetArea.BottomDockWidgetArea)


def limit_dock_widths(window: QMainWindow, docks: Iterable[QDockWidget]) -> None:
    """No dock beside the canvas (or floating) takes more than its share of ``window``'s width, whatever
    its contents ask for; one above or below it (the network panel, the image list) spans the window, at
    most its share of the height."""
    widest = max(DOCK_MIN_WIDTH, min(DOCK_MAX_WIDTH, int(window.width() * DOCK_MAX_SHARE)))
    for dock in docks:
        dock.setMinimumWidth(DOCK_MIN_WIDTH)
        spans = window.dockWidgetArea(dock) in SPANNING_AREAS
        dock.setMaximumWidth(QWIDGETSIZE_MAX if spans else widest)
        dock.setMaximumHeight(int(window.height() * DOCK_MAX_HEIGHT_SHARE) if spans else QWIDGETSIZE_MAX)


def restore_layout(window: QMainWindow, docks: Iterable[QDockWidget], settings: SettingsStore) -> None:
    """The saved size, position and dock layout, unless they no longer fit the screen."""
    geometry, state = settings.value("geometry"), settings.value("state")
    screen = window.screen().availableGeometry()
    restored = isinstance(geometry, QByteArray) and window.restoreGeometry(geometry)
    if not restored or window.width() > screen.width() or window.height() > screen.height():
        window.resize(DEFAULT_SIZE.boundedTo(screen.size()))
        return
    limit_dock_widths(window, docks)
    if isinstance(state, QByteArray):
        window.restoreState(state, STATE_VERSION)


def save_layout(window: QMainWindow, settings: SettingsStore) -> None:
    """Keep ``window``'s size, position and dock layout for the next run."""
    settings.set_value("geometry", window.saveGeometry())
    settings.set_value("state", window.saveState(STATE_VERSION))
