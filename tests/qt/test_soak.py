"""The soak session (``soak_session.py``) in a Python process of its own.

It measures the viewer in a long session: what the other tests leave in their process (a heap
of about 2 GB, caches, imported modules) is not the viewer's and made rare 90-160 ms gaps of
the GUI thread in full-suite runs, never in the session alone. ``pytest -s`` prints its figures.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_soak_session_in_a_fresh_process() -> None:
    session = Path(__file__).with_name("soak_session.py")
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", str(session)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    figures = [line for line in result.stdout.splitlines() if line.startswith("soak:")]
    print("\n".join(figures))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout and len(figures) == 2, result.stdout[-2000:]
