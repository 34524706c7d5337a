"""Writing predictions to files: palette masks, overlays, score maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fcnviewer.core.checkpoints import ModelInfo
from fcnviewer.core.errors import UserError
from fcnviewer.core.prediction import Prediction

OVERLAY_ALPHA = 0.5


class ExportError(UserError, OSError):
    """An output that cannot be written (exists, or the disk refuses)."""


def palette_mask(labels: np.ndarray, palette: np.ndarray) -> Image.Image:
    """A palette ("P") PNG image whose indices are the labels."""
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    flat = np.zeros((256, 3), dtype=np.uint8)
    flat[: len(palette)] = palette[:256]
    image.putpalette(flat.tobytes())
    return image


def overlay(image: np.ndarray, labels: np.ndarray, palette: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """The image blended with the class colours, ``(H, W, 3)`` uint8."""
    colours = palette[labels].astype(np.float32)
    return np.rint(image.astype(np.float32) * (1 - alpha) + colours * alpha).astype(np.uint8)


def score_arrays(prediction: Prediction, info: ModelInfo) -> dict[str, np.ndarray]:
    """``logits`` (C, H, W), ``score32`` / ``score16`` / ``score8`` (native), ``classes``.

    A convolutionalised classifier has no full-size logits (its ``score32`` resized to the image
    would be 1000 maps, 4 kB a pixel: 540 MB for a 451x300 image): only ``score32`` is written.
    """
    arrays = {"classes": np.asarray(info.class_names)}
    if prediction.logits is not None:
        arrays["logits"] = prediction.logits.astype(np.float32)
    for name, stage in prediction.stages.items():
        arrays[f"score{name}"] = stage.scores.astype(np.float32)
    return arrays


def write_prediction(
    out: Path, stem: str, image: np.ndarray, prediction: Prediction, info: ModelInfo, *, scores: bool, force: bool
) -> list[Path]:
    """Write ``<stem>_mask.png``, ``<stem>_overlay.png`` and with ``scores`` ``<stem>_scores.npz``."""
    targets = [out / f"{stem}_mask.png", out / f"{stem}_overlay.png"]
    if scores:
        targets.append(out / f"{stem}_scores.npz")
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise ExportError(f"{existing[0]}: exists; not overwritten (use --force)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        palette = info.palette_array
        palette_mask(prediction.labels, palette).save(targets[0])
        Image.fromarray(overlay(image, prediction.labels, palette)).save(targets[1])
        if scores:
            np.savez_compressed(targets[2], **score_arrays(prediction, info))
    except OSError as exc:
        raise ExportError(f"{out}: cannot write: {exc}") from None
    return targets
