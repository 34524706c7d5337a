"""The Qt side of fcnviewer: layer models, worker thread, canvas, panels and the main window.

Modules here import no torch at module level, so that the window shows before the network
stack is loaded; the worker imports ``fcnviewer.core`` lazily on its own thread.
"""

import sys


def _guard_none_refcount() -> bool:
    """Work around a PySide6/shiboken6 bug (seen with 6.12.0 on Python 3.11): a C++ method
    returning void (``QObject.setObjectName``, ``QApplication.processEvents``, ...) hands back
    ``None`` without a new reference, so every such call takes one reference off ``None``. From
    Python 3.12 ``None`` is immortal and nothing happens; on 3.11 the process aborts ("Fatal
    Python error: none_dealloc") after some thousands of calls: a few hundred clicks in the
    viewer. ``True`` leaks the same way (some Python overrides of virtuals returning it:
    "bool_dealloc"). Where the bug shows, give ``None``, ``True`` and ``False`` references they
    can never lose, as 3.12 does. Whether it did."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    import ctypes

    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(64):
        probe.setObjectName("probe")
    if before - sys.getrefcount(None) < 32:
        return False
    for singleton in (None, True, False):
        ctypes.c_ssize_t.from_address(id(singleton)).value += 1 << 60  # ob_refcnt, the first field
    return True


NONE_REFCOUNT_GUARDED = _guard_none_refcount()
