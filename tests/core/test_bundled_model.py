"""The bundled default model: present, small, described, and good on scenes it never saw."""

from __future__ import annotations

import pytest
import torch

from fcnviewer.core.checkpoints import default_checkpoint_path, load_checkpoint
from fcnviewer.core.data.synthetic import CLASS_NAMES, EVAL_SEED_BASE, PALETTE, SYNTHETIC_PREPROCESSING, SyntheticScenes
from fcnviewer.core.training import evaluate

PATH = default_checkpoint_path()


@pytest.fixture(scope="module")
def loaded():
    return load_checkpoint(PATH)


def test_is_small_and_carries_its_metadata(loaded):
    assert PATH.stat().st_size < 20 * 1024 * 1024
    info = loaded.info
    assert info.spec.arch == "fcn8s" and info.spec.num_classes == len(CLASS_NAMES)
    assert info.class_names == CLASS_NAMES and info.palette == PALETTE
    assert info.preprocessing == SYNTHETIC_PREPROCESSING
    for key in ("command", "seed", "steps", "seconds", "hardware", "device", "previous_stages"):
        assert key in info.training, key
    archs = [s["arch"] for s in info.training["previous_stages"]]
    assert "fcn32s" in archs and "fcn16s" in archs and archs.index("fcn32s") < archs.index("fcn16s")
    assert not loaded.model.training


def test_passes_the_quality_bar_on_unseen_scenes(loaded):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = evaluate(loaded.model, SyntheticScenes.evaluation(8), loaded.info.preprocessing, "cpu")
    finally:
        torch.set_num_threads(threads)
    assert min(SyntheticScenes.evaluation(8).seeds) >= EVAL_SEED_BASE
    # The bars the shipped model actually meets (on these 8 scenes it scores mean IU 0.821,
    # pixel acc. 0.982, stage maps 0.391 / 0.574 / 0.684 at stride 32 / 16 / 8; MODEL_CARD.md
    # gives its figures on 100 scenes).
    # The target of mean IU >= 0.85 is NOT met yet: raise these with a better model.
    assert result["final"]["mean_iu"] >= 0.815, result["final"]
    assert result["final"]["pixel_acc"] >= 0.978
    # the skips matter: coarse to fine, each stage map is clearly better than the one before
    stages = result["stages"]
    assert stages["8"]["mean_iu"] > stages["16"]["mean_iu"] + 0.08, stages
    assert stages["16"]["mean_iu"] > stages["32"]["mean_iu"] + 0.15, stages
    # its learned upscore8 draws sharper than bilinear interpolation of the stride-8 map
    assert result["final"]["mean_iu"] > stages["8"]["mean_iu"] + 0.12, (result["final"], stages["8"])
