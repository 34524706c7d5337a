"""The best mean IU any network could reach through each stage map's upsampling, on the synthetic scenes.

    .venv/bin/python scripts/stage_ceiling.py [--count 100] [--size 160] [--stages 8] [--json]

An FCN's stage map (stride 32, 16 or 8) reaches the image's pixels only through fixed
bilinear interpolation (``upsample_to_image``, which for the stride-8 map of FCN-8s is its
``upscore8`` + crop). So whatever the network before it computes, its labels are the
arg-max of an interpolated grid of class scores, and thin or small shapes are limited by
the stride. This script finds, for each held-out scene and stage, the free grid of scores
(one value per class and map unit) that fits the true labels best: Adam on the cross
entropy of the upsampled grid. The metrics of those arg-maxes are an empirical upper bound
(as good as the fit) on what any network with that stage's geometry can score.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fcnviewer.core.alignment import StageGeometry, upsample_to_image
from fcnviewer.core.checkpoints import load_checkpoint
from fcnviewer.core.receptive import stage_geometry
from fcnviewer.core.resources import default_checkpoint_path
from fcnviewer.core.training.data.synthetic import CLASS_NAMES, NUM_CLASSES, SyntheticScenes
from fcnviewer.core.training.metrics import ConfusionMatrix


def best_labels(labels: torch.Tensor, geometry: StageGeometry, units: tuple[int, int], iterations: int) -> torch.Tensor:
    """Arg-max labels of the stage grid (``units`` = its height, width) fitted to ``labels`` (H, W)."""
    height, width = labels.shape
    grid = torch.zeros((NUM_CLASSES, *units), requires_grad=True)
    optimizer = torch.optim.Adam([grid], lr=0.5)
    for _ in range(iterations):
        scores = upsample_to_image(grid, geometry, height, width)
        loss = F.cross_entropy(scores[None], labels[None])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return upsample_to_image(grid, geometry, height, width).argmax(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="held-out scenes (seeds from 1,000,000)")
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--stages", default="32,16,8", help="stage maps to bound (default 32,16,8)")
    parser.add_argument("--iterations", type=int, default=400)
    parser.add_argument("--checkpoint", default=None, help="an FCN-8s for the geometry (default: the bundled model)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    model = load_checkpoint(args.checkpoint or default_checkpoint_path()).model
    geometry = stage_geometry(model)
    stages = args.stages.split(",")
    scenes = SyntheticScenes.evaluation(args.count, args.size)
    with torch.no_grad():
        maps = model(torch.zeros(1, 3, args.size, args.size))
    matrices = {name: ConfusionMatrix(NUM_CLASSES) for name in stages}
    started = time.perf_counter()
    for index in range(len(scenes)):
        labels = torch.from_numpy(scenes[index][1].astype(np.int64))
        for name in stages:
            units = tuple(maps[name].shape[-2:])
            matrices[name].update(labels, best_labels(labels, geometry[name], units, args.iterations))
    results = {name: matrices[name].scores() for name in stages}
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"{args.count} scenes of {args.size} px, {time.perf_counter() - started:.0f} s")
    print("stride  mean IU  pixel acc  " + "  ".join(f"{n:>10}" for n in CLASS_NAMES))
    for name, s in results.items():
        per_class = "  ".join(f"{100 * v:10.1f}" for v in s["class_iu"])
        print(f"{name:>6}  {100 * s['mean_iu']:7.1f}  {100 * s['pixel_acc']:9.1f}  {per_class}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
