"""``fcnviewer view [IMAGE|FOLDER ...]``: the desktop viewer.

Nothing here imports torch: the window shows first, and the worker thread loads the network
stack while it is up.
"""

from __future__ import annotations

import argparse
import os
import sys

from fcnviewer.cli.common import add_model_arguments, add_prediction_arguments
from fcnviewer.core.resources import sample_images


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add the ``view`` subcommand."""
    parser = subparsers.add_parser(
        "view",
        help="open the viewer (the default command)",
        description="Open images or folders of images in the viewer; with none, the bundled samples.",
    )
    parser.add_argument("paths", nargs="*", metavar="IMAGE|FOLDER", help="images or folders of images to open")
    add_model_arguments(parser)
    add_prediction_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """Show the window, then load the model and images in the background; returns the exit code."""
    from PySide6.QtWidgets import QApplication

    from fcnviewer.qt.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("fcnviewer")
    app.setOrganizationName("fcnviewer")
    window = MainWindow(device=args.device, max_pixels=args.max_pixels, precision=args.precision)
    window.show()
    app.processEvents()
    window.load_model(args.checkpoint, arch=args.arch)
    paths = args.paths or sample_images()
    if paths:
        window.open_paths(paths)
    else:
        window.statusBar().showMessage("no sample images found: open an image with Ctrl+O or drop one here")
    code = app.exec()
    if not (window.worker_thread.thread.isFinished() and window.files_thread.thread.isFinished()):
        # The network is inside one long operation; the window is closed and the settings saved.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return int(code)
