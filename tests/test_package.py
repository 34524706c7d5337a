"""The package as a person installs and types it: declared dependencies, a wheel that carries the
bundled files, and every subcommand run in a fresh process with its progress bars on."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Sequence
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from PIL import Image

from fcnviewer import __version__
from fcnviewer.core.resources import default_checkpoint_path, sample_images

ROOT = Path(__file__).resolve().parents[1]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_top_level_modules(package: Path) -> set[str]:
    names: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"fcnviewer", "__future__"}


def test_every_imported_distribution_is_declared_and_every_declared_one_is_used() -> None:
    declared = {
        _normalise(re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0])
        for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    distributions = packages_distributions()
    imported = _imported_top_level_modules(ROOT / "fcnviewer")
    unknown = sorted(m for m in imported if m not in distributions)
    assert not unknown, f"imported but installed by no distribution: {unknown}"
    needed = {_normalise(distributions[m][0]) for m in imported}
    assert needed - declared == set(), "imported by fcnviewer but not a dependency in pyproject.toml"
    assert declared - needed == set(), "declared in pyproject.toml but never imported by fcnviewer"


def _fcnviewer(
    args: Sequence[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``python -m fcnviewer ARGS`` in a fresh process; fails the test on a traceback or a bad exit."""
    result = subprocess.run(
        [sys.executable, "-m", "fcnviewer", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, f"fcnviewer {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The wheel of this checkout, built (no download) and installed into a folder of its own; the
    environment that puts that folder, not the checkout, first on the path."""
    scratch = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*build, "-w", str(scratch / "dist")], check=True, capture_output=True, timeout=300)
    (wheel,) = (scratch / "dist").glob("fcnviewer-*.whl")
    install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target"]
    subprocess.run([*install, str(scratch / "site"), str(wheel)], check=True, capture_output=True, timeout=300)
    return {**os.environ, "PYTHONPATH": str(scratch / "site"), "QT_QPA_PLATFORM": "offscreen"}


@pytest.mark.slow
def test_the_wheel_carries_the_bundled_files_and_runs_without_the_checkout(
    installed_wheel: dict[str, str], tmp_path: Path
) -> None:
    site = Path(installed_wheel["PYTHONPATH"])
    where = subprocess.run(
        [sys.executable, "-c", "import json, sys, fcnviewer; print(fcnviewer.__file__); print(json.dumps(sys.path))"],
        cwd=tmp_path,
        env=installed_wheel,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert Path(where[0]).is_relative_to(site), "the installed package, not the checkout, must be imported"
    assert str(ROOT) not in json.loads(where[1]) and "" not in json.loads(where[1])[1:]
    bundled = site / "fcnviewer" / "resources"
    assert (bundled / "models" / default_checkpoint_path().name).stat().st_size > 1_000_000
    samples = sorted((bundled / "samples").glob("*.png"))
    assert [p.name for p in samples] == [p.name for p in sample_images()]

    assert _fcnviewer(["--version"], cwd=tmp_path, env=installed_wheel).stdout.strip() == f"fcnviewer {__version__}"
    predicted = _fcnviewer(
        ["predict", str(samples[0]), "--out", str(tmp_path / "out")], cwd=tmp_path, env=installed_wheel
    )
    assert (tmp_path / "out" / f"{samples[0].stem}_mask.png").exists(), predicted.stdout
    evaluated = _fcnviewer(["eval", "--synthetic", "--count", "2"], cwd=tmp_path, env=installed_wheel)
    assert "mean IU" in evaluated.stdout
    train = ["train", "--arch", "fcn8s", "--synthetic", "--steps", "2", "--size", "64", "--out", str(tmp_path / "run")]
    _fcnviewer(train, cwd=tmp_path, env=installed_wheel)
    assert (tmp_path / "run" / "fcn8s.safetensors").exists()


@pytest.mark.slow
def test_train_and_eval_as_a_person_types_them_show_progress_bars(tmp_path: Path) -> None:
    trained = _fcnviewer(
        ["train", "--arch", "fcn8s", "--synthetic", "--steps", "10", "--val-count", "4", "--out", str(tmp_path)],
        cwd=tmp_path,
    )
    assert re.search(r"fcn8s: .*10/10", trained.stderr), trained.stderr  # tqdm's bar reached the end
    assert "fcn8s: 10 steps" in trained.stdout
    evaluated = _fcnviewer(["eval", "--synthetic", "--count", "5"], cwd=tmp_path)
    assert re.search(r"eval: .*5/5", evaluated.stderr), evaluated.stderr
    assert "on 5 images" in evaluated.stdout and "mean IU" in evaluated.stdout


def test_predict_takes_folders_and_files_as_a_person_types_them(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("b", "a"):
        Image.open(sample_images()[0]).resize((96, 64)).save(folder / f"{name}.png")
    (folder / "notes.txt").write_text("not an image")
    single = sample_images()[1]
    result = _fcnviewer(["predict", str(folder), str(single), "--out", str(tmp_path / "out")], cwd=tmp_path)
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(f"{stem}_{kind}.png" for stem in ("a", "b", single.stem) for kind in ("mask", "overlay"))
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(folder / "a.png")) and lines[1].startswith(str(folder / "b.png"))


def test_predict_names_an_empty_folder_and_exits_nonzero(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "fcnviewer", "predict", str(tmp_path / "empty"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        f"fcnviewer: error: {tmp_path / 'empty'}: this folder holds no images (expected .png, .jpg, ... files "
        "directly inside it)"
    )


def test_rf_and_help_as_a_person_types_them(tmp_path: Path) -> None:
    table = _fcnviewer(["rf"], cwd=tmp_path).stdout
    assert re.search(r"^pool5\s+212\s+32\b", table, re.M), table
    pixel = _fcnviewer(["rf", "--image", str(sample_images()[0]), "--pixel", "100,120"], cwd=tmp_path).stdout
    assert "pixel y=100 x=120" in pixel
    for command in ("view", "predict", "rf", "train", "eval"):
        assert f"usage: fcnviewer {command}" in _fcnviewer([command, "--help"], cwd=tmp_path).stdout
    assert "COMMAND" in _fcnviewer(["--help"], cwd=tmp_path).stdout


@pytest.mark.slow
def test_view_with_no_arguments_opens_the_bundled_samples_and_predicts(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "FCNVIEWER_E2E_REPORT": str(report),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    viewer = subprocess.Popen(
        [sys.executable, "-m", "fcnviewer"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not report.exists():
            assert viewer.poll() is None, viewer.stdout.read().decode() if viewer.stdout else ""
            time.sleep(0.2)
        state = json.loads(report.read_text())
    finally:
        viewer.terminate()
        output = viewer.communicate(timeout=10)[0].decode()
    assert state["event"] == "prediction" and sample_images()[0].name in state["window"]
    assert "Traceback" not in output, output
