"""Arguments and error reporting shared by the subcommands."""

from __future__ import annotations

import argparse
import sys

from fcnviewer.core.names import ARCHITECTURES, DEVICES, PRECISIONS


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint``, ``--arch`` and ``--device``."""
    parser.add_argument(
        "--checkpoint", metavar="CK", help="checkpoint file (.pth, .pt, .safetensors); default: the bundled model"
    )
    parser.add_argument("--arch", choices=ARCHITECTURES, help="override the detected architecture (e.g. fcn8s-atonce)")
    parser.add_argument(
        "--device", default="auto", choices=DEVICES, help="where the network runs (default: auto)"
    )


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
