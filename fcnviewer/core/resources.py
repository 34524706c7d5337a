"""Where the bundled files live: the default model, the sample scenes, the icons, class names.

They ship inside the package (``fcnviewer/resources/``, package data in the wheel) and are found
through :mod:`importlib.resources`, so an editable checkout, ``pip install .`` and a wheel all
see the same files. Torch-free: the command-line parser and the window import this before torch.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: The bundled model's file name inside ``resources/models/``.
DEFAULT_MODEL_NAME = "fcn8s-synthetic.safetensors"


def resource_dir() -> Path:
    """The package's ``resources`` folder (a real folder: the package is never installed zipped)."""
    return Path(str(files("fcnviewer") / "resources"))


def default_checkpoint_path() -> Path:
    """The bundled FCN-8s, trained on synthetic scenes."""
    return resource_dir() / "models" / DEFAULT_MODEL_NAME


def sample_images() -> list[Path]:
    """The bundled sample scenes, sorted (empty if the folder is missing)."""
    samples = resource_dir() / "samples"
    return sorted(samples.glob("*.png")) if samples.is_dir() else []


def is_bundled(path: str | Path) -> bool:
    """Whether ``path`` is one of the files shipped with the package (a sample scene, the model)."""
    return Path(path).resolve().is_relative_to(resource_dir().resolve())


def imagenet_classes_path() -> Path:
    """The 1000 ImageNet class names, one a line, in class-index order (torchvision's list)."""
    return resource_dir() / "labels" / "imagenet_classes.txt"


def dense_classifiers_help() -> str:
    """What the viewer's help says of convolutionalised classifiers: the dense map, its crops, how
    exactly it matches per-crop runs and how much faster it is (measured figures; Markdown)."""
    return (resource_dir() / "help" / "dense_classifiers.md").read_text(encoding="utf-8")


def icon_paths() -> list[Path]:
    """The application icon at every size drawn (``fcnviewer-<size>.png``)."""
    return sorted((resource_dir() / "icons").glob("fcnviewer-*.png"))
