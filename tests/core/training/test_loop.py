"""Training: staged initialisation, a few steps lower the loss, evaluation and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.training import (
    BatchStream,
    TrainConfig,
    augment,
    batch_loader,
    evaluate,
    init_from_scratch,
    make_optimizer,
    to_batch,
    train,
    train_step,
    transfer_weights,
)
from fcnviewer.core.training.data.synthetic import CLASS_NAMES, PALETTE, SYNTHETIC_PREPROCESSING, SyntheticScenes
from tests.conftest import randomize

WIDTH = 1 / 32


@pytest.fixture(autouse=True)
def _few_threads(one_thread):
    """Every test here on one thread."""


def test_16s_from_32s_copies_every_shared_tensor():
    fcn32 = randomize(build_model(ArchSpec("fcn32s", 6, WIDTH)), seed=1)
    fcn16 = build_model(ArchSpec("fcn16s", 6, WIDTH))
    copied = transfer_weights(fcn32, fcn16)
    src, dst = fcn32.state_dict(), fcn16.state_dict()
    shared = [k for k in dst if k in src]
    assert set(copied) == set(shared) and "score_fr.weight" in copied and "fc7.weight" in copied
    for key in shared:
        assert torch.equal(src[key], dst[key]), key
    # the new skip starts at zero and the deconvolutions are bilinear, so 16s == 32s at first
    assert not dst["score_pool4.weight"].any() and not dst["score_pool4.bias"].any()
    fresh = build_model(ArchSpec("fcn16s", 6, WIDTH)).state_dict()
    for key in ("upscore2.weight", "upscore16.weight"):
        assert torch.equal(dst[key], fresh[key])


def test_8s_from_16s_copies_pool4_skip():
    fcn16 = randomize(build_model(ArchSpec("fcn16s", 6, WIDTH)), seed=2)
    fcn8 = build_model(ArchSpec("fcn8s", 6, WIDTH))
    copied = transfer_weights(fcn16, fcn8)
    assert "score_pool4.weight" in copied and "upscore2.weight" in copied and "score_pool3.weight" not in copied
    src, dst = fcn16.state_dict(), fcn8.state_dict()
    for key in copied:
        assert torch.equal(src[key], dst[key]), key
    assert not dst["score_pool3.weight"].any()


def test_a_narrower_net_fills_the_leading_channels_of_a_wider_one():
    narrow = randomize(build_model(ArchSpec("fcn8s", 6, WIDTH)), seed=3)
    wide = randomize(build_model(ArchSpec("fcn8s", 6, 2 * WIDTH)), seed=4).eval()
    assert wide.conv3_1.weight.shape[0] == 2 * narrow.conv3_1.weight.shape[0]
    copied = transfer_weights(narrow, wide)
    assert set(copied) == set(wide.state_dict())
    assert torch.equal(wide.conv1_1.weight[: narrow.conv1_1.out_channels], narrow.conv1_1.weight)
    # the new channels keep their own (random) weights and feed only new channels
    assert wide.conv2_1.weight[narrow.conv2_1.out_channels :].abs().sum() > 0
    assert not wide.fc7.weight[: narrow.fc7.out_channels, narrow.fc7.in_channels :].any()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        want, got = narrow(x), wide(x)
    for key in ("out", "32", "16", "8"):
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-5)
    # a wider source does not fit a narrower target
    assert transfer_weights(wide, build_model(ArchSpec("fcn8s", 6, WIDTH))) == [
        k for k, v in narrow.state_dict().items() if tuple(v.shape) == tuple(wide.state_dict()[k].shape)
    ]


def test_lsuv_init_gives_unit_variance_and_keeps_scores_zero():
    model = build_model(ArchSpec("fcn32s", 6, WIDTH))
    x = torch.randn(2, 3, 48, 48)
    init_from_scratch(model, x)
    assert not model.score_fr.weight.any()
    captured = {}
    model.fc7.register_forward_hook(lambda m, i, o: captured.setdefault("fc7", o))
    model.eval()(x)
    assert 0.8 < float(captured["fc7"].detach().std()) < 1.25


def test_augment_keeps_pairs_aligned_and_pads_with_ignore():
    labels = (torch.arange(2 * 4 * 4).reshape(2, 4, 4) % 5).repeat_interleave(4, 1).repeat_interleave(4, 2)
    x = labels[:, None].float().repeat(1, 3, 1, 1)
    rng = np.random.Generator(np.random.PCG64(0))
    for _ in range(5):
        ax, ay = augment(x, labels, rng, scale=(0.5, 1.5), size=16)
        assert ax.shape == (2, 3, 16, 16) and ay.shape == (2, 16, 16)
        inside = ay != 255
        # nearest-neighbour labels and bilinear images agree where the image is piecewise constant
        assert (ax[:, 0][inside].round() == ay[inside].float()).float().mean() > 0.6
        assert (ax[:, 0][~inside] == 0).all()


def test_batch_stream_is_deterministic_and_resumable():
    ds = SyntheticScenes(range(10), 16)
    a = batch_loader(BatchStream(ds, 3, seed=5), 0, SYNTHETIC_PREPROCESSING)
    first = [next(a) for _ in range(5)]
    b = batch_loader(BatchStream(ds, 3, seed=5), 3, SYNTHETIC_PREPROCESSING)
    assert all(torch.equal(x, y) for x, y in zip(first[3], next(b), strict=True))
    # a batch that runs over into the next epoch takes the rest from that epoch's order
    over = BatchStream(ds, 3, seed=5).batch_at(3)  # positions 9, 10, 11: epoch 0's last, epoch 1's first two
    order0 = np.random.Generator(np.random.PCG64([5, 0])).permutation(10)
    order1 = np.random.Generator(np.random.PCG64([5, 1])).permutation(10)
    expected = [ds[int(order0[9])], ds[int(order1[0])], ds[int(order1[1])]]
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(over, expected, strict=True))


@pytest.mark.parametrize("workers", [1, 2])
def test_loader_workers_give_the_streams_batches_in_order(workers):
    stream = BatchStream(SyntheticScenes(range(7), 16), 3, seed=2)
    loader = batch_loader(stream, 4, SYNTHETIC_PREPROCESSING, workers)
    for step in range(4, 9):
        x, y = next(loader)
        expected_x, expected_y = to_batch(stream.batch_at(step), SYNTHETIC_PREPROCESSING, "cpu")
        assert torch.equal(x, expected_x) and torch.equal(y, expected_y), step
    in_process = batch_loader(stream, 4, SYNTHETIC_PREPROCESSING)
    assert torch.equal(next(in_process)[1], to_batch(stream.batch_at(4), SYNTHETIC_PREPROCESSING, "cpu")[1])


@pytest.mark.parametrize(
    ("optimizer", "lr", "dtype", "lovasz", "learn_upsampling"),
    [
        ("sgd", 0.05, torch.float32, 0.0, False),
        ("adam", 1e-3, torch.float32, 0.0, False),
        ("adam", 1e-3, torch.bfloat16, 0.0, False),
        ("adam", 1e-3, torch.bfloat16, 1.0, False),
        ("adam", 1e-3, torch.float32, 0.0, True),
    ],
)
def test_a_few_steps_lower_the_loss(optimizer, lr, dtype, lovasz, learn_upsampling):
    torch.manual_seed(0)
    ds = SyntheticScenes(range(4), 48)
    model = build_model(ArchSpec("fcn8s", 6, WIDTH))
    x, y = to_batch([ds[i] for i in range(4)], SYNTHETIC_PREPROCESSING, "cpu")
    init_from_scratch(model, x)
    model.train()
    opt = make_optimizer(model, TrainConfig(optimizer=optimizer, lr=lr, learn_upsampling=learn_upsampling))
    losses = [train_step(model, opt, x, y, dtype=dtype, lovasz=lovasz) for _ in range(12)]
    assert losses[-1] < 0.8 * losses[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # the deconvolutions stay bilinear unless asked to learn
    bilinear = build_model(ArchSpec("fcn8s", 6, WIDTH))
    for name in ("upscore2", "upscore_pool4", "upscore8"):
        unchanged = torch.equal(getattr(model, name).weight, getattr(bilinear, name).weight)
        assert unchanged != learn_upsampling, name


def test_the_settings_are_checked_against_the_named_choices():
    from fcnviewer.core import names
    from fcnviewer.core.training.config import autocast_dtype

    model = build_model(ArchSpec("fcn32s", 6, WIDTH))
    built = {type(make_optimizer(model, TrainConfig(optimizer=o))).__name__ for o in names.OPTIMIZERS}
    assert built == {"SGD", "AdamW"}
    with pytest.raises(ValueError, match="expected sgd or adam"):
        make_optimizer(model, TrainConfig(optimizer="rmsprop"))
    assert [autocast_dtype(p) for p in names.TRAIN_PRECISIONS] == [torch.float32, torch.bfloat16]
    with pytest.raises(ValueError, match="expected float32 or bfloat16"):
        autocast_dtype("float16")


def test_train_staged_end_to_end_then_resume_and_evaluate(tmp_path):
    from fcnviewer.core.checkpoints import load_checkpoint

    train_set = SyntheticScenes(range(8), 40)
    val_set = SyntheticScenes(range(1_000_000, 1_000_002), 40)
    config = TrainConfig(
        arch="staged", width=WIDTH, num_classes=6, steps=(3, 2, 2), batch=2, lr=0.01, warmup=1,
        val_every=0, save_every=1, out=tmp_path, command="test",
    )  # fmt: skip
    logs: list[str] = []
    kwargs = {"class_names": CLASS_NAMES, "palette": PALETTE, "log": logs.append, "progress": False}
    results = train(config, train_set, val_set, SYNTHETIC_PREPROCESSING, **kwargs)
    assert [r.arch for r in results] == ["fcn32s", "fcn16s", "fcn8s"]
    loaded = load_checkpoint(tmp_path / "fcn8s.safetensors")
    assert loaded.info.class_names == CLASS_NAMES and loaded.info.training["steps"] == 2
    assert loaded.info.training["command"] == "test"
    assert [s["arch"] for s in loaded.info.training["previous_stages"]] == ["fcn32s", "fcn16s"]
    assert (tmp_path / "fcn16s-state.pth").exists()
    # the 16s started from the 32s
    assert any("fcn16s] initialised from fcn32s" in line for line in logs)

    # resume the last stage from its saved state: nothing left to do but save again
    config.resume = tmp_path / "fcn8s-state.pth"
    again = train(config, train_set, None, SYNTHETIC_PREPROCESSING, **kwargs)
    assert [r.arch for r in again] == ["fcn32s", "fcn16s", "fcn8s"]
    assert any("resumed at step 2" in line for line in logs)
    resumed = load_checkpoint(tmp_path / "fcn8s.safetensors").info.training
    assert [s["arch"] for s in resumed["previous_stages"]] == ["fcn32s", "fcn16s"]

    result = evaluate(loaded.model, val_set, SYNTHETIC_PREPROCESSING, "cpu")
    assert set(result["stages"]) == {"32", "16", "8"}
    for scores in [result["final"], *result["stages"].values()]:
        assert 0.0 <= scores["pixel_acc"] <= 1.0
    assert result["confusion"]["final"].sum() == 2 * 40 * 40

    # a run started --init from that 8s records the stages behind its weights
    onward = TrainConfig(
        arch="fcn8s", width=WIDTH, num_classes=6, steps=(1,), batch=2, lr=0.01, warmup=1, val_every=0,
        out=tmp_path / "onward", init=tmp_path / "fcn8s.safetensors", command="onward",
    )  # fmt: skip
    train(onward, train_set, None, SYNTHETIC_PREPROCESSING, **kwargs)
    behind = load_checkpoint(tmp_path / "onward" / "fcn8s.safetensors").info.training["previous_stages"]
    assert [s["arch"] for s in behind] == ["fcn32s", "fcn16s", "fcn8s"]
    assert behind[-1]["steps"] == 2 and behind[-1]["command"] == "test"
    # a staged run from --init, resumed at a later stage, keeps that list
    staged = TrainConfig(
        arch="staged", width=WIDTH, num_classes=6, steps=(1,), batch=2, lr=0.01, warmup=1, val_every=0,
        save_every=1, out=tmp_path / "staged-init", init=tmp_path / "fcn8s.safetensors", command="staged",
    )  # fmt: skip
    train(staged, train_set, None, SYNTHETIC_PREPROCESSING, **kwargs)
    staged.resume = tmp_path / "staged-init" / "fcn16s-state.pth"
    train(staged, train_set, None, SYNTHETIC_PREPROCESSING, **kwargs)
    behind = load_checkpoint(tmp_path / "staged-init" / "fcn8s.safetensors").info.training["previous_stages"]
    assert [s["arch"] for s in behind] == ["fcn32s", "fcn16s", "fcn8s", "fcn32s", "fcn16s"]


def test_cli_eval_json(tmp_path, capsys):
    import argparse

    from fcnviewer.cli import eval as cli_eval
    from fcnviewer.core.checkpoints import ModelInfo, save_checkpoint

    spec = ArchSpec("fcn8s", 6, WIDTH)
    info = ModelInfo(spec, CLASS_NAMES, PALETTE, SYNTHETIC_PREPROCESSING)
    path = save_checkpoint(tmp_path / "m.safetensors", randomize(build_model(spec)), info)
    parser = argparse.ArgumentParser()
    cli_eval.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "eval",
            "--checkpoint",
            str(path),
            "--synthetic",
            "--count",
            "2",
            "--size",
            "40",
            "--json",
            "--device",
            "cpu",
            "--confusion",
            str(tmp_path / "cm.png"),
        ]
    )
    assert cli_eval.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"final", "stages", "classes", "images", "skipped"} and set(out["stages"]) == {"32", "16", "8"}
    assert set(out["final"]) == {"pixel_acc", "mean_acc", "mean_iu", "fw_iu"}
    assert [c["name"] for c in out["classes"]] == list(CLASS_NAMES)
    assert (tmp_path / "cm.png").exists()
    args = parser.parse_args(["eval", "--checkpoint", str(tmp_path / "missing.pth"), "--synthetic"])
    assert cli_eval.run(args) == 2


def _write_folder(root, layout: str) -> None:
    from PIL import Image

    from fcnviewer.core.labels import voc_palette

    palette = [int(v) for v in voc_palette().ravel()]
    names = ["a", "b", "c"]
    for i, name in enumerate(names):
        image, labels = SyntheticScenes(range(10), 24, 32)[i]
        labels = labels.copy()
        labels[0, :] = 255
        mask = Image.fromarray(labels, mode="P")
        mask.putpalette(palette)
        if layout == "voc":
            (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
            (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "JPEGImages" / f"{name}.jpg")
            mask.save(root / "SegmentationClass" / f"{name}.png")
        else:
            (root / "images").mkdir(parents=True, exist_ok=True)
            (root / "masks").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(root / "images" / f"{name}.png")
            mask.save(root / "masks" / f"{name}.png")
    if layout == "voc":
        (root / "ImageSets" / "Segmentation").mkdir(parents=True)
        (root / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nb\n")
        (root / "ImageSets" / "Segmentation" / "val.txt").write_text("c\n")


@pytest.mark.parametrize("layout", ["voc", "plain"])
def test_segmentation_folders(tmp_path, layout):
    from fcnviewer.core.training.data.folders import DatasetError, open_folder

    _write_folder(tmp_path, layout)
    train_set = open_folder(tmp_path, split="train")
    expected = 2 if layout == "voc" else 3
    assert len(train_set) == expected
    image, labels = train_set[0]
    assert image.shape == (24, 32, 3) and labels.shape == (24, 32)
    expected_labels = np.where(np.arange(24)[:, None] == 0, 255, SyntheticScenes(range(10), 24, 32)[0][1])
    np.testing.assert_array_equal(labels, expected_labels)
    if layout == "voc":
        assert len(train_set.class_names) == 21
    else:
        assert 2 <= len(train_set.class_names) <= 6
    fixed = train_set.resized(16)
    assert fixed[1][0].shape == (16, 16, 3) and set(np.unique(fixed[1][1])) <= set(range(6)) | {255}
    with pytest.raises(DatasetError):
        open_folder(tmp_path / "nowhere")


def test_cli_train_synthetic(tmp_path, capsys):
    import argparse

    from fcnviewer.cli import train as cli_train
    from fcnviewer.core.checkpoints import load_checkpoint

    parser = argparse.ArgumentParser()
    cli_train.add_parser(parser.add_subparsers())
    args = parser.parse_args([
        "train", "--synthetic", "--arch", "fcn16s", "--width", str(WIDTH), "--size", "40", "--steps", "2",
        "--batch", "2", "--val-count", "1", "--out", str(tmp_path), "--no-progress", "--device", "cpu",
        "--optimizer", "adam", "--lr", "1e-3", "--class-weights", "0.5,1,1,1,1,1",
        "--precision", "bfloat16", "--workers", "1", "--lovasz", "0.5",
        "--learn-upsampling",
    ])  # fmt: skip
    assert cli_train.run(args) == 0
    loaded = load_checkpoint(tmp_path / "fcn16s.safetensors")
    assert loaded.info.spec.arch == "fcn16s" and loaded.info.training["optimizer"] == "adam"
    assert loaded.info.training["precision"] == "bfloat16" and loaded.info.training["lovasz"] == 0.5
    assert loaded.info.training["learn_upsampling"] is True
    bilinear = build_model(ArchSpec("fcn16s", 6, WIDTH)).upscore16.weight
    assert not torch.equal(loaded.model.upscore16.weight, bilinear)
    assert all(t.dtype == torch.float32 for t in loaded.model.state_dict().values())
    assert "fcn16s: 2 steps" in capsys.readouterr().out
    bad = parser.parse_args(
        [
            "train",
            "--synthetic",
            "--steps",
            "1",
            "--out",
            str(tmp_path),
            "--no-progress",
            "--class-weights",
            "1,2",
            "--width",
            str(WIDTH),
            "--size",
            "40",
        ]
    )
    assert cli_train.run(bad) == 2
