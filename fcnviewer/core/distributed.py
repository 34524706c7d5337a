"""Running one command on several processes or machines, with PyTorch's own engine (``torchrun``).

``torchrun --nproc_per_node N -m fcnviewer COMMAND ...`` starts N copies of the command with
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set.
:func:`processes` reads them: with ``WORLD_SIZE`` > 1 it joins the process group (gloo for CPU
tensors, NCCL for CUDA tensors where there is a GPU), pins each process to the GPU of its local
rank, and leaves the group at the end. Otherwise it gives the one-process :class:`Context` and
touches nothing of ``torch.distributed``, so a plain run does exactly what it always did.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """Where this process stands among those running the command: its rank of ``world_size``."""

    rank: int = 0
    world_size: int = 1
    #: The rank among the processes on this machine (which GPU it takes).
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Whether this process prints, shows progress and writes the run's files (rank 0)."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        """Whether more than one process runs the command."""
        return self.world_size > 1

    def shard(self, items: Sequence[T]) -> list[T]:
        """This process's share of ``items``: every ``world_size``-th one from position ``rank`` on.

        Strided rather than contiguous: neighbours in a sorted list (a folder's files, a run of
        dataset indices) tend to be alike in size, so striding spreads the big ones over every
        process, and the shares differ in length by at most one. It is the order of
        ``DistributedSampler`` without its padding, which would count repeated images twice.
        """
        return list(items[self.rank :: self.world_size])

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """``tensor`` summed over every process, in place (unchanged in one process)."""
        if self.is_distributed:
            import torch.distributed as dist

            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def total(self, count: int) -> int:
        """``count`` summed over every process (a number of failures, of images)."""
        return int(self.all_reduce_sum(torch.tensor(count, dtype=torch.int64)))

    def gather(self, value: Any) -> list[Any]:
        """Every process's ``value`` (picklable), in rank order; ``[value]`` in one process."""
        if not self.is_distributed:
            return [value]
        import torch.distributed as dist

        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values


def context_from_environment(environ: Mapping[str, str] = os.environ) -> Context:
    """The :class:`Context` that ``torchrun``'s variables describe; one process without them."""
    try:
        rank, world_size = int(environ.get("RANK", "0")), int(environ.get("WORLD_SIZE", "1"))
        local_rank = int(environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ValueError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them); unset them for one process"
        ) from None
    if not 0 <= rank < world_size:
        raise ValueError(f"RANK {rank} is outside 0 .. WORLD_SIZE - 1 = {world_size - 1}")
    return Context(rank, world_size, local_rank)


def _backend() -> str:
    """gloo for CPU tensors, plus NCCL for CUDA tensors where a GPU is present."""
    import torch.distributed as dist

    if torch.cuda.is_available() and dist.is_nccl_available():
        return "cpu:gloo,cuda:nccl"
    return "gloo"


@contextmanager
def processes() -> Iterator[Context]:
    """The processes running this command: ``torchrun``'s (from the environment), joined for the
    ``with`` block and left at its end, or just this one (nothing distributed is set up)."""
    context = context_from_environment()
    if not context.is_distributed:
        yield context
        return
    import torch.distributed as dist

    if torch.cuda.is_available() and context.local_rank < torch.cuda.device_count():
        torch.cuda.set_device(context.local_rank)  # "cuda" then means this process's own GPU
    dist.init_process_group(backend=_backend())
    try:
        yield context
        # Leave together, and only after what still holds the process group (a
        # DistributedDataParallel wrapper and its reducer sit in reference cycles) is freed: a
        # process group torn down under them, or while the other process still talks, makes
        # gloo's background thread abort the process ("terminate called without an active
        # exception", seen now and then in 2-process training runs here).
        gc.collect()
        dist.barrier()
    finally:
        dist.destroy_process_group()
