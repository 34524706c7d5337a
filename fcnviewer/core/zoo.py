"""Published weights that can be fetched on demand: torchvision's FCN-ResNet (COCO, VOC classes).

Files go to torch's usual cache (``torch.hub.get_dir()/checkpoints``) and are checked
against the hash prefix in their name, as torch.hub does; a cached file is used as is.
Nothing here runs at import or in tests against the internet.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from fcnviewer.core.errors import UserError

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class ZooEntry:
    """A published checkpoint: where it is, its file name and the SHA-256 prefix it must have."""

    name: str
    url: str
    sha256_prefix: str
    arch: str

    @property
    def file_name(self) -> str:
        """The file name in the cache."""
        return self.url.rsplit("/", 1)[-1]


ZOO: dict[str, ZooEntry] = {
    entry.name: entry
    for entry in (
        ZooEntry(
            "fcn_resnet50_coco",
            "https://download.pytorch.org/models/fcn_resnet50_coco-1167a1af.pth",
            "1167a1af",
            "fcn_resnet50",
        ),
        ZooEntry(
            "fcn_resnet101_coco",
            "https://download.pytorch.org/models/fcn_resnet101_coco-7ecb50ca.pth",
            "7ecb50ca",
            "fcn_resnet101",
        ),
    )
}


class DownloadError(UserError, OSError):
    """A download that failed or whose content does not match its hash."""


def cache_dir() -> Path:
    """Where downloaded checkpoints live (torch's hub cache)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch(entry: ZooEntry, *, progress: ProgressCallback | None = None, chunk: int = 1 << 20) -> Path:
    """The cached file of ``entry``, downloading and verifying it first if needed."""
    target = cache_dir() / entry.file_name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as part:
        try:
            with urllib.request.urlopen(entry.url, timeout=30) as response:
                total = int(response.headers.get("Content-Length") or 0)
                done = 0
                while block := response.read(chunk):
                    part.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        except OSError as exc:
            Path(part.name).unlink(missing_ok=True)
            raise DownloadError(f"{entry.url}: download failed: {exc}") from None
    if not digest.hexdigest().startswith(entry.sha256_prefix):
        Path(part.name).unlink(missing_ok=True)
        raise DownloadError(f"{entry.url}: the download's SHA-256 does not start with {entry.sha256_prefix}")
    shutil.move(part.name, target)
    return target
