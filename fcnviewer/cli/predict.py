"""``fcnviewer predict``: masks, overlays and score maps for image files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from fcnviewer.cli.common import add_model_arguments, add_prediction_arguments, fail, load_model_for

if TYPE_CHECKING:
    import numpy as np

    from fcnviewer.core.checkpoints import ModelInfo
    from fcnviewer.core.distributed import Context
    from fcnviewer.core.inference import Predictor


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser("predict", help="segment images and write masks, overlays and score maps")
    parser.add_argument(
        "images", nargs="+", metavar="IMAGE|FOLDER", help="image files, or folders (their images, sorted by name)"
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--scores",
        action="store_true",
        help="also write <stem>_scores.npz: logits (C,H,W), the native stage maps (score32, ...) "
        "and classes (a classifier: score32, its dense class-score map, and classes)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument(
        "--shift-stitch",
        type=int,
        metavar="F",
        help="also write <stem>_shiftstitch.npz: the coarsest stage map at stride s/F from F*F shifted inputs, "
        "interleaved (F divides the stride s; 'scores' (C, h, w) float32, 'mask' (h, w) uint8, "
        "'stride', 'offset', 'factor', 'stage')",
    )
    add_prediction_arguments(parser)
    add_model_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Predict every image; exit 0 only if every one worked. Under ``torchrun`` each process
    predicts its share of the images (see :func:`_share`), and every one exits 1 if any image failed."""
    from fcnviewer.core.distributed import processes

    with processes() as context:
        return _predict(args, context)


def _predict(args: argparse.Namespace, context: Context) -> int:
    """Predict this process's share of the images."""
    from fcnviewer.core.errors import UserError
    from fcnviewer.core.images import DEFAULT_MAX_PIXELS
    from fcnviewer.core.inference import Predictor
    from fcnviewer.core.shift_stitch import checked_stage

    max_pixels = args.max_pixels or DEFAULT_MAX_PIXELS
    try:
        loaded = load_model_for(args)
        predictor = Predictor(loaded, device=args.device, precision=args.precision, max_pixels=max_pixels)
        if args.shift_stitch is not None:
            checked_stage(loaded.model, args.shift_stitch)
    except (UserError, ValueError) as exc:
        fail(str(exc))
        return 2
    failures = 0
    for path in _share(_expand(args.images), context):
        if path.is_dir():
            fail(f"{path}: this folder holds no images (expected .png, .jpg, ... files directly inside it)")
            failures += 1
        elif not _predict_one(path, predictor, loaded.info, args, max_pixels):
            failures += 1
    return 1 if context.total(failures) else 0


def _share(paths: list[Path], context: Context) -> list[Path]:
    """The inputs this process predicts: those whose output name (the file's stem) falls in its
    :meth:`~fcnviewer.core.distributed.Context.shard` of the distinct names, in the order given.

    Inputs that share a name (``a/x.png``, ``b/x.jpg``) go to one process, so their outputs
    are written once, in order, exactly as by one process (the later refused without ``--force``).
    """
    names = context.shard(list(dict.fromkeys(path.stem for path in paths)))
    mine = set(names)
    return [path for path in paths if path.stem in mine]


def _expand(names: list[str]) -> list[Path]:
    """The inputs in the order given, each folder replaced by its images (an empty folder stays, to be named)."""
    from fcnviewer.core.images import image_files

    return [found for name in names for found in (image_files([name]) or [Path(name)])]


def _predict_one(path: Path, predictor: Predictor, info: ModelInfo, args: argparse.Namespace, max_pixels: int) -> bool:
    """Predict one image and write its files; report a failure in one line and return False."""
    from fcnviewer.core.export import ExportError, write_prediction
    from fcnviewer.core.images import ImageError, load_image

    try:
        image = load_image(path, max_pixels=max_pixels)
        prediction = predictor.predict(image)
        written = write_prediction(
            Path(args.out), path.stem, image, prediction, info, scores=args.scores, force=args.force
        )
        if args.shift_stitch is not None:
            written.append(_write_shift_stitch(image, predictor, info, args, path.stem))
    except (ImageError, ExportError) as exc:
        fail(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}")
        return False
    print(
        f"{path}: {prediction.size[1]}x{prediction.size[0]} in {prediction.seconds * 1000:.0f} ms -> "
        f"{', '.join(p.name for p in written)}"
    )
    for note in prediction.notes:
        print(f"{path}: note: {note}")
    return True


def _write_shift_stitch(
    image: np.ndarray, predictor: Predictor, info: ModelInfo, args: argparse.Namespace, stem: str
) -> Path:
    """Write ``<stem>_shiftstitch.npz`` (see ``--shift-stitch``) with the float32 model; its path."""
    import numpy as np

    from fcnviewer.core.export import ExportError
    from fcnviewer.core.shift_stitch import shift_and_stitch

    target = Path(args.out) / f"{stem}_shiftstitch.npz"
    if target.exists() and not args.force:
        raise ExportError(f"{target}: exists; not overwritten (use --force)")
    model = predictor.model  # float32, on the predictor's device
    inputs = info.preprocessing.to_tensor(image, device=next(model.parameters()).device)
    stitched = shift_and_stitch(model, inputs, args.shift_stitch)
    try:
        np.savez_compressed(
            target,
            scores=stitched.scores,
            mask=stitched.scores.argmax(0).astype(np.uint8),
            stride=stitched.stride,
            offset=stitched.offset,
            factor=stitched.factor,
            stage=stitched.stage,
        )
    except OSError as exc:
        raise ExportError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return target
