"""``fcnviewer predict``: masks, overlays and score maps for image files."""

from __future__ import annotations

import argparse
from pathlib import Path

from fcnviewer.cli.common import add_model_arguments, add_prediction_arguments, fail


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser("predict", help="segment images and write masks, overlays and score maps")
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE|FOLDER", help="image files, or folders (their images, sorted by name)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--scores", action="store_true", help="also write <stem>_scores.npz (logits and stage maps)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    add_prediction_arguments(parser)
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Predict every image; exit 0 only if every one worked."""
    from fcnviewer.core.checkpoints import CheckpointError, load_checkpoint
    from fcnviewer.core.export import ExportError, write_prediction
    from fcnviewer.core.images import DEFAULT_MAX_PIXELS, ImageError, image_files, load_image
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.resources import default_checkpoint_path

    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    try:
        loaded = load_checkpoint(args.checkpoint or default_checkpoint_path(), arch=args.arch)
        predictor = Predictor(loaded, device=args.device, precision=args.precision, max_pixels=max_pixels)
    except (CheckpointError, ValueError) as exc:
        fail(str(exc))
        return 2
    out = Path(args.out)
    failures = 0
    for folder in (Path(p) for p in args.images if Path(p).is_dir() and not image_files([p])):
        fail(f"{folder}: this folder holds no images (expected .png, .jpg, ... files directly inside it)")
        failures += 1
    for path in image_files(args.images):
        try:
            image = load_image(path, max_pixels=max_pixels)
            prediction = predictor.predict(image)
            written = write_prediction(
                out, path.stem, image, prediction, loaded.info, scores=args.scores, force=args.force
            )
        except (ImageError, ExportError) as exc:
            fail(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}")
            failures += 1
            continue
        print(
            f"{path}: {prediction.size[1]}x{prediction.size[0]} in {prediction.seconds * 1000:.0f} ms -> "
            f"{', '.join(p.name for p in written)}"
        )
        for note in prediction.notes:
            print(f"{path}: note: {note}")
    return 1 if failures else 0
