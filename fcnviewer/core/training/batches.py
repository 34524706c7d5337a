"""Training batches: from dataset items to network input, augmentation, and a resumable order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from fcnviewer.core.labels import IGNORE_INDEX
from fcnviewer.core.preprocessing import Preprocessing


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


@dataclass(frozen=True)
class Augmentation:
    """One image's random flips and rescaling, and where its window lands in the output."""

    flip_x: bool
    flip_y: bool
    #: The rescaled size.
    height: int
    width: int
    #: The window ``crop`` (height, width) taken at ``source`` (y, x) and put at ``target`` (y, x).
    crop: tuple[int, int]
    source: tuple[int, int]
    target: tuple[int, int]


def draw_augmentations(
    rng: np.random.Generator, count: int, height: int, width: int, out: tuple[int, int], scale: tuple[float, float]
) -> list[Augmentation]:
    """The augmentations of ``count`` ``height`` x ``width`` images cropped (or padded) to ``out``.

    Drawn apart from the images so that each process of a data-parallel run can draw those of
    the whole batch (the same numbers as one process) and apply only its own share.
    """
    plans = []
    for _ in range(count):
        flip_x, flip_y = rng.random() < 0.5, rng.random() < 0.5
        s = scale[0] + (scale[1] - scale[0]) * rng.random()
        h, w = max(8, round(height * s)), max(8, round(width * s))
        ch, cw = min(h, out[0]), min(w, out[1])
        sy, sx = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        oy, ox = int(rng.integers(0, out[0] - ch + 1)), int(rng.integers(0, out[1] - cw + 1))
        plans.append(Augmentation(flip_x, flip_y, h, w, (ch, cw), (sy, sx), (oy, ox)))
    return plans


def apply_augmentations(
    x: Tensor, labels: Tensor, plans: Sequence[Augmentation], out: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """``x`` (``(N, 3, H, W)``) and ``labels`` (``(N, H, W)``) augmented by ``plans`` (one per image)
    into ``out``-sized tensors, padded with 0 (input) and 255 (labels, ignored)."""
    n, _, height, width = x.shape
    out_x = x.new_zeros((n, x.shape[1], *out))
    out_y = labels.new_full((n, *out), IGNORE_INDEX)
    for i, plan in enumerate(plans):
        xi, yi = x[i : i + 1], labels[i : i + 1, None].float()
        if plan.flip_x:
            xi, yi = xi.flip(-1), yi.flip(-1)
        if plan.flip_y:
            xi, yi = xi.flip(-2), yi.flip(-2)
        if (plan.height, plan.width) != (height, width):
            xi = F.interpolate(xi, size=(plan.height, plan.width), mode="bilinear", align_corners=False)
            yi = F.interpolate(yi, size=(plan.height, plan.width), mode="nearest")
        (ch, cw), (sy, sx), (oy, ox) = plan.crop, plan.source, plan.target
        out_x[i, :, oy : oy + ch, ox : ox + cw] = xi[0, :, sy : sy + ch, sx : sx + cw]
        out_y[i, oy : oy + ch, ox : ox + cw] = yi[0, 0, sy : sy + ch, sx : sx + cw].long()
    return out_x, out_y


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
    out = (height, width) if size is None else (size, size)
    return apply_augmentations(x, labels, draw_augmentations(rng, n, height, width, out, scale), out)


class BatchStream:
    """Shuffled batches of a map-style dataset of ``(image, labels)`` pairs, addressed by step number.

    The order is a function of ``seed`` and the position, so a resumed run sees the same
    batches as an uninterrupted one. ``share`` (default: all) are the places in each batch
    that this process of a data-parallel run takes.
    """

    def __init__(self, dataset: Any, batch: int, seed: int, share: range | None = None) -> None:
        if len(dataset) == 0:
            raise ValueError("the training set is empty")
        self.dataset = dataset
        self.batch = batch
        self.seed = seed
        self.share = range(batch) if share is None else share

    def batch_at(self, step: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """The items of batch number ``step`` (this process's share of them)."""
        n = len(self.dataset)
        position = step * self.batch
        orders: dict[int, np.ndarray] = {}
        items = []
        for k in self.share:
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
