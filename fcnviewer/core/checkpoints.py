"""Loading and saving checkpoints safely, with the architecture detected from the weights.

Accepted: ``.pth`` / ``.pt`` files holding a bare state dict or a dict wrapping one under
``model_state_dict``, ``state_dict`` or ``model`` (always read with ``weights_only=True``,
so no code in a file ever runs), and ``.safetensors`` files. The project's own checkpoints
carry a :class:`ModelInfo` so nothing has to be guessed; for others the architecture,
width and class count come from key names and tensor shapes, and the preprocessing from
where such weights come from (Caffe-style BGR for FCN-VGG, ImageNet RGB for torchvision, RGB
or grey in 0..1 for U-Net); :mod:`fcnviewer.core.recognition` tells the families apart.
milesial/Pytorch-UNet's checkpoints carry a ``mask_values`` list beside the weights: it is read
(the mask value of each class) and kept in :attr:`ModelInfo.training`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.errors import UserError
from fcnviewer.core.labels import default_class_names, default_palette
from fcnviewer.core.models import TORCHVISION_ARCHS, UNET_ARCHS, ArchSpec, SegmentationModel, build_model
from fcnviewer.core.preprocessing import CAFFE_BGR, GREY_UNIT, IMAGENET_RGB, RGB_UNIT, Preprocessing
from fcnviewer.core.recognition import detect_spec

FORMAT = "fcnviewer/1"
WRAPPER_KEYS = ("model_state_dict", "state_dict", "model")


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ModelInfo:
    """Everything about a network besides its weights.

    ``class_names`` and ``palette`` have one entry per class shown (two for a one-class sigmoid
    head: background and foreground). ``domain`` says what the weights were trained on, as far
    as anyone knows (``"unknown"`` unless the file or the catalogue says).
    """

    spec: ArchSpec
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    preprocessing: Preprocessing
    training: dict[str, Any] = field(default_factory=dict, compare=False)
    domain: str = "unknown"

    @classmethod
    def default_for(cls, spec: ArchSpec) -> ModelInfo:
        """Defaults for weights without metadata: VOC names/palette for 21 classes, background and
        foreground for a binary U-Net, the preprocessing of where such weights come from."""
        shown = spec.shown_classes
        names = default_class_names(shown)
        if spec.arch in UNET_ARCHS and shown == 2:
            names = ("background", "foreground")
        return cls(
            spec=spec,
            class_names=names,
            palette=tuple(tuple(int(v) for v in c) for c in default_palette(shown)),  # type: ignore[misc]
            preprocessing=_default_preprocessing(spec),
        )

    @property
    def palette_array(self) -> np.ndarray:
        """``(num_classes, 3)`` uint8."""
        return np.asarray(self.palette, dtype=np.uint8).reshape(-1, 3)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form."""
        return {
            "arch": self.spec.arch,
            "num_classes": self.spec.num_classes,
            "width": self.spec.width,
            "aux": self.spec.aux,
            "in_channels": self.spec.in_channels,
            "bilinear": self.spec.bilinear,
            "domain": self.domain,
            "class_names": list(self.class_names),
            "palette": [list(c) for c in self.palette],
            "preprocessing": self.preprocessing.to_dict(),
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelInfo:
        """Inverse of :meth:`to_dict`."""
        spec = ArchSpec(
            str(data["arch"]),
            int(data["num_classes"]),
            float(data["width"]),
            bool(data["aux"]),
            int(data.get("in_channels", 3)),
            bool(data.get("bilinear", False)),
        )
        names = tuple(str(n) for n in data["class_names"])
        palette = tuple(tuple(int(v) for v in c) for c in data["palette"])
        if len(names) != spec.shown_classes or len(palette) != spec.shown_classes:
            raise ValueError(f"{len(names)} class names and {len(palette)} colours for {spec.num_classes} classes")
        preprocessing = Preprocessing.from_dict(data["preprocessing"])
        training = dict(data.get("training", {}))
        return cls(spec, names, palette, preprocessing, training, str(data.get("domain", "unknown")))  # type: ignore[arg-type]


def _default_preprocessing(spec: ArchSpec) -> Preprocessing:
    """What weights of ``spec``'s family usually expect."""
    if spec.arch in TORCHVISION_ARCHS:
        return IMAGENET_RGB
    if spec.arch in UNET_ARCHS:
        return GREY_UNIT if spec.in_channels == 1 else RGB_UNIT
    return CAFFE_BGR


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A network in eval mode on the CPU, its metadata, and where it came from."""

    model: SegmentationModel
    info: ModelInfo
    path: Path | None = None

    @property
    def name(self) -> str:
        """A short name for display: the file name, else the architecture."""
        return self.path.name if self.path else self.info.spec.arch


def save_checkpoint(path: str | Path, model: nn.Module, info: ModelInfo) -> Path:
    """Write ``model``'s weights with ``info`` as ``.safetensors`` or ``.pth`` (by suffix).

    A wrapper of torchvision's net saves that net's state dict (``.net``), which torchvision's own
    builders load, as :func:`load_checkpoint` does.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in getattr(model, "net", model).state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path), metadata={"format": FORMAT, "info": json.dumps(info.to_dict())})
    else:
        torch.save({"format": FORMAT, "info": info.to_dict(), "state_dict": state}, path)
    return path


def load_checkpoint(path: str | Path, *, arch: str | None = None) -> LoadedModel:
    """Load a checkpoint into a fresh network; raise :class:`CheckpointError` on any problem.

    ``arch`` overrides the detected architecture (needed only to tell the at-once FCN-8s
    from the staged one when neither the file's metadata nor its name says which).
    """
    path = Path(path)
    state, meta = _read(path)
    try:
        info = ModelInfo.from_dict(meta) if meta is not None else ModelInfo.default_for(detect_spec(state, path.name))
        if arch is not None and arch != info.spec.arch:
            info = _with_arch(info, arch)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if MASK_VALUES in state:
        info.training.setdefault(MASK_VALUES, state.pop(MASK_VALUES).tolist())
    model = build_model(info.spec)
    _load_state(getattr(model, "net", model), state, path, info.spec.arch)
    model.eval()
    return LoadedModel(model, info, path)


def _with_arch(info: ModelInfo, arch: str) -> ModelInfo:
    spec = info.spec
    if {spec.arch, arch} != {"fcn8s", "fcn8s-atonce"}:
        raise ValueError(f"the weights are {spec.arch}, which cannot be loaded as {arch}")
    return dataclasses.replace(info, spec=dataclasses.replace(spec, arch=arch))


#: Key of milesial/Pytorch-UNet's list of mask values (one per class) in its state dicts.
MASK_VALUES = "mask_values"


def _read(path: Path) -> tuple[dict[str, Tensor], dict[str, Any] | None]:
    """The state dict and our metadata (None for foreign files) of ``path``."""
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty")
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a malformed file can make the unpickler raise anything
        wanted = re.search(r"(?:unsupported|Unsupported global:) GLOBAL (\S+)", str(exc))
        if wanted:
            raise CheckpointError(
                f"{path}: refused to load: the file asks to run code or build objects ({wanted.group(1)}), "
                "not just tensors"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint: it is {_file_kind(path)}, where a file written by "
            "torch.save (.pth, .pt) or a .safetensors file was expected; open the checkpoint itself"
        ) from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    meta: dict[str, Any] | None = None
    if obj.get("format") == FORMAT:
        meta, obj = obj.get("info"), obj.get("state_dict")
    else:
        for key in WRAPPER_KEYS:
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
    return _tensors_only(obj, path), meta


def _read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, Any] | None]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: not a readable safetensors file: {_short(exc)}") from None
    meta = None
    if header.get("format") == FORMAT:
        try:
            meta = json.loads(header["info"])
        except (KeyError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: its fcnviewer metadata is unreadable: {_short(exc)}") from None
    return _tensors_only(state, path), meta


def _tensors_only(obj: Any, path: Path) -> dict[str, Tensor]:
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(f"{path}: holds no state dict (an empty or non-dict object)")
    state: dict[str, Tensor] = {}
    for key, value in obj.items():
        if key == MASK_VALUES and isinstance(value, list):
            value = _mask_values(value, path)
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise CheckpointError(f"{path}: not a state dict: entry {key!r} is a {type(value).__name__}, not a tensor")
        state[key.removeprefix("module.")] = value
    return state


def _file_kind(path: Path) -> str:
    """What ``path`` holds, judged from its first bytes (for a message)."""
    with path.open("rb") as handle:
        head = handle.read(512)
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive but no complete PyTorch one (truncated?)"
    if head[:1] == b"\x80":
        return "a pickle that PyTorch cannot read (truncated or corrupt?)"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file of another kind"
    return "a text file"


def _family_hint(unexpected: list[str]) -> str:
    """`` (e.g. a DeepLabV3 ...)`` when the unknown keys name another family's head, else ``""``."""
    if any(".convs." in key or "aspp" in key.lower() for key in unexpected):
        return " (an ASPP head: a DeepLabV3 checkpoint)"
    if any(key.startswith("classifier.cbr") or key.startswith("classifier.scale") for key in unexpected):
        return " (an LR-ASPP head: an LRASPP checkpoint)"
    return ""


def _mask_values(values: list[Any], path: Path) -> Tensor:
    """milesial/Pytorch-UNet's mask value of each class (numbers, or RGB triples) as a tensor."""
    try:
        return torch.tensor(values, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise CheckpointError(f"{path}: its mask_values are not a list of numbers") from None


def _load_state(module: nn.Module, state: dict[str, Tensor], path: Path, arch: str) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:3])})")
        raise CheckpointError(
            f"{path}: its weights do not fit the {arch} its key names suggest ({'; '.join(parts)}): "
            f"it is another kind of network{_family_hint(unexpected)}; open a checkpoint of a family the viewer "
            "shows (FCN-VGG16, FCN-ResNet, DeepLabV3, LRASPP, U-Net, torchvision's ImageNet classifiers)"
        )
    for key, tensor in expected.items():
        have, need = tuple(state[key].shape), tuple(tensor.shape)
        if have != need:
            raise CheckpointError(f"{path}: shape mismatch at {key}: the file has {have}, the network needs {need}")
    with torch.no_grad():
        module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)


#: Lines of torch's weights-only error text that are advice to its developers, not the problem.
_BOILERPLATE = ("Weights only load failed", "Please file an issue", "Check the documentation", "Trying to load")


def _short(exc: BaseException) -> str:
    """The informative first line of an exception's message."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(_BOILERPLATE)]
    text = (useful or lines or [type(exc).__name__])[0]
    return text[:200]
