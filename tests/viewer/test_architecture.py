"""The viewer's state never imports Qt, and loads no torch when imported (the window shows first)."""

from __future__ import annotations

import pkgutil

import fcnviewer.viewer
from tests.test_architecture import QT_MODULES, ROOT, _imports, loaded_by_importing

VIEWER = ROOT / "fcnviewer" / "viewer"


def test_viewer_sources_never_import_qt() -> None:
    sources = list(VIEWER.rglob("*.py"))
    assert len(sources) >= 8
    offenders = [str(path) for path in sources if _imports(path) & set(QT_MODULES)]
    assert not offenders


def test_importing_every_viewer_module_loads_no_qt_and_no_torch() -> None:
    modules = [m.name for m in pkgutil.walk_packages(fcnviewer.viewer.__path__, "fcnviewer.viewer.")]
    assert {"fcnviewer.viewer.layers", "fcnviewer.viewer.protocol", "fcnviewer.viewer.viewer_model"} <= set(modules)
    assert loaded_by_importing(modules, (*QT_MODULES, "torch")) == []
