"""The ``fcnviewer`` command: ``view`` (the default), ``predict``, ``rf``, ``train``, ``eval``, ``models``.

Subcommand modules import torch only inside ``run`` so that ``fcnviewer view`` shows its
window before the network stack is loaded.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from fcnviewer import __version__

SUBCOMMANDS = {
    "view": "fcnviewer.cli.view",
    "predict": "fcnviewer.cli.predict",
    "rf": "fcnviewer.cli.rf",
    "train": "fcnviewer.cli.train",
    "eval": "fcnviewer.cli.eval",
    "models": "fcnviewer.cli.models",
}


#: Options of ``fcnviewer`` itself: anything else before a subcommand goes to ``view``.
TOP_LEVEL_OPTIONS = ("-h", "--help", "--version")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="fcnviewer", description="Look inside Fully Convolutional Networks.")
    parser.add_argument("--version", action="version", version=f"fcnviewer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS.values():
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fcnviewer``; with no subcommand (or only paths and options) it opens the viewer."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in SUBCOMMANDS and args[0] not in TOP_LEVEL_OPTIONS):
        args.insert(0, "view")
    parsed = build_parser().parse_args(args)
    return int(importlib.import_module(SUBCOMMANDS[parsed.command]).run(parsed))
