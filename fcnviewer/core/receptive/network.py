"""Every layer of a network in the order a signal meets it, with where the crops arise.

:func:`network_table` extends :func:`~fcnviewer.core.receptive.layer_table` (the main chain and
one row per stream, as ``fcnviewer rf`` prints them, with the same numbers) with the layers off
the main chain (FCN's ``score_pool4``, ``upscore2`` ...), each crop as a row of its own that says
why its offset is what it is, and the skip paths of an output that is a sum of branches.

A crop ``Crop(k)`` of a stride-``s`` map moves the centre of its unit 0 by ``k * s`` pixels: FCN
crops by exactly the units that put unit 0 where the map it is added to has its unit 0 (5 and 9 on
the pool4 and pool3 paths), or, at the end, where output pixel ``i`` lies on image pixel ``i``
(19, 27 and 31 after FCN-32s', 16s' and 8s' last upsampling).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torch import nn

from fcnviewer.core.models.graph import Crop, Op, Stream
from fcnviewer.core.names import path_label
from fcnviewer.core.receptive.table import (
    LayerRF,
    _kspd,
    layer_table,
    main_chain,
    main_stream_name,
    named_streams,
    stream_rf,
)

#: What a row is: a module (``conv``, ``pool``, ``upsample``: a transposed convolution), a ``crop``,
#: a stream's ``map`` (a stage, a level, the output) or a skip ``path`` of the output's sum.
KINDS = ("conv", "pool", "upsample", "crop", "map", "path")


@dataclass(frozen=True)
class NetworkRow:
    """One row: the receptive field after ``layer`` (``size``, ``stride``, ``center0`` as in
    :class:`~fcnviewer.core.receptive.LayerRF`), its output ``channels``, the module's own
    ``padding`` (``None`` where it has none), its ``kind`` (one of :data:`KINDS`) and a ``note``
    (for a crop: why that offset)."""

    layer: str
    kind: str
    channels: int | None
    size: int
    stride: float
    center0: float
    padding: int | None = None
    whole_image: bool = False
    note: str = ""


def channels_of(stream: Stream, in_channels: int = 3) -> int:
    """Channels of ``stream``'s output: its last module's, else its branches' (a concatenation adds them)."""
    for op in reversed(stream.ops):
        if hasattr(op, "out_channels"):
            return int(op.out_channels)  # type: ignore[union-attr]
    if not stream.branches:
        return in_channels
    counts = [channels_of(branch, in_channels) for branch in stream.branches if not branch.is_global]
    return sum(counts) if stream.combine == "concat" else counts[0]


def ops_in_order(model: nn.Module, streams: dict[str, Stream]) -> Iterator[tuple[Op, Stream, Stream | None]]:
    """Each module and crop of ``streams`` (``model``'s, the main chain's first), once, in the order
    a signal meets it: the operation, the stream up to and including it, and for one inside a
    branch of a sum, another branch of that sum (what it is added to; ``None`` otherwise)."""
    main_name = main_stream_name(model)
    seen: set[int] = set()
    chain = main_chain(streams[main_name])
    for i, op in enumerate(chain):
        seen.add(id(op))
        yield op, Stream.chain(chain[: i + 1]), None
    for name, stream in streams.items():
        if name != main_name:
            yield from _new_ops(stream, seen, None)


def _new_ops(stream: Stream, seen: set[int], partner: Stream | None) -> Iterator[tuple[Op, Stream, Stream | None]]:
    summed = stream.combine == "sum" and len(stream.branches) > 1
    for j, branch in enumerate(stream.branches):
        yield from _new_ops(branch, seen, stream.branches[j - 1] if summed else partner)
    for i, op in enumerate(stream.ops):
        if id(op) not in seen and isinstance(op, nn.Module | Crop):
            seen.add(id(op))
            yield op, Stream(stream.branches, stream.ops[: i + 1], stream.combine), partner


def network_table(model: nn.Module) -> list[NetworkRow]:
    """Every module and crop in signal order, each stream's row after its last new layer, then the
    skip paths (where the output is a sum of branches). Rows of a layer or stream that
    :func:`~fcnviewer.core.receptive.layer_table` has carry its numbers."""
    names = {id(module): name for name, module in model.named_modules()}
    table = {row.layer: row for row in layer_table(model)}
    in_channels = getattr(model, "in_channels", 3)
    streams = named_streams(model)  # made once: a crop is found again by identity
    rows: list[NetworkRow] = []
    last_new: dict[str, int] = {}
    for op, upto, partner in ops_in_order(model, streams):
        try:
            size, stride, center0 = stream_rf(upto)
        except ValueError:
            continue  # after a global pooling alone: no local receptive field to tabulate
        channels = channels_of(upto, in_channels)
        if isinstance(op, Crop):
            note = crop_note(op, upto, partner)
            rows.append(NetworkRow(f"crop {op.offset}", "crop", channels, size, float(stride), center0, note=note))
        else:
            known = table.get(names[id(op)])
            if known is not None:
                size, stride, center0 = known.size, known.stride, known.center0
            whole, padding = upto.sees_whole_image, _kspd(op, 0)[2]
            rows.append(NetworkRow(names[id(op)], _kind(op), channels, size, float(stride), center0, padding, whole))
        for stream_name, stream in streams.items():
            if _contains(stream, op):
                last_new[stream_name] = len(rows)
    return _with_maps(model, streams, rows, last_new, table)


def _kind(module: nn.Module) -> str:
    """``upsample`` (a transposed convolution), ``conv`` or ``pool``."""
    if isinstance(module, nn.ConvTranspose2d):
        return "upsample"
    return "conv" if hasattr(module, "out_channels") else "pool"


def _contains(stream: Stream, op: Op) -> bool:
    return any(o is op for o in stream.ops) or any(_contains(branch, op) for branch in stream.branches)


def _with_maps(
    model: nn.Module,
    streams: dict[str, Stream],
    rows: list[NetworkRow],
    last_new: dict[str, int],
    table: dict[str, LayerRF],
) -> list[NetworkRow]:
    """``rows`` with each stream's row (but the main one's, whose last layer is its row) inserted
    after the last layer or crop it contains, then the skip paths."""
    from fcnviewer.core.receptive.paths import skip_paths

    in_channels = getattr(model, "in_channels", 3)
    inserts: dict[int, list[NetworkRow]] = {}
    for name, stream in streams.items():
        if name == main_stream_name(model) or name not in table:
            continue
        at = last_new.get(name, len(rows))
        row = table[name]
        channels = channels_of(stream, in_channels)
        inserts.setdefault(at, []).append(
            NetworkRow(name, "map", channels, row.size, row.stride, row.center0, None, row.whole_image)
        )
    out = []
    for i, row in enumerate([*rows, None]):
        out += inserts.get(i, [])
        if row is not None:
            out.append(row)
    try:
        paths = skip_paths(model)
    except ValueError:
        return out
    for path in paths:
        size, stride, center0 = stream_rf(path.stream)
        note = f"the share of the final logit that comes through {path_label(path.name)}"
        whole = path.stream.sees_whole_image
        row = NetworkRow(path.name, "path", channels_of(path.stream), size, float(stride), center0, None, whole, note)
        out.append(row)
    return out


def crop_note(crop: Crop, upto: Stream, partner: Stream | None) -> str:
    """Why ``crop`` (the last operation of ``upto``) drops the units it does."""
    before = Stream(upto.branches, upto.ops[:-1], upto.combine)
    _, stride, centre = stream_rf(before)
    _, _, after = stream_rf(upto)
    moved = (
        f"Crop {crop.offset}: drops the first {crop.offset} units (stride {float(stride):g} px), so the centre "
        f"of unit 0 moves from {centre:g} to {after:g} px = {centre:g} + {crop.offset} × {float(stride):g}"
    )
    if partner is not None:
        _, _, target = stream_rf(partner)
        return f"{moved}: onto the centre of unit 0 of the map it is added to ({target:g} px), unit by unit."
    if float(stride) == 1 and after == 0:
        return f"{moved}: output pixel 0 is centred on image pixel 0 (and pixel i on pixel i)."
    return f"{moved}."
