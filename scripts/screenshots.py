"""Make the README screenshots offscreen: ``python scripts/screenshots.py [--checkpoint CK] [--image IMG]``.

- ``docs/skip_stages.png``: the stride-32, -16 and -8 stage predictions and the final mask side by side;
- ``docs/receptive_field.png``: the window with a clicked pixel, its receptive-field boxes per
  stage, its effective receptive field and the inspector.

Uses the bundled model and first sample image when present; otherwise (or with ``--demo``) a
tiny random model and a synthetic scene, which show the interface but not a trained network.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QRect, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QFont, QImage, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

PANEL = (420, 320)
TITLE_HEIGHT = 28


def wait_for(signal: object, timeout_ms: int = 120000) -> None:
    """Run the event loop until ``signal`` fires."""
    loop = QEventLoop()
    signal.connect(loop.quit)  # type: ignore[attr-defined]
    timer = QTimer(singleShot=True, interval=timeout_ms)
    timer.timeout.connect(lambda: sys.exit(f"timed out waiting for {signal}"))
    timer.start()
    loop.exec()
    timer.stop()


def demo_inputs(folder: Path) -> tuple[Path, Path]:
    """A tiny random FCN-8s and a synthetic scene."""
    import torch
    from PIL import Image

    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model
    from fcnviewer.core.training.data.synthetic import generate_scene

    spec = ArchSpec("fcn8s", num_classes=4, width=1 / 8)
    torch.manual_seed(0)
    model = build_model(spec)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("score"):
                param.normal_(0, 0.3)
    checkpoint = save_checkpoint(folder / "demo.safetensors", model, ModelInfo.default_for(spec))
    image, _ = generate_scene(3, 320, 416)
    Image.fromarray(image).save(folder / "scene.png")
    return checkpoint, folder / "scene.png"


def side_by_side(window: object, names: list[tuple[str, str]]) -> QImage:
    """The canvas showing each named layer alone over the image, in a row with titles."""
    from fcnviewer.qt.canvas import Canvas

    model = window.model  # type: ignore[attr-defined]
    canvas = Canvas(model.layers)  # a second view of the same layers
    canvas.resize(*PANEL)
    canvas.show()
    canvas.set_image_size(*model.image.shape[:2])
    QApplication.processEvents()
    canvas.fit()
    out = QImage(PANEL[0] * len(names), PANEL[1] + TITLE_HEIGHT, QImage.Format.Format_RGB32)
    out.fill(QColor(40, 40, 44))
    painter = QPainter(out)
    font = QFont()
    font.setPointSize(11)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor(235, 235, 235))
    for i, (layer_name, title) in enumerate(names):
        for layer in model.layers:
            layer.visible = layer.name in (layer_name, "image")
        model.layers[layer_name].opacity = 0.85
        QApplication.processEvents()
        painter.drawImage(i * PANEL[0], TITLE_HEIGHT, canvas.grab().toImage())
        painter.drawText(QRect(i * PANEL[0], 0, PANEL[0], TITLE_HEIGHT), Qt.AlignmentFlag.AlignCenter, title)
    painter.end()
    canvas.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="checkpoint (default: the bundled model)")
    parser.add_argument("--image", help="image (default: the first bundled sample)")
    parser.add_argument("--demo", action="store_true", help="use a tiny random model and a synthetic scene")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="output folder (default: docs/)")
    args = parser.parse_args()

    _app = QApplication.instance() or QApplication([])
    from fcnviewer.core.resources import default_checkpoint_path, sample_images
    from fcnviewer.qt.main_window import MainWindow

    scratch = Path(tempfile.mkdtemp(prefix="fcnviewer-shots-"))
    checkpoint, image = args.checkpoint, args.image
    bundled = default_checkpoint_path()
    if args.demo or (checkpoint is None and not bundled.exists()) or (image is None and not sample_images()):
        demo_checkpoint, demo_image = demo_inputs(scratch)
        checkpoint, image = checkpoint or str(demo_checkpoint), image or str(demo_image)
    else:
        image = image or str(sample_images()[0])

    window = MainWindow(QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat), device="cpu")
    window.resize(1400, 860)
    window.show()
    window.load_model(checkpoint)
    window.open_paths([image])
    wait_for(window.prediction_shown)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # Receptive fields: click the centre of the largest non-background region, zoom out to see the boxes.
    prediction = window.model.prediction
    labels = prediction.labels
    target = int(max(range(1, len(window.model.class_names)), key=lambda c: (labels == c).sum()))
    ys, xs = (labels == target).nonzero() if (labels == target).any() else (labels >= 0).nonzero()
    window.pin_pixel(int(ys.mean()), int(xs.mean()))
    wait_for(window.probe_shown)
    window.model.mask_layer.opacity = 0.35
    window.canvas.fit()
    window.canvas.zoom_by(1 / 1.6)
    QApplication.processEvents()
    window.grab().save(str(out / "receptive_field.png"))

    stages = [(f"stage {s}", f"stride {s}") for s in window.model.stages]
    window.docks["inspector"].hide()
    shot = side_by_side(window, [*stages, ("final mask", "final")])
    shot.save(str(out / "skip_stages.png"))
    window.close()
    print(
        f"wrote {out / 'skip_stages.png'} and {out / 'receptive_field.png'} ({Path(image).name}, {window.loaded.name})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
