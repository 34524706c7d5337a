"""The model zoo's download, verification and cache, against a server on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fcnviewer.core import zoo

PAYLOAD = b"not really weights, but bytes with a known hash" * 1000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "weights.pth").write_bytes(PAYLOAD)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path / "files"), **kwargs)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture(autouse=True)
def hub(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(zoo.torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def test_entries_name_torchvision_files() -> None:
    entry = zoo.ZOO["fcn_resnet50_coco"]
    assert entry.file_name == "fcn_resnet50_coco-1167a1af.pth" and entry.arch == "fcn_resnet50"


def test_download_verifies_and_caches_with_progress(server: str, hub: Path) -> None:
    prefix = hashlib.sha256(PAYLOAD).hexdigest()[:8]
    entry = zoo.ZooEntry("test", f"{server}/weights.pth", prefix, "fcn_resnet50")
    seen: list[tuple[int, int]] = []
    path = zoo.fetch(entry, progress=lambda done, total: seen.append((done, total)), chunk=4096)
    assert path == hub / "weights.pth" and path.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) > 1
    unreachable = zoo.ZooEntry("test", "http://127.0.0.1:9/weights.pth", prefix, "fcn_resnet50")
    assert zoo.fetch(unreachable) == path  # cached: no network needed


def test_hash_mismatch_is_refused_and_nothing_is_kept(server: str, hub: Path) -> None:
    entry = zoo.ZooEntry("test", f"{server}/weights.pth", "00000000", "fcn_resnet50")
    with pytest.raises(zoo.DownloadError, match="SHA-256 does not start with 00000000"):
        zoo.fetch(entry)
    assert list(hub.iterdir()) == []


def test_failed_download_names_the_url(server: str, hub: Path) -> None:
    entry = zoo.ZooEntry("test", f"{server}/missing.pth", "00000000", "fcn_resnet50")
    with pytest.raises(zoo.DownloadError, match="missing.pth: download failed"):
        zoo.fetch(entry)
    assert list(hub.iterdir()) == []
