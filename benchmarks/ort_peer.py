"""ONNX Runtime as a CPU peer of the predictor: a network exported with ``torch.onnx``, run by ORT.

onnxruntime (and onnx, which ``torch.onnx`` writes with) are a benchmark extra
(``pip install .[bench]``), never a dependency of the viewer: ``ort_version()`` is ``None``
without them and ``run.py`` then reports ``"ort_s": null`` with a note.

The export uses the TorchScript exporter (``dynamo=False``): it traces FCN-VGG's fixed graph
correctly (logits within 1e-6 of eager float32) without onnxscript, which the ``torch.export``
exporter needs. The input shape is fixed at export, as the benchmark times one size.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

#: ONNX opset of the export (supported by the TorchScript exporter and onnxruntime >= 1.14).
OPSET = 17


def ort_version() -> str | None:
    """The installed onnxruntime's version, or ``None`` when onnxruntime or onnx is missing."""
    try:
        import onnx  # noqa: F401  (torch.onnx.export writes through it)
        import onnxruntime
    except ImportError:
        return None
    return str(onnxruntime.__version__)


def export_logits(model: Any, x: Any, path: Path) -> float:
    """Export ``model``'s final logits (``model(x)["out"]``) for inputs shaped like ``x`` to ``path``; seconds taken.

    ``model`` is left in the mode it was in (``torch.onnx.export`` restores the *wrapper's* mode
    recursively, so the wrapper takes the model's).
    """
    import torch

    class Logits(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.net(inputs)["out"]

    wrapper = Logits(model).train(model.training)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            wrapper,
            (x.detach().float().cpu().contiguous(),),
            str(path),
            input_names=["x"],
            output_names=["out"],
            opset_version=OPSET,
            dynamo=False,
        )
    return time.perf_counter() - t0


def cpu_session(path: Path, threads: int) -> Any:
    """An ORT CPU session with every graph optimisation, on ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_logits(session: Any, x: Any) -> Any:
    """ORT's logits (numpy, float32) of the preprocessed NCHW tensor (or array) ``x``."""
    import numpy as np

    array = x.detach().cpu().numpy() if hasattr(x, "detach") else x
    return session.run(["out"], {"x": np.ascontiguousarray(array, dtype=np.float32)})[0]
