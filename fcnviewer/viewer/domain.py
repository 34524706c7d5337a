"""What a model was trained on, in words, and when to say that an image is not of that kind.

A model answers with confident masks whatever it is shown; only its training data says what
those masks can mean. The project's checkpoints record it (``ModelInfo.training["data"]``); a
foreign checkpoint records nothing, and the viewer then says that it does not know.

Whether an image "looks like" the synthetic scenes is not decided from its pixels: image
statistics (noise, kurtosis, saturation) and the network's own feature statistics (z-scores of
pool3/pool4/fc7 activations, a Mahalanobis distance on fc7) were tried on synthetic scenes
against 26 photographs, and none separated them reliably (some photos fell inside the scenes'
range, some scenes outside). The rule here is plain instead: with a model trained on synthetic
data, any image that is not one of the bundled sample scenes gets the note, once a session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fcnviewer.core.names import CLASSIFIER_ARCHS
from fcnviewer.core.resources import is_bundled

#: ``training["data"]`` of models trained on ``fcnviewer.core.training.data.synthetic`` scenes.
SYNTHETIC = "synthetic"

#: What the viewer says the first time a synthetic-domain model predicts an image of the user's.
SYNTHETIC_NOTE = (
    "The bundled model was trained only on synthetic scenes of shapes ({classes}); on a photo its "
    "masks mean nothing. To segment photos, load a network trained on photos: Model > Pretrained "
    "Models… downloads torchvision's FCN-ResNet and DeepLabV3 (COCO, VOC classes) or the paper's "
    "VOC FCNs; Model > Open Checkpoint… opens one you have."
)


def classifier_note(arch: str) -> str | None:
    """What the map of a convolutionalised ImageNet classifier is (``None`` for other nets): VGG and
    AlexNet score one 224x224 crop per location; ResNet and GoogLeNet pool globally, so a location
    is their ``fc`` before the pool, no single crop."""
    if arch not in CLASSIFIER_ARCHS:
        return None
    if arch.startswith(("vgg", "alexnet")):
        return "dense class scores of an ImageNet classifier, one per 224x224 crop on a stride-32 grid"
    return "dense class scores of an ImageNet classifier, its fc applied before the global pool (stride 32)"


def training_domain(training: Mapping[str, Any], arch: str = "") -> str:
    """The data a model was trained on, in a few words (from its checkpoint's training metadata;
    for a convolutionalised classifier without any, what its map is)."""
    data = training.get("data")
    if data == SYNTHETIC:
        return "synthetic shapes"
    return str(data) if data else classifier_note(arch) or "training data unknown"


def is_synthetic(training: Mapping[str, Any]) -> bool:
    """Whether the model was trained on synthetic scenes only."""
    return training.get("data") == SYNTHETIC


def needs_domain_note(training: Mapping[str, Any], image: Path | None) -> bool:
    """Whether showing ``image`` to a model trained on ``training`` deserves the domain note: the
    model knows synthetic scenes only and ``image`` is not one of the bundled sample scenes."""
    return is_synthetic(training) and image is not None and not is_bundled(image)


def domain_note(class_names: Sequence[str]) -> str:
    """The note on a synthetic-domain model, naming its classes (background left out)."""
    classes = ", ".join(n for n in class_names if n != "background")
    return SYNTHETIC_NOTE.format(classes=classes)


def model_summary(name: str, arch: str, class_names: Sequence[str], training: Mapping[str, Any]) -> str:
    """Model > Model Info's text: file, architecture, classes and training data, one per line."""
    lines = [
        f"File: {name}",
        f"Architecture: {arch}",
        f"Classes ({len(class_names)}): {_listed(class_names)}",
        f"Trained on: {training_domain(training, arch)}",
    ]
    if training.get("steps"):
        lines.append(f"Training steps: {training['steps']}")
    if is_synthetic(training):
        lines.append("")
        lines.append(domain_note(class_names))
    elif not training:
        lines.append("")
        lines.append(
            "This checkpoint carries no training metadata: its classes are assumed (VOC's for 21, ImageNet's for 1000)."
        )
    return "\n".join(lines)


def _listed(class_names: Sequence[str], most: int = 40) -> str:
    """The names, comma-separated; past ``most`` the first ``most`` and how many more."""
    shown = ", ".join(class_names[:most])
    return shown if len(class_names) <= most else f"{shown}, … ({len(class_names) - most} more)"
