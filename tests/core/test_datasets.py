"""Listing labelled folders for the viewer and ``eval``: masks optional, bad masks named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnviewer.core.datasets import DatasetEntry, DatasetError, is_dataset, list_dataset, mask_problem
from fcnviewer.core.labels import VOC_CLASSES


def _image(path: Path, size: tuple[int, int] = (12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((size[0], size[1], 3), np.uint8)).save(path)


def _mask(path: Path, size: tuple[int, int] = (12, 10)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ones(size, np.uint8), mode="L").save(path)


def _voc(root: Path, names: list[str], labelled: list[str], val: list[str] | None) -> Path:
    for name in names:
        _image(root / "JPEGImages" / f"{name}.jpg")
    (root / "SegmentationClass").mkdir(parents=True, exist_ok=True)
    for name in labelled:
        _mask(root / "SegmentationClass" / f"{name}.png")
    if val is not None:
        split = root / "ImageSets" / "Segmentation" / "val.txt"
        split.parent.mkdir(parents=True)
        split.write_text("\n".join(val) + "\n")
    return root


def test_voc_folder_opens_its_val_list_and_keeps_images_without_masks(tmp_path: Path) -> None:
    root = _voc(tmp_path / "VOC2012", ["a", "b", "c"], ["a"], val=["c", "a"])
    listing = list_dataset(tmp_path)  # found one level down
    assert listing.layout == "voc" and listing.split == "val" and listing.class_names == VOC_CLASSES
    assert [e.name for e in listing.entries] == ["c", "a"]
    assert listing.entries[0].mask is None
    assert listing.entries[1] == DatasetEntry("a", root / "JPEGImages" / "a.jpg", root / "SegmentationClass" / "a.png")
    assert len(listing.labelled) == 1


def test_voc_folder_without_split_lists_every_image_sorted(tmp_path: Path) -> None:
    _voc(tmp_path, ["b", "a"], ["b"], val=None)
    listing = list_dataset(tmp_path)
    assert listing.split is None and [e.name for e in listing.entries] == ["a", "b"]


def test_plain_folder_reads_classes_and_named_split(tmp_path: Path) -> None:
    for name in ("x", "y"):
        _image(tmp_path / "images" / f"{name}.png")
    _mask(tmp_path / "masks" / "y.png")
    (tmp_path / "classes.txt").write_text("background\nthing\n")
    (tmp_path / "test.txt").write_text("y\n")
    assert is_dataset(tmp_path)
    whole = list_dataset(tmp_path)
    assert [(e.name, e.mask is not None) for e in whole.entries] == [("x", False), ("y", True)]
    assert whole.class_names == ("background", "thing")
    assert [e.name for e in list_dataset(tmp_path, "test").entries] == ["y"]


def test_bad_folders_say_what_was_expected(tmp_path: Path) -> None:
    assert not is_dataset(tmp_path)
    with pytest.raises(DatasetError, match="expected a PASCAL VOC folder"):
        list_dataset(tmp_path)
    _voc(tmp_path, ["a"], [], val=["a", "ghost"])
    with pytest.raises(DatasetError, match="'ghost'"):
        list_dataset(tmp_path)
    with pytest.raises(DatasetError, match="no split 'train'"):
        list_dataset(tmp_path, "train")


def test_mask_problem_names_size_and_stray_classes() -> None:
    mask = np.zeros((4, 6), np.uint8)
    assert mask_problem(mask, (4, 6), 21) is None
    assert mask_problem(mask, (6, 4), 21) == "is 6x4 but its image is 4x6"
    mask[0, :3] = (255, 21, 40)
    problem = mask_problem(mask, (4, 6), 21)
    assert problem is not None and "21, 40" in problem and "255" not in problem.split("but")[0]


def test_a_plain_folder_opens_its_val_list_as_eval_and_training_read_it(tmp_path: Path) -> None:
    for name in ("x", "y", "z"):
        _image(tmp_path / "images" / f"{name}.png")
        _mask(tmp_path / "masks" / f"{name}.png")
    (tmp_path / "val.txt").write_text("z\nx\n")
    listing = list_dataset(tmp_path)  # the viewer's and eval's default alike
    assert listing.split == "val" and [e.name for e in listing.entries] == ["z", "x"]
    assert [e.name for e in list_dataset(tmp_path, default_split=None).entries] == ["x", "y", "z"]
    with pytest.raises(DatasetError, match="no such folder"):
        list_dataset(tmp_path / "nowhere")


def test_training_takes_the_listing_with_a_mask_for_every_image(tmp_path: Path) -> None:
    from fcnviewer.core.training.data.folders import open_folder

    for name in ("x", "y", "z"):
        _image(tmp_path / "images" / f"{name}.png")
    for name in ("x", "z"):
        _mask(tmp_path / "masks" / f"{name}.png")
    both = open_folder(tmp_path, split="train")  # no train.txt: every image that has a mask
    assert [image.stem for image, _ in both.pairs] == ["x", "z"] and both.class_names == ("class 0", "class 1")
    (tmp_path / "val.txt").write_text("z\n")
    assert [image.stem for image, _ in open_folder(tmp_path, split="val").pairs] == ["z"]
    assert len(open_folder(tmp_path, split="train").pairs) == 2  # another split's list is not taken
    (tmp_path / "val.txt").write_text("y\n")
    with pytest.raises(DatasetError, match="val lists 'y' but it has no mask"):
        open_folder(tmp_path, split="val")
    voc = _voc(tmp_path / "voc", ["a"], ["a"], val=["a"])
    assert len(open_folder(voc, split="val")) == 1
    with pytest.raises(DatasetError, match="no split 'train'"):
        open_folder(voc, split="train")
