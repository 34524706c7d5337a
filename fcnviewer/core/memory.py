"""Giving memory the process no longer uses back to the operating system.

glibc's ``malloc`` keeps what a program frees for its next requests. After a forward pass
or a gradient (hundreds of MB of activations, in sizes that change with every image) it keeps
it scattered among the blocks still in use, in one arena per thread that allocated, so a
process stepping through images of many sizes grew by 50-100 MB a lap of 40 images in the
viewer and held twice its working set (issue #24). :func:`release_free_memory` returns the
free pages to the system; it costs tens of milliseconds, and the next forward pass touches its
memory afresh (about 20 % more CPU time for that pass), so callers run it when idle, or when
:func:`resident_mb` has grown by more than they allow.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or ``None`` on other C libraries."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_free_memory() -> bool:
    """Return the pages ``malloc`` holds free, in every thread's arena, to the system (glibc only;
    the GIL is released meanwhile); whether anything was returned."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


def resident_mb() -> float | None:
    """This process's resident set size in MB (Linux; ``None`` elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


__all__ = ["release_free_memory", "resident_mb"]
