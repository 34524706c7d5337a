"""Files as an image viewer handles them: a single image's folder, where dialogs start, recent files."""

from __future__ import annotations

from pathlib import Path

from fcnviewer.core.resources import sample_images
from tests.qt.conftest import make_image


def test_one_image_opens_with_its_folder_to_step_through(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = [make_image(tmp_path / f"{name}.png", 16, 16, seed=i) for i, name in enumerate("abc")]
    with qtbot.waitSignal(window.image_shown, timeout=20000):
        window.open_paths([paths[1]])
    assert window.images == paths and window.image_path == paths[1]
    assert window.windowTitle().startswith("b.png (2/3)")
    with qtbot.waitSignal(window.image_shown, timeout=20000):
        window.step_image(1)
    assert window.image_path == paths[2]
    assert window.menus.start_dir() == str(tmp_path)


def test_the_bundled_samples_are_not_recent_files(qtbot, window, image_path: Path) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(window.image_shown, timeout=20000):
        window.open_paths(sample_images())
    assert window.recent_paths() == []
    with qtbot.waitSignal(window.image_shown, timeout=20000):
        window.open_paths([image_path])
    assert window.recent_paths() == [str(image_path.resolve())]
