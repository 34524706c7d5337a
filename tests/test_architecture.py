"""Project-wide contracts: the core never imports Qt; the viewer starts without torch."""

from __future__ import annotations

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import fcnviewer.core

ROOT = Path(__file__).resolve().parents[1]
QT_MODULES = ("PySide6", "pyqtgraph", "shiboken6")


def _imports(source: Path) -> set[str]:
    tree = ast.parse(source.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_sources_never_import_qt() -> None:
    offenders = [str(path) for path in (ROOT / "fcnviewer" / "core").rglob("*.py") if _imports(path) & set(QT_MODULES)]
    assert not offenders


def loaded_by_importing(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    """The modules under ``roots`` (top-level names) that a fresh interpreter has loaded after
    importing ``modules``."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(repr(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return ast.literal_eval(result.stdout.strip())


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = [m.name for m in pkgutil.walk_packages(fcnviewer.core.__path__, "fcnviewer.core.")]
    assert "fcnviewer.core.inference" in modules and "fcnviewer.core.receptive" in modules
    assert loaded_by_importing(modules, QT_MODULES) == []


def test_the_command_line_parser_loads_no_torch() -> None:
    code = "import sys; from fcnviewer.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_the_torch_free_names_are_the_cores() -> None:
    from fcnviewer.core import names
    from fcnviewer.core.models import ARCHITECTURES, BUILDERS, RESNET_ARCHS
    from fcnviewer.core.models.fcn_resnet import TORCHVISION_BUILDERS
    from fcnviewer.core.training import SCHEDULES

    assert names.ARCHITECTURES == ARCHITECTURES == tuple(BUILDERS)
    assert names.RESNET_ARCHS == RESNET_ARCHS == tuple(TORCHVISION_BUILDERS)
    assert tuple(SCHEDULES) == names.TRAIN_ARCHS


def test_the_import_linter_contracts_are_kept() -> None:
    """pyproject's contracts: cli -> qt -> viewer -> core, no Qt below the widgets, torch-free names."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: (\d+) kept, 0 broken", result.stdout), result.stdout
