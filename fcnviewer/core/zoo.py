"""Fetching the pretrained catalogue's weights (:mod:`.catalogue`) on first use, and loading them.

A ``--checkpoint`` text is an existing file (it wins), else a catalogue name. A name's file goes
to torch.hub's cache: it is written to a ``.part`` file beside the target, checked against the
entry's hash, then renamed into place, so the cache never holds a partial or unverified file
(the part file is removed on any failure, cancel or interrupt). A cached file is used as is.
Torch is imported only to load. Nothing here runs at import or, in tests, beyond 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fcnviewer.core.catalogue import ZooEntry, catalogue
from fcnviewer.core.errors import UserError

if TYPE_CHECKING:
    from fcnviewer.core.checkpoints import LoadedModel

#: ``progress(bytes_done, bytes_total)``; total is 0 when the server does not say.
ProgressCallback = Callable[[int, int], None]
#: Polled between blocks; True stops the download.
CancelCheck = Callable[[], bool]

#: Block size: about 135 progress calls for the 135 MB FCN-ResNet50.
CHUNK = 1 << 20
#: Seconds without an answer before a download is given up.
TIMEOUT = 30
#: Suffixes that make a ``--checkpoint`` text a file path rather than a catalogue name.
FILE_SUFFIXES = (".pth", ".pt", ".safetensors", ".pkl", ".bin", ".ckpt")


class DownloadError(UserError, OSError):
    """A download that failed, was refused by its hash, or was cancelled; names the URL."""


class DownloadCancelled(DownloadError):
    """The user stopped a download."""


class UnknownModel(UserError, ValueError):
    """A ``--checkpoint`` text that is neither a file nor a catalogue name."""


def find_entry(text: str) -> ZooEntry | None:
    """The catalogue entry ``text`` names, or None when it is meant as a file (an existing path
    always is; so is a missing one with a checkpoint suffix or a directory part, for the loader
    to report). Anything else raises :class:`UnknownModel` with the closest names."""
    if Path(text).exists():
        return None
    entry = catalogue().get(text)
    if entry is not None:
        return entry
    if os.sep in text or "/" in text or text.lower().endswith(FILE_SUFFIXES):
        return None
    close = difflib.get_close_matches(text, list(catalogue()), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UnknownModel(
        f"{text}: neither a checkpoint file nor a pretrained model's name; {hint}"
        "`fcnviewer models` lists the pretrained models"
    )


def resolve_checkpoint(
    text: str, *, progress: ProgressCallback | None = None, cancelled: CancelCheck | None = None
) -> Path:
    """The file ``text`` means: itself, or a catalogue entry's cached file (fetched first if needed)."""
    entry = find_entry(text)
    return Path(text) if entry is None else fetch(entry, progress=progress, cancelled=cancelled)


def load_model(
    text: str | None,
    *,
    arch: str | None = None,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
) -> LoadedModel:
    """Load a checkpoint file, a catalogue model (fetched first if needed; its ``info.training``
    then carries the entry's domain) or, for None, the bundled model."""
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.resources import default_checkpoint_path

    entry = None if text is None else find_entry(text)
    if entry is None:
        return load_checkpoint(text or default_checkpoint_path(), arch=arch)
    path = fetch(entry, progress=progress, cancelled=cancelled)
    return with_domain(load_checkpoint(path, arch=arch or entry.arch), entry)


def with_domain(loaded: LoadedModel, entry: ZooEntry) -> LoadedModel:
    """``loaded`` with the entry's class names (when the count agrees) and its training domain
    in ``info.training`` (``data``, as the project's own checkpoints record it)."""
    from fcnviewer.core.checkpoints import LoadedModel

    info = loaded.info
    names = entry.classes if len(entry.classes) == len(info.class_names) else info.class_names
    training = {**info.training, "data": entry.training_data, "pretrained": entry.name, "url": entry.url}
    info = dataclasses.replace(info, class_names=names, training=training)
    return LoadedModel(loaded.model, info, loaded.path)


def fetch(
    entry: ZooEntry,
    *,
    progress: ProgressCallback | None = None,
    cancelled: CancelCheck | None = None,
    chunk: int = CHUNK,
) -> Path:
    """The cached file of ``entry``, downloaded and verified first if it is not there yet."""
    target = entry.cached_path
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.", suffix=".part")
    part = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _download(entry, out.write, progress, cancelled, chunk)
        _verify(entry, digest)
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return target


def _download(
    entry: ZooEntry,
    write: Callable[[bytes], object],
    progress: ProgressCallback | None,
    cancelled: CancelCheck | None,
    chunk: int,
) -> hashlib._Hash:
    """Stream ``entry.url`` through ``write``; the digest of what came (MD5 or SHA-256, as the entry is checked)."""
    digest = hashlib.md5(usedforsecurity=False) if entry.hash and entry.hash.algorithm == "md5" else hashlib.sha256()
    request = urllib.request.Request(entry.url, headers={"User-Agent": "fcnviewer"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            total, done = int(response.headers.get("Content-Length") or 0), 0
            while block := response.read(chunk):
                if done == 0 and block.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html")):
                    raise DownloadError(
                        f"{entry.name}: {entry.url} answered with a web page, not the weights (Google Drive "
                        "does so for files too large to scan for viruses); download the file in a browser "
                        "and open it as a checkpoint"
                    )
                write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total)
                if cancelled is not None and cancelled():
                    raise DownloadCancelled(f"{entry.name}: download from {entry.url} cancelled; nothing was kept")
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{entry.name}: could not download {entry.url}: HTTP {exc.code} {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts and resets are OSErrors
        reason = getattr(exc, "reason", None) or exc or type(exc).__name__
        raise DownloadError(
            f"{entry.name}: could not download {entry.url} ({reason}); are you offline? Nothing was kept"
        ) from None
    return digest


def _verify(entry: ZooEntry, digest: hashlib._Hash) -> None:
    """Refuse a download whose digest is not the published one (an entry without a hash is not checked)."""
    if entry.hash is None:
        return
    got = digest.hexdigest()
    wanted = entry.hash.value
    if not got.startswith(wanted) or (entry.hash.algorithm == "md5" and got != wanted):
        kind = "MD5" if entry.hash.algorithm == "md5" else "SHA-256"
        raise DownloadError(
            f"{entry.name}: the file from {entry.url} has {kind} {got[: max(len(wanted), 8)]}, not the published "
            f"{wanted}; it was not kept"
        )
