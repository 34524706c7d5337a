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
    from fcnviewer.core.receptive.targets import Target

NOTE = "boxes are not clipped to the image"
WHOLE_IMAGE = "a global pooling makes these see the whole image; sizes and boxes are of their local paths"
CROP_NOTE = (
    "the dense map's unit at this pixel is the classifier's score of this crop, up to the zero padding "
    "a crop run alone gets at its border"
)
#: Architectures the bundled checkpoint loads as; ``--arch`` naming another, without ``--checkpoint``,
#: builds a randomly initialised net (its receptive fields need no weights).
BUNDLED_ARCHS = ("fcn8s", "fcn8s-atonce")


def _pixel(text: str) -> tuple[int, int]:
    try:
        y, x = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected Y,X (two integers), not {text!r}") from None
    return y, x


def _region(text: str) -> tuple[int, int, int, int]:
    try:
        x0, y0, x1, y1 = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 (four integers), not {text!r}") from None
    return x0, y0, x1, y1


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
    parser.add_argument(
        "--layer",
        metavar="NAME",
        help="a layer of the table (e.g. pool4, score_fr): its unit nearest to --pixel, and with --erf "
        "|d(sum over channels of that unit) / d(input)|",
    )
    parser.add_argument(
        "--region",
        type=_region,
        metavar="X0,Y0,X1,Y1",
        help="with --image, --class and --erf: the ERF of the class's final logit summed over this inclusive region",
    )
    parser.add_argument(
        "--erf",
        metavar="OUT.npy",
        help="save the effective receptive field (H, W) float32: |d logit / d input| summed over input channels",
    )
    parser.add_argument(
        "--smooth", type=int, default=1, metavar="N", help="--erf averaged over N noisy copies (SmoothGrad; default 1)"
    )
    parser.add_argument(
        "--noise",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="SmoothGrad noise: standard deviation in pixel values (0..255), before preprocessing (default 0)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the SmoothGrad noise (default 0)")
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
            report.update(_image_report(loaded, args, device))
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
    if args.region is not None:
        if args.image is None or args.class_index is None or args.erf is None:
            raise _Refused("rf: --region needs --image, --class and --erf")
        if args.pixel is not None or args.layer is not None:
            raise _Refused("rf: --region takes neither --pixel nor --layer")
    elif (args.image is None) != (args.pixel is None):
        raise _Refused("rf: --image and --pixel go together")
    if args.image is None and (args.erf is not None or args.class_index is not None or args.layer is not None):
        raise _Refused("rf: --erf, --class and --layer need --image and --pixel")
    if args.class_index is not None and (args.erf is None or args.layer is not None):
        raise _Refused("rf: --class only chooses the class of --erf (a --layer's ERF sums its channels)")
    if (args.smooth != 1 or args.noise != 0) and args.erf is None:
        raise _Refused("rf: --smooth and --noise only smooth --erf")
    if args.smooth < 1 or args.noise < 0:
        raise _Refused(f"rf: --smooth takes 1 or more copies and --noise 0 or more, not {args.smooth} and {args.noise}")


def _image_report(loaded: LoadedModel, args: argparse.Namespace, device: Any) -> dict[str, Any]:
    """The boxes behind ``--pixel`` (or ``--region``) of ``--image``, the ``--layer`` unit, the ``--erf``."""
    from fcnviewer.core.images import ImageError, load_image
    from fcnviewer.core.receptive import pixel_boxes

    try:
        image = load_image(args.image)
    except ImageError as exc:
        raise _Refused(str(exc)) from None
    height, width = image.shape[:2]
    inputs = loaded.info.preprocessing.to_tensor(image, device=device)
    model = loaded.model.to(device)
    report: dict[str, Any] = {}
    class_index = args.class_index
    if args.region is not None:
        target = _region_target(loaded, args, (height, width))
        report["region"] = {"box": list(args.region)}
    else:
        (y, x) = args.pixel
        if not (0 <= y < height and 0 <= x < width):
            raise _Refused(f"{args.image}: pixel {y},{x} is outside the {height}x{width} image")
        boxes = pixel_boxes(model, y, x, (height, width))
        report["pixel"] = {
            "y": y,
            "x": x,
            "boxes": [{"stage": s, "box": b.as_list(), "whole_image": b.whole_image} for s, b in boxes.items()],
            "clipped": False,
            "note": NOTE,
        }
        if hasattr(model, "crop_size"):
            report["pixel"]["crop"] = _crop_entry(model, y, x, (height, width))
        if args.layer is None and class_index is None:
            class_index = _predicted(model, inputs, y, x)
        target = _pixel_target(loaded, args, class_index)
    if args.erf is not None:
        erf, stats = _save_erf(loaded, target, image, args, class_index)
        report["region" if args.region is not None else "pixel"]["erf"] = erf
        report["erf_stats"] = stats
        if args.region is not None:
            assert target.box is not None  # set by the ERF's forward pass
            report["region"]["theoretical_box"] = target.box.as_list()
    if args.layer is not None:
        report["layer"] = _layer_entry(target, inputs)
    return report


def _crop_entry(model: Any, y: int, x: int, size: tuple[int, int]) -> dict[str, Any]:
    """The dense-map unit of a convolutionalised classifier nearest to the pixel and the crop it stands for."""
    from fcnviewer.core.dense import crop_at

    (row, col), box = crop_at(model, y, x, size)
    return {"unit": [row, col], "box": box.as_list(), "size": model.crop_size, "note": CROP_NOTE}


def _region_target(loaded: LoadedModel, args: argparse.Namespace, size: tuple[int, int]) -> Target:
    """The class's final logit summed over ``--region``, after checking region and class."""
    from fcnviewer.core.receptive import Box, region_target

    x0, y0, x1, y1 = args.region
    height, width = size
    if x1 < x0 or y1 < y0:
        raise _Refused(f"rf: region {x0},{y0},{x1},{y1} is inverted; give X0,Y0,X1,Y1 with X0 <= X1 and Y0 <= Y1")
    if not (x0 >= 0 and y0 >= 0 and x1 < width and y1 < height):
        raise _Refused(f"{args.image}: region {x0},{y0},{x1},{y1} is not inside the {height}x{width} image")
    _check_class(loaded, args.class_index)
    return region_target(loaded.model, Box(x0, y0, x1, y1), args.class_index)


def _check_class(loaded: LoadedModel, class_index: int | None) -> None:
    classes = loaded.info.spec.num_classes
    if class_index is not None and not 0 <= class_index < classes:
        raise _Refused(f"{loaded.name}: class {class_index} does not exist (the model has {classes} classes)")


def _predicted(model: Any, inputs: Any, y: int, x: int) -> int:
    """The class predicted at pixel ``(y, x)`` (a sigmoid head's one logit: 1 if positive); a
    classifier's from its output stage read at the pixel, without its full-size map."""
    import torch

    from fcnviewer.core.receptive import stage_geometry
    from fcnviewer.core.receptive.erf import final_scores

    output_stage = getattr(model, "output_stage", None)
    with torch.no_grad():
        out = model.eval().stage_maps(inputs) if output_stage else model.eval()(inputs)
        scores = final_scores(out, output_stage, stage_geometry(model) if output_stage else {}, y, x)
    return int(scores.argmax()) if len(scores) > 1 else int(scores[0] > 0)


def _pixel_target(loaded: LoadedModel, args: argparse.Namespace, class_index: int | None) -> Target:
    """``--layer``'s unit nearest to ``--pixel``, else the final logit of ``class_index`` there."""
    from fcnviewer.core.receptive import Box, layer_target, region_target

    y, x = args.pixel
    if args.layer is not None:
        try:
            return layer_target(loaded.model, args.layer, y, x)
        except ValueError as exc:
            raise _Refused(f"rf: {exc}") from None
    _check_class(loaded, class_index)
    return region_target(loaded.model, Box(x, y, x, y), class_index)


def _layer_entry(target: Target, inputs: Any) -> dict[str, Any]:
    """Name, size, stride, box and unit of ``--layer`` (without ``--erf``, a forward pass up to it finds the unit)."""
    import torch

    if target.unit is None:
        with torch.no_grad():
            target.scalar(inputs)
    assert target.box is not None and target.unit is not None
    return {
        "name": target.layer,
        "size": target.size,
        "stride": target.stride,
        "box": target.box.as_list(),
        "unit": list(target.unit),
    }


def _save_erf(
    loaded: LoadedModel, target: Target, image: np.ndarray, args: argparse.Namespace, class_index: int | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compute the target's (smoothed) effective receptive field, save it to ``--erf``; its entry and figures."""
    import numpy as np

    from fcnviewer.core.receptive import erf_stats, smoothed_gradient_map

    device = next(loaded.model.parameters()).device
    values = smoothed_gradient_map(
        loaded.model, target, image, loaded.info.preprocessing, args.smooth, args.noise, args.seed, device
    )
    try:
        with Path(args.erf).open("wb") as f:
            np.save(f, values)
    except OSError as exc:
        raise _Refused(f"{args.erf}: {exc.strerror or exc}") from None
    entry: dict[str, Any] = {"file": str(args.erf), "smooth": args.smooth, "noise": args.noise, "seed": args.seed}
    if args.layer is not None:
        entry["layer"] = args.layer
    else:
        entry |= {"class": class_index, "class_name": loaded.info.class_names[class_index]}
    assert target.box is not None
    return entry, erf_stats(values, target.box).as_dict()


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
    region = report.get("region")
    if region is not None:
        x0, y0, x1, y1 = region["theoretical_box"]
        print(f"\nregion {region['box']}: theoretical box [{x0}, {y0}, {x1}, {y1}] ({NOTE})")
        _print_erf(region["erf"], report["erf_stats"])
    pixel = report.get("pixel")
    if pixel is None:
        return
    print(f"\npixel y={pixel['y']} x={pixel['x']}: input boxes [x0, y0, x1, y1], inclusive ({pixel['note']})")
    for entry in pixel["boxes"]:
        x0, y0, x1, y1 = entry["box"]
        whole = "  + whole image" if entry["whole_image"] else ""
        print(f"  {entry['stage']:<6} [{x0}, {y0}, {x1}, {y1}]  {x1 - x0 + 1}x{y1 - y0 + 1}{whole}")
    if "crop" in pixel:
        crop = pixel["crop"]
        x0, y0, x1, y1 = crop["box"]
        row, col = crop["unit"]
        print(f"dense unit {row},{col} is the classifier on crop [{x0}, {y0}, {x1}, {y1}] ({crop['note']})")
    if "layer" in report:
        layer = report["layer"]
        x0, y0, x1, y1 = layer["box"]
        print(
            f"layer {layer['name']}: size {layer['size']}, stride {layer['stride']:g}; "
            f"unit {layer['unit'][0]},{layer['unit'][1]} sees [{x0}, {y0}, {x1}, {y1}]"
        )
    if "erf" in pixel:
        _print_erf(pixel["erf"], report["erf_stats"])


def _print_erf(erf: dict[str, Any], stats: dict[str, Any]) -> None:
    of = f"layer {erf['layer']}" if "layer" in erf else f"class {erf['class']} ({erf['class_name']})"
    smooth = f", SmoothGrad of {erf['smooth']} copies, noise {erf['noise']:g}" if erf["smooth"] > 1 else ""
    print(f"effective receptive field of {of}{smooth} saved to {erf['file']}")
    for share in (90, 50):
        x0, y0, x1, y1 = stats[f"mass{share}_box"]
        print(f"  {share} % of its gradient mass in [{x0}, {y0}, {x1}, {y1}]  {x1 - x0 + 1}x{y1 - y0 + 1}")
    print(f"  the 90 % box covers {stats['share_of_theoretical']:.1%} of the theoretical box (clipped to the image)")
