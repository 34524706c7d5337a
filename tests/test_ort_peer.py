"""The benchmark's ONNX Runtime peer computes what the network computes (needs ``.[bench]``; skipped without)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ort_peer import cpu_session, export_logits, run_logits

from fcnviewer.core.models import ArchSpec, build_model, randomize_weights


def test_ort_float32_logits_equal_torch(tmp_path: Path) -> None:
    model = randomize_weights(build_model(ArchSpec("fcn8s", num_classes=3, width=0.125)))
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = model(x)["out"]
    export_logits(model, x, tmp_path / "tiny.onnx")
    assert not model.training  # the export leaves the network in eval mode (dropout off)
    got = torch.from_numpy(run_logits(cpu_session(tmp_path / "tiny.onnx", threads=1), x))
    assert got.shape == want.shape
    assert float((got - want).abs().max()) <= 1e-4 * float(want.abs().max())
