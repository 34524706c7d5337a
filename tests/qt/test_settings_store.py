"""SettingsStore: the window's settings in memory, saved to disk from a thread of their own."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QThread

from fcnviewer.qt.settings_store import SettingsStore


def test_values_are_read_once_and_written_from_the_stores_thread(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    file = tmp_path / "settings.ini"
    before = QSettings(str(file), QSettings.Format.IniFormat)
    before.setValue("device", "cpu")
    before.sync()

    store = SettingsStore(QSettings(str(file), QSettings.Format.IniFormat))
    assert store.value("device") == "cpu" and store.value("recent", []) == []
    store.set_value("recent", ["/a.png", "/b.png"])
    assert store.value("recent") == ["/a.png", "/b.png"]  # at once, in memory

    # Saved without a close, by the event loop of the thread the writing QSettings lives on.
    qtbot.waitUntil(lambda: "/b.png" in file.read_text(), timeout=5000)
    writer = store._writer._settings
    assert writer is not None and writer.thread() is store._thread is not QThread.currentThread()

    store.set_value("geometry", QByteArray(b"\x00\x01\xff"))
    store.set_value("device", "cuda")
    assert store.close() and store._thread.isFinished()
    assert store.close()  # a second close has nothing left to do
    assert "device=cuda" in file.read_text()  # on disk, not only in this process's cache of the file

    after = QSettings(str(file), QSettings.Format.IniFormat)
    assert after.value("recent") == ["/a.png", "/b.png"]
    assert after.value("geometry") == QByteArray(b"\x00\x01\xff") and after.value("device") == "cuda"
