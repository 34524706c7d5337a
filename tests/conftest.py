"""Shared fixtures: tiny random FCNs saved as checkpoints (no downloads, ever)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def randomize(model, seed: int = 0):
    """Give every parameter random He-scaled values (see ``randomize_weights``)."""
    from fcnviewer.core.models import randomize_weights

    return randomize_weights(model, seed)


@pytest.fixture
def one_thread():
    """Torch on one thread for the test (as in each ``torchrun`` process), restored after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_checkpoint(tmp_path: Path):
    """A factory: ``tiny_checkpoint(arch="fcn8s", num_classes=4) -> Path`` of a random tiny model."""
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint
    from fcnviewer.core.models import ArchSpec, build_model

    def make(
        arch: str = "fcn8s", num_classes: int = 4, width: float = 1 / 16, suffix: str = ".safetensors", seed: int = 0
    ) -> Path:
        spec = ArchSpec(arch, num_classes, width)
        model = randomize(build_model(spec), seed)
        return save_checkpoint(tmp_path / f"{arch}-{seed}{suffix}", model, ModelInfo.default_for(spec))

    return make


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A deterministic 75x101 RGB uint8 image with structure."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[:75, :101]
    base = np.stack([(x * 2) % 256, (y * 3) % 256, ((x + y) * 5) % 256], axis=-1)
    return (base + rng.integers(0, 30, base.shape)).clip(0, 255).astype(np.uint8)


@pytest.fixture
def serve():
    """A factory: ``serve(handler_class) -> base_url`` of a threaded HTTP server on 127.0.0.1 (the
    only network any test touches), shut down after the test."""
    import http.server
    import threading

    servers = []

    def start(handler: type) -> str:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def http_server(serve, tmp_path: Path):
    """``(base_url, folder)``: a server on 127.0.0.1 serving the files of ``folder``."""
    import http.server

    folder = tmp_path / "served"
    folder.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args) -> None:
            pass

    return serve(Handler), folder


@pytest.fixture
def local_zoo(http_server, tmp_path: Path, monkeypatch):
    """The catalogue's ``fcn8s-atonce_voc`` served from 127.0.0.1: a tiny random FCN-8s at-once
    (21 classes, width 1/16) saved as a bare state dict, as pytorch-fcn's are, with its real MD5;
    ``TORCH_HOME`` is a fresh folder. Returns the entry."""
    import dataclasses
    import hashlib

    import torch

    from fcnviewer.core.catalogue import Hash, catalogue
    from fcnviewer.core.models import ArchSpec, build_model

    base, folder = http_server
    model = randomize(build_model(ArchSpec("fcn8s-atonce", 21, 1 / 16)))
    torch.save(model.state_dict(), folder / "tiny.pth")
    md5 = hashlib.md5((folder / "tiny.pth").read_bytes()).hexdigest()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    entry = dataclasses.replace(catalogue()["fcn8s-atonce_voc"], url=f"{base}/tiny.pth", hash=Hash("md5", md5))
    monkeypatch.setitem(catalogue(), entry.name, entry)
    return entry
