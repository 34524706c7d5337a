"""``fcnviewer rf``: the receptive-field table, the boxes behind a pixel, its effective receptive field."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fcnviewer.cli.common import add_model_arguments, fail, load_model_for

if TYPE_CHECKING:
    import numpy as np

    from fcnviewer.core.checkpoints import LoadedModel

NOTE = "boxes are not clipped to the image"
WHOLE_IMAGE = "a global pooling makes these see the whole image; sizes and boxes are of their local paths"
#: Architectures the bundled checkpoint loads as; ``--arch`` naming another, without ``--checkpoint``,
#: builds a randomly initialised net (its receptive fields need no weights).
BUNDLED_ARCHS = ("fcn8s", "fcn8s-atonce")


def _pixel(text: str) -> tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected Y,X (two integers), not {text!r}") from None
    return y, x


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        "rf",
        help="receptive fields: per-layer table, boxes behind a pixel, effective receptive field",
        description=f"Print the theoretical receptive field after each layer; with --image and --pixel, "
        f"also the input box behind that pixel for every stage and the final output ({NOTE}). "
        "With --arch and no --checkpoint, a randomly initialised net of that architecture "
        "(e.g. --arch unet_paper).",
    )
    add_model_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--image", metavar="IMG", help="image whose pixel is analysed (with --pixel)")
    parser.add_argument("--pixel", type=_pixel, metavar="Y,X", help="image pixel, row then column (with --image)")
    parser.add_argument(
        "--class", dest="class_index", type=int, metavar="C", help="class of --erf (default: the predicted one)"
    )
    parser.add_argument("--erf", metavar="OUT.npy", help="save the final output's effective receptive field (H, W)")
    return parser


class _Refused(Exception):
    """A request this command cannot answer; the message is the one line to print."""


def run(args: argparse.Namespace) -> int:
    """Print the report; exit 2 on any error."""
    from dataclasses import asdict

    from fcnviewer.core.devices import resolve_device
    from fcnviewer.core.errors import UserError
    from fcnviewer.core.receptive import layer_table

    try:
        _check_arguments(args)
        if args.checkpoint is None and args.arch is not None and args.arch not in BUNDLED_ARCHS:
            loaded = _random(args.arch)
        else:
            loaded = load_model_for(args)
        device = resolve_device(args.device)
        report: dict[str, Any] = {"layers": [asdict(row) for row in layer_table(loaded.model)]}
        if args.image is not None:
            report["pixel"] = _pixel_report(loaded, args, device)
    except (_Refused, UserError, ValueError) as exc:
        fail(str(exc))
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_text(loaded.name, report)
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse option combinations that mean nothing."""
    if (args.image is None) != (args.pixel is None):
        raise _Refused("rf: --image and --pixel go together")
    if args.image is None and (args.erf is not None or args.class_index is not None):
        raise _Refused("rf: --erf and --class need --image and --pixel")
    if args.class_index is not None and args.erf is None:
        raise _Refused("rf: --class only chooses the class of --erf")


def _pixel_report(loaded: LoadedModel, args: argparse.Namespace, device: Any) -> dict[str, Any]:
    """The boxes behind ``--pixel`` of ``--image`` and, with ``--erf``, its effective receptive field."""
    from fcnviewer.core.images import ImageError, load_image
    from fcnviewer.core.receptive import pixel_boxes

    try:
        image = load_image(args.image)
    except ImageError as exc:
        raise _Refused(str(exc)) from None
    (y, x), (height, width) = args.pixel, image.shape[:2]
    if not (0 <= y < height and 0 <= x < width):
        raise _Refused(f"{args.image}: pixel {y},{x} is outside the {height}x{width} image")
    boxes = pixel_boxes(loaded.model, y, x, (height, width))
    pixel: dict[str, Any] = {
        "y": y,
        "x": x,
        "boxes": [
            {"stage": stage, "box": box.as_list(), "whole_image": box.whole_image} for stage, box in boxes.items()
        ],
        "clipped": False,
        "note": NOTE,
    }
    if args.erf is not None:
        pixel["erf"] = _save_erf(loaded, image, (y, x), args, device)
    return pixel


def _save_erf(
    loaded: LoadedModel, image: np.ndarray, pixel: tuple[int, int], args: argparse.Namespace, device: Any
) -> dict[str, Any]:
    """Compute the final output's effective receptive field at ``pixel``, save it to ``--erf``."""
    import numpy as np

    from fcnviewer.core.receptive import effective_receptive_field

    classes = loaded.info.spec.num_classes
    if args.class_index is not None and not 0 <= args.class_index < classes:
        raise _Refused(f"{loaded.name}: class {args.class_index} does not exist (the model has {classes} classes)")
    inputs = loaded.info.preprocessing.to_tensor(image, device=device)
    erf = effective_receptive_field(loaded.model.to(device), inputs, *pixel, class_index=args.class_index)
    try:
        with Path(args.erf).open("wb") as f:
            np.save(f, erf.values)
    except OSError as exc:
        raise _Refused(f"{args.erf}: {exc.strerror or exc}") from None
    return {"file": str(args.erf), "class": erf.class_index, "class_name": loaded.info.class_names[erf.class_index]}


def _random(arch: str) -> LoadedModel:
    """A randomly initialised net of ``arch`` with its builder's defaults, as a loaded model."""
    from fcnviewer.core.checkpoints import LoadedModel, ModelInfo
    from fcnviewer.core.models import BUILDERS, ArchSpec

    model = BUILDERS[arch]().eval()
    spec = ArchSpec(arch, model.num_classes, in_channels=getattr(model, "in_channels", 3))
    return LoadedModel(model, ModelInfo.default_for(spec))


def _print_text(name: str, report: dict[str, Any]) -> None:
    print(f"{name}: receptive field after each layer (size and stride in input pixels; centre of unit 0)")
    width = max(len(row["layer"]) for row in report["layers"])
    print(f"{'layer':<{width}}  {'size':>5}  {'stride':>6}  {'center0':>8}")
    for row in report["layers"]:
        whole = "  + whole image" if row["whole_image"] else ""
        print(f"{row['layer']:<{width}}  {row['size']:>5}  {row['stride']:>6g}  {row['center0']:>8.1f}{whole}")
    if any(row["whole_image"] for row in report["layers"]):
        print(f"+ whole image: {WHOLE_IMAGE}")
    pixel = report.get("pixel")
    if pixel is None:
        return
    print(f"\npixel y={pixel['y']} x={pixel['x']}: input boxes [x0, y0, x1, y1], inclusive ({pixel['note']})")
    for entry in pixel["boxes"]:
        x0, y0, x1, y1 = entry["box"]
        whole = "  + whole image" if entry["whole_image"] else ""
        print(f"  {entry['stage']:<6} [{x0}, {y0}, {x1}, {y1}]  {x1 - x0 + 1}x{y1 - y0 + 1}{whole}")
    if "erf" in pixel:
        erf = pixel["erf"]
        print(f"effective receptive field of class {erf['class']} ({erf['class_name']}) saved to {erf['file']}")
