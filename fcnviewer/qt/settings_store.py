"""The window's settings, kept in memory and written to disk on a thread of their own.

QSettings saves a change with a lock file and a temporary file, each flushed with ``fdatasync``.
On a busy disk that takes 100-300 ms, and PySide holds the GIL through a ``sync()`` called from
Python, so no Python thread may call it while the window runs. Here every change goes to a
QSettings that lives on the store's own thread, whose event loop saves it in C++ (the GIL
released); the window reads from a copy in memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, QThread, Signal, Slot

#: How many recent paths are kept.
MAX_RECENT = 10


class _Writer(QObject):
    """Owns the QSettings that writes, created on (and so saved by) the store's thread."""

    def __init__(self, file_name: str, file_format: QSettings.Format) -> None:
        super().__init__()
        self._file = (file_name, file_format)
        self._settings: QSettings | None = None

    @Slot(str, object)
    def write(self, key: str, value: Any) -> None:
        if self._settings is None:
            self._settings = QSettings(*self._file)
        self._settings.setValue(key, value)  # QSettings saves it from this thread's event loop

    @Slot()
    def close(self) -> None:
        if self._settings is not None:
            self._settings.sync()
            self._settings = None
        QThread.currentThread().quit()


class SettingsStore(QObject):
    """Every value of ``settings`` read once; :meth:`set_value` updates the copy and queues the
    write; :meth:`close` waits until all is on disk."""

    _write = Signal(str, object)
    _close = Signal()

    def __init__(self, settings: QSettings) -> None:
        super().__init__()
        self._values: dict[str, Any] = {key: settings.value(key) for key in settings.allKeys()}
        self._thread = QThread()
        self._thread.setObjectName("fcnviewer-settings")
        self._writer = _Writer(settings.fileName(), settings.format())
        self._writer.moveToThread(self._thread)
        self._write.connect(self._writer.write)
        self._close.connect(self._writer.close)
        self._thread.finished.connect(self._writer.deleteLater)
        self._thread.start()

    def value(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default`` if it has none."""
        return self._values.get(key, default)

    def set_value(self, key: str, value: Any) -> None:
        """Set ``key`` now, and write it to disk soon (on the store's thread)."""
        self._values[key] = value
        self._write.emit(key, value)

    def recent_paths(self) -> list[str]:
        """Recently opened images, folders and checkpoints, newest first."""
        value = self.value("recent", [])
        return [str(v) for v in (value if isinstance(value, list) else [value] if value else [])]

    def remember(self, path: str | Path) -> None:
        """Put ``path`` first in the recent paths (at most :data:`MAX_RECENT` are kept)."""
        path = str(Path(path).resolve())
        self.set_value("recent", [path, *(p for p in self.recent_paths() if p != path)][:MAX_RECENT])

    def last_dir(self) -> str:
        """The folder the file dialogs start in (the home folder at first)."""
        return str(self.value("last_dir", str(Path.home())))

    def set_last_dir(self, folder: str | Path) -> None:
        """Start the next file dialog in ``folder``."""
        self.set_value("last_dir", str(folder))

    def close(self, timeout_ms: int = 5000) -> bool:
        """Write what is left and end the thread; whether that took under ``timeout_ms``."""
        if self._thread.isFinished():
            return True
        self._close.emit()
        if self._thread.wait(timeout_ms):
            return True
        _UNFINISHED.append(self)  # never destroyed while its thread still writes
        return False


#: Stores whose thread had not ended when :meth:`SettingsStore.close` gave up waiting.
_UNFINISHED: list[SettingsStore] = []
