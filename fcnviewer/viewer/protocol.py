"""The worker's protocol: frozen requests numbered on the GUI thread, and the results that carry
them back.

A :class:`Requests` factory stamps each request with an id and the generation counters (open,
image, model, probe) current when it was made; a result whose request belongs to an image, model
or click no longer shown is stale and the GUI drops it. A new kind of job: its request and result
types here, and one handler in ``fcnviewer.qt.worker``'s registry. Errors travel as the exception
objects themselves; :func:`error_message` words them for the user.
"""

from __future__ import annotations

import itertools
import os
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from fcnviewer.core.errors import UserError
from fcnviewer.viewer.erf_readout import ErfReadout
from fcnviewer.viewer.layers import ImageLayer

if TYPE_CHECKING:
    from fcnviewer.core.alignment import StageGeometry
    from fcnviewer.core.checkpoints import LoadedModel
    from fcnviewer.core.layer_probing import LayerProbe
    from fcnviewer.core.prediction import Prediction
    from fcnviewer.core.probing import Probe
    from fcnviewer.viewer.viewer_model import ViewerModel

#: The generations a request is stamped with.
GENERATIONS = ("open", "image", "model", "probe")


def _no_image() -> np.ndarray:
    return np.zeros((1, 1, 3), np.uint8)


@dataclass(frozen=True, eq=False)
class Request:
    """A job for the worker; the generations say which image/model/click it belongs to."""

    request_id: int
    open_generation: int
    image_generation: int
    model_generation: int
    probe_generation: int
    #: Which generations must still be current for the result to be used.
    depends_on: ClassVar[tuple[str, ...]] = ()
    #: The status bar's words for the job's progress (``done`` of ``total`` steps).
    progress_text: ClassVar[str] = "running tile {done} of {total}…"


@dataclass(frozen=True, eq=False)
class LoadModelRequest(Request):
    """Load a checkpoint file or a pretrained model's name (downloaded first; ``None``: the
    bundled default) onto ``device``; setting ``cancel`` stops its download."""

    path: str | None = None
    arch: str | None = None
    device: str = "auto"
    cancel: threading.Event = field(default_factory=threading.Event)
    depends_on: ClassVar[tuple[str, ...]] = ("model",)


@dataclass(frozen=True, eq=False)
class OpenImageRequest(Request):
    """Read image ``index`` of ``images``; ``step`` (+1/-1) when stepping through them, from ``origin``."""

    images: tuple[Path, ...] = ()
    index: int = 0
    step: int = 0
    origin: int = 0
    depends_on: ClassVar[tuple[str, ...]] = ("open",)

    @property
    def path(self) -> Path:
        """The file to read."""
        return self.images[self.index]


@dataclass(frozen=True, eq=False)
class PredictRequest(Request):
    """Run the network on ``image``; with ``styles`` (``ViewerModel.styles()``), colour its layers too,
    the classes named ``class_names`` (default: the model's)."""

    image: np.ndarray = field(default_factory=_no_image)
    styles: Mapping[str, tuple[Any, ...]] | None = None
    class_names: tuple[str, ...] = ()
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model")


@dataclass(frozen=True)
class ErfOptions:
    """How effective receptive fields are averaged: over SmoothGrad's ``copies`` noisy copies of
    the image (noise of ``noise`` pixel values, drawn from ``seed``), and over the image files
    ``images`` besides the shown image (those of another size are skipped)."""

    copies: int = 1
    noise: float = 0.0
    seed: int = 0
    images: tuple[Path, ...] = ()


@dataclass(frozen=True, eq=False)
class ProbeRequest(Request):
    """Effective receptive fields (every stage) and branch contributions at pixel ``(y, x)``."""

    image: np.ndarray = field(default_factory=_no_image)
    y: int = 0
    x: int = 0
    class_index: int | None = None
    #: The pixel's theoretical boxes ``(x0, y0, x1, y1)``, as drawn (they decide the window computed on).
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    #: The stage of each box (their share of the ERF is reported), and how the fields are averaged.
    stages: tuple[str, ...] = ()
    erf: ErfOptions = ErfOptions()
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model", "probe")
    progress_text: ClassVar[str] = "effective receptive field: pass {done} of {total}…"


@dataclass(frozen=True, eq=False)
class RegionProbeRequest(Request):
    """Effective receptive fields, every stage, of class ``class_index``'s score summed over the
    inclusive image ``region`` ``(x0, y0, x1, y1)``; ``boxes``: its theoretical box by stage."""

    image: np.ndarray = field(default_factory=_no_image)
    region: tuple[int, int, int, int] = (0, 0, 0, 0)
    class_index: int = 0
    boxes: Mapping[str, tuple[int, int, int, int]] = field(default_factory=dict)
    erf: ErfOptions = ErfOptions()
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model", "probe")
    progress_text: ClassVar[str] = "effective receptive field of the region: pass {done} of {total}…"


@dataclass(frozen=True, eq=False)
class StitchRequest(Request):
    """Stage ``stage``'s map made ``factor`` times denser by shift-and-stitch (``factor`` squared forwards)."""

    image: np.ndarray = field(default_factory=_no_image)
    stage: str = ""
    factor: int = 2
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model")
    progress_text: ClassVar[str] = "shift-and-stitch: forward pass {done} of {total}…"


@dataclass(frozen=True, eq=False)
class LayerProbeRequest(Request):
    """The ERF and exact box of ``layer``'s unit at pixel ``(y, x)`` (``shows`` ``"layer"``), or of
    every skip path's share of ``class_index``'s final logit there (``shows`` ``"paths"``)."""

    #: What ``shows`` may be: one layer's unit, or every skip path.
    LAYER: ClassVar[str] = "layer"
    PATHS: ClassVar[str] = "paths"

    image: np.ndarray = field(default_factory=_no_image)
    y: int = 0
    x: int = 0
    layer: str = ""
    shows: str = "layer"
    class_index: int = 0
    #: The boxes ``(x0, y0, x1, y1)`` as drawn (they decide the window computed on).
    boxes: tuple[tuple[int, int, int, int], ...] = ()
    #: The prediction's stage map sizes (for the paths of a network that resizes its output).
    stage_shapes: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: Not on the probe generation: it is made while the click draws its pin, before the click's own
    #: probe (the layer's ERF is what the user waits for); the layer view drops one of another pin.
    depends_on: ClassVar[tuple[str, ...]] = ("image", "model")


@dataclass(frozen=True, eq=False)
class ModelLoaded:
    """The loaded network, the device and precision it runs in."""

    request: LoadModelRequest
    loaded: LoadedModel
    device: str
    precision: str
    #: The devices this machine has (the others are greyed out in Model > Device).
    devices: tuple[str, ...] = ("auto", "cpu")


@dataclass(frozen=True, eq=False)
class ImageOpened:
    """The ``(H, W, 3)`` uint8 image read, and an ``ImageLayer`` holding it (coloured on the reader's thread)."""

    request: OpenImageRequest
    image: np.ndarray
    layer: ImageLayer


@dataclass(frozen=True, eq=False)
class Predicted:
    """The prediction of a request's image and, when the request had styles, a ``ViewerModel``
    showing it (its layers coloured on the worker, not on the GUI thread)."""

    request: PredictRequest
    prediction: Prediction
    prepared: ViewerModel | None = None


@dataclass(frozen=True, eq=False)
class Probed:
    """The effective receptive fields and branch contributions of a request's pixel, the fields'
    readouts by stage, and how many images they are averaged over."""

    request: ProbeRequest
    probe: Probe
    readouts: Mapping[str, ErfReadout] = field(default_factory=dict)
    images: int = 1


@dataclass(frozen=True, eq=False)
class RegionProbed(Probed):
    """The effective receptive fields of a request's region (no contributions), as :class:`Probed`."""

    request: RegionProbeRequest  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class Stitched:
    """A request's stage by shift-and-stitch: the ``(C, h, w)`` scores at the denser stride with
    their geometry, and the image-aligned ``(H, W)`` labels."""

    request: StitchRequest
    scores: np.ndarray
    geometry: StageGeometry
    labels: np.ndarray


@dataclass(frozen=True, eq=False)
class LayerProbed:
    """A layer's or the skip paths' ERFs and exact boxes at a request's pixel."""

    request: LayerProbeRequest
    probe: LayerProbe


R = TypeVar("R", bound=Request)


class Requests:
    """Numbers requests and keeps the generation counters (GUI thread only)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.generations = dict.fromkeys(GENERATIONS, 0)

    def advance(self, what: str) -> None:
        """A new image, model or probe is being shown: results for the old one are stale."""
        self.generations[what] += 1

    def make(self, kind: type[R], **kwargs: Any) -> R:
        """A ``kind`` request stamped with a fresh id and the current generations."""
        return kind(next(self._ids), *(self.generations[what] for what in GENERATIONS), **kwargs)

    def is_current(self, request: Request) -> bool:
        """Whether ``request`` still belongs to what is shown."""
        return all(getattr(request, f"{what}_generation") == self.generations[what] for what in request.depends_on)


def error_message(exc: BaseException) -> str:
    """One line for the user: a :class:`~fcnviewer.core.errors.UserError`'s own message; any
    other error (a bug) named by its type, with where it happened."""
    if isinstance(exc, UserError):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    place = f" (at {os.path.basename(where.filename)}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"
