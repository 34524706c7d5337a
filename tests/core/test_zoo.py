"""The pretrained catalogue's download, verification, cache and loading, against 127.0.0.1 only."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from fcnviewer.core import zoo
from fcnviewer.core.catalogue import VOC_SBD, Hash, catalogue

pytestmark = pytest.mark.usefixtures("local_zoo")


def _cache_files(entry) -> list[str]:
    folder = entry.cached_path.parent
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_first_use_downloads_verifies_and_loads_then_uses_the_cache(local_zoo) -> None:
    seen: list[tuple[int, int]] = []
    loaded = zoo.load_model(local_zoo.name, progress=lambda done, total: seen.append((done, total)))
    size = local_zoo.cached_path.stat().st_size
    assert _cache_files(local_zoo) == ["fcn8s-atonce_from_caffe.pth"]
    assert seen[-1] == (size, size)
    assert loaded.info.spec.arch == "fcn8s-atonce"  # the catalogue says so; detection alone could not tell
    assert loaded.info.training["data"] == VOC_SBD and loaded.info.class_names[15] == "person"
    offline = dataclasses.replace(local_zoo, url="http://127.0.0.1:9/tiny.pth")
    catalogue()[local_zoo.name] = offline
    seen.clear()
    assert zoo.load_model(local_zoo.name, progress=lambda *a: seen.append(a)).path == local_zoo.cached_path
    assert seen == []  # cached: nothing fetched
    assert zoo.resolve_checkpoint(local_zoo.name) == local_zoo.cached_path  # what train --init NAME uses


def test_a_wrong_hash_is_refused_in_one_line_and_nothing_is_kept(local_zoo) -> None:
    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, hash=Hash("md5", "0" * 32))
    with pytest.raises(zoo.DownloadError) as caught:
        zoo.load_model(local_zoo.name)
    message = str(caught.value)
    assert "\n" not in message and local_zoo.url in message and "not the published 000000" in message
    assert _cache_files(local_zoo) == []


def test_a_sha256_prefix_is_checked_as_torch_hub_does(local_zoo, http_server) -> None:
    import hashlib

    payload = (http_server[1] / "tiny.pth").read_bytes()
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, hash=Hash("sha256-prefix", prefix))
    assert zoo.fetch(catalogue()[local_zoo.name]).read_bytes() == payload


def test_an_unreachable_server_is_named_in_one_line(local_zoo) -> None:
    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, url="http://127.0.0.1:9/tiny.pth")
    with pytest.raises(zoo.DownloadError, match=r"could not download http://127\.0\.0\.1:9/tiny\.pth .*offline"):
        zoo.load_model(local_zoo.name)
    assert _cache_files(local_zoo) == []


def test_a_missing_file_and_a_web_page_are_told_apart(local_zoo, http_server) -> None:
    base, folder = http_server
    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, url=f"{base}/gone.pth")
    with pytest.raises(zoo.DownloadError, match="gone.pth: HTTP 404"):
        zoo.fetch(catalogue()[local_zoo.name])
    (folder / "scan.html").write_text("<!DOCTYPE html><html><title>Google Drive - Virus scan warning</title></html>")
    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, url=f"{base}/scan.html")
    with pytest.raises(zoo.DownloadError, match="scan.html answered with a web page, not the weights"):
        zoo.fetch(catalogue()[local_zoo.name])
    assert _cache_files(local_zoo) == []


def test_a_cancelled_download_leaves_no_part_file(local_zoo) -> None:
    with pytest.raises(zoo.DownloadCancelled, match="cancelled; nothing was kept"):
        zoo.fetch(local_zoo, cancelled=lambda: True, chunk=4096)
    assert _cache_files(local_zoo) == []

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        zoo.fetch(local_zoo, progress=interrupt, chunk=4096)
    assert _cache_files(local_zoo) == []


def test_an_existing_file_wins_and_an_unknown_name_gets_suggestions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fcn32s_voc").write_bytes(b"a local file of that name")
    assert zoo.find_entry("fcn32s_voc") is None
    assert zoo.find_entry("fcn16s_voc") is catalogue()["fcn16s_voc"]
    assert zoo.find_entry("missing/model.pth") is None and zoo.find_entry("gone.safetensors") is None
    with pytest.raises(zoo.UnknownModel) as caught:
        zoo.find_entry("deeplabv3_resnet50")
    assert "did you mean deeplabv3_resnet50_coco" in str(caught.value) and "fcnviewer models" in str(caught.value)


def test_the_cache_is_torch_hubs(monkeypatch, tmp_path: Path) -> None:
    import torch

    from fcnviewer.core.catalogue import cache_dir

    assert cache_dir() == Path(torch.hub.get_dir()) / "checkpoints"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert (
        cache_dir() == Path(torch.hub.get_dir()) / "checkpoints" == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    )
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert (
        cache_dir()
        == Path(torch.hub.get_dir()) / "checkpoints"
        == Path(os.path.expanduser("~/.cache/torch/hub/checkpoints"))
    )
