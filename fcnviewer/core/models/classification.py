"""torchvision's ImageNet classifiers made fully convolutional (the FCN paper's section 3.1, Table 1).

A fully connected layer is a convolution whose kernel covers its whole input: VGG's ``fc6``
(``classifier.0``, 4096 x 25088) is a 7x7 convolution over 512 channels, ``fc7`` and ``fc8``
(``classifier.3`` and ``.6``) 1x1 convolutions; AlexNet's ``classifier.1`` a 6x6 one. Slid over a
larger image the net outputs a map of class scores, one per 224x224 crop on a stride-32 grid,
computed once for all crops (:class:`DenseClassifier`).

The net is built by torchvision's own builder (``weights=None``: nothing downloads) and kept as
``self.net``; its fully connected layers are replaced by :class:`LinearConv` modules that hold the
same numbers reshaped as kernels and read and write the ``(out, in)`` matrices in state dicts, so
torchvision's published files load into ``.net`` unchanged. The adaptive average pooling before
VGG's and AlexNet's classifier (the identity at 224x224) is dropped. ResNet and GoogLeNet pool
globally before their one ``fc``: their dense map is that ``fc`` as a 1x1 convolution applied
before the pooling (the logits of a crop are the mean of the map over the crop's units).
GoogLeNet's auxiliary heads (``aux1``, ``aux2``) are training-only: they load, when a file has
them, and are never run; its inputs are re-normalised as torchvision does for its own weights
(``transform_input``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.images import ImageError
from fcnviewer.core.models.graph import Stream
from fcnviewer.core.models.torchvision_nets import resnet_streams

#: Side of the crops torchvision's ImageNet classifiers were trained and evaluated on.
CROP_SIZE = 224


class InputTooSmallError(ImageError):
    """An input smaller than the window a dense classifier's fully connected layers see."""


class LinearConv(nn.Conv2d):
    """A fully connected layer as a ``kernel`` x ``kernel`` convolution (no padding, stride 1).

    The weight is the linear layer's ``(out, in)`` matrix viewed as ``(out, in / kernel**2,
    kernel, kernel)``, in the order ``torch.flatten`` gives a ``(C, kernel, kernel)`` input;
    state dicts hold the matrix, so a classifier's file loads and saves unchanged.
    """

    def __init__(self, linear: nn.Linear, kernel: int = 1) -> None:
        channels, remainder = divmod(linear.in_features, kernel * kernel)
        if remainder:
            raise ValueError(f"{linear.in_features} inputs are not a {kernel}x{kernel} map of channels")
        weight = linear.weight
        super().__init__(
            channels,
            linear.out_features,
            kernel,
            bias=linear.bias is not None,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            self.weight.copy_(linear.weight.reshape(self.weight.shape))
            if linear.bias is not None:
                self.bias.copy_(linear.bias)
        self.register_state_dict_post_hook(_as_matrix)
        self.register_load_state_dict_pre_hook(_as_kernel)


def _as_matrix(module: nn.Module, state: dict[str, Any], prefix: str, _metadata: Any) -> None:
    """State-dict hook: the weight as the linear layer's ``(out, in)`` matrix."""
    key = prefix + "weight"
    if key in state:
        state[key] = state[key].flatten(1)


def _as_kernel(module: nn.Module, state: dict[str, Any], prefix: str, *_rest: Any) -> None:
    """Load pre-hook: an ``(out, in)`` matrix of the right size as the kernel (other shapes are left
    for ``load_state_dict`` to refuse)."""
    key, weight = prefix + "weight", module.weight
    given = state.get(key)
    if isinstance(given, Tensor) and given.dim() == 2 and given.numel() == weight.numel():
        state[key] = given.reshape(weight.shape)


def convolutionalise(sequence: nn.Sequential, first_kernel: int) -> None:
    """Replace every ``nn.Linear`` of ``sequence`` in place: the first by a ``first_kernel`` convolution,
    the rest by 1x1 ones (ReLU and dropout act element-wise, on maps as on vectors)."""
    kernel = first_kernel
    for name, module in sequence.named_children():
        if isinstance(module, nn.Linear):
            sequence._modules[name] = LinearConv(module, kernel)
            kernel = 1


def torchvision_classifier(arch: str, **options: Any) -> nn.Module:
    """torchvision's ImageNet classifier ``arch``, randomly initialised (torchvision imported here)."""
    from torchvision import models

    return getattr(models, arch)(weights=None, **options)


class DenseClassifier(nn.Module):
    """A classifier slid over the image: ``forward`` returns ``"out"`` (the dense class scores
    bilinearly resized to the input, as torchvision's segmentation nets do, so that the label map
    is the top class per location) and ``"32"`` (the native dense map, stride 32).

    The output IS the coarse map (``output_stage``): :meth:`stage_maps` gives ``"32"`` alone, and
    the predictor aligns it to the image band by band rather than holding 1000 full-size maps.
    Subclasses set ``self.net`` and define :meth:`dense` and :meth:`streams`.
    """

    stage_names: tuple[str, ...] = ("32",)
    #: The stage whose map, aligned to the image, is the output.
    output_stage = "32"
    net: nn.Module

    def __init__(self, arch: str, num_classes: int) -> None:
        super().__init__()
        self.arch = arch
        self.num_classes = num_classes

    def dense(self, x: Tensor) -> Tensor:
        """The native dense score map ``(N, classes, h, w)`` of an ``(N, 3, H, W)`` input."""
        raise NotImplementedError

    def streams(self) -> dict[str, Stream]:
        """The signal path to the dense map."""
        raise NotImplementedError

    def stage_maps(self, x: Tensor) -> OrderedDict[str, Tensor]:
        """``{"32": dense map}``: the outputs without the full-size ``"out"``."""
        return OrderedDict([("32", self.dense(x))])

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        # Plain-strided before resizing: channels-last 1000-channel maps resize several times slower.
        scores = self.dense(x).contiguous()
        out = F.interpolate(scores, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return OrderedDict([("out", out), ("32", scores)])


class WindowClassifier(DenseClassifier):
    """VGG and AlexNet: ``features``, then the classifier's layers as convolutions, the first one a
    window over the features (7x7 for VGG, 6x6 for AlexNet).

    ``net`` (default: torchvision's ``arch``) is any classifier with ``features``, an ``avgpool``
    to the window's size and a ``classifier`` of linear layers, ReLUs and dropouts.
    """

    #: The crop a unit of the dense map stands for: unit ``(i, j)`` is the classifier's view of
    #: ``image[32 i : 32 i + crop_size, 32 j : 32 j + crop_size]`` (the window's reach at 224x224).
    #: ResNet and GoogLeNet have none: a crop's logits are the mean of 7x7 units.
    crop_size = CROP_SIZE

    def __init__(self, arch: str, *, num_classes: int = 1000, net: nn.Module | None = None) -> None:
        super().__init__(arch, num_classes)
        self.net = net if net is not None else torchvision_classifier(arch, num_classes=num_classes)
        self.window = _first(self.net.avgpool.output_size)
        convolutionalise(self.net.classifier, self.window)

    def dense(self, x: Tensor) -> Tensor:
        features = self.net.features(x)
        if min(features.shape[-2:]) < self.window:
            height, width = x.shape[-2:]
            raise InputTooSmallError(
                f"the image is {width}x{height}, smaller than the {self.crop_size}x{self.crop_size} crop that "
                f"{self.arch}'s fully connected layers see; open a larger image"
            )
        return self.net.classifier(features)

    def streams(self) -> dict[str, Stream]:
        """``features``' convolutions and poolings, then the classifier's convolutions."""
        layers = [m for m in (*self.net.features, *self.net.classifier) if isinstance(m, nn.Conv2d | nn.MaxPool2d)]
        return {"32": Stream.chain(layers)}


class ResNetClassifier(DenseClassifier):
    """A ResNet with its ``fc`` as a 1x1 convolution on ``layer4``, before the global average pool."""

    def __init__(self, arch: str, *, num_classes: int = 1000) -> None:
        super().__init__(arch, num_classes)
        self.net = torchvision_classifier(arch, num_classes=num_classes)
        self.net.fc = LinearConv(self.net.fc)

    def dense(self, x: Tensor) -> Tensor:
        net = self.net
        x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        return net.fc(net.layer4(net.layer3(net.layer2(net.layer1(x)))))

    def streams(self) -> dict[str, Stream]:
        """The longest path through each residual block, then ``fc``."""
        return {"32": resnet_streams(self.net)["layer4"].then([self.net.fc])}


#: GoogLeNet's layers in the order its forward runs them (``maxpool*``, ``conv*``, ``inception*``).
GOOGLENET_LAYERS = (
    "conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
    "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
    "inception5a", "inception5b",
)  # fmt: skip


class GoogLeNetClassifier(DenseClassifier):
    """GoogLeNet with its ``fc`` as a 1x1 convolution on ``inception5b``, before the global average pool.

    With ``aux`` the auxiliary heads are built (so that files holding them load), never run.
    """

    def __init__(self, arch: str = "googlenet", *, num_classes: int = 1000, aux: bool = False) -> None:
        super().__init__(arch, num_classes)
        self.aux = aux
        self.net = torchvision_classifier(
            arch, num_classes=num_classes, aux_logits=aux, transform_input=True, init_weights=True
        )
        self.net.fc = LinearConv(self.net.fc)

    def dense(self, x: Tensor) -> Tensor:
        x = self.net._transform_input(x)
        for name in GOOGLENET_LAYERS:
            x = getattr(self.net, name)(x)
        return self.net.fc(self.net.dropout(x))

    def streams(self) -> dict[str, Stream]:
        """Through each inception block's widest branch, then ``fc``.

        The four branches are concatenated; the union of their boxes is the box of the widest
        (a 3x3 convolution or pooling after 1x1 ones; the others reach less). Walking all four
        would walk every earlier block four times over: 4**9 paths, about 10 s per table.
        """
        layers: list[nn.Module] = []
        for name in GOOGLENET_LAYERS:
            layer = getattr(self.net, name)
            if name.startswith("inception"):
                branches = (layer.branch1, layer.branch2, layer.branch3, layer.branch4)
                layers += max((_geometric(branch) for branch in branches), key=_reach)
            else:
                layers += _geometric(layer)
        return {"32": Stream.chain([*layers, self.net.fc])}


def _geometric(module: nn.Module) -> list[nn.Module]:
    """The convolutions and poolings in ``module`` (itself included), in order."""
    return [m for m in module.modules() if isinstance(m, nn.Conv2d | nn.MaxPool2d)]


def _reach(layers: list[nn.Module]) -> int:
    """How far beyond a unit a chain of stride-1 layers reads: the sum of their dilated kernels' extents."""
    return sum((_first(m.kernel_size) - 1) * _first(m.dilation) for m in layers)


def _first(value: int | tuple[int, ...]) -> int:
    return value if isinstance(value, int) else value[0]


def _builder(family: type[WindowClassifier | ResNetClassifier], arch: str, doc: str) -> Callable[..., DenseClassifier]:
    """The public builder ``arch(*, num_classes=1000)`` of a family without options."""

    def build(*, num_classes: int = 1000) -> DenseClassifier:
        return family(arch, num_classes=num_classes)

    build.__name__ = build.__qualname__ = arch
    build.__doc__ = doc
    return build


vgg11 = _builder(WindowClassifier, "vgg11", "VGG11 (configuration A), convolutionalised.")
vgg11_bn = _builder(WindowClassifier, "vgg11_bn", "VGG11 with batch normalisation, convolutionalised.")
vgg13 = _builder(WindowClassifier, "vgg13", "VGG13 (configuration B), convolutionalised.")
vgg13_bn = _builder(WindowClassifier, "vgg13_bn", "VGG13 with batch normalisation, convolutionalised.")
vgg16 = _builder(WindowClassifier, "vgg16", "VGG16 (configuration D), convolutionalised: fc6 7x7, fc7 and fc8 1x1.")
vgg16_bn = _builder(WindowClassifier, "vgg16_bn", "VGG16 with batch normalisation, convolutionalised.")
vgg19 = _builder(WindowClassifier, "vgg19", "VGG19 (configuration E), convolutionalised.")
vgg19_bn = _builder(WindowClassifier, "vgg19_bn", "VGG19 with batch normalisation, convolutionalised.")
alexnet = _builder(WindowClassifier, "alexnet", "AlexNet (torchvision's one-GPU variant), convolutionalised: 6x6.")
resnet18 = _builder(ResNetClassifier, "resnet18", "ResNet-18, its fc before the global pool.")
resnet34 = _builder(ResNetClassifier, "resnet34", "ResNet-34, its fc before the global pool.")
resnet50 = _builder(ResNetClassifier, "resnet50", "ResNet-50, its fc before the global pool.")
resnet101 = _builder(ResNetClassifier, "resnet101", "ResNet-101, its fc before the global pool.")
resnet152 = _builder(ResNetClassifier, "resnet152", "ResNet-152, its fc before the global pool.")


def googlenet(*, num_classes: int = 1000, aux: bool = False) -> GoogLeNetClassifier:
    """GoogLeNet (Inception v1), its ``fc`` before the global pool; ``aux``: build the training-only heads."""
    return GoogLeNetClassifier("googlenet", num_classes=num_classes, aux=aux)
