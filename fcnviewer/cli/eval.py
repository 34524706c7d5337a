"""``fcnviewer eval``: the paper's metrics for a checkpoint, for its output and each stage map."""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnviewer.cli.common import CHECKPOINT_HELP, fail, load_model_for

if TYPE_CHECKING:
    from fcnviewer.core.checkpoints import LoadedModel
    from fcnviewer.core.datasets import DatasetEntry
    from fcnviewer.core.distributed import Context

#: Column labels of the summary scores (``fcnviewer.core.training.metrics.SUMMARY_KEYS``).
SUMMARY_LABELS = {"pixel_acc": "pixel acc.", "mean_acc": "mean acc.", "mean_iu": "mean IU", "fw_iu": "f.w. IU"}


@dataclass
class Source:
    """What is evaluated: the items, each one's name and the class names."""

    dataset: Any
    names: list[str]
    class_names: tuple[str, ...]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        "eval",
        help="pixel accuracy, mean accuracy, mean IU and f.w. IU of a checkpoint (output and stage maps)",
        description="Evaluate a checkpoint on held-out synthetic scenes or a segmentation folder, as "
        "`fcnviewer predict --precision float32` labels each image. Stage maps are aligned to the image pixels "
        "(as the viewer shows them) and arg-maxed. Each score is of one confusion matrix over the whole set "
        "(label 255 ignored); each image also gets its own mean IU and pixel accuracy (--json, --per-image).",
    )
    parser.add_argument("--checkpoint", metavar="CK|NAME", help=f"{CHECKPOINT_HELP}; default: the bundled model")
    parser.add_argument("--arch", default=None, help="override the detected architecture (e.g. fcn8s-atonce)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", action="store_true", help="generated scenes (seeds from --seed on)")
    source.add_argument(
        "--data",
        metavar="DIR",
        help="a PASCAL VOC layout folder or images/ + masks/; images without a mask are not evaluated, and a mask "
        "whose size differs from its image's or that holds class values the network lacks is named and skipped",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="first synthetic seed (default 1,000,000: never trained on)"
    )
    parser.add_argument("--count", type=int, default=100, help="number of synthetic scenes (default 100)")
    parser.add_argument("--size", type=int, default=160, help="synthetic scene side in pixels (default 160)")
    parser.add_argument(
        "--split", default=None, help="split of a --data folder (default: val where the folder lists one, else all)"
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N labelled images of --data")
    parser.add_argument(
        "--json", action="store_true", help='print the results as JSON, with each image\'s scores under "images"'
    )
    parser.add_argument(
        "--per-image",
        metavar="FILE.csv",
        help="write each image's mean IU and pixel accuracy, of the output and each stage map, as CSV",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ... (default auto)")
    parser.add_argument("--confusion", metavar="OUT.png", help="write the final output's confusion matrix as an image")


def run(args: argparse.Namespace) -> int:
    """Evaluate; exit 0 on success, 2 on bad input. Under ``torchrun`` the processes share the
    images and rank 0 alone prints (what one process would) and writes ``--confusion`` and ``--per-image``."""
    from fcnviewer.core.distributed import processes

    with processes() as context:
        return _evaluate(args, context)


def _evaluate(args: argparse.Namespace, context: Context) -> int:
    """Evaluate as one of ``context``'s processes."""
    from fcnviewer.core.errors import UserError
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.training.evaluation import evaluate_predictor

    try:
        loaded = load_model_for(args)
        source = _synthetic(args, loaded) if args.synthetic else _folder(args, loaded, context)
        predictor = Predictor(loaded, device=args.device, precision="float32")
        progress = not args.json and context.is_main
        result = evaluate_predictor(predictor, source.dataset, progress=progress, context=context, per_image=True)
        skipped = _skipped(result, source, args, context)
    except (UserError, ValueError, OSError) as exc:
        fail(str(exc))
        return 2
    if not context.is_main:
        return 0
    output = to_json(result, source.class_names, source.names, skipped)
    try:
        if args.confusion:
            write_confusion(Path(args.confusion), result["confusion"]["final"], source.class_names)
        if args.per_image:
            write_per_image(Path(args.per_image), output["images"])
    except OSError as exc:
        fail(f"{exc.filename or args.per_image}: cannot write: {exc.strerror or exc}")
        return 2
    if args.json:
        print(json.dumps(output, indent=2))
    else:
        title = f"{loaded.name} on {len(source.dataset) - len(skipped)} images"
        print(format_table(result, source.class_names, title=title))
    return 0


def _synthetic(args: argparse.Namespace, loaded: LoadedModel) -> Source:
    """Scenes ``--seed`` .. ``--seed + --count - 1``, each named ``scene_<seed>`` (as the bundled samples)."""
    from fcnviewer.core.training.data.synthetic import EVAL_SEED_BASE, SyntheticScenes

    if args.count < 1:
        raise ValueError(f"--count must be positive, not {args.count}")
    start = EVAL_SEED_BASE if args.seed is None else args.seed
    dataset = SyntheticScenes(range(start, start + args.count), args.size)
    _check_classes(dataset.class_names, loaded)
    return Source(dataset, [f"scene_{seed}" for seed in dataset.seeds], tuple(loaded.info.class_names))


def _folder(args: argparse.Namespace, loaded: LoadedModel, context: Context) -> Source:
    """The images of ``--data`` that have a mask; the folder's class names where it gives them, else
    the network's. A mask that cannot be compared is found, named and left out as the images are
    scored (:func:`_skipped`)."""
    from fcnviewer.core.datasets import list_dataset

    listing = list_dataset(Path(args.data), args.split)
    class_names = listing.class_names or tuple(loaded.info.class_names)
    _check_classes(class_names, loaded)
    labelled = listing.labelled
    if context.is_main and len(labelled) < len(listing.entries):
        _note(f"{len(listing.entries) - len(labelled)} of {len(listing.entries)} images have no mask: not evaluated")
    labelled = labelled[: args.limit] if args.limit else labelled
    dataset = LabelledImages(labelled, listing.root, loaded.info.spec.num_classes)
    return Source(dataset, [entry.name for entry in labelled], class_names)


def _skipped(
    result: dict[str, Any], source: Source, args: argparse.Namespace, context: Context
) -> list[tuple[str, str]]:
    """``(name, reason)`` of each image left out, each named on stderr; none compared is an error."""
    from fcnviewer.core.datasets import DatasetError

    skipped = [(source.names[entry["index"]], entry["reason"]) for entry in result["skipped"]]
    if context.is_main:
        for name, reason in skipped:
            _note(f"skipped {name}: {reason}")
    if len(skipped) == len(source.dataset):
        raise DatasetError(f"{args.data}: no image with a mask that can be compared with the network's output")
    return skipped


def _check_classes(class_names: tuple[str, ...], loaded: LoadedModel) -> None:
    if len(class_names) != loaded.info.spec.num_classes:
        raise ValueError(
            f"the data has {len(class_names)} classes but the network predicts {loaded.info.spec.num_classes}"
        )


def _note(text: str) -> None:
    """One line for the person on stderr (what is left out, and why)."""
    print(f"eval: {text}", file=sys.stderr)


class LabelledImages:
    """The ``(image, labels)`` of dataset entries that have a mask, images read as ``predict`` reads
    them; where the image cannot be read or the mask cannot be compared with it, ``(None, why)``:
    one sentence naming the file (relative to ``root``), which ``evaluate`` lists as skipped."""

    def __init__(self, entries: list[DatasetEntry], root: Path, num_classes: int) -> None:
        self.entries, self.root, self.num_classes = entries, root, num_classes

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from fcnviewer.core.images import ImageError, load_image
        from fcnviewer.core.truth import read_truth

        entry = self.entries[index]
        assert entry.mask is not None
        try:
            image = load_image(entry.image)
        except (ImageError, OSError) as exc:
            return None, str(exc)
        shown = entry.mask.relative_to(self.root) if entry.mask.is_relative_to(self.root) else entry.mask
        truth, problem = read_truth(entry.mask, image.shape[:2], self.num_classes, shown)
        return (image, truth) if truth is not None else (None, problem)


def _summary() -> list[tuple[str, str]]:
    """``(key, label)`` of each summary score, in the core's order."""
    from fcnviewer.core.training.metrics import SUMMARY_KEYS

    return [(key, SUMMARY_LABELS[key]) for key in SUMMARY_KEYS]


def _clean(value: float) -> float | None:
    """``value`` as JSON gives it back exactly (``nan`` as ``null``)."""
    return None if value is None or math.isnan(value) else float(value)


def to_json(
    result: dict[str, Any],
    class_names: tuple[str, ...] | list[str],
    names: list[str],
    skipped: list[tuple[str, str]],
) -> dict[str, Any]:
    """``{"final": {...}, "stages": {name: {...}}, "classes": [...], "images": [...], "skipped": [...]}``;
    ``nan`` becomes ``null``.

    ``"images"`` (where ``result`` has them; ``names`` names each item) lists ``{"name",
    "mean_iu", "pixel_acc", "stages": {name: {"mean_iu", "pixel_acc"}}}`` in the dataset's
    order; ``"skipped"`` lists ``{"name", "reason"}`` of each mask left out.
    """

    def summary(scores: dict[str, Any], keys: list[str] | tuple[str, ...]) -> dict[str, Any]:
        return {key: _clean(scores[key]) for key in keys}

    final = result["final"]
    keys = [key for key, _ in _summary()]
    classes = []
    for i, name in enumerate(class_names):
        entry = {"index": i, "name": name, "iu": _clean(final["class_iu"][i]), "acc": _clean(final["class_acc"][i])}
        entry["stages"] = {
            s: {"iu": _clean(v["class_iu"][i]), "acc": _clean(v["class_acc"][i])} for s, v in result["stages"].items()
        }
        classes.append(entry)
    output: dict[str, Any] = {
        "final": summary(final, keys),
        "stages": {name: summary(scores, keys) for name, scores in result["stages"].items()},
        "classes": classes,
    }
    if "images" in result:
        from fcnviewer.core.truth import IMAGE_KEYS

        output["images"] = [
            {
                "name": names[image["index"]],
                **summary(image["final"], IMAGE_KEYS),
                "stages": {s: summary(v, IMAGE_KEYS) for s, v in image["stages"].items()},
            }
            for image in result["images"]
        ]
    output["skipped"] = [{"name": name, "reason": reason} for name, reason in skipped]
    return output


def write_per_image(path: Path, images: list[dict[str, Any]]) -> None:
    """``images`` (:func:`to_json`'s) as CSV: ``name,mean_iu,pixel_acc,stage<s>_mean_iu,stage<s>_pixel_acc,...``
    for each stage map ``s``, the numbers as JSON gives them (empty where undefined)."""
    import csv

    from fcnviewer.core.truth import IMAGE_KEYS

    stages = list(images[0]["stages"]) if images else []
    header = ["name", *IMAGE_KEYS, *(f"stage{s}_{key}" for s in stages for key in IMAGE_KEYS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for image in images:
            values = [image[key] for key in IMAGE_KEYS] + [
                image["stages"][s][key] for s in stages for key in IMAGE_KEYS
            ]
            writer.writerow([image["name"], *("" if v is None else repr(v) for v in values)])


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
