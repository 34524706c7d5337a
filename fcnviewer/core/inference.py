"""Running a segmentation network on an image: the :class:`Predictor` and its :class:`Prediction`.

The predictor owns the device, precision and tiling; it returns a frozen
:class:`~fcnviewer.core.prediction.Prediction` of numpy arrays, so that callers (a notebook, the
CLI, the viewer's worker thread) never touch tensors; only the full-size scores wait on the
device until read.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from fcnviewer.core import postprocess, probing, transfer
from fcnviewer.core.alignment import StageGeometry
from fcnviewer.core.checkpoints import LoadedModel
from fcnviewer.core.devices import PRECISIONS, default_dtype, resolve_device
from fcnviewer.core.images import DEFAULT_MAX_PIXELS, ImageError
from fcnviewer.core.prediction import Prediction, StageMap
from fcnviewer.core.receptive import layer_table, sees_whole_image, stage_geometry, stage_map_shapes

#: Tile origins are multiples of this (the coarsest stride), so each tile's grid matches the image's.
TILE_ALIGN = 32
#: Activation memory one tile may take, by default.
DEFAULT_TILE_BUDGET = 2 * 1024**3

ProgressCallback = Callable[[int, int], None]


class Predictor:
    """Runs a loaded network on images: device, precision, channels-last, tiling, limits.

    ``device`` is ``auto`` (CUDA, then MPS, then CPU) or a torch device name; ``precision``
    ``auto`` (:func:`~fcnviewer.core.devices.default_dtype`: float16 on GPUs, bfloat16 on CPUs
    that compute it natively, else float32), ``float32``, ``bfloat16`` or ``float16`` (GPUs
    only): the forward pass runs on a copy of the network in that precision, while ``model``
    stays float32 for gradients (effective receptive fields). Outputs are float32 whatever
    the precision. Images larger than one tile (``tile_side`` pixels square, by default sized
    from ``tile_budget`` bytes of activations) run in tiles whose overlap covers the output's
    receptive field, so that the seams do not show.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        device: str = "auto",
        precision: str = "auto",
        tile_budget: int = DEFAULT_TILE_BUDGET,
        tile_side: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.loaded = loaded
        self.info = loaded.info
        self.max_pixels = max_pixels
        self.tile_budget = tile_budget
        self._tile_side = tile_side
        self.model = loaded.model.eval()
        self.geometry = stage_geometry(self.model)
        self.overlap = _tile_overlap(self.model)
        self.sees_whole_image = sees_whole_image(self.model)
        self._place(resolve_device(device), precision)

    def _place(self, device: torch.device, precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        dtype = default_dtype(device) if precision == "auto" else getattr(torch, precision)
        if device.type == "cpu" and dtype == torch.float16:
            raise ValueError("float16 (half precision) is for GPUs; use bfloat16 or float32 on the CPU")
        self.device, self.dtype = device, dtype
        # ``model`` stays float32: gradients (effective receptive fields) and other analyses run on it.
        self.model.to(device=device, memory_format=torch.channels_last)
        if dtype != torch.float32:
            self._net = copy.deepcopy(self.model).to(dtype=dtype)
        elif device.type == "cpu":
            self._net = cpu_fast_path(self.model)
        else:
            self._net = self.model
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True

    @property
    def tile_side(self) -> int:
        """Side of the largest square the network runs at once (from the activation budget by default)."""
        if self._tile_side is not None:
            return max(self._tile_side, 2 * self.overlap + TILE_ALIGN)
        first = next(m for m in self.model.modules() if isinstance(m, torch.nn.Conv2d))
        bytes_per_pixel = 3 * first.out_channels * torch.finfo(self.dtype).bits // 8
        return max(2 * self.overlap + TILE_ALIGN, int(math.sqrt(self.tile_budget / bytes_per_pixel)))

    def predict(self, image: np.ndarray, progress: ProgressCallback | None = None) -> Prediction:
        """Run the network on an ``(H, W, 3)`` uint8 RGB image."""
        height, width = image.shape[:2]
        if height * width > self.max_pixels:
            raise ImageError(
                f"{width}x{height} is {height * width / 1e6:.1f} megapixels, over the limit of "
                f"{self.max_pixels / 1e6:g} megapixels (raise it with --max-pixels)"
            )
        start = time.perf_counter()
        notes: list[str] = []
        try:
            outputs, tiles = self._run(image, self.tile_side, progress)
        except torch.OutOfMemoryError:
            if self.device.type == "cpu":
                raise
            torch.cuda.empty_cache()
            try:
                outputs, tiles = self._run(image, max(self.tile_side // 2, 2 * self.overlap + TILE_ALIGN), progress)
                notes.append(f"out of memory on {self.device}: ran in smaller tiles")
            except torch.OutOfMemoryError:
                torch.cuda.empty_cache()
                notes.append(f"out of memory on {self.device}, in smaller tiles too: fell back to the CPU")
                self._place(torch.device("cpu"))
                outputs, tiles = self._run(image, self.tile_side, progress)
        if tiles > 1 and self.sees_whole_image:
            notes.append(f"ran in {tiles} tiles: its global pooling saw each tile, not the whole image")
        prediction = self._finish(outputs, height, width, tiles, tuple(notes))
        return dataclasses.replace(prediction, seconds=time.perf_counter() - start)

    #: ``probe(image, y, x, *, class_index=None, between=None, boxes=None)``: effective receptive fields and branch
    #: contributions of one pixel (:func:`fcnviewer.core.probing.probe`, the predictor its first argument).
    probe = probing.probe

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """The network on a preprocessed batch, in inference mode, on the predictor's device.

        Activations are channels-last (oneDNN and cuDNN are faster so), the outputs plain
        contiguous float32; on the CPU this runs :func:`cpu_fast_path`'s view of the network
        (same weights, same outputs within float tolerance). A model with an ``output_stage``
        runs its ``stage_maps`` (no full-size ``"out"``).
        """
        with torch.inference_mode():
            x = x.to(device=self.device, dtype=self.dtype).contiguous(memory_format=torch.channels_last)
            # Plain-strided float32 out: channels-last maps would make every later matmul and argmax slow.
            run = self._net.stage_maps if getattr(self.model, "output_stage", None) else self._net
            return {k: v.float().contiguous() for k, v in run(x).items()}

    def _run(self, image: np.ndarray, side: int, progress: ProgressCallback | None) -> tuple[dict[str, Tensor], int]:
        """The whole image when it fits ``side`` x ``side``, else tiles of at most that side."""
        height, width = image.shape[:2]
        if height <= side and width <= side:
            return self._whole(image), 1
        rows, cols = self._spans(height, side), self._spans(width, side)
        shapes = {"out": (height, width), **stage_map_shapes(self.model, (height, width))}
        out: dict[str, Tensor] = {}
        for done, (row, col) in enumerate(((r, c) for r in rows for c in cols), start=1):
            result = self._whole(image[row.start : row.stop, col.start : col.stop])
            for name, tile in result.items():
                if name not in out:
                    out[name] = tile.new_zeros((*tile.shape[:2], *shapes[name]))
                self._paste(out[name], tile, self.geometry.get(name, StageGeometry(1, 0)), row, col)
            if progress is not None:
                progress(done, len(rows) * len(cols))
        return out, len(rows) * len(cols)

    def _whole(self, image: np.ndarray) -> dict[str, Tensor]:
        return self.forward(self.info.preprocessing.to_tensor(image, self.device, self.dtype))

    def _spans(self, size: int, side: int) -> list[_Span]:
        """Tiles along one axis: cores of whole strides covering ``size``, each with its context."""
        if size <= side:
            return [_Span(0, size, 0, size, size)]
        core = max(TILE_ALIGN, side - 2 * self.overlap)
        core -= core % TILE_ALIGN
        return [
            _Span(max(0, c0 - self.overlap), min(size, c0 + core + self.overlap), c0, min(size, c0 + core), size)
            for c0 in range(0, size, core)
        ]

    @staticmethod
    def _paste(full: Tensor, tile: Tensor, geometry: StageGeometry, row: _Span, col: _Span) -> None:
        """Copy into ``full`` the units of ``tile`` whose centres lie in the tile's core."""
        (y0, y1), (x0, x1) = (span.units(geometry, n) for span, n in zip((row, col), full.shape[2:], strict=True))
        shift_y, shift_x = row.start // int(geometry.stride), col.start // int(geometry.stride)
        full[:, :, y0:y1, x0:x1] = tile[:, :, y0 - shift_y : y1 - shift_y, x0 - shift_x : x1 - shift_x]

    def _finish(
        self, outputs: dict[str, Tensor], height: int, width: int, tiles: int, notes: tuple[str, ...]
    ) -> Prediction:
        """Labels, confidence and image-aligned stage labels (:func:`~fcnviewer.core.postprocess.finish`),
        computed where the network ran and copied to the host together (:func:`~fcnviewer.core.transfer.to_host`);
        the full-size scores stay on the device until read."""
        output_stage = getattr(self.model, "output_stage", None)
        labels, confidence, stage_labels = postprocess.finish(
            outputs, self.geometry, self.model.stage_names, output_stage, height, width
        )
        names = self.model.stage_names
        host = transfer.to_host(
            {"labels": labels, "confidence": confidence}
            | {f"labels {name}": stage_labels[name] for name in names}
            | {f"scores {name}": outputs[name][0] for name in names}
        )
        stages = {
            name: StageMap(name, host[f"scores {name}"], self.geometry[name], host[f"labels {name}"]) for name in names
        }
        scores = outputs["out"][0] if output_stage is None else None
        return Prediction(
            scores, host["labels"], host["confidence"], stages, str(self.device), 0.0, tiles, notes, output_stage
        )


@dataclass(frozen=True)
class _Span:
    """One tile along one axis: it reads pixels ``start:stop`` and keeps ``core_start:core_stop``."""

    start: int
    stop: int
    core_start: int
    core_stop: int
    size: int = 0

    def units(self, geometry: StageGeometry, n: int) -> tuple[int, int]:
        """Units of an ``n``-unit map whose centres lie in the core (to the map's ends at the image's ends)."""
        lo = 0 if self.core_start == 0 else math.ceil((self.core_start - geometry.offset) / geometry.stride)
        hi = n if self.core_stop >= self.size else math.ceil((self.core_stop - geometry.offset) / geometry.stride)
        return max(0, min(lo, n)), max(0, min(hi, n))


def _tile_overlap(model: torch.nn.Module) -> int:
    """Context each tile needs around its core: half the output's receptive field, plus a margin, in whole strides."""
    size = max(row.size for row in layer_table(model))
    return int(math.ceil((size / 2 + TILE_ALIGN) / TILE_ALIGN) * TILE_ALIGN)


#: Set to ``0`` to run the plain network on the CPU too (for comparisons).
FAST_CPU_ENV = "FCNVIEWER_FAST_CPU"


def cpu_fast_path(model: nn.Module) -> nn.Module:
    """A view of ``model`` for CPU inference that shares its weights (no copy) but runs faster.

    Convolutions with large kernels (FCN-VGG's 7x7 ``fc6``, a sixth of the network's work)
    run through NNPACK's FFT kernels, about 30 % faster than oneDNN's direct convolution at
    the same accuracy (about 1e-6 relative); their weights are made NCHW-contiguous, which
    NNPACK needs (the other layers' weights keep their memory format). 3x3 convolutions stay
    with oneDNN: NNPACK would run them by Winograd, 2-3x faster but with errors near 1e-5
    relative per layer, which compound and show at tile seams. The returned module is a
    shallow copy of ``model`` whose swapped layers wrap the originals, so it follows any
    later ``.to()`` or weight update of ``model``; ``model`` computes as before. Returns
    ``model`` when nothing applies, NNPACK is unavailable, or the environment variable
    ``FCNVIEWER_FAST_CPU`` is ``0``. For inference.
    """
    if os.environ.get(FAST_CPU_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return model
    try:
        if not torch._nnpack_available():  # also initialises NNPACK, which its kernels need
            return model
    except (AttributeError, RuntimeError):
        return model
    swaps = {
        name: _NNPACKConv2d(module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d) and _NNPACKConv2d.supports(module)
    }
    return _with_modules(model, swaps) if swaps else model


def _with_modules(root: nn.Module, swaps: dict[str, nn.Module]) -> nn.Module:
    """A shallow copy of ``root`` with the submodules named in ``swaps`` replaced (parents copied too)."""
    clone = copy.copy(root)
    clone._modules = dict(root._modules)
    children: dict[str, dict[str, nn.Module]] = {}
    for name, module in swaps.items():
        head, _, rest = name.partition(".")
        if rest:
            children.setdefault(head, {})[rest] = module
        else:
            clone._modules[head] = module
    for head, sub in children.items():
        clone._modules[head] = _with_modules(root._modules[head], sub)  # type: ignore[arg-type]
    return clone


class _NNPACKConv2d(nn.Module):
    """An ``nn.Conv2d`` run by NNPACK's FFT convolution (the module itself if NNPACK refuses)."""

    #: Smallest kernel side sent to NNPACK: below, it is no faster (and 3x3 would be Winograd).
    MIN_KERNEL = 5
    #: Channels below which oneDNN is as fast.
    MIN_CHANNELS = 16

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv
        self.failed = False
        if not conv.weight.is_contiguous():
            with torch.no_grad():
                conv.weight.data = conv.weight.data.contiguous()

    @classmethod
    def supports(cls, conv: nn.Conv2d) -> bool:
        kh, kw = conv.kernel_size
        ph, pw = conv.padding if isinstance(conv.padding, tuple) else (-1, -1)  # "same"/"valid": no
        return (
            conv.groups == 1
            and conv.stride == (1, 1)
            and conv.dilation == (1, 1)
            and conv.padding_mode == "zeros"
            and min(kh, kw) >= cls.MIN_KERNEL
            and max(kh, kw) <= 16
            and 0 <= ph < kh
            and 0 <= pw < kw
            and min(conv.in_channels, conv.out_channels) >= cls.MIN_CHANNELS
        )

    def forward(self, x: Tensor) -> Tensor:
        conv = self.conv
        if (
            not self.failed
            and x.device.type == "cpu"
            and x.dtype == conv.weight.dtype == torch.float32
            and not (torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad))
        ):
            try:
                return torch._nnpack_spatial_convolution(
                    x.contiguous(), conv.weight, conv.bias, list(conv.padding), [1, 1]
                )
            except RuntimeError:
                self.failed = True
        return conv(x)
