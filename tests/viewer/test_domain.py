"""What a model was trained on, and when the viewer says an image is not of that kind."""

from __future__ import annotations

from pathlib import Path

from fcnviewer.core.resources import sample_images
from fcnviewer.viewer.domain import domain_note, model_summary, needs_domain_note, training_domain


def test_the_training_domain_is_named_or_said_to_be_unknown() -> None:
    assert training_domain({"data": "synthetic"}) == "synthetic shapes"
    assert training_domain({"data": "voc"}) == "voc"
    assert training_domain({}) == "training data unknown"


def test_the_note_is_for_synthetic_models_on_images_not_bundled(tmp_path: Path) -> None:
    sample, photo = sample_images()[0], tmp_path / "cat.png"
    synthetic = {"data": "synthetic"}
    assert needs_domain_note(synthetic, photo)
    assert not needs_domain_note(synthetic, sample)
    assert not needs_domain_note({}, photo)  # a foreign checkpoint: nothing known to warn about
    assert not needs_domain_note(synthetic, None)


def test_the_note_and_summary_say_where_to_get_a_real_model() -> None:
    names = ("background", "disc", "ring")
    note = domain_note(names)
    assert "disc, ring" in note and "background" not in note and "Model > Open Checkpoint" in note
    summary = model_summary("m.safetensors", "fcn8s", names, {"data": "synthetic", "steps": 10})
    assert "Trained on: synthetic shapes" in summary and note in summary
    assert "no training metadata" in model_summary("x.pth", "fcn32s", names, {})


def test_uncertainty_shows_entropy_by_default_and_confidence_over_its_real_range() -> None:
    import numpy as np

    from fcnviewer.viewer.layers import UncertaintyLayer

    layer = UncertaintyLayer()
    assert layer.mode == "entropy"
    layer.set_maps(np.full((2, 2), 0.9, np.float32), np.zeros((2, 2), np.float32), 4)
    assert layer.limits == (0.0, float(np.log(4)))
    layer.mode = "confidence"
    assert layer.limits == (0.25, 1.0)
