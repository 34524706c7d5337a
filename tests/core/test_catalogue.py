"""The catalogue's entries equal their sources: torchvision's enums, pytorch-fcn's and milesial's code."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torchvision
from torchvision.models import segmentation

from fcnviewer.core.catalogue import (
    CLASSIFIER_MEMBER,
    TORCHVISION_CLASSIFIERS,
    TORCHVISION_MEMBER,
    TORCHVISION_WEIGHTS,
    catalogue,
)
from fcnviewer.core.names import ARCHITECTURES

REQUIRED_KEYS = {"name", "family", "classes", "url", "size", "hash", "cached"}


@pytest.mark.parametrize(("name", "module", "enum", "arch"), TORCHVISION_WEIGHTS)
def test_torchvision_entries_are_read_from_the_weight_enums(name: str, module: str, enum: str, arch) -> None:
    weights = getattr(getattr(segmentation, enum), TORCHVISION_MEMBER)
    entry = catalogue()[name]
    assert entry.url == weights.url and entry.size_mb == weights.meta["_file_size"]
    assert entry.metrics == weights.meta["_metrics"]
    assert list(entry.classes) == [c.strip("_") for c in weights.meta["categories"]]
    assert torch.hub.HASH_REGEX.search(entry.file_name).group(1) == entry.hash.value  # type: ignore[union-attr]
    assert entry.hash.algorithm == "sha256-prefix" and entry.file_name == weights.url.rsplit("/", 1)[-1]  # type: ignore[union-attr]


@pytest.mark.parametrize(("name", "module", "enum"), TORCHVISION_CLASSIFIERS)
def test_classifier_entries_are_torchvisions_imagenet_weights(name: str, module: str, enum: str) -> None:
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    weights = getattr(getattr(torchvision.models, enum), CLASSIFIER_MEMBER)
    entry = catalogue()[name]
    assert entry.url == weights.url and entry.size_mb == weights.meta["_file_size"]
    assert entry.metrics == weights.meta["_metrics"] and list(entry.classes) == _IMAGENET_CATEGORIES
    assert torch.hub.HASH_REGEX.search(entry.file_name).group(1) == entry.hash.value  # type: ignore[union-attr]
    assert entry.family == "classifier" and name.removesuffix("_imagenet") in ARCHITECTURES


def test_every_entry_is_complete_and_names_what_it_loads_as(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    entries = catalogue()
    assert len(entries) == 12 + len(TORCHVISION_CLASSIFIERS) == 27
    for entry in entries.values():
        row = entry.to_dict()
        assert set(row) >= REQUIRED_KEYS and row["cached"] is False
        assert entry.arch is None or entry.arch in ARCHITECTURES
        assert entry.training_data and entry.classes and entry.url.startswith(("http://", "https://"))
    assert {e.hash.algorithm for e in entries.values() if e.hash} == {"sha256-prefix", "md5"}
    assert [e.name for e in entries.values() if e.hash is None] == ["unet_carvana_scale0.5", "unet_carvana_scale1.0"]
    assert "atonce" in entries["fcn8s-atonce_voc"].file_name  # detection reads the name too


def test_listing_the_catalogue_imports_no_torch() -> None:
    code = "import sys; from fcnviewer.cli import main; main(['models', '--json']); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("False")
