"""Training FCN-VGG the way the paper does: FCN-32s, then 16s from it, then 8s from the 16s.

Each stage starts from the previous one: every tensor the two networks share (the VGG
layers, ``fc6``, ``fc7``, ``score_fr`` and, for the 8s, ``score_pool4`` and ``upscore2``)
is copied, the new skip's score layer starts at zero (so the new net initially computes
exactly what the old one did) and the new deconvolutions start as bilinear interpolation.
``fcn8s-atonce`` trains all skips together from the start (with the paper's 0.01/0.0001
scaling of the pool4/pool3 inputs).

The optimiser is SGD with momentum and weight decay 5e-4 on a per-pixel cross entropy
that ignores label 255; augmentation is random flips and rescaling. A stage trained from
scratch (no ImageNet VGG here) starts from He-initialised convolutions.
"""

from __future__ import annotations

import itertools
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fcnviewer.core.batch_norm import attach_batch_norm, folded, has_batch_norm
from fcnviewer.core.labels import IGNORE_INDEX
from fcnviewer.core.losses import segmentation_loss
from fcnviewer.core.metrics import ConfusionMatrix
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.preprocessing import Preprocessing

#: Architectures trained one after the other for each ``--arch``.
SCHEDULES: dict[str, tuple[str, ...]] = {
    "staged": ("fcn32s", "fcn16s", "fcn8s"),
    "fcn32s": ("fcn32s",),
    "fcn16s": ("fcn16s",),
    "fcn8s": ("fcn8s",),
    "fcn8s-atonce": ("fcn8s-atonce",),
}
WEIGHT_DECAY = 5e-4
#: Backbone layers (re)initialised when a network is trained from scratch.
BACKBONE_PREFIXES = ("conv", "fc6", "fc7")


# --------------------------------------------------------------------------- initialisation


def init_from_scratch(model: nn.Module, sample: Tensor | None = None) -> None:
    """Initialise the backbone (``conv*``, ``fc6``, ``fc7``) of a network trained without ImageNet weights.

    Orthogonal filters with zero biases, then, when a ``sample`` input batch is given,
    layer-sequential unit-variance scaling (LSUV, Mishkin & Matas 2016): each layer in turn
    is rescaled so that its output has unit variance on the sample. PyTorch's default
    initialisation shrinks the signal ~6x in variance per layer, which a 16-layer net
    without normalisation does not survive. Score layers stay zero and deconvolutions
    bilinear, as ``FCNVGG.reset_parameters`` makes them.
    """
    layers = [m for n, m in model.named_children() if isinstance(m, nn.Conv2d) and n.startswith(BACKBONE_PREFIXES)]
    for module in layers:
        nn.init.orthogonal_(module.weight, gain=math.sqrt(2.0))
        nn.init.zeros_(module.bias)
    if sample is None:
        return
    was_training = model.training
    model.eval()
    captured: dict[str, Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: Tensor) -> None:
        captured["out"] = output.detach()

    with torch.no_grad():
        for module in layers:
            handle = module.register_forward_hook(hook)
            try:
                for _ in range(3):
                    model(sample)
                    std = float(captured["out"].std())
                    if not math.isfinite(std) or std < 1e-8 or abs(std - 1.0) < 0.05:
                        break
                    module.weight.div_(std)
            finally:
                handle.remove()
    model.train(was_training)


def transfer_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every tensor ``source`` and ``target`` share (same name); return their names.

    For a staged step (32s -> 16s, 16s -> 8s) that is everything but the new skip's score
    layer (left at zero) and the new or resized deconvolutions (left bilinear).

    A narrower ``source`` (fewer channels, same kernels) fills the leading channels of a
    wider ``target``, and the old channels are cut off from the new ones (those weights are
    zeroed), so the wider net starts out computing exactly what the narrower one did while
    its new channels, still at their initial values, begin to learn.
    """
    src = source.state_dict()
    dst = target.state_dict()
    copied = [k for k, v in dst.items() if k in src and _fits(src[k].shape, v.shape)]
    with torch.no_grad():
        for key in copied:
            old, new = src[key], dst[key]
            if old.ndim >= 2 and old.shape[1] < new.shape[1]:
                new[: old.shape[0], old.shape[1] :] = 0
            new[tuple(slice(0, n) for n in old.shape)] = old
    return copied


def _fits(old: torch.Size, new: torch.Size) -> bool:
    """Whether a tensor of shape ``old`` is ``new`` or its leading channels (same kernel size)."""
    return len(old) == len(new) and old[2:] == new[2:] and all(o <= n for o, n in zip(old[:2], new[:2], strict=True))


def set_dropout(model: nn.Module, p: float) -> None:
    """Set the drop probability of every dropout layer (``fc6``/``fc7``: 0.5 in the paper)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout | nn.Dropout2d):
            module.p = p


# --------------------------------------------------------------------------- data


def to_batch(
    items: Sequence[tuple[np.ndarray, np.ndarray]], preprocessing: Preprocessing, device: torch.device | str
) -> tuple[Tensor, Tensor]:
    """Images (``(H, W, 3)`` uint8) and labels (``(H, W)``) of equal size -> network input and long labels."""
    images = torch.from_numpy(np.stack([np.asarray(im) for im, _ in items])).to(device)
    labels = torch.from_numpy(np.stack([np.asarray(lb) for _, lb in items]).astype(np.int64)).to(device)
    if preprocessing.channel_order == "BGR":
        images = images.flip(-1)
    gain, bias = (torch.from_numpy(a).to(device) for a in preprocessing.affine())
    x = images.permute(0, 3, 1, 2).float() * gain.view(1, 3, 1, 1) + bias.view(1, 3, 1, 1)
    return x.contiguous(), labels


def augment(
    x: Tensor,
    labels: Tensor,
    rng: np.random.Generator,
    *,
    scale: tuple[float, float] = (0.7, 1.4),
    size: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Random horizontal/vertical flips and rescaling, then a random crop (or 255-padding) to ``size``.

    ``x`` is ``(N, 3, H, W)`` network input, ``labels`` ``(N, H, W)``; padding is 0 in the
    input (the mean colour after normalisation) and 255 (ignored) in the labels.
    """
    n, _, height, width = x.shape
    size_h, size_w = (height, width) if size is None else (size, size)
    out_x = x.new_zeros((n, x.shape[1], size_h, size_w))
    out_y = labels.new_full((n, size_h, size_w), IGNORE_INDEX)
    for i in range(n):
        xi, yi = x[i : i + 1], labels[i : i + 1, None].float()
        if rng.random() < 0.5:
            xi, yi = xi.flip(-1), yi.flip(-1)
        if rng.random() < 0.5:
            xi, yi = xi.flip(-2), yi.flip(-2)
        s = scale[0] + (scale[1] - scale[0]) * rng.random()
        h, w = max(8, round(height * s)), max(8, round(width * s))
        if (h, w) != (height, width):
            xi = F.interpolate(xi, size=(h, w), mode="bilinear", align_corners=False)
            yi = F.interpolate(yi, size=(h, w), mode="nearest")
        # A random window of the rescaled image placed at a random spot of the output.
        ch, cw = min(h, size_h), min(w, size_w)
        sy, sx = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        oy, ox = int(rng.integers(0, size_h - ch + 1)), int(rng.integers(0, size_w - cw + 1))
        out_x[i, :, oy : oy + ch, ox : ox + cw] = xi[0, :, sy : sy + ch, sx : sx + cw]
        out_y[i, oy : oy + ch, ox : ox + cw] = yi[0, 0, sy : sy + ch, sx : sx + cw].long()
    return out_x, out_y


class BatchStream:
    """Shuffled batches of a map-style dataset of ``(image, labels)`` pairs, addressed by step number.

    The order is a function of ``seed`` and the position, so a resumed run sees the same
    batches as an uninterrupted one.
    """

    def __init__(self, dataset: Any, batch: int, seed: int) -> None:
        if len(dataset) == 0:
            raise ValueError("the training set is empty")
        self.dataset = dataset
        self.batch = batch
        self.seed = seed

    def batch_at(self, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The items of batch number ``step``."""
        n = len(self.dataset)
        position = step * self.batch
        orders: dict[int, np.ndarray] = {}
        items = []
        for k in range(self.batch):
            epoch, index = divmod(position + k, n)  # a batch may run over into the next epoch
            if epoch not in orders:
                orders[epoch] = np.random.Generator(np.random.PCG64([self.seed, epoch])).permutation(n)
            items.append(self.dataset[int(orders[epoch][index])])
        return items


class _StreamBatches(torch.utils.data.IterableDataset):
    """A :class:`BatchStream`'s batches as CPU network input; in a data-loader worker, every n-th of them."""

    def __init__(self, stream: BatchStream, start_step: int, preprocessing: Preprocessing) -> None:
        self.stream = stream
        self.start_step = start_step
        self.preprocessing = preprocessing

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        worker = torch.utils.data.get_worker_info()
        first, every = (0, 1) if worker is None else (worker.id, worker.num_workers)
        if worker is not None:
            torch.set_num_threads(1)
        for step in itertools.count(self.start_step + first, every):
            yield to_batch(self.stream.batch_at(step), self.preprocessing, "cpu")


def batch_loader(
    stream: BatchStream, start_step: int, preprocessing: Preprocessing, workers: int = 0
) -> Iterator[tuple[Tensor, Tensor]]:
    """``(input, labels)`` CPU batches of ``stream`` from ``start_step`` on, in the stream's order.

    With ``workers`` > 0 the scenes are drawn (or read) in that many processes while the
    network trains: worker ``k`` makes every ``workers``-th batch from ``start_step + k``,
    and the loader takes them in turn, so the order does not depend on ``workers``.
    """
    batches = _StreamBatches(stream, start_step, preprocessing)
    if workers <= 0:
        return iter(batches)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=workers, prefetch_factor=4)
    return iter(loader)


# --------------------------------------------------------------------------- evaluation


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    dataset: Any,
    preprocessing: Preprocessing,
    device: torch.device | str = "cpu",
    *,
    num_classes: int | None = None,
    stages: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` over ``dataset`` (items ``(image uint8 (H, W, 3), labels (H, W))``).

    Returns ``{"final": scores, "stages": {name: scores}, "confusion": {"final": matrix,
    name: matrix}}`` where ``scores`` are :func:`fcnviewer.core.metrics.scores` of the
    final output and of each stage map, upsampled onto the image's pixels with
    :func:`fcnviewer.core.alignment.upsample_to_image` at its geometry from
    :func:`fcnviewer.core.receptive.stage_geometry`, then arg-maxed.
    """
    from fcnviewer.core.alignment import upsample_to_image

    device = torch.device(device)
    was_training = model.training
    model.eval().to(device)
    num_classes = num_classes or int(model.num_classes)
    names = tuple(getattr(model, "stage_names", ())) if stages else ()
    geometry: dict[str, Any] = {}
    if names:
        from fcnviewer.core.receptive import stage_geometry

        geometry = stage_geometry(model)
        names = tuple(n for n in names if n in geometry)
    matrices = {"final": ConfusionMatrix(num_classes), **{n: ConfusionMatrix(num_classes) for n in names}}
    indices: Iterator[int] = iter(range(len(dataset)))
    if progress:
        from tqdm import tqdm

        indices = iter(tqdm(range(len(dataset)), desc="eval", unit="img", dynamic_ncols=True, file=sys.stderr))
    try:
        for i in indices:
            image, labels = dataset[i]
            x = preprocessing.to_tensor(np.asarray(image), device)
            y = torch.from_numpy(np.asarray(labels).astype(np.int64)).to(device)
            outputs = model(x)
            height, width = y.shape
            matrices["final"].update(y, outputs["out"][0].argmax(0))
            for name in names:
                scores_up = upsample_to_image(outputs[name][0].float(), geometry[name], height, width)
                matrices[name].update(y, scores_up.argmax(0))
    finally:
        model.train(was_training)
    result = {
        "final": matrices["final"].scores(),
        "stages": {n: matrices[n].scores() for n in names},
        "confusion": {k: m.matrix.copy() for k, m in matrices.items()},
    }
    return result


# --------------------------------------------------------------------------- training


@dataclass
class TrainConfig:
    """Settings of a training run (one or several stages)."""

    arch: str = "staged"
    width: float = 1.0
    num_classes: int = 21
    steps: tuple[int, ...] = (1000,)
    batch: int = 8
    lr: float = 0.01
    momentum: float = 0.9
    optimizer: str = "sgd"
    class_weights: tuple[float, ...] | None = None
    lovasz: float = 0.0
    learn_upsampling: bool = False
    weight_decay: float = WEIGHT_DECAY
    schedule: str = "poly"
    warmup: int = 100
    dropout: float = 0.5
    batch_norm: bool = False
    precision: str = "float32"
    workers: int = 0
    clip: float = 10.0
    scale: tuple[float, float] = (0.7, 1.4)
    crop: int | None = None
    seed: int = 0
    val_every: int = 500
    save_every: int = 500
    out: Path = Path("runs/train")
    device: str | None = None
    threads: int | None = None
    init: Path | None = None
    resume: Path | None = None
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def stage_steps(self, index: int) -> int:
        return self.steps[min(index, len(self.steps) - 1)]


def pick_device(name: str | None = None) -> torch.device:
    """``name``, else CUDA when available, else the CPU."""
    if name and name != "auto":
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but CUDA is not available here")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def hardware_description(device: torch.device) -> str:
    """A one-line description of the machine a run is on."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.get_num_threads()} threads"


def learning_rate(config: TrainConfig, step: int, total: int) -> float:
    """The rate at ``step`` of ``total``: linear warm-up, then fixed or poly (power 0.9) decay."""
    lr = config.lr
    if config.warmup and step < config.warmup:
        lr *= (step + 1) / config.warmup
    if config.schedule == "poly":
        lr *= (1 - step / max(total, 1)) ** 0.9
    return lr


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
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
    if config.optimizer == "adam":
        return torch.optim.AdamW(groups, lr=config.lr, betas=(config.momentum, 0.999))
    if config.optimizer != "sgd":
        raise ValueError(f"unknown optimizer {config.optimizer!r}; expected sgd or adam")
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


#: Precisions a network can be trained in (bfloat16: autocast, with float32 weights and loss).
TRAIN_PRECISIONS = ("float32", "bfloat16")


def _autocast_dtype(precision: str) -> torch.dtype:
    if precision not in TRAIN_PRECISIONS:
        raise ValueError(f"unknown training precision {precision!r}; expected {' or '.join(TRAIN_PRECISIONS)}")
    return getattr(torch, precision)


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
) -> float:
    """One optimiser step on :func:`~fcnviewer.core.losses.segmentation_loss` of ``model(x)["out"]``
    (cross entropy, plus ``lovasz`` times Lovász-softmax); the loss.

    With ``dtype`` bfloat16 the forward and backward run under autocast; the weights, the
    loss and the optimiser stay float32.
    """
    with torch.autocast(x.device.type, dtype=dtype, enabled=dtype != torch.float32):
        logits = model(x)["out"]
    loss = segmentation_loss(logits, labels, weights=weights, lovasz=lovasz)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return float(loss.detach())


@dataclass
class _StageRun:
    """The state of one stage being trained (what a checkpoint or a resume file needs)."""

    arch: str
    spec: ArchSpec
    model: nn.Module
    optimizer: torch.optim.Optimizer
    history: list[dict[str, Any]]
    out: Path
    elapsed_before: float
    started: float

    def seconds(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.started

    def save_state(self, step: int) -> None:
        state = {
            "arch": self.arch,
            "step": step,
            "seconds": self.seconds(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history,
        }
        tmp = self.out / f"{self.arch}-state.pth.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out / f"{self.arch}-state.pth")


def stages_behind(training: dict[str, Any]) -> list[dict[str, Any]]:
    """The training stages that made a checkpoint's weights, oldest first: those its metadata
    lists, then its own (arch, steps, seconds, command); none for a checkpoint without ours."""
    if "stage" not in training:
        return []
    own = {key: training[key] for key in ("steps", "seconds", "command") if key in training}
    return [*training.get("previous_stages", []), {"arch": training["stage"], **own}]


@dataclass
class StageResult:
    arch: str
    path: Path
    steps: int
    seconds: float
    val: dict[str, Any] | None


def train(
    config: TrainConfig,
    train_set: Any,
    val_set: Any | None,
    preprocessing: Preprocessing,
    *,
    class_names: Sequence[str],
    palette: Sequence[Sequence[int]],
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> list[StageResult]:
    """Run the stages of ``config.arch``; save each stage's final network as ``<out>/<arch>.safetensors``.

    Training state (weights, optimiser, step) is saved every ``save_every`` steps as
    ``<out>/<arch>-state.pth``; ``config.resume`` names such a file to continue from.
    """
    from fcnviewer.core.checkpoints import ModelInfo, load_checkpoint, save_checkpoint

    device = pick_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    schedule = SCHEDULES[config.arch]
    resume_state: dict[str, Any] | None = None
    first_stage = 0
    if config.resume is not None:
        resume_state = torch.load(config.resume, map_location="cpu", weights_only=True)
        first_stage = schedule.index(str(resume_state["arch"]))
    results: list[StageResult] = []
    previous: nn.Module | None = None
    lineage: list[dict[str, Any]] = []  # the stages behind an --init checkpoint's weights
    if first_stage > 0:
        for done_arch in schedule[:first_stage]:  # stages finished before the resumed one
            done = load_checkpoint(out / f"{done_arch}.safetensors")
            steps, seconds = int(done.info.training.get("steps", 0)), float(done.info.training.get("seconds", 0.0))
            results.append(StageResult(done_arch, out / f"{done_arch}.safetensors", steps, seconds, None))
            if previous is None:  # the run's first stage lists what its --init weights came from
                lineage = list(done.info.training.get("previous_stages", []))
            previous = done.model
    elif config.init is not None:
        init = load_checkpoint(config.init)
        previous, lineage = init.model, stages_behind(init.info.training)
    stream = BatchStream(train_set, config.batch, config.seed)
    autocast_dtype = _autocast_dtype(config.precision)
    weights = None
    if config.class_weights is not None:
        if len(config.class_weights) != config.num_classes:
            raise ValueError(f"{len(config.class_weights)} class weights for {config.num_classes} classes")
        weights = torch.tensor(config.class_weights, dtype=torch.float32, device=device)
    hardware = hardware_description(device)
    palette_t = tuple(tuple(int(v) for v in c) for c in palette)
    # A few training images: LSUV initialisation and batch-norm calibration look at their activations.
    sample, _ = to_batch([train_set[i] for i in range(min(8, len(train_set)))], preprocessing, "cpu")
    for index in range(first_stage, len(schedule)):
        arch = schedule[index]
        total = config.stage_steps(index)
        spec = ArchSpec(arch, config.num_classes, config.width)
        model = build_model(spec)
        if config.batch_norm and previous is not None and has_batch_norm(previous):
            attach_batch_norm(model)  # the previous stage's batch norms are copied too
        if previous is None:
            init_from_scratch(model, sample)
            log(f"[{arch}] from scratch (orthogonal + LSUV-initialised backbone)")
        else:
            copied = transfer_weights(previous, model)
            log(f"[{arch}] initialised from {getattr(previous, 'arch', 'checkpoint')}: {len(copied)} tensors copied")
        if config.batch_norm and not has_batch_norm(model):
            attach_batch_norm(model, sample)
        set_dropout(model, config.dropout)
        model.to(device).train()
        optimizer = _optimizer(model, config)
        start = 0
        elapsed_before = 0.0
        history: list[dict[str, Any]] = []
        if resume_state is not None and resume_state["arch"] == arch:
            model.load_state_dict(resume_state["model"])
            optimizer.load_state_dict(resume_state["optimizer"])
            start = int(resume_state["step"])
            elapsed_before = float(resume_state.get("seconds", 0.0))
            history = list(resume_state.get("history", []))
            torch.set_rng_state(resume_state["torch_rng"])
            log(f"[{arch}] resumed at step {start}")
            resume_state = None
        rng = np.random.Generator(np.random.PCG64([config.seed, index, start]))
        batches = batch_loader(stream, start + index * 1_000_000, preprocessing, config.workers)
        started = time.perf_counter()
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=start, desc=arch, unit="step", dynamic_ncols=True, file=sys.stderr)
        loss_avg = math.nan
        val: dict[str, Any] | None = None

        run = _StageRun(
            arch=arch, spec=spec, model=model, optimizer=optimizer, history=history, out=out,
            elapsed_before=elapsed_before, started=started,
        )  # fmt: skip
        meta = {
            "command": config.command,
            "schedule": list(schedule),
            "seed": config.seed,
            "batch": config.batch,
            "lr": config.lr,
            "momentum": config.momentum,
            "optimizer": config.optimizer,
            "class_weights": list(config.class_weights) if config.class_weights else None,
            "lovasz": config.lovasz,
            "learn_upsampling": config.learn_upsampling,
            "weight_decay": config.weight_decay,
            "lr_schedule": config.schedule,
            "dropout": config.dropout,
            "precision": config.precision,
            "batch_norm": "while training, folded into the convolutions" if config.batch_norm else None,
            "previous_stages": lineage
            + [{"arch": r.arch, "steps": r.steps, "seconds": round(r.seconds, 1)} for r in results],
            "hardware": hardware,
            "device": str(device),
            "torch": torch.__version__,
            **config.extra,
        }

        def info(step: int, run: _StageRun = run, meta: dict[str, Any] = meta) -> ModelInfo:
            training = {**meta, "stage": run.arch, "steps": step, "seconds": round(run.seconds(), 1)}
            training["history"] = run.history
            return ModelInfo(run.spec, tuple(class_names), palette_t, preprocessing, training)  # type: ignore[arg-type]

        images_seen = 0
        tick = time.perf_counter()
        for step in range(start, total):
            lr = learning_rate(config, step, total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = next(batches)
            x, y = augment(x.to(device), y.to(device), rng, scale=config.scale, size=config.crop)
            value = train_step(
                model, optimizer, x, y, weights=weights, dtype=autocast_dtype, clip=config.clip, lovasz=config.lovasz
            )
            if not math.isfinite(value):
                raise FloatingPointError(f"[{arch}] the loss became {value} at step {step}; lower --lr")
            loss_avg = value if math.isnan(loss_avg) else 0.95 * loss_avg + 0.05 * value
            images_seen += x.shape[0]
            done = step + 1
            if bar is not None:
                now = time.perf_counter()
                rate = images_seen / max(now - tick, 1e-9)
                bar.set_postfix(loss=f"{loss_avg:.3f}", lr=f"{lr:.2g}", img_s=f"{rate:.1f}")
                bar.update(1)
            if done % 50 == 0:
                history.append({"step": done, "loss": round(loss_avg, 4)})
                if bar is None:
                    rate = images_seen / max(time.perf_counter() - tick, 1e-9)
                    log(f"[{arch}] step {done}/{total}: loss {loss_avg:.4f}, lr {lr:.3g}, {rate:.1f} img/s")
            if val_set is not None and config.val_every and (done % config.val_every == 0 or done == total):
                val = evaluate(
                    _exported(model), val_set, preprocessing, device, num_classes=config.num_classes, stages=False
                )
                val = val["final"]
                history.append({"step": done, "val_mean_iu": round(val["mean_iu"], 4)})
                log(
                    f"[{arch}] step {done}: loss {loss_avg:.4f}, "
                    f"val pixel acc {val['pixel_acc']:.4f}, mean IU {val['mean_iu']:.4f}"
                )
                model.train()
            if config.save_every and done % config.save_every == 0 and done < total:
                run.save_state(done)
                save_checkpoint(out / f"{arch}.safetensors", _exported(model), info(done))
        if bar is not None:
            bar.close()
        model.eval()
        seconds = run.seconds()
        path = save_checkpoint(out / f"{arch}.safetensors", _exported(model), info(total))
        run.save_state(total)
        log(f"[{arch}] done: {total} steps in {seconds:.0f} s -> {path}")
        results.append(StageResult(arch, path, total, seconds, val))
        previous = model.cpu()
    return results


def _exported(model: nn.Module) -> nn.Module:
    """``model`` as it is saved and evaluated: batch norms folded into the convolutions."""
    return folded(model) if has_batch_norm(model) else model


def command_line() -> str:
    """How this process was started, for the metadata."""
    return " ".join(shlex.quote(a) for a in ["fcnviewer", *sys.argv[1:]]) if sys.argv else ""
