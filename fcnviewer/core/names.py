"""The choices a user can name (architectures, devices, precisions, skip paths), without importing torch.

The command-line parser and the window's menus read these before torch is loaded; the modules
that act on them (``core.models``, ``core.devices``, ``core.training``) use the same tuples.
"""

from __future__ import annotations

#: FCN on VGG16 (the paper's nets), torchvision's FCN-ResNets, DeepLabV3s and LRASPP, its ImageNet
#: classifiers (convolutionalised), then U-Nets.
VGG_ARCHS: tuple[str, ...] = ("fcn32s", "fcn16s", "fcn8s", "fcn8s-atonce")
RESNET_ARCHS: tuple[str, ...] = ("fcn_resnet50", "fcn_resnet101")
DEEPLAB_ARCHS: tuple[str, ...] = ("deeplabv3_resnet50", "deeplabv3_resnet101", "deeplabv3_mobilenet_v3_large")
LRASPP_ARCHS: tuple[str, ...] = ("lraspp_mobilenet_v3_large",)
UNET_ARCHS: tuple[str, ...] = ("unet", "unet_paper")
#: torchvision's ImageNet classifiers, made fully convolutional (issue #22), by torchvision's names.
CLASSIFIER_ARCHS: tuple[str, ...] = (
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "alexnet", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
)  # fmt: skip
#: torchvision's own nets: their state dicts load into the wrapper's ``.net``; ImageNet preprocessing.
TORCHVISION_ARCHS: tuple[str, ...] = RESNET_ARCHS + DEEPLAB_ARCHS + LRASPP_ARCHS + CLASSIFIER_ARCHS
ARCHITECTURES: tuple[str, ...] = VGG_ARCHS + TORCHVISION_ARCHS + UNET_ARCHS

#: Where the network may run; ``auto`` picks CUDA, then MPS, then the CPU.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda", "mps")

#: What ``--precision`` accepts for inference.
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")

#: What ``train --arch`` accepts: the paper's staged 32s -> 16s -> 8s, or one net.
TRAIN_ARCHS: tuple[str, ...] = ("staged", *VGG_ARCHS)

#: What ``train --optimizer`` accepts: the paper's SGD with momentum, or AdamW.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")

#: What ``train --precision`` accepts (weights, loss and optimiser stay float32).
TRAIN_PRECISIONS: tuple[str, ...] = ("float32", "bfloat16")


def path_label(name: str) -> str:
    """How a skip path (``stride32``, ``pool4``, ``low``) is named to the user: ``stride-32 path``,
    ``pool4 path``, ``low branch``."""
    if name.startswith("stride"):
        return f"stride-{name.removeprefix('stride')} path"
    return f"{name} path" if name.startswith("pool") else f"{name} branch"
