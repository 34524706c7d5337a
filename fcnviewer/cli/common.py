"""Arguments and error reporting shared by the subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from fcnviewer.core.names import ARCHITECTURES, DEVICES, PRECISIONS

if TYPE_CHECKING:
    from pathlib import Path

    from fcnviewer.core.checkpoints import LoadedModel

#: What ``--checkpoint`` accepts, for the help texts.
CHECKPOINT_HELP = (
    "checkpoint file (.pth, .pt, .safetensors) or a pretrained model's name (`fcnviewer models` lists them; "
    "downloaded on first use)"
)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``, ``--arch`` and ``--device``."""
    parser.add_argument("--checkpoint", metavar="CK|NAME", help=f"{CHECKPOINT_HELP}; default: the bundled model")
    parser.add_argument("--arch", choices=ARCHITECTURES, help="override the detected architecture (e.g. fcn8s-atonce)")
    parser.add_argument("--device", default="auto", choices=DEVICES, help="where the network runs (default: auto)")


def add_prediction_arguments(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels`` (the largest image accepted) and ``--precision``."""
    parser.add_argument(
        "--max-pixels", type=int, default=None, metavar="N", help="refuse larger images (default 100 megapixels)"
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="auto (default): float16 on GPUs, bfloat16 on CPUs with native bfloat16, else float32",
    )


def fail(message: str) -> None:
    """Print one error line to stderr."""
    print(f"fcnviewer: error: {message}", file=sys.stderr)


@contextmanager
def download_bar() -> Iterator[Callable[[int, int], None]]:
    """A progress callback that shows a download as a tqdm bar on stderr (from its first call)."""
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(
                total=total or None, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, desc="download"
            )
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def load_model_for(args: argparse.Namespace) -> LoadedModel:
    """``args.checkpoint`` (a file, a pretrained model's name, None: the bundled model) loaded as
    ``args.arch``; a download shows a progress bar."""
    from fcnviewer.core.zoo import load_model

    with download_bar() as progress:
        return load_model(args.checkpoint, arch=args.arch, progress=progress)


def resolve_checkpoint_for(text: str) -> Path:
    """The file ``text`` names (a pretrained model's name is downloaded first, with a progress bar)."""
    from fcnviewer.core.zoo import resolve_checkpoint

    with download_bar() as progress:
        return resolve_checkpoint(text, progress=progress)
