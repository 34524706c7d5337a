"""Batch normalisation while training, folded into the convolutions for export.

A VGG16-shaped FCN trained from scratch (no ImageNet weights) learns slowly without
normalisation. Training with a ``BatchNorm2d`` after every backbone convolution
(``conv*``, ``fc6``, ``fc7``) and folding each one into its convolution afterwards gives a
network with exactly the layers, keys and shapes of the plain FCN-VGG: the published
architecture, loadable by anything that loads FCN-VGG state dicts.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from fcnviewer.core.models.fcn_vgg import BACKBONE_PREFIXES


class ConvBatchNorm(nn.Module):
    """A convolution followed by batch normalisation (training only; see :func:`folded`)."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.bn = nn.BatchNorm2d(conv.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))

    @torch.no_grad()
    def fold(self) -> nn.Conv2d:
        """One convolution computing what this module computes in eval mode (running statistics)."""
        conv, bn = self.conv, self.bn
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        fused = copy.deepcopy(conv)
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        if fused.bias is None:
            fused.bias = nn.Parameter(torch.empty_like(bias))
        fused.bias.copy_((bias - bn.running_mean) * scale + bn.bias)
        return fused


def has_batch_norm(model: nn.Module) -> bool:
    """Whether ``model`` has convolutions wrapped by :func:`attach_batch_norm`."""
    return any(isinstance(m, ConvBatchNorm) for m in model.children())


def attach_batch_norm(model: nn.Module, sample: Tensor | None = None) -> nn.Module:
    """Wrap every backbone convolution of ``model`` (in place) in a :class:`ConvBatchNorm`; return it.

    With a ``sample`` input batch, each new batch norm is set to undo its own normalisation
    on that batch (scale and shift = the batch's standard deviation and mean), so that a
    trained network keeps computing what it computed: training then goes on from there.
    """
    added = []
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Conv2d) and name.startswith(BACKBONE_PREFIXES):
            wrapped = ConvBatchNorm(child).to(child.weight.device)
            setattr(model, name, wrapped)
            added.append(wrapped)
    if sample is not None and added:
        _calibrate(model, added, sample)
    return model


@torch.no_grad()
def _calibrate(model: nn.Module, modules: list[ConvBatchNorm], sample: Tensor) -> None:
    moments: dict[int, tuple[Tensor, Tensor]] = {}

    def record(module: nn.Module, _inputs: object, output: Tensor) -> None:
        moments[id(module)] = (output.mean((0, 2, 3)), output.var((0, 2, 3), unbiased=False))

    was_training = model.training
    model.eval()  # fresh batch norms are identities on running statistics (0, 1): the original network
    for m in modules:
        m.bn.running_var.fill_(1.0 - m.bn.eps)
    handles = [m.conv.register_forward_hook(record) for m in modules]
    try:
        model(sample)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    for m in modules:
        mean, var = moments[id(m.conv)]
        m.bn.weight.copy_(torch.sqrt(var + m.bn.eps))
        m.bn.bias.copy_(mean)
        m.bn.running_mean.copy_(mean)
        m.bn.running_var.copy_(var)


def folded(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every :class:`ConvBatchNorm` folded into a plain convolution."""
    result = copy.deepcopy(model)
    for name, child in list(result.named_children()):
        if isinstance(child, ConvBatchNorm):
            setattr(result, name, child.fold())
    return result
