"""Checkpoints: formats, detection, metadata, and clear refusals of bad files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
import torchvision

from fcnviewer.core.checkpoints import (
    CheckpointError,
    ModelInfo,
    detect_spec,
    load_checkpoint,
    save_checkpoint,
)
from fcnviewer.core.labels import VOC_CLASSES
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.preprocessing import CAFFE_BGR, IMAGENET_RGB, Preprocessing
from tests.conftest import randomize

SPEC = ArchSpec("fcn8s", num_classes=5, width=1 / 16)


@pytest.fixture
def model():
    return randomize(build_model(SPEC))


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


@pytest.mark.parametrize("suffix", [".safetensors", ".pth", ".pt"])
def test_own_checkpoints_round_trip_with_metadata(tmp_path: Path, model, suffix: str) -> None:
    info = ModelInfo(
        SPEC,
        ("bg", "disc", "square", "ring", "bar"),
        ((0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 9, 9)),
        Preprocessing("RGB", 1.0, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)),
        {"seed": 7, "command": "fcnviewer train"},
    )
    loaded = load_checkpoint(save_checkpoint(tmp_path / f"m{suffix}", model, info))
    assert loaded.info == info and loaded.info.training["seed"] == 7
    assert not loaded.model.training
    assert _same_weights(loaded.model, model)


@pytest.mark.parametrize("wrapper", [None, "model_state_dict", "state_dict", "model"])
def test_bare_and_wrapped_state_dicts_are_detected(tmp_path: Path, model, wrapper: str | None) -> None:
    state = model.state_dict()
    path = tmp_path / "weights.pth"
    torch.save(state if wrapper is None else {wrapper: state, "epoch": 3}, path)
    loaded = load_checkpoint(path)
    assert loaded.info.spec == SPEC
    assert loaded.info.preprocessing == CAFFE_BGR
    assert loaded.info.class_names == tuple(f"class {i}" for i in range(5))
    assert _same_weights(loaded.model, model)


def test_data_parallel_prefix_is_removed(tmp_path: Path, model) -> None:
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, tmp_path / "dp.pth")
    assert load_checkpoint(tmp_path / "dp.pth").info.spec == SPEC


@pytest.mark.parametrize("arch", ["fcn32s", "fcn16s", "fcn8s"])
def test_vgg_variants_and_voc_defaults(tmp_path: Path, arch: str) -> None:
    spec = ArchSpec(arch, 21, 1 / 16)
    torch.save(build_model(spec).state_dict(), tmp_path / f"{arch}.pth")
    info = load_checkpoint(tmp_path / f"{arch}.pth").info
    assert info.spec == spec
    assert info.class_names == VOC_CLASSES
    assert info.palette[15] == (192, 128, 128)  # VOC "person"


def test_at_once_is_told_apart_by_file_name_or_arch(tmp_path: Path, model) -> None:
    torch.save(model.state_dict(), tmp_path / "fcn8s-atonce-pascal.pth")
    torch.save(model.state_dict(), tmp_path / "weights.pth")
    assert load_checkpoint(tmp_path / "fcn8s-atonce-pascal.pth").info.spec.arch == "fcn8s-atonce"
    assert load_checkpoint(tmp_path / "weights.pth").info.spec.arch == "fcn8s"
    assert load_checkpoint(tmp_path / "weights.pth", arch="fcn8s-atonce").model.at_once
    with pytest.raises(CheckpointError, match="cannot be loaded as fcn32s"):
        load_checkpoint(tmp_path / "weights.pth", arch="fcn32s")


@pytest.mark.parametrize(("arch", "aux"), [("fcn_resnet50", False), ("fcn_resnet50", True), ("fcn_resnet101", True)])
def test_torchvision_fcn_resnet_state_dicts(tmp_path: Path, arch: str, aux: bool) -> None:
    net = build_model(ArchSpec(arch, 3, aux=aux)).net
    path = tmp_path / "resnet.pth"
    torch.save(net.state_dict(), path)
    loaded = load_checkpoint(path)
    assert loaded.info.spec == ArchSpec(arch, 3, aux=aux)
    assert loaded.info.preprocessing == IMAGENET_RGB
    assert _same_weights(loaded.model.net, net)


def test_detect_spec_reads_width_and_classes(model) -> None:
    assert detect_spec(model.state_dict()) == SPEC


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _bad_files(tmp_path: Path, model) -> dict[str, tuple[Path, str]]:
    good = tmp_path / "good.pth"
    torch.save(model.state_dict(), good)
    cases: dict[str, tuple[bytes | None, str, str]] = {
        "empty.pth": (b"", "the file is empty", ""),
        "truncated.pth": (good.read_bytes()[:4000], r"a zip archive but no complete PyTorch one \(truncated\?\)", ""),
        "random.safetensors": (os.urandom(256), "not a readable safetensors file", ""),
        "text.pth": (
            b"hello, I am not a checkpoint\n" * 10,
            "not a readable PyTorch checkpoint: it is a text file",
            "",
        ),
    }
    files = {name: (tmp_path / name, message) for name, (_, message, _) in cases.items()}
    for name, (data, _, _) in cases.items():
        (tmp_path / name).write_bytes(data or b"")
    evil = tmp_path / "evil.pth"
    torch.save({"weights": _RunsCode()}, evil)
    files["evil.pth"] = (evil, "refused to load: the file asks to run code")
    raw_pickle = tmp_path / "raw.pt"
    raw_pickle.write_bytes(pickle.dumps(_RunsCode()))
    files["raw.pt"] = (raw_pickle, "not a readable PyTorch checkpoint")
    (tmp_path / "random.pth").write_bytes(bytes(range(256)) * 4)
    files["random.pth"] = (
        tmp_path / "random.pth",
        "not a readable PyTorch checkpoint: it is a binary file of another kind",
    )
    torch.save([1, 2, 3], tmp_path / "list.pth")
    files["list.pth"] = (tmp_path / "list.pth", "holds a list, not a state dict")
    torch.save({"a": 1}, tmp_path / "nontensor.pth")
    files["nontensor.pth"] = (tmp_path / "nontensor.pth", "entry 'a' is a int, not a tensor")
    torch.save(torchvision.models.mobilenet_v2(num_classes=10).state_dict(), tmp_path / "mobilenet.pth")
    files["mobilenet.pth"] = (
        tmp_path / "mobilenet.pth",
        r"looks like an image classifier \(features, .*; it shows FCN",
    )
    resnet10 = torchvision.models.ResNet(torchvision.models.resnet.BasicBlock, [1, 1, 1, 1], num_classes=10)
    torch.save(resnet10.state_dict(), tmp_path / "resnet10.pth")
    files["resnet10.pth"] = (tmp_path / "resnet10.pth", r"a ResNet classifier with \(1, 1, 1, 1\) blocks, none of")
    state = model.state_dict()
    state["score_pool3.weight"] = torch.zeros(5, 7, 1, 1)
    torch.save(state, tmp_path / "mismatch.pth")
    files["mismatch.pth"] = (tmp_path / "mismatch.pth", r"shape mismatch at score_pool3.weight")
    state = model.state_dict()
    del state["fc7.bias"]
    torch.save(state, tmp_path / "missing.pth")
    files["missing.pth"] = (tmp_path / "missing.pth", "missing 1 keys .*fc7.bias")
    files["nowhere.pth"] = (tmp_path / "nowhere.pth", "no such file")
    files["folder"] = (tmp_path, "is a directory")
    return files


def test_bad_checkpoints_give_one_clear_message_and_run_no_code(tmp_path: Path, model, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, (path, message) in _bad_files(tmp_path, model).items():
        with pytest.raises(CheckpointError, match=message) as caught:
            load_checkpoint(path)
        text = str(caught.value)
        assert text.startswith(str(path)), name
        assert "\n" not in text and "Traceback" not in text, name
    assert not (tmp_path / "pwned").exists()


def test_weights_only_is_used_everywhere() -> None:
    package = Path(__file__).resolve().parents[2] / "fcnviewer"
    offenders = []
    for source in package.rglob("*.py"):
        for number, line in enumerate(source.read_text().splitlines(), 1):
            if ("torch.load(" in line and "weights_only=True" not in line) or "pickle.load" in line:
                offenders.append(f"{source}:{number}: {line.strip()}")
    assert not offenders


def test_safetensors_with_foreign_metadata_is_detected(tmp_path: Path, model) -> None:
    from safetensors.torch import save_file

    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "m.safetensors"), metadata={"a": "b"}
    )
    assert load_checkpoint(tmp_path / "m.safetensors").info.spec == SPEC


def test_implausible_sizes_are_refused_before_building(tmp_path: Path) -> None:
    path = tmp_path / "huge.pth"
    torch.save({"conv1_1.weight": torch.zeros(4096, 3, 1, 1), "score_fr.weight": torch.zeros(2, 1, 1, 1)}, path)
    with pytest.raises(CheckpointError, match="implausible sizes"):
        load_checkpoint(path)
