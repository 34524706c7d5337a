"""The model's training domain is visible; a synthetic-domain model says once that a user's image is not its kind."""

from __future__ import annotations

from pathlib import Path

from fcnviewer.core.resources import sample_images
from tests.qt.conftest import make_image


def test_bundled_model_names_its_domain_and_notes_a_foreign_image_once(qtbot, window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    notices: list[str] = []
    window.controller.notice.connect(notices.append)
    with qtbot.waitSignal(window.prediction_shown, timeout=60000):
        window.load_model(None)
        window.open_paths([sample_images()[0]])
    assert "synthetic shapes" in window.model_label.text()
    assert "Trained on: synthetic shapes" in window.controller.model_summary()
    assert notices == []  # a bundled scene is the model's own kind
    for seed in (1, 2):
        with qtbot.waitSignal(window.prediction_shown, timeout=60000):
            window.open_paths([make_image(tmp_path / f"photo{seed}.png", seed=seed)])
    assert len(notices) == 1 and "Open Checkpoint" in notices[0]
    assert window.last_notice == notices[0]


def test_a_checkpoint_without_metadata_gives_no_note(qtbot, loaded_window) -> None:  # type: ignore[no-untyped-def]
    assert "training data unknown" in loaded_window.model_label.text()
    assert loaded_window.last_notice == ""
