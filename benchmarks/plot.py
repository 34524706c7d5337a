"""Forward time against image size, drawn with Pillow (no plotting library needed).

``python benchmarks/plot.py [--json FILE] [--sizes 128,256,...] [--runs N] [--out docs/forward_time.png]``

Without ``--json`` it measures on the CPU, for each square image size: ``Predictor.predict``
(preprocessing and post-processing included) and the plain eager float32 forward, for the
bundled model (a random width-1/8 FCN-8s if it is missing) and full-width FCN-8s VGG16; it
writes the measurements next to the PNG (``.json``) so the figure can be redrawn with
``--json``. A ``--json`` from ``run.py`` holds single sizes only, so it is drawn as points.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def measure(sizes: list[int], runs: int, full_max: int) -> dict[str, Any]:
    """Median predictor and eager times per size and network, on the CPU."""
    import torch

    from benchmarks.run import bundled, interleaved, machine, test_image
    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.models import ArchSpec, build_model, randomize_weights

    info = machine()  # the load average before measuring
    networks: list[tuple[str, Any, int]] = []
    loaded, why = bundled()
    if loaded is None:
        spec = ArchSpec("fcn8s", 21, 1 / 8)
        networks.append(
            (
                "FCN-8s width 1/8 (bundled stand-in)",
                LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec)),
                10**9,
            )
        )
    else:
        networks.append((f"bundled {loaded.info.spec.arch} x{loaded.info.spec.width:g}", loaded, 10**9))
    spec = ArchSpec("fcn8s")
    networks.append(
        (
            "FCN-8s VGG16 full width",
            LoadedModel(randomize_weights(build_model(spec)), ModelInfo.default_for(spec)),
            full_max,
        )
    )
    series: list[dict[str, Any]] = []
    for name, model, largest in networks:
        eager_model = copy.deepcopy(model.model).eval()
        predictor = Predictor(model, device="cpu")
        pred: list[list[float]] = []
        eager: list[list[float]] = []
        for size in sizes:
            if size > largest:
                continue
            image = test_image(size, size)
            x = model.info.preprocessing.to_tensor(image).contiguous()

            def plain(x: Any = x, net: Any = eager_model) -> Any:
                with torch.no_grad():
                    return net(x)

            def predict(image: Any = image, p: Any = predictor) -> Any:
                return p.predict(image)

            t = interleaved({"predictor": predict, "eager": plain}, 1, runs, "cpu")
            pred.append([size, t["predictor"]["median_s"]])
            eager.append([size, t["eager"]["median_s"]])
            print(f"  {name} {size}: predictor {pred[-1][1]} s, eager {eager[-1][1]} s", file=sys.stderr, flush=True)
        precision = str(predictor.dtype).removeprefix("torch.")
        series.append({"label": f"{name}: Predictor.predict ({precision})", "points": pred, "dashed": False})
        series.append({"label": f"{name}: eager fp32 model(x)", "points": eager, "dashed": True})
    info["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    return {"machine": info, "runs": runs, "series": series, "note": why}


def from_run_json(data: dict[str, Any]) -> dict[str, Any]:
    """Points from a ``run.py`` report (one size per network)."""
    series = []
    for result in data.get("forward", {}).get("results", []):
        size = result["size"][0]
        label = f"{result['network']} {result['device']} {result['precision']}"
        series.append({"label": f"{label}: predictor", "points": [[size, result["predictor_s"]]], "dashed": False})
        series.append({"label": f"{label}: eager fp32", "points": [[size, result["eager_fp32_s"]]], "dashed": True})
    return {"machine": data.get("machine", {}), "series": series}


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = span / ticks
    magnitude = 10 ** int(f"{raw:e}".split("e")[1])
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _dashed(draw: Any, a: tuple[float, float], b: tuple[float, float], colour: Any, width: int) -> None:
    (x0, y0), (x1, y1) = a, b
    length = max(1.0, ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5)
    dash = 10
    for i in range(0, int(length), 2 * dash):
        s, e = i / length, min(1.0, (i + dash) / length)
        draw.line([(x0 + (x1 - x0) * s, y0 + (y1 - y0) * s), (x0 + (x1 - x0) * e, y0 + (y1 - y0) * e)], colour, width)


def draw(data: dict[str, Any], out: Path, title: str) -> Path:
    width, height = 1200, 760
    left, right, top, bottom = 100, 40, 70, 250
    image = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(image)
    font, small, big = _font(18), _font(15), _font(22)
    points = [p for s in data["series"] for p in s["points"]]
    if not points:
        raise SystemExit("nothing to draw")
    xmax = max(p[0] for p in points) * 1.05
    ymax = max(p[1] for p in points) * 1.1
    xstep, ystep = _nice_step(xmax, 8), _nice_step(ymax, 6)
    pw, ph = width - left - right, height - top - bottom

    def to_px(x: float, y: float) -> tuple[float, float]:
        return left + pw * x / xmax, top + ph * (1 - y / ymax)

    d.text((left, 20), title, fill="black", font=big)
    tick = 0.0
    while tick <= ymax:
        _, y = to_px(0, tick)
        d.line([(left, y), (left + pw, y)], (225, 225, 225), 1)
        d.text((left - 10, y), f"{tick:g}", fill="black", font=small, anchor="rm")
        tick += ystep
    tick = 0.0
    while tick <= xmax:
        x, _ = to_px(tick, 0)
        d.line([(x, top), (x, top + ph)], (235, 235, 235), 1)
        d.text((x, top + ph + 8), f"{tick:g}", fill="black", font=small, anchor="ma")
        tick += xstep
    d.rectangle([left, top, left + pw, top + ph], outline="black", width=2)
    d.text((left + pw / 2, top + ph + 32), "image side (pixels, square image)", fill="black", font=font, anchor="ma")
    d.text((20, top + ph / 2), "s", fill="black", font=font, anchor="mm")
    d.text((left + 6, top + 6), "seconds per image (median)", fill=(90, 90, 90), font=small)
    for i, s in enumerate(data["series"]):
        colour = COLOURS[(i // 2) % len(COLOURS)]
        pts = [to_px(x, y) for x, y in s["points"]]
        for a, b in itertools.pairwise(pts):
            if s["dashed"]:
                _dashed(d, a, b, colour, 3)
            else:
                d.line([a, b], colour, 3)
        for x, y in pts:
            r = 5
            if s["dashed"]:
                d.rectangle([x - r, y - r, x + r, y + r], outline=colour, width=2)
            else:
                d.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        ly = top + ph + 70 + 26 * i
        if s["dashed"]:
            _dashed(d, (left, ly), (left + 50, ly), colour, 3)
        else:
            d.line([(left, ly), (left + 50, ly)], colour, 3)
        d.text((left + 62, ly), s["label"], fill="black", font=font, anchor="lm")
    m = data.get("machine", {})
    caption = f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, torch {m.get('torch', '?')}, {m.get('date', '')}"
    if m.get("load_average_at_start"):
        caption += f", load average {m['load_average_at_start'][0]} (shared machine)"
    d.text((left, height - 24), caption, fill=(90, 90, 90), font=small)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="draw from this file (plot.py's own, or a run.py report)")
    parser.add_argument("--sizes", default="128,256,384,512,768,1024", help="image sides to measure")
    parser.add_argument("--full-max", type=int, default=1024, help="largest side for full-width FCN-8s")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per point (median)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "forward_time.png")
    args = parser.parse_args()
    if args.json:
        data = json.loads(args.json.read_text())
        if "series" not in data:
            data = from_run_json(data)
    else:
        data = measure([int(s) for s in args.sizes.split(",")], args.runs, args.full_max)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    path = draw(data, args.out, "Forward time on the CPU against image size: Predictor vs plain eager")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
