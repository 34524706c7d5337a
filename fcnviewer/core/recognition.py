"""Which network a foreign state dict is, from its key names and tensor shapes.

Each family has one recogniser (``state -> ArchSpec | None``), tried in order; a state dict that
none accepts gets one sentence naming what it looks like and the families the viewer shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor

from fcnviewer.core.models import ArchSpec

#: Sanity limits for sizes read from a foreign file, so a hostile one cannot make us allocate without bound.
MAX_WIDTH = 4.0
MAX_CLASSES = 4096

#: The families the viewer shows, in the user's words.
SUPPORTED = (
    "FCN-VGG16 (FCN-32s/16s/8s), torchvision's FCN-ResNet, DeepLabV3 (ResNet, MobileNetV3) and LRASPP, "
    "U-Net (the layout of milesial/Pytorch-UNet), and torchvision's ImageNet classifiers made fully convolutional "
    "(VGG11/13/16/19 with or without BN, AlexNet, GoogLeNet, ResNet-18/34/50/101/152)"
)

Recogniser = Callable[[Mapping[str, Tensor], str], "ArchSpec | None"]


def out_channels(state: Mapping[str, Tensor], key: str) -> int:
    """Output channels of the convolution weight ``state[key]``."""
    shape = tuple(state[key].shape)
    if len(shape) != 4 or shape[0] < 1:
        raise ValueError(f"{key} has shape {shape}, not that of a convolution's weight")
    return shape[0]


def _checked(spec: ArchSpec) -> ArchSpec:
    """``spec``, unless its sizes are implausible."""
    _check_sizes(spec.width, spec.num_classes)
    return spec


def _check_sizes(width: float, num_classes: int) -> None:
    if width > MAX_WIDTH or num_classes > MAX_CLASSES:
        raise ValueError(f"implausible sizes (width {width:g}, {num_classes} classes): refusing to build that network")


def _fcn_vgg(state: Mapping[str, Tensor], file_name: str) -> ArchSpec | None:
    if "conv1_1.weight" not in state:
        return None
    if "score_fr.weight" not in state:
        raise ValueError("has conv1_1 but no score_fr: a VGG16 but not an FCN")
    num_classes = out_channels(state, "score_fr.weight")
    width = out_channels(state, "conv1_1.weight") / 64
    _check_sizes(width, num_classes)
    if "upscore8.weight" in state:
        arch = "fcn8s-atonce" if "atonce" in file_name.lower() else "fcn8s"
    elif "upscore16.weight" in state:
        arch = "fcn16s"
    elif "upscore.weight" in state:
        arch = "fcn32s"
    else:
        raise ValueError("an FCN-VGG16 without any upscore deconvolution")
    return ArchSpec(arch, num_classes, width)


def _torchvision(state: Mapping[str, Tensor], file_name: str) -> ArchSpec | None:
    resnet, mobilenet = "backbone.conv1.weight" in state, "backbone.0.0.weight" in state
    if not (resnet or mobilenet):
        return None
    blocks = {k.split(".")[2] for k in state if k.startswith("backbone.layer3.")}
    depth = "resnet101" if len(blocks) > 6 else "resnet50"
    aux = "aux_classifier.4.weight" in state
    if "classifier.low_classifier.weight" in state and mobilenet:
        return _checked(ArchSpec("lraspp_mobilenet_v3_large", out_channels(state, "classifier.low_classifier.weight")))
    if "classifier.0.convs.0.0.weight" in state and "classifier.4.weight" in state:
        arch = "deeplabv3_mobilenet_v3_large" if mobilenet else f"deeplabv3_{depth}"
        return _checked(ArchSpec(arch, out_channels(state, "classifier.4.weight"), aux=aux))
    if "classifier.4.weight" in state and resnet:
        return _checked(ArchSpec(f"fcn_{depth}", out_channels(state, "classifier.4.weight"), aux=aux))
    raise ValueError(f"a torchvision segmentation backbone with a head the viewer does not know; it shows {SUPPORTED}")


def _unet(state: Mapping[str, Tensor], file_name: str) -> ArchSpec | None:
    if "inc.double_conv.0.weight" not in state or "outc.conv.weight" not in state:
        return None
    first = state["inc.double_conv.0.weight"]
    width = out_channels(state, "inc.double_conv.0.weight") / 64
    paper = "inc.double_conv.1.running_mean" not in state and "inc.double_conv.2.weight" in state
    return _checked(
        ArchSpec(
            "unet_paper" if paper else "unet",
            out_channels(state, "outc.conv.weight"),
            width=width,
            in_channels=int(first.shape[1]),
            bilinear="up1.up.weight" not in state,
        )
    )


#: Convolutions in ``features`` of torchvision's VGGs, by depth.
VGG_CONVS = {8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}
#: Residual blocks in ``layer1`` .. ``layer4`` of torchvision's ResNets (with bottlenecks or without).
RESNET_BLOCKS = {
    ((2, 2, 2, 2), False): "resnet18",
    ((3, 4, 6, 3), False): "resnet34",
    ((3, 4, 6, 3), True): "resnet50",
    ((3, 4, 23, 3), True): "resnet101",
    ((3, 8, 36, 3), True): "resnet152",
}


def _classes(state: Mapping[str, Tensor], key: str) -> int:
    """Outputs of the fully connected layer whose weight is ``state[key]``."""
    shape = tuple(state[key].shape)
    if len(shape) != 2 or shape[0] < 1:
        raise ValueError(f"{key} has shape {shape}, not that of a fully connected layer's weight")
    return shape[0]


def _classifier(state: Mapping[str, Tensor], file_name: str) -> ArchSpec | None:
    """torchvision's ImageNet classifiers: VGG, AlexNet (``features``, ``classifier``), ResNet, GoogLeNet."""
    if "features.0.weight" in state and "classifier.6.weight" in state:
        convs = sum(1 for k, v in state.items() if k.startswith("features.") and k.endswith(".weight") and v.dim() == 4)
        batch_norm = any(k.startswith("features.") and k.endswith("running_mean") for k in state)
        if "classifier.1.weight" in state and convs == 5 and not batch_norm:
            arch = "alexnet"
        elif "classifier.0.weight" in state and convs in VGG_CONVS:
            arch = VGG_CONVS[convs] + ("_bn" if batch_norm else "")
        else:
            raise ValueError(f"an image classifier with {convs} convolutions in features, neither a VGG nor AlexNet")
        return _checked(ArchSpec(arch, _classes(state, "classifier.6.weight")))
    if "fc.weight" not in state:
        return None
    if "inception3a.branch1.conv.weight" in state:
        return _checked(ArchSpec("googlenet", _classes(state, "fc.weight"), aux="aux1.fc2.weight" in state))
    if "layer1.0.conv1.weight" in state:
        blocks = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
        bottleneck = "layer1.0.conv3.weight" in state
        if (blocks, bottleneck) not in RESNET_BLOCKS:
            raise ValueError(f"a ResNet classifier with {blocks} blocks, none of torchvision's ResNet-18/34/50/101/152")
        return _checked(ArchSpec(RESNET_BLOCKS[blocks, bottleneck], _classes(state, "fc.weight")))
    return None


#: The recognisers, tried in order.
RECOGNISERS: tuple[Recogniser, ...] = (_fcn_vgg, _torchvision, _unet, _classifier)


def detect_spec(state: Mapping[str, Tensor], file_name: str = "") -> ArchSpec:
    """Architecture, class count, width (and U-Net's input channels and upsampling) of a state dict."""
    for recognise in RECOGNISERS:
        spec = recognise(state, file_name)
        if spec is not None:
            return spec
    raise ValueError(f"looks like {looks_like(state)}, not a network the viewer shows; it shows {SUPPORTED}")


def looks_like(state: Mapping[str, Tensor]) -> str:
    """What an unrecognised state dict seems to be, in a few words."""
    keys = set(state)
    prefixes = {k.split(".")[0] for k in keys}
    if prefixes & {"segformer", "decode_head"}:
        return "a SegFormer (Hugging Face transformers)"
    if {"features", "classifier"} <= prefixes:
        return "an image classifier (features, classifier: VGG, MobileNet or alike)"
    if {"encoder", "decoder"} <= prefixes:
        return "an encoder-decoder net of another library (encoder, decoder)"
    first = ", ".join(sorted(keys)[:3])
    return f"an unknown network (keys such as {first})"
