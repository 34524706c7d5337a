"""One optimiser step: the optimiser, its learning rate at a step, and the step itself.

The optimiser is SGD with momentum and weight decay 5e-4 (the paper) or AdamW, on a per-pixel
cross entropy that ignores label 255 (plus, optionally, Lovász-softmax).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fcnviewer.core.distributed import Context
from fcnviewer.core.names import OPTIMIZERS
from fcnviewer.core.training.config import TrainConfig
from fcnviewer.core.training.losses import cross_entropy_sum, lovasz_softmax, segmentation_loss


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the paper) or AdamW; weight decay on weights, not biases.

    The deconvolutions start as bilinear interpolation and stay fixed, as in the reference,
    unless ``config.learn_upsampling``: then they learn too, without weight decay (the
    paper's "learnable deconvolution initialised bilinear").

    Adam is offered because a VGG16 without batch normalisation trained *from scratch*
    (the paper fine-tunes ImageNet weights) barely moves under SGD at stable rates; AdamW
    with decoupled decay gets it going within a few hundred steps.
    """
    upsampling = {id(m.weight) for m in model.modules() if isinstance(m, nn.ConvTranspose2d)}
    decay: list[nn.Parameter] = []
    rest: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if id(p) in upsampling:
            p.requires_grad_(config.learn_upsampling)
            if config.learn_upsampling:
                rest.append(p)
        else:
            (decay if name.endswith("weight") and p.ndim > 1 else rest).append(p)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; expected {' or '.join(OPTIMIZERS)}")
    if config.optimizer == "adam":
        return torch.optim.AdamW(groups, lr=config.lr, betas=(config.momentum, 0.999))
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    """The rate at ``step`` of ``total``: linear warm-up, then fixed or poly (power 0.9) decay."""
    lr = config.lr
    if config.warmup and step < config.warmup:
        lr *= (step + 1) / config.warmup
    if config.schedule == "poly":
        lr *= (1 - step / max(total, 1)) ** 0.9
    return lr


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    labels: Tensor,
    *,
    weights: Tensor | None = None,
    dtype: torch.dtype = torch.float32,
    clip: float = 0.0,
    lovasz: float = 0.0,
    context: Context | None = None,
) -> float:
    """One optimiser step on :func:`~fcnviewer.core.training.losses.segmentation_loss` of ``model(x)["out"]``
    (cross entropy, plus ``lovasz`` times Lovász-softmax); the loss.

    With ``dtype`` bfloat16 the forward and backward run under autocast; the weights, the
    loss and the optimiser stay float32. With a distributed ``context``, ``model`` is a
    ``DistributedDataParallel`` wrapper, ``x`` this process's share of the batch, and the loss
    returned is the whole batch's (see :func:`_data_parallel_loss`).
    """
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
        logits = model(x)["out"]
    parallel = context is not None and context.is_distributed
    if parallel:
        loss = _data_parallel_loss(logits, labels, weights, lovasz, context)
    else:
        loss = segmentation_loss(logits, labels, weights=weights, lovasz=lovasz)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    if not parallel:
        return float(loss.detach())
    return float(context.all_reduce_sum(loss.detach().clone())) / context.world_size


def _data_parallel_loss(
    logits: Tensor, labels: Tensor, weights: Tensor | None, lovasz: float, context: Context
) -> Tensor:
    """This process's term of the whole batch's loss, scaled for DDP's averaging of the gradients.

    The cross entropy is this process's sum over its labelled pixels divided by the (weighted)
    count over every process's, times the number of processes (DDP divides the summed gradients
    by it): the gradients are then exactly one process's on the whole batch, even when padding
    leaves the processes different numbers of labelled pixels. Lovász-softmax is no sum over
    pixels; each process takes it over its own images, and DDP averages those.
    """
    total, count = cross_entropy_sum(logits, labels, weights)
    loss = total * context.world_size / context.all_reduce_sum(count.detach())
    if lovasz:
        loss = loss + lovasz * lovasz_softmax(logits.float().softmax(1), labels)
    return loss
