"""``fcnviewer train``: train FCN-VGG (staged 32s -> 16s -> 8s, or one architecture)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from fcnviewer.cli.common import CHECKPOINT_HELP, fail, resolve_checkpoint_for
from fcnviewer.core.names import OPTIMIZERS, TRAIN_ARCHS, TRAIN_PRECISIONS

if TYPE_CHECKING:
    from fcnviewer.core.distributed import Context
    from fcnviewer.core.training import TrainConfig


def _steps(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or N,N,N (steps per stage), not {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"steps must be positive, not {text!r}")
    return values


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, not {text!r}") from None
    if any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"weights must not be negative: {text!r}")
    return values


def _scale(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (e.g. 0.7,1.4), not {text!r}") from None
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"need 0 < LO <= HI, not {text!r}")
    return lo, hi


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train FCN-32s/16s/8s (staged as in the paper, or one at a time)",
        description="Train FCN-VGG on synthetic scenes or a segmentation folder. --arch staged trains FCN-32s, "
        "then FCN-16s initialised from it, then FCN-8s initialised from the 16s; each stage is saved as "
        "<out>/<arch>.safetensors.",
    )
    parser.add_argument("--arch", default="staged", choices=TRAIN_ARCHS, help="what to train (default: staged)")
    parser.add_argument(
        "--width", type=float, default=0.125, help="channel width multiplier (default 8/64, the bundled model's)"
    )
    _add_data_arguments(parser)
    _add_optimiser_arguments(parser)
    _add_run_arguments(parser)


def _add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the scenes come from and how many."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic", action="store_true", help="generated scenes (seeds 0 .. --train-count - 1)")
    source.add_argument("--data", metavar="DIR", help="a PASCAL VOC layout folder or an images/ + masks/ folder")
    parser.add_argument("--size", type=int, default=160, help="scene side / crop size in px (default 160)")
    parser.add_argument("--train-count", type=int, default=100_000, help="number of synthetic training seeds")
    parser.add_argument("--val-count", type=int, default=32, help="validation scenes (synthetic: seeds from 1,000,000)")
    parser.add_argument("--scale", type=_scale, default=(0.7, 1.4), help="random rescaling range (default 0.7,1.4)")
    parser.add_argument(
        "--workers", type=int, default=0, help="processes drawing the training scenes while the net trains (default 0)"
    )


def _add_optimiser_arguments(parser: argparse.ArgumentParser) -> None:
    """Steps, batch, optimiser, losses and regularisation."""
    parser.add_argument("--steps", type=_steps, default=(1000,), help="steps per stage: N, or N,N,N for each stage")
    parser.add_argument(
        "--batch", type=int, default=8, help="images per step, over all processes under torchrun (default 8)"
    )
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default 0.9)")
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="sgd",
        help="sgd (momentum, the paper) or adam (AdamW; --momentum is its beta1)",
    )
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument(
        "--class-weights",
        type=_floats,
        default=None,
        metavar="W0,W1,...",
        help="per-class loss weights (default: none, as in the paper)",
    )
    parser.add_argument(
        "--lovasz",
        type=float,
        default=0.0,
        metavar="W",
        help="add W times the Lovász-softmax loss, a surrogate of mean IU (default 0: cross entropy only)",
    )
    parser.add_argument(
        "--learn-upsampling",
        action="store_true",
        help="let the deconvolutions learn from their bilinear start (default: fixed, as in the reference)",
    )
    parser.add_argument("--schedule", choices=("poly", "fixed"), default="poly", help="lr schedule per stage")
    parser.add_argument("--warmup", type=int, default=100, help="linear warm-up steps per stage")
    parser.add_argument("--dropout", type=float, default=0.5, help="dropout after fc6 and fc7 (default 0.5)")
    parser.add_argument(
        "--batch-norm",
        action="store_true",
        help="batch norm after every backbone conv while training, folded into the convs when saved",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Precision, seeds, validation and saving, where and how the run goes."""
    parser.add_argument(
        "--precision",
        choices=TRAIN_PRECISIONS,
        default="float32",
        help="bfloat16: forward and backward under autocast, weights stay float32 (fast on GPUs and on CPUs "
        "with AVX512-BF16 or AMX)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--val-every", type=int, default=500, help="validate every N steps (0: only at the end)")
    parser.add_argument("--save-every", type=int, default=500, help="save training state every N steps")
    parser.add_argument("--out", default="runs/train", metavar="DIR", help="output folder (default runs/train)")
    parser.add_argument("--resume", metavar="CK", help="continue from <out>/<arch>-state.pth")
    parser.add_argument(
        "--init", metavar="CK|NAME", help=f"initialise the first stage from this {CHECKPOINT_HELP} (shared tensors)"
    )
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, ... (default: CUDA if available)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


class _Data(NamedTuple):
    """The training and validation sets and what the checkpoints record about them."""

    train_set: Any
    val_set: Any
    class_names: Sequence[str]
    palette: Sequence[tuple[int, int, int]]
    preprocessing: Any
    crop: int | None


def run(args: argparse.Namespace) -> int:
    """Train; exit 0 on success, 2 on bad input. Under ``torchrun`` the processes train one network
    together (``--batch`` is the whole step's batch); rank 0 alone prints and writes files."""
    from fcnviewer.core.distributed import processes

    with processes() as context:
        return _train(args, context)


def _train(args: argparse.Namespace, context: Context) -> int:
    """Train as one of ``context``'s processes."""
    from fcnviewer.core.errors import UserError
    from fcnviewer.core.training import train

    try:
        data = _data(args)
        results = train(
            _config(args, data),
            data.train_set,
            data.val_set,
            data.preprocessing,
            class_names=data.class_names,
            palette=data.palette,
            progress=not args.no_progress,
            context=context,
        )
    except (UserError, ValueError, OSError, FloatingPointError) as exc:
        fail(str(exc))
        return 2
    if not context.is_main:
        return 0
    for result in results:
        line = f"{result.arch}: {result.steps} steps, {result.seconds:.0f} s -> {result.path}"
        if result.val:
            line += f" (val mean IU {result.val['mean_iu']:.4f})"
        print(line)
    return 0


def _data(args: argparse.Namespace) -> _Data:
    """Synthetic scenes (seeded) or a segmentation folder's train and val splits."""
    if args.synthetic:
        from fcnviewer.core.training.data.synthetic import (
            CLASS_NAMES,
            PALETTE,
            SYNTHETIC_PREPROCESSING,
            SyntheticScenes,
        )

        train_set = SyntheticScenes.train(args.train_count, args.size)
        val_set = SyntheticScenes.evaluation(args.val_count, args.size) if args.val_count else None
        return _Data(train_set, val_set, CLASS_NAMES, PALETTE, SYNTHETIC_PREPROCESSING, None)
    from fcnviewer.core.preprocessing import CAFFE_BGR
    from fcnviewer.core.training.data.folders import open_folder

    train_set = open_folder(args.data, split="train")
    val_set = open_folder(args.data, split="val")
    if args.val_count and len(val_set) > args.val_count:
        val_set = val_set.subset(range(args.val_count))
    return _Data(train_set.resized(args.size), val_set, train_set.class_names, train_set.palette, CAFFE_BGR, args.size)


def _config(args: argparse.Namespace, data: _Data) -> TrainConfig:
    """The run's settings, as the command line gave them."""
    from fcnviewer.core.training import TrainConfig, command_line

    return TrainConfig(
        arch=args.arch,
        width=args.width,
        num_classes=len(data.class_names),
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        momentum=args.momentum,
        optimizer=args.optimizer,
        class_weights=args.class_weights,
        lovasz=args.lovasz,
        learn_upsampling=args.learn_upsampling,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        warmup=args.warmup,
        dropout=args.dropout,
        batch_norm=args.batch_norm,
        precision=args.precision,
        workers=args.workers,
        scale=args.scale,
        crop=data.crop,
        seed=args.seed,
        val_every=args.val_every,
        save_every=args.save_every,
        out=Path(args.out),
        device=args.device,
        threads=args.threads,
        init=resolve_checkpoint_for(args.init) if args.init else None,
        resume=Path(args.resume) if args.resume else None,
        command=command_line(),
        extra={"data": "synthetic" if args.synthetic else str(args.data), "size": args.size, "width": args.width},
    )
