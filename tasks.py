#!/usr/bin/env python3
"""Set up and run fcnviewer from a fresh checkout, with nothing but Python 3.11 and pip.

    python3 tasks.py view [ARGS...]   create .venv, install, open the viewer (bundled sample + model)
    python3 tasks.py test [PYTEST ARGS...]   also install the test tools and Xvfb, run every test

The virtual environment lives in ``.venv/`` in the checkout; installs are skipped when
``pyproject.toml`` has not changed since the last one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
#: Debian packages for the end-to-end test: an X server, xdotool, and the libraries of Qt's xcb plugin.
APT_PACKAGES = (
    "xvfb", "xdotool", "x11-apps", "libxcb-cursor0", "libxkbcommon-x11-0", "libxcb-icccm4", "libxcb-image0",
    "libxcb-keysyms1", "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0", "libxcb-xkb1",
    "libegl1", "libgl1", "libfontconfig1", "libglib2.0-0", "libdbus-1-3", "fonts-dejavu-core",
)  # fmt: skip


def run(*command: str | Path, **kwargs: object) -> None:
    """Run a command, stopping this script if it fails."""
    print("+", " ".join(str(c) for c in command), flush=True)
    result = subprocess.run([str(c) for c in command], cwd=ROOT, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        sys.exit(result.returncode)


def ensure_venv(extras: str) -> None:
    """Create ``.venv`` and install the project (editable) with ``extras``, unless already done."""
    if not PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]" if extras else ".")
    stamp.write_text(digest)


def missing_apt_packages() -> list[str]:
    """The packages of :data:`APT_PACKAGES` that dpkg does not list as installed."""
    if not shutil.which("dpkg-query"):
        return []
    missing = []
    for package in APT_PACKAGES:
        query = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if "install ok installed" not in query.stdout:
            missing.append(package)
    return missing


def ensure_apt_packages() -> None:
    """Install Xvfb and the X libraries with apt-get (as root, or through sudo)."""
    missing = missing_apt_packages()
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(*sudo, "apt-get", "update", "-qq", env=env)
    run(*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("view", "test"):
        print(__doc__)
        return 2
    task, rest = argv[0], argv[1:]
    if task == "view":
        ensure_venv("")
        return subprocess.call([str(PYTHON), str(ROOT / "main.py"), *rest], cwd=ROOT)
    ensure_venv("test")
    ensure_apt_packages()
    return subprocess.call([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
