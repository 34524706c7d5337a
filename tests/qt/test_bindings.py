"""The Qt bindings must not leak references to ``None`` (PySide6 6.12.0 does, on Python 3.11)."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_do_not_take_references_off_none() -> None:
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(1000):
        probe.setObjectName("probe")
    # On 3.12+ None is immortal and its count does not move either way; on 3.11 a leaking
    # binding loses one reference per call and aborts the process after a few thousand.
    assert before - sys.getrefcount(None) < 10
