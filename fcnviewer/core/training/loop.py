"""Training FCN-VGG the way the paper does: FCN-32s, then 16s from it, then 8s from the 16s.

Each stage starts from the previous one (see :mod:`.initialisation`); ``fcn8s-atonce``
trains all skips together from the start (with the paper's 0.01/0.0001 scaling of the
pool4/pool3 inputs). Augmentation is random flips and rescaling (:mod:`.batches`); the
optimiser and the loss are in :mod:`.step`.

:func:`train` runs the stages of a schedule: :func:`_starting_point` (what a resumed run
finished, or an ``--init`` network), then per stage :func:`_start_stage` (build, initialise,
restore a resume file), :func:`_train_stage` (the steps, with validation and periodic
saves) and :func:`_finish_stage` (save the network).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core.checkpoints import ModelInfo, load_checkpoint, save_checkpoint
from fcnviewer.core.distributed import Context
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.preprocessing import Preprocessing
from fcnviewer.core.training.batch_norm import attach_batch_norm, folded, has_batch_norm
from fcnviewer.core.training.batches import (
    BatchStream,
    apply_augmentations,
    batch_loader,
    draw_augmentations,
    to_batch,
)
from fcnviewer.core.training.config import SCHEDULES, TrainConfig, autocast_dtype, class_weight_tensor
from fcnviewer.core.training.evaluation import evaluate
from fcnviewer.core.training.initialisation import init_from_scratch, set_dropout, transfer_weights
from fcnviewer.core.training.meter import Meter
from fcnviewer.core.training.records import StageResult, hardware_description, pick_device, stages_behind
from fcnviewer.core.training.step import learning_rate, make_optimizer, train_step


@dataclass
class _Run:
    """What every stage of a run shares."""

    config: TrainConfig
    val_set: Any | None
    preprocessing: Preprocessing
    device: torch.device
    out: Path
    schedule: tuple[str, ...]
    stream: BatchStream
    dtype: torch.dtype
    weights: Tensor | None
    hardware: str
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, ...], ...]
    #: A few training images: LSUV initialisation and batch-norm calibration look at their activations.
    sample: Tensor
    log: Callable[[str], None]
    progress: bool
    context: Context


@dataclass
class _StageRun:
    """The state of one stage being trained (what a checkpoint or a resume file needs)."""

    arch: str
    spec: ArchSpec
    model: nn.Module
    optimizer: torch.optim.Optimizer
    out: Path
    #: What the steps run: ``model``, or its ``DistributedDataParallel`` wrapper.
    trainee: nn.Module
    history: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    start: int = 0
    elapsed_before: float = 0.0
    started: float = 0.0

    def seconds(self) -> float:
        """Training time of this stage so far, earlier runs of it (before a resume) included."""
        return self.elapsed_before + time.perf_counter() - self.started

    def save_state(self, step: int, rng_states: list[Tensor]) -> None:
        """Write ``<out>/<arch>-state.pth``, what ``--resume`` continues from (atomically), with
        every process's torch random state (``rng_states``, in rank order)."""
        state = {
            "arch": self.arch,
            "step": step,
            "seconds": self.seconds(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": rng_states[0],
            "history": self.history,
        }
        if len(rng_states) > 1:
            state["torch_rng_ranks"] = rng_states
        tmp = self.out / f"{self.arch}-state.pth.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.out / f"{self.arch}-state.pth")


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
    context: Context | None = None,
) -> list[StageResult]:
    """Run the stages of ``config.arch``; save each stage's final network as ``<out>/<arch>.safetensors``.

    Training state (weights, optimiser, step) is saved every ``save_every`` steps as
    ``<out>/<arch>-state.pth``; ``config.resume`` names such a file to continue from.

    With a distributed ``context`` (``torchrun``) every process runs this with the same
    settings: the network is wrapped in ``DistributedDataParallel``, each process takes its
    :meth:`~fcnviewer.core.distributed.Context.shard` of every batch of ``config.batch`` (the
    batch of the whole step), and rank 0 alone logs, shows progress and writes files.
    """
    context = context or Context()
    if config.batch % context.world_size:
        raise ValueError(
            f"--batch {config.batch} does not split evenly over {context.world_size} processes; "
            f"make it a multiple of {context.world_size}"
        )
    device = pick_device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed + context.rank)  # own dropout draws; DDP gives every process rank 0's weights
    out = Path(config.out)
    if context.is_main:
        out.mkdir(parents=True, exist_ok=True)
    schedule = SCHEDULES[config.arch]
    resume = None if config.resume is None else torch.load(config.resume, map_location="cpu", weights_only=True)
    first_stage = 0 if resume is None else schedule.index(str(resume["arch"]))
    results, previous, lineage = _starting_point(config, schedule[:first_stage], out)
    run = _Run(
        config=config, val_set=val_set, preprocessing=preprocessing, device=device, out=out, schedule=schedule,
        stream=BatchStream(train_set, config.batch, config.seed, context.shard(range(config.batch))),
        dtype=autocast_dtype(config.precision),
        weights=class_weight_tensor(config, device),
        hardware=hardware_description(device),
        class_names=tuple(class_names),
        palette=tuple(tuple(int(v) for v in c) for c in palette),
        sample=to_batch([train_set[i] for i in range(min(8, len(train_set)))], preprocessing, "cpu")[0],
        log=log if context.is_main else _silent, progress=progress and context.is_main, context=context,
    )  # fmt: skip
    for index in range(first_stage, len(schedule)):
        stage = _start_stage(run, index, previous, resume if index == first_stage else None)
        stage.meta = _metadata(run, lineage, results)
        results.append(_train_stage(run, stage, index))
        previous = stage.model.cpu()
    return results


def _starting_point(
    config: TrainConfig, finished: tuple[str, ...], out: Path
) -> tuple[list[StageResult], nn.Module | None, list[dict[str, Any]]]:
    """The ``finished`` stages of a resumed run, the network the next stage starts from (their
    last, or ``config.init``'s), and the stages behind that network's weights before this run."""
    results: list[StageResult] = []
    previous: nn.Module | None = None
    lineage: list[dict[str, Any]] = []
    if finished:
        for done_arch in finished:
            done = load_checkpoint(out / f"{done_arch}.safetensors")
            steps, seconds = int(done.info.training.get("steps", 0)), float(done.info.training.get("seconds", 0.0))
            results.append(StageResult(done_arch, out / f"{done_arch}.safetensors", steps, seconds, None))
            if previous is None:  # the run's first stage lists what its --init weights came from
                lineage = list(done.info.training.get("previous_stages", []))
            previous = done.model
    elif config.init is not None:
        init = load_checkpoint(config.init)
        previous, lineage = init.model, stages_behind(init.info.training)
    return results, previous, lineage


def _start_stage(run: _Run, index: int, previous: nn.Module | None, resume: dict[str, Any] | None) -> _StageRun:
    """Stage ``index`` built, initialised (from ``previous`` or from scratch), and restored from ``resume``."""
    arch = run.schedule[index]
    spec = ArchSpec(arch, run.config.num_classes, run.config.width)
    model = _initial_model(run, spec, previous)
    optimizer = make_optimizer(model, run.config)  # fixes which weights learn, before DDP looks
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
    stage = _StageRun(arch, spec, model, optimizer, run.out, _data_parallel(model, run.context))
    if resume is not None:
        stage.start = int(resume["step"])
        stage.elapsed_before = float(resume.get("seconds", 0.0))
        stage.history = list(resume.get("history", []))
        rng_states = resume.get("torch_rng_ranks") or [resume["torch_rng"]]
        if run.context.rank < len(rng_states):  # else (more processes than saved) its fresh seed goes on
            torch.set_rng_state(rng_states[run.context.rank])
        run.log(f"[{arch}] resumed at step {stage.start}")
    return stage


def _data_parallel(model: nn.Module, context: Context) -> nn.Module:
    """``model`` wrapped in ``DistributedDataParallel`` (which copies rank 0's weights to every
    process and averages the gradients), or ``model`` itself in one process."""
    if not context.is_distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)


def _initial_model(run: _Run, spec: ArchSpec, previous: nn.Module | None) -> nn.Module:
    """A new ``spec`` network with ``previous``'s shared weights (or from scratch), in training mode."""
    config = run.config
    model = build_model(spec)
    if config.batch_norm and previous is not None and has_batch_norm(previous):
        attach_batch_norm(model)  # the previous stage's batch norms are copied too
    if previous is None:
        init_from_scratch(model, run.sample)
        run.log(f"[{spec.arch}] from scratch (orthogonal + LSUV-initialised backbone)")
    else:
        copied = transfer_weights(previous, model)
        run.log(
            f"[{spec.arch}] initialised from {getattr(previous, 'arch', 'checkpoint')}: {len(copied)} tensors copied"
        )
    if config.batch_norm and not has_batch_norm(model):
        attach_batch_norm(model, run.sample)
    set_dropout(model, config.dropout)
    return model.to(run.device).train()


def _metadata(run: _Run, lineage: list[dict[str, Any]], results: list[StageResult]) -> dict[str, Any]:
    """The training metadata every checkpoint of a stage carries (its own step count and time aside)."""
    config = run.config
    return {
        "command": config.command,
        "schedule": list(run.schedule),
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
        "hardware": run.hardware,
        "device": str(run.device),
        "torch": torch.__version__,
        **({"processes": run.context.world_size} if run.context.is_distributed else {}),
        **config.extra,
    }


def _model_info(run: _Run, stage: _StageRun, step: int) -> ModelInfo:
    """The metadata saved with ``stage``'s network at ``step``."""
    training = {**stage.meta, "stage": stage.arch, "steps": step, "seconds": round(stage.seconds(), 1)}
    training["history"] = stage.history
    return ModelInfo(stage.spec, run.class_names, run.palette, run.preprocessing, training)  # type: ignore[arg-type]


def _train_stage(run: _Run, stage: _StageRun, index: int) -> StageResult:
    """The steps of stage ``index`` from ``stage.start`` on, validating and saving on the way."""
    config = run.config
    total = config.stage_steps(index)
    rng = np.random.Generator(np.random.PCG64([config.seed, index, stage.start]))
    batches = batch_loader(run.stream, stage.start + index * 1_000_000, run.preprocessing, config.workers)
    stage.started = time.perf_counter()
    meter = Meter(stage.arch, stage.history, stage.start, total, run.log, run.progress)
    val: dict[str, Any] | None = None
    for step in range(stage.start, total):
        value, lr, images = _step(run, stage, step, total, batches, rng)
        done = step + 1
        meter.record(value, images, lr, done)
        if run.val_set is not None and config.val_every and (done % config.val_every == 0 or done == total):
            val = _validate(run, stage, done, meter.loss)
        if config.save_every and done % config.save_every == 0 and done < total:
            _save(run, stage, done)
    meter.close()
    return _finish_stage(run, stage, total, val)


def _step(
    run: _Run,
    stage: _StageRun,
    step: int,
    total: int,
    batches: Iterator[tuple[Tensor, Tensor]],
    rng: np.random.Generator,
) -> tuple[float, float, int]:
    """Optimiser step ``step`` of ``total`` on the next batch, augmented; the loss, the rate, the batch size."""
    config = run.config
    lr = learning_rate(config, step, total)
    for group in stage.optimizer.param_groups:
        group["lr"] = lr
    x, y = _augmented(run, *next(batches), rng)
    value = train_step(
        stage.trainee, stage.optimizer, x, y, weights=run.weights, dtype=run.dtype, clip=config.clip,
        lovasz=config.lovasz, context=run.context,
    )  # fmt: skip
    if not math.isfinite(value):
        raise FloatingPointError(f"[{stage.arch}] the loss became {value} at step {step}; lower --lr")
    return value, lr, config.batch


def _augmented(run: _Run, x: Tensor, y: Tensor, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    """This process's share of a batch on the device, augmented as one process augments the whole
    batch: the random draws are made for every image of it, and those of the share applied."""
    height, width = x.shape[-2:]
    out = (height, width) if run.config.crop is None else (run.config.crop, run.config.crop)
    plans = draw_augmentations(rng, run.config.batch, height, width, out, run.config.scale)
    return apply_augmentations(x.to(run.device), y.to(run.device), [plans[k] for k in run.stream.share], out)


def _validate(run: _Run, stage: _StageRun, done: int, loss: float) -> dict[str, Any]:
    """Scores of the network's output on the validation set after ``done`` steps; logged and recorded."""
    exported = _exported(stage.model)
    val = evaluate(
        exported, run.val_set, run.preprocessing, run.device, num_classes=run.config.num_classes, stages=False,
        context=run.context,
    )  # fmt: skip
    scores: dict[str, Any] = val["final"]
    stage.history.append({"step": done, "val_mean_iu": round(scores["mean_iu"], 4)})
    run.log(
        f"[{stage.arch}] step {done}: loss {loss:.4f}, "
        f"val pixel acc {scores['pixel_acc']:.4f}, mean IU {scores['mean_iu']:.4f}"
    )
    stage.model.train()
    return scores


def _finish_stage(run: _Run, stage: _StageRun, total: int, val: dict[str, Any] | None) -> StageResult:
    """Save the trained network (and a final resume state); the stage's result."""
    stage.model.eval()
    seconds = stage.seconds()
    path = _save(run, stage, total)
    run.log(f"[{stage.arch}] done: {total} steps in {seconds:.0f} s -> {path}")
    return StageResult(stage.arch, path, total, seconds, val)


def _save(run: _Run, stage: _StageRun, step: int) -> Path:
    """Save ``stage``'s network and its resume state at ``step`` (rank 0 writes; every process
    gives its random state); the network's path."""
    rng_states = run.context.gather(torch.get_rng_state())
    path = run.out / f"{stage.arch}.safetensors"
    if run.context.is_main:
        stage.save_state(step, rng_states)
        save_checkpoint(path, _exported(stage.model), _model_info(run, stage, step))
    return path


def _silent(_: str) -> None:
    """The log of the processes other than rank 0."""


def _exported(model: nn.Module) -> nn.Module:
    """``model`` as it is saved and evaluated: batch norms folded into the convolutions."""
    return folded(model) if has_batch_norm(model) else model
