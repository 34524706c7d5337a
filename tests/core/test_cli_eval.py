"""``fcnviewer eval --data``: each image's scores, the set's from one confusion matrix, equal to
what ``predict``'s masks give; masks that cannot be compared are named and skipped."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnviewer.cli import main
from fcnviewer.core.datasets import read_mask
from fcnviewer.core.training.metrics import fast_hist, scores

NUM_CLASSES = 4
SIZES = {"a": (40, 52), "b": (33, 47), "c": (48, 48), "d": (36, 60)}


def _folder(root: Path, sizes: dict[str, tuple[int, int]], masks: dict[str, np.ndarray | None]) -> Path:
    """``images/`` of random pictures (sizes ``(H, W)``) and ``masks/`` where ``masks`` gives one."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name, (height, width) in sizes.items():
        rng = np.random.default_rng(list(name.encode()))
        y, x = np.mgrid[:height, :width]
        picture = np.stack([x * 5 % 256, y * 7 % 256, (x * y) % 256], axis=-1) + rng.integers(0, 60, (height, width, 3))
        Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(root / "images" / f"{name}.png")
        if masks.get(name) is not None:
            Image.fromarray(masks[name], mode="L").save(root / "masks" / f"{name}.png")
    return root


def _labels(height: int, width: int, seed: int) -> np.ndarray:
    """Random blocks of classes 0..3 with a border of 255 (ignore)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, NUM_CLASSES, (height // 8 + 1, width // 8 + 1)).astype(np.uint8)
    labels = np.kron(blocks, np.ones((8, 8), np.uint8))[:height, :width].copy()
    labels[:2] = 255
    return labels


def _eval(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["eval", *args, "--device", "cpu", "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {}), captured.err


def test_eval_equals_the_metrics_of_predicts_masks(tmp_path: Path, tiny_checkpoint, capsys) -> None:
    checkpoint = str(tiny_checkpoint("fcn8s", num_classes=NUM_CLASSES))
    masks = {name: _labels(*size, seed=i) for i, (name, size) in enumerate(SIZES.items()) if name != "c"}
    root = _folder(tmp_path / "data", SIZES, masks)
    table = tmp_path / "per-image.csv"
    code, result, err = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint, "--per-image", str(table))
    assert code == 0, err
    assert "eval: 1 of 4 images have no mask: not evaluated" in err

    out = tmp_path / "predicted"
    predict = ["predict", str(root / "images"), "--out", str(out), "--checkpoint", checkpoint]
    assert main([*predict, "--device", "cpu", "--precision", "float32"]) == 0
    hists = {name: fast_hist(truth, read_mask(out / f"{name}_mask.png"), NUM_CLASSES) for name, truth in masks.items()}
    expected = scores(sum(hists.values()))
    assert all((hist.sum(axis=0) > 0).all() for hist in hists.values())  # every class predicted: not a trivial case
    for key in ("pixel_acc", "mean_acc", "mean_iu", "fw_iu"):
        assert result["final"][key] == pytest.approx(expected[key], abs=1e-9), key
    for entry in result["classes"]:
        if entry["iu"] is not None:
            assert entry["iu"] == pytest.approx(expected["class_iu"][entry["index"]], abs=1e-9)
    assert [image["name"] for image in result["images"]] == ["a", "b", "d"]
    for image in result["images"]:
        own = scores(hists[image["name"]])
        assert image["mean_iu"] == pytest.approx(own["mean_iu"], abs=1e-9)
        assert image["pixel_acc"] == pytest.approx(own["pixel_acc"], abs=1e-9)
        assert set(image["stages"]) == {"32", "16", "8"} and set(image["stages"]["8"]) == {"mean_iu", "pixel_acc"}
    assert result["skipped"] == []

    with table.open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["name", "mean_iu", "pixel_acc"] + [
        f"stage{s}_{key}" for s in ("32", "16", "8") for key in ("mean_iu", "pixel_acc")
    ]
    for row, image in zip(rows, result["images"], strict=True):
        assert row["name"] == image["name"] and float(row["mean_iu"]) == image["mean_iu"]
        assert float(row["stage16_pixel_acc"]) == image["stages"]["16"]["pixel_acc"]


def test_masks_of_the_wrong_size_or_with_stray_classes_are_named_and_skipped(
    tmp_path: Path, tiny_checkpoint, capsys
) -> None:
    checkpoint = str(tiny_checkpoint("fcn32s", num_classes=NUM_CLASSES))
    masks = {name: _labels(*size, seed=i) for i, (name, size) in enumerate(SIZES.items())}
    masks["b"] = _labels(47, 33, seed=9)  # transposed
    masks["d"][5, 5] = 7  # the network has classes 0..3
    root = _folder(tmp_path / "data", SIZES, masks)
    code, result, err = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint)
    assert code == 0, err
    assert "eval: skipped b: masks/b.png is 33x47 but its image is 47x33" in err
    assert "eval: skipped d: masks/d.png holds class values 7 but the network has 4 classes" in err
    assert [image["name"] for image in result["images"]] == ["a", "c"]
    assert [entry["name"] for entry in result["skipped"]] == ["b", "d"]
    assert result["skipped"][0]["reason"] == "masks/b.png is 33x47 but its image is 47x33"

    good = _folder(tmp_path / "good", {n: SIZES[n] for n in "ac"}, {n: masks[n] for n in "ac"})
    code, alone, _ = _eval(capsys, "--data", str(good), "--checkpoint", checkpoint)
    assert code == 0 and alone["final"] == result["final"] and alone["images"] == result["images"]


def test_each_image_and_mask_is_read_once(tmp_path: Path, tiny_checkpoint, capsys, monkeypatch) -> None:
    """The masks are checked as the images are scored, not in a pass of their own."""
    import fcnviewer.core.images as images
    import fcnviewer.core.truth as truth

    checkpoint = str(tiny_checkpoint("fcn32s", num_classes=NUM_CLASSES))
    masks = {name: _labels(*size, seed=i) for i, (name, size) in enumerate(SIZES.items())}
    masks["b"] = _labels(47, 33, seed=9)  # transposed: skipped
    root = _folder(tmp_path / "data", SIZES, masks)
    reads: list[str] = []
    for module, name in ((images, "load_image"), (truth, "read_mask")):
        original = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda path, *a, _f=original, **k: reads.append(Path(path).name) or _f(path, *a, **k)
        )
    code, result, err = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint)
    assert code == 0, err
    assert sorted(reads) == sorted([f"{name}.png" for name in SIZES] * 2)  # each image once, each mask once
    assert [entry["name"] for entry in result["skipped"]] == ["b"]


def test_a_folder_with_nothing_to_compare_or_other_classes_is_refused_in_one_line(
    tmp_path: Path, tiny_checkpoint, capsys
) -> None:
    checkpoint = str(tiny_checkpoint("fcn32s", num_classes=NUM_CLASSES))
    root = _folder(tmp_path / "data", {"a": (20, 24)}, {"a": np.full((24, 20), 2, np.uint8)})
    code, _, err = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"fcnviewer: error: {root}: no image with a mask that can be compared with the network's output"
    )
    (root / "classes.txt").write_text("background\nthing\nother\n")
    code, _, err = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint)
    assert code == 2 and err.strip() == "fcnviewer: error: the data has 3 classes but the network predicts 4"


def test_a_folder_names_its_classes_and_its_val_list_picks_the_images(tmp_path: Path, tiny_checkpoint, capsys) -> None:
    checkpoint = str(tiny_checkpoint("fcn32s", num_classes=NUM_CLASSES))
    masks = {name: _labels(*size, seed=i) for i, (name, size) in enumerate(SIZES.items())}
    root = _folder(tmp_path / "data", SIZES, masks)
    (root / "classes.txt").write_text("sky\nsea\nsand\nrock\n")
    (root / "val.txt").write_text("d\nb\n")
    code, result, _ = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint)
    assert code == 0 and [entry["name"] for entry in result["classes"]] == ["sky", "sea", "sand", "rock"]
    assert [image["name"] for image in result["images"]] == ["d", "b"]
    code, result, _ = _eval(capsys, "--data", str(root), "--checkpoint", checkpoint, "--split", "val", "--limit", "1")
    assert code == 0 and [image["name"] for image in result["images"]] == ["d"]


def test_synthetic_scenes_are_named_by_their_seed(capsys) -> None:
    code, result, _ = _eval(capsys, "--synthetic", "--seed", "5", "--count", "2", "--size", "48")
    assert code == 0 and [image["name"] for image in result["images"]] == ["scene_5", "scene_6"]
    assert result["skipped"] == [] and 0 <= result["images"][0]["mean_iu"] <= 1


def test_a_voc_folder_is_read_with_its_val_list_palette_masks_and_class_names(
    tmp_path: Path, tiny_checkpoint, capsys
) -> None:
    from fcnviewer.core.export import palette_mask
    from fcnviewer.core.labels import VOC_CLASSES, voc_palette

    root = tmp_path / "VOCdevkit" / "VOC2012"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / folder).mkdir(parents=True)
    for name in ("2007_000001", "2007_000002", "2007_000003"):
        Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(root / "JPEGImages" / f"{name}.jpg")
    labels = np.full((30, 40), 15, np.uint8)
    labels[:, :3] = 255  # an object border
    palette_mask(labels, voc_palette(len(VOC_CLASSES))).save(root / "SegmentationClass" / "2007_000003.png")
    (root / "ImageSets" / "Segmentation" / "val.txt").write_text("2007_000003\n2007_000002\n")
    checkpoint = str(tiny_checkpoint("fcn32s", num_classes=len(VOC_CLASSES)))
    code, result, err = _eval(capsys, "--data", str(tmp_path), "--checkpoint", checkpoint)
    assert code == 0, err
    assert "eval: 1 of 2 images have no mask: not evaluated" in err
    assert [image["name"] for image in result["images"]] == ["2007_000003"]
    assert [entry["name"] for entry in result["classes"]] == list(VOC_CLASSES)
    person = result["classes"][15]
    assert person["name"] == "person" and person["acc"] is not None  # the only labelled class, 255 left out
    assert all(entry["acc"] is None for i, entry in enumerate(result["classes"]) if i != 15)
