"""The CUDA paths against the CPU: ``python benchmarks/cuda_check.py [--checkpoint CK]``.

For the bundled model (or ``CK``) on the sample scenes and a large image, prints how far the
GPU's results are from the CPU's float32 ones: the predictor in float16 and float32 (labels,
stage labels, logits), effective receptive fields (float32 gradients on both), and
``evaluate`` over synthetic scenes (confusion matrices). Exits 1 when a figure is past its
bound. Needs a CUDA device; there is nothing to compare without one.

CUDA's float32 convolutions run in TF32 (PyTorch's default), about 1e-3 relative error.
An effective receptive field routes gradients through ReLU and max-pool switches, so it
moves far more than that under such a change: its bound is what the CPU's own field does
when the input is perturbed by 1e-3 (relative), times 1.5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fcnviewer.core.checkpoints import load_checkpoint  # noqa: E402
from fcnviewer.core.images import load_image  # noqa: E402
from fcnviewer.core.inference import Predictor  # noqa: E402
from fcnviewer.core.receptive import effective_receptive_fields  # noqa: E402
from fcnviewer.core.resources import default_checkpoint_path, sample_images  # noqa: E402
from fcnviewer.core.training import evaluate  # noqa: E402
from fcnviewer.core.training.data.synthetic import SyntheticScenes  # noqa: E402

#: Bounds: label agreement in float16 (near-ties may flip) and float32, relative differences.
BOUNDS = {"fp16_labels": 0.995, "fp32_labels": 0.9995, "fp32_logits_rel": 1e-2, "eval_pixels": 0.999}
#: The effective receptive fields' bound, in multiples of the CPU's own change under a perturbed input.
ERF_NOISE, ERF_FACTOR = 1e-3, 1.5


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """``|a - b| / |b|`` (Frobenius)."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def predictor_figures(cpu: Predictor, gpus: dict[str, Predictor], images: list[np.ndarray]) -> dict[str, float]:
    """Agreement of the GPU predictors' labels, stage labels and logits with the CPU's; their time."""
    figures: dict[str, float] = {}
    refs = [cpu.predict(image) for image in images]
    for precision, gpu in gpus.items():
        agree, stage_agree, rel = [], [], []
        for image, ref in zip(images, refs, strict=True):
            got = gpu.predict(image)
            agree.append(float((ref.labels == got.labels).mean()))
            stage_agree += [float((ref.stages[s].labels == got.stages[s].labels).mean()) for s in ref.stages]
            rel.append(relative(got.logits, ref.logits))
        key = "fp16" if precision == "float16" else "fp32"
        figures[f"{key}_labels"] = min(agree)
        figures[f"{key}_stage_labels"] = min(stage_agree)
        figures[f"{key}_logits_rel"] = max(rel)
        t0 = time.perf_counter()
        for _ in range(10):
            gpu.predict(images[0])  # returns host arrays: synchronised
        figures[f"{key}_predict_{images[0].shape[0]}px_ms"] = (time.perf_counter() - t0) / 10 * 1000
    return figures


def erf_figures(cpu: Predictor, gpu: Predictor, images: list[np.ndarray]) -> dict[str, float]:
    """How far the GPU's effective receptive fields are from the CPU's, and the CPU's own under a perturbed input."""
    erf, noise = [], []
    torch.manual_seed(0)
    for image in images:
        height, width = image.shape[:2]
        y, x = height // 3, width // 2
        x_cpu = cpu.info.preprocessing.to_tensor(image, "cpu")
        ref = effective_receptive_fields(cpu.model, x_cpu, y, x)
        got = effective_receptive_fields(gpu.model, x_cpu.cuda(), y, x)
        moved = effective_receptive_fields(cpu.model, x_cpu * (1 + ERF_NOISE * torch.randn_like(x_cpu)), y, x)
        erf += [relative(got[s].values, ref[s].values) for s in ref]
        noise += [relative(moved[s].values, ref[s].values) for s in ref]
    return {"erf_rel": max(erf), "erf_rel_cpu_perturbed": max(noise)}


def eval_figures(cpu: Predictor, gpu: Predictor, count: int) -> dict[str, float]:
    """``evaluate`` on both devices: mean IU, and the share of pixels whose confusion-matrix cell agrees."""
    scenes = SyntheticScenes.evaluation(count, 160)
    on_cpu = evaluate(cpu.model, scenes, cpu.info.preprocessing, "cpu")
    on_gpu = evaluate(gpu.model, scenes, gpu.info.preprocessing, "cuda")
    a, b = on_cpu["confusion"]["final"], on_gpu["confusion"]["final"]
    return {
        "eval_mean_iu_cpu": on_cpu["final"]["mean_iu"],
        "eval_mean_iu_gpu": on_gpu["final"]["mean_iu"],
        "eval_pixels": 1.0 - float(np.abs(a - b).sum() / 2) / float(a.sum()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--scenes", type=int, default=50, help="synthetic scenes for the evaluate() check")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here", file=sys.stderr)
        return 2
    path = args.checkpoint or default_checkpoint_path()
    images = [load_image(p) for p in sample_images()]
    rng = np.random.default_rng(0)
    images.append(rng.integers(0, 256, (2048, 2048, 3), dtype=np.uint8))  # tiled or whole, by the GPU's budget
    cpu = Predictor(load_checkpoint(path), device="cpu", precision="float32")
    gpus = {p: Predictor(load_checkpoint(path), device="cuda", precision=p) for p in ("float16", "float32")}
    figures = predictor_figures(cpu, gpus, images)
    figures |= erf_figures(cpu, gpus["float32"], images[:3])
    figures |= eval_figures(cpu, gpus["float32"], args.scenes)
    failed = [n for n in ("fp16_labels", "fp32_labels", "eval_pixels") if figures[n] < BOUNDS[n]]
    failed += [n for n in ("fp32_logits_rel",) if figures[n] > BOUNDS[n]]
    failed += ["erf_rel"] if figures["erf_rel"] > ERF_FACTOR * figures["erf_rel_cpu_perturbed"] else []
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, {path.name}, {len(images)} images")
    for name, value in figures.items():
        print(f"  {name:24s} {value:.6g}")
    print("FAILED: " + ", ".join(failed) if failed else "all within bounds")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
