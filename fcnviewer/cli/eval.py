"""``fcnviewer eval``: the paper's metrics for a checkpoint, for its output and each stage map."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnviewer.cli.common import CHECKPOINT_HELP, fail, load_model_for

if TYPE_CHECKING:
    from fcnviewer.core.distributed import Context

#: Column labels of the summary scores (``fcnviewer.core.training.metrics.SUMMARY_KEYS``).
SUMMARY_LABELS = {"pixel_acc": "pixel acc.", "mean_acc": "mean acc.", "mean_iu": "mean IU", "fw_iu": "f.w. IU"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        "eval",
        help="pixel accuracy, mean accuracy, mean IU and f.w. IU of a checkpoint (output and stage maps)",
        description="Evaluate a checkpoint on held-out synthetic scenes or a segmentation folder. Stage maps are "
        "aligned to the image pixels (as the viewer shows them) and arg-maxed.",
    )
    parser.add_argument("--checkpoint", metavar="CK|NAME", help=f"{CHECKPOINT_HELP}; default: the bundled model")
    parser.add_argument("--arch", default=None, help="override the detected architecture (e.g. fcn8s-atonce)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", action="store_true", help="generated scenes (seeds from --seed on)")
    source.add_argument("--data", metavar="DIR", help="a PASCAL VOC layout folder (val split) or images/ + masks/")
    parser.add_argument(
        "--seed", type=int, default=None, help="first synthetic seed (default 1,000,000: never trained on)"
    )
    parser.add_argument("--count", type=int, default=100, help="number of synthetic scenes (default 100)")
    parser.add_argument("--size", type=int, default=160, help="synthetic scene side in pixels (default 160)")
    parser.add_argument("--split", default="val", help="split of a --data folder (default val)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N images of --data")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default auto)")
    parser.add_argument("--confusion", metavar="OUT.png", help="write the final output's confusion matrix as an image")


def run(args: argparse.Namespace) -> int:
    """Evaluate; exit 0 on success, 2 on bad input. Under ``torchrun`` the processes share the
    images and rank 0 alone prints (what one process would) and writes ``--confusion``."""
    from fcnviewer.core.distributed import processes

    with processes() as context:
        return _evaluate(args, context)


def _evaluate(args: argparse.Namespace, context: Context) -> int:
    """Evaluate as one of ``context``'s processes."""
    from fcnviewer.core.errors import UserError
    from fcnviewer.core.training import evaluate

    try:
        device = _device(args.device)
        loaded = load_model_for(args)
        info = loaded.info
        if args.synthetic:
            from fcnviewer.core.training.data.synthetic import EVAL_SEED_BASE, SyntheticScenes

            if args.count < 1:
                raise ValueError(f"--count must be positive, not {args.count}")
            start = EVAL_SEED_BASE if args.seed is None else args.seed
            dataset: Any = SyntheticScenes(range(start, start + args.count), args.size)
            names = dataset.class_names
        else:
            from fcnviewer.core.training.data.folders import open_folder

            dataset = open_folder(args.data, split=args.split)
            if args.limit:
                dataset = dataset.subset(range(min(args.limit, len(dataset))))
            names = dataset.class_names
        if len(names) != info.spec.num_classes:
            raise ValueError(f"the data has {len(names)} classes but the network predicts {info.spec.num_classes}")
        progress = not args.json and context.is_main
        result = evaluate(loaded.model, dataset, info.preprocessing, device, progress=progress, context=context)
    except (UserError, ValueError, OSError) as exc:
        fail(str(exc))
        return 2
    if not context.is_main:
        return 0
    if args.confusion:
        write_confusion(Path(args.confusion), result["confusion"]["final"], info.class_names)
    if args.json:
        print(json.dumps(to_json(result, info.class_names), indent=2))
    else:
        print(format_table(result, info.class_names, title=f"{loaded.name} on {len(dataset)} images"))
    return 0


def _device(name: str) -> Any:
    from fcnviewer.core.devices import resolve_device

    return resolve_device(name)


def _summary() -> list[tuple[str, str]]:
    """``(key, label)`` of each summary score, in the core's order."""
    from fcnviewer.core.training.metrics import SUMMARY_KEYS

    return [(key, SUMMARY_LABELS[key]) for key in SUMMARY_KEYS]


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(float(value), 6)


def to_json(result: dict[str, Any], class_names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """``{"final": {...}, "stages": {name: {...}}, "classes": [...]}``; ``nan`` becomes ``null``."""

    def summary(scores: dict[str, Any]) -> dict[str, Any]:
        return {key: _clean(scores[key]) for key, _ in _summary()}

    final = result["final"]
    classes = []
    for i, name in enumerate(class_names):
        entry = {"index": i, "name": name, "iu": _clean(final["class_iu"][i]), "acc": _clean(final["class_acc"][i])}
        entry["stages"] = {
            s: {"iu": _clean(v["class_iu"][i]), "acc": _clean(v["class_acc"][i])} for s, v in result["stages"].items()
        }
        classes.append(entry)
    return {
        "final": summary(final),
        "stages": {name: summary(scores) for name, scores in result["stages"].items()},
        "classes": classes,
    }


def _pct(value: float) -> str:
    return "   -" if value is None or math.isnan(value) else f"{100 * value:5.1f}"


def format_table(result: dict[str, Any], class_names: tuple[str, ...] | list[str], title: str = "") -> str:
    """Summary rows (output, then each stage map) and a per-class IU table, in percent."""
    lines = [title] if title else []
    summary = _summary()
    header = f"{'':<14}" + "".join(f"{label:>12}" for _, label in summary)
    lines.append(header)
    rows = [("output", result["final"])] + [(f"stage {n} map", s) for n, s in result["stages"].items()]
    for name, scores in rows:
        lines.append(f"{name:<14}" + "".join(f"{_pct(scores[key]):>12}" for key, _ in summary))
    lines.append("")
    stage_names = list(result["stages"])
    lines.append(f"{'class IU':<14}{'output':>10}" + "".join(f"{'stage ' + n:>10}" for n in stage_names))
    for i, name in enumerate(class_names):
        values = [result["final"]["class_iu"][i]] + [result["stages"][n]["class_iu"][i] for n in stage_names]
        lines.append(f"{name[:14]:<14}" + "".join(f"{_pct(v):>10}" for v in values))
    return "\n".join(lines)


def write_confusion(path: Path, matrix: Any, class_names: tuple[str, ...] | list[str]) -> None:
    """The row-normalised confusion matrix as a grey PNG, 32 px per cell (white = 100%)."""
    import numpy as np
    from PIL import Image

    m = np.asarray(matrix, dtype=np.float64)
    rows = m.sum(axis=1, keepdims=True)
    norm = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    cell = 32
    image = np.kron((norm * 255).round().astype(np.uint8), np.ones((cell, cell), dtype=np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image, mode="L").save(path)
