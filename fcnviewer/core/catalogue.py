"""The pretrained catalogue: published weights, where they are, what they were trained on.

Torch-free, so that ``fcnviewer models`` lists it in a blink and the window can show it on
the GUI thread. torchvision's entries (URL, categories, file size, metrics; the SHA-256
prefix is the ``-<hash>.pth`` end of the URL, torch.hub's convention) are read from the
weight enums' definitions in torchvision's installed source, with :mod:`ast`: importing
torchvision costs about 3 s and 1 GB here, and a test checks that what is read equals the
imported enums. pytorch-fcn's VOC FCNs (URLs and MD5s from its ``torchfcn/models/*.py``) and
milesial's Carvana U-Nets (URLs from its ``hubconf.py``; no hash is published) are written
out below; ``scripts/check_catalogue.py`` prints each value beside its source.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fcnviewer.core.labels import VOC_CLASSES

#: What the torchvision weights were trained on (their enums' ``_docs``, in short).
COCO_VOC = "COCO train2017, the 20 PASCAL VOC categories"
#: The FCN paper's training set (pytorch-fcn's weights are the authors' Caffe models, converted).
VOC_SBD = "PASCAL VOC 2011 train + SBD (Hariharan et al.), 20 classes"
CARVANA = "Carvana Image Masking Challenge (cars on a turntable background)"
#: What torchvision's classifiers were trained on.
IMAGENET = "ImageNet-1k (ILSVRC 2012) train, 1000 classes"


@dataclass(frozen=True)
class Hash:
    """What a download must hash to: ``sha256-prefix`` (the start of its SHA-256, as torch.hub
    checks it) or ``md5`` (the whole digest)."""

    algorithm: str
    value: str

    def to_dict(self) -> dict[str, str]:
        """``{"algorithm", "value"}``."""
        return {"algorithm": self.algorithm, "value": self.value}


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint.

    ``arch`` is the architecture to load it as when detection alone cannot tell (the at-once
    FCN-8s); ``size_mb`` is the source's figure, or (``size_estimated``) float32 parameters
    times four bytes where the source gives none; ``source`` names where ``url`` and ``hash``
    are written.
    """

    name: str
    family: str
    url: str
    hash: Hash | None
    file_name: str
    training_data: str
    classes: tuple[str, ...]
    size_mb: float | None
    source: str
    arch: str | None = None
    size_estimated: bool = False
    metrics: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def cached_path(self) -> Path:
        """Where the file is (or will be) in the cache."""
        return cache_dir() / self.file_name

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``fcnviewer models --json`` prints (see the README)."""
        return {
            "name": self.name,
            "family": self.family,
            "arch": self.arch,
            "classes": list(self.classes),
            "training_data": self.training_data,
            "url": self.url,
            "size": self.size_mb,
            "size_estimated": self.size_estimated,
            "hash": None if self.hash is None else self.hash.to_dict(),
            "cached": self.cached_path.is_file(),
            "file": str(self.cached_path),
            "source": self.source,
            "metrics": self.metrics,
        }


def cache_dir() -> Path:
    """torch.hub's checkpoint cache, ``$TORCH_HOME/hub/checkpoints`` (default
    ``$XDG_CACHE_HOME/torch``, else ``~/.cache/torch``), found the way ``torch.hub.get_dir``
    finds it but without importing torch (a test keeps the two equal)."""
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch"
    )
    return Path(os.path.expanduser(torch_home)) / "hub" / "checkpoints"


@functools.cache
def catalogue() -> dict[str, ZooEntry]:
    """Every entry by name: torchvision's, then pytorch-fcn's, then milesial's U-Nets."""
    entries = [*_torchvision_entries(), *_pytorch_fcn_entries(), *_unet_entries(), *_classifier_entries()]
    return {entry.name: entry for entry in entries}


# ---------------------------------------------------------------------- torchvision

#: Catalogue name, torchvision module, weight enum, and the architecture it loads as (None: detected).
TORCHVISION_WEIGHTS: tuple[tuple[str, str, str, str | None], ...] = (
    ("fcn_resnet50_coco", "fcn", "FCN_ResNet50_Weights", "fcn_resnet50"),
    ("fcn_resnet101_coco", "fcn", "FCN_ResNet101_Weights", "fcn_resnet101"),
    ("deeplabv3_resnet50_coco", "deeplabv3", "DeepLabV3_ResNet50_Weights", None),
    ("deeplabv3_resnet101_coco", "deeplabv3", "DeepLabV3_ResNet101_Weights", None),
    ("deeplabv3_mobilenet_v3_large_coco", "deeplabv3", "DeepLabV3_MobileNet_V3_Large_Weights", None),
    ("lraspp_mobilenet_v3_large_coco", "lraspp", "LRASPP_MobileNet_V3_Large_Weights", None),
)
TORCHVISION_MEMBER = "COCO_WITH_VOC_LABELS_V1"


def _torchvision_entries() -> list[ZooEntry]:
    entries = []
    for name, module, enum, arch in TORCHVISION_WEIGHTS:
        url, meta = torchvision_weights(module, enum)
        entries.append(
            ZooEntry(
                name=name,
                family="fcn_resnet" if module == "fcn" else module,
                url=url,
                hash=Hash("sha256-prefix", url.rsplit("-", 1)[-1].removesuffix(".pth")),
                file_name=url.rsplit("/", 1)[-1],
                training_data=COCO_VOC,
                classes=tuple(str(c).strip("_") for c in meta["categories"]),
                size_mb=float(meta["_file_size"]),
                source=f"torchvision {enum}.{TORCHVISION_MEMBER}",
                arch=arch,
                metrics=dict(meta.get("_metrics", {})),
            )
        )
    return entries


def torchvision_weights(
    module: str, enum: str, member: str = TORCHVISION_MEMBER, package: str = "segmentation"
) -> tuple[str, dict[str, Any]]:
    """The URL and meta of ``torchvision.models.<package>.<module>.<enum>.<member>`` (by default a
    segmentation net's ``COCO_WITH_VOC_LABELS_V1``; ``package=""`` for the classifiers), read from the
    source (literal values only; names resolved in the module, then in ``models._meta``)."""
    module = f"{package}/{module}" if package else module
    tree = _torchvision_module(f"{module}.py")
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == enum:
            for statement in node.body:
                if isinstance(statement, ast.Assign) and _assigns(statement, member):
                    call = statement.value
                    assert isinstance(call, ast.Call)
                    keywords = {k.arg: k.value for k in call.keywords}
                    url = _literal(keywords["url"], tree)
                    meta = _literal(keywords["meta"], tree)
                    return url, meta
    raise LookupError(f"torchvision's {module}.py defines no {enum}.{member}")


@functools.cache
def _torchvision_module(relative: str) -> ast.Module:
    spec = importlib.util.find_spec("torchvision")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise LookupError("torchvision is not installed")
    return ast.parse((Path(spec.submodule_search_locations[0]) / "models" / relative).read_text())


def _assigns(statement: ast.Assign, name: str) -> bool:
    return any(isinstance(t, ast.Name) and t.id == name for t in statement.targets)


def _literal(node: ast.expr, tree: ast.Module) -> Any:
    """A literal expression's value; a dict's ``**name`` and a bare name are looked up; other
    values (calls, such as ``partial(...)``) become None."""
    if isinstance(node, ast.Name):
        return _literal(_definition(node.id, tree), tree)
    if isinstance(node, ast.Dict):
        value: dict[Any, Any] = {}
        for key, item in zip(node.keys, node.values, strict=True):
            if key is None:
                value.update(_literal(item, tree))
            else:
                value[_literal(key, tree)] = _literal(item, tree)
        return value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(item, tree) for item in node.elts]
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _definition(name: str, tree: ast.Module) -> ast.expr:
    for module in (tree, _torchvision_module("_meta.py")):
        for node in module.body:
            if isinstance(node, ast.Assign) and _assigns(node, name):
                return node.value
    raise LookupError(f"torchvision defines no {name} where its weights use it")


# ---------------------------------------------------------------------- torchvision's classifiers

#: torchvision's ImageNet classifiers shown convolutionalised: catalogue name, module, weight enum.
TORCHVISION_CLASSIFIERS: tuple[tuple[str, str, str], ...] = (
    *((f"{arch}_imagenet", "vgg", f"{arch.upper()}_Weights") for arch in ("vgg11", "vgg13", "vgg16", "vgg19")),
    *((f"{arch}_bn_imagenet", "vgg", f"{arch.upper()}_BN_Weights") for arch in ("vgg11", "vgg13", "vgg16", "vgg19")),
    ("alexnet_imagenet", "alexnet", "AlexNet_Weights"),
    ("googlenet_imagenet", "googlenet", "GoogLeNet_Weights"),
    *((f"resnet{depth}_imagenet", "resnet", f"ResNet{depth}_Weights") for depth in (18, 34, 50, 101, 152)),
)
#: The member of their enums listed: the original ImageNet weights (the FCN paper's starting points).
CLASSIFIER_MEMBER = "IMAGENET1K_V1"


def _classifier_entries() -> list[ZooEntry]:
    entries = []
    for name, module, enum in TORCHVISION_CLASSIFIERS:
        url, meta = torchvision_weights(module, enum, CLASSIFIER_MEMBER, package="")
        entries.append(
            ZooEntry(
                name=name,
                family="classifier",
                url=url,
                hash=Hash("sha256-prefix", url.rsplit("-", 1)[-1].removesuffix(".pth")),
                file_name=url.rsplit("/", 1)[-1],
                training_data=IMAGENET,
                classes=tuple(meta["categories"]),
                size_mb=float(meta["_file_size"]),
                source=f"torchvision {enum}.{CLASSIFIER_MEMBER}",
                metrics=dict(meta.get("_metrics", {})),
            )
        )
    return entries


# ---------------------------------------------------------------------- pytorch-fcn

#: Catalogue name, architecture, URL and MD5 (torchfcn/models/<file>, the line of the URL), mean IU
#: on VOC2011 seg11valid (pytorch-fcn's README, "Original"), float32 size estimated from the parameters.
PYTORCH_FCN: tuple[tuple[str, str, str, str, str, float, float], ...] = (
    (
        "fcn32s_voc", "fcn32s", "https://drive.google.com/uc?id=11k2Q0bvRQgQbT6-jYWeh6nmAsWlSCY3f",
        "d3eb467a80e7da0468a20dfcbc13e6c8", "fcn32s.py:34", 63.63, 519.4,
    ),
    (
        "fcn16s_voc", "fcn16s", "http://drive.google.com/uc?id=1bctu58B6YH9bu6lBBSBB2rUeGlGhYLoP",
        "a2d4035f669f09483b39c9a14a0d6670", "fcn16s.py:17", 65.01, 514.3,
    ),
    (
        "fcn8s_voc", "fcn8s", "http://drive.google.com/uc?id=1ieXWyoG68xqoHJPWdyrDyaIaaWlfmUxI",
        "de93e540ec79512f8770033849c8ae89", "fcn8s.py:17", 65.51, 513.0,
    ),
    (
        "fcn8s-atonce_voc", "fcn8s-atonce", "http://drive.google.com/uc?id=0B9P1L--7Wd2vblE1VUIxV1o2d2M",
        "bfed4437e941fef58932891217fe6464", "fcn8s.py:180", 65.40, 513.0,
    ),
)  # fmt: skip


def _pytorch_fcn_entries() -> list[ZooEntry]:
    return [
        ZooEntry(
            name=name,
            family="fcn_vgg",
            url=url,
            hash=Hash("md5", md5),
            file_name=f"{arch}_from_caffe.pth",  # pytorch-fcn's own name for it
            training_data=VOC_SBD,
            classes=VOC_CLASSES,
            size_mb=size,
            source=f"pytorch-fcn torchfcn/models/{where}",
            arch=arch,
            size_estimated=True,
            metrics={"VOC2011-seg11valid": {"miou": miou}},
        )
        for name, arch, url, md5, where, miou, size in PYTORCH_FCN
    ]


# ---------------------------------------------------------------------- milesial U-Net

UNET_RELEASE = "https://github.com/milesial/Pytorch-UNet/releases/download/v3.0"


def _unet_entries() -> list[ZooEntry]:
    return [
        ZooEntry(
            name=f"unet_carvana_scale{scale}",
            family="unet",
            url=f"{UNET_RELEASE}/unet_carvana_scale{scale}_epoch2.pth",
            hash=None,
            file_name=f"unet_carvana_scale{scale}_epoch2.pth",
            training_data=f"{CARVANA}, images scaled by {scale}",
            classes=("background", "car"),
            size_mb=118.4,
            source="milesial/Pytorch-UNet hubconf.py",
            size_estimated=True,
        )
        for scale in ("0.5", "1.0")
    ]
