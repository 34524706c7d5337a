"""A checkpoint that fails with no model loaded is no dead end: the bundled model takes over."""

from __future__ import annotations

from pathlib import Path


def test_a_checkpoint_failing_at_launch_falls_back_to_the_bundled_model(
    qtbot, window, image_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.pth"
    broken.write_text("not a checkpoint")
    errors: list[str] = []
    window.error_shown.connect(errors.append)
    window.pin_pixel(1, 1)  # nothing loaded yet, but a load is on its way
    with qtbot.waitSignal(window.prediction_shown, timeout=60000):
        window.load_model(broken)
        window.open_paths([image_path])
    assert len(errors) == 1 and errors[0].startswith(str(broken)) and "bundled model is loaded instead" in errors[0]
    assert window.loaded is not None and window.loaded.info.training.get("data") == "synthetic"
    assert "instead of the checkpoint that failed" in window.model_label.text()
    assert window.pin_pixel(10, 10)  # a click now gets its boxes


def test_a_click_is_told_why_there_is_no_prediction(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    messages: list[str] = []
    window.controller.status.connect(lambda text, _ms: messages.append(text))
    qtbot.wait(50)
    window.pin_pixel(1, 1)
    assert messages[-1].startswith("no model is loaded: open a checkpoint")
