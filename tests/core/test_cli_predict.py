"""``fcnviewer predict``: files written, formats, failures reported per image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fcnviewer.cli import main
from fcnviewer.core.checkpoints import load_checkpoint
from fcnviewer.core.images import load_image
from fcnviewer.core.inference import Predictor


def test_predict_writes_mask_overlay_and_scores(tmp_path: Path, tiny_checkpoint, rgb_image, capsys) -> None:
    checkpoint = tiny_checkpoint("fcn8s", num_classes=4)
    image_path = tmp_path / "scene.png"
    Image.fromarray(rgb_image).save(image_path)
    out = tmp_path / "out"
    assert main(["predict", str(image_path), "--checkpoint", str(checkpoint), "--out", str(out), "--scores"]) == 0
    mask = Image.open(out / "scene_mask.png")
    assert mask.mode == "P" and mask.size == (rgb_image.shape[1], rgb_image.shape[0])
    expected = Predictor(load_checkpoint(checkpoint), device="cpu").predict(load_image(image_path))
    np.testing.assert_array_equal(np.asarray(mask), expected.labels)
    assert Image.open(out / "scene_overlay.png").size == mask.size
    scores = np.load(out / "scene_scores.npz")
    assert set(scores.files) == {"logits", "score32", "score16", "score8", "classes"}
    assert scores["logits"].dtype == np.float32 and scores["logits"].shape == (4, *rgb_image.shape[:2])
    np.testing.assert_allclose(scores["score32"], expected.stages["32"].scores, rtol=1e-5, atol=1e-5)
    assert list(scores["classes"]) == [f"class {i}" for i in range(4)]
    assert "scene.png" in capsys.readouterr().out


def test_predict_goes_on_after_a_bad_image_and_exits_nonzero(
    tmp_path: Path, tiny_checkpoint, rgb_image, capsys
) -> None:
    checkpoint = tiny_checkpoint("fcn32s")
    good, bad = tmp_path / "good.png", tmp_path / "bad.png"
    Image.fromarray(rgb_image).save(good)
    bad.write_text("not an image")
    code = main(["predict", str(bad), str(good), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "o")])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "not an image" in err[0]
    assert (tmp_path / "o" / "good_mask.png").exists()


def test_predict_refuses_to_overwrite_without_force(tmp_path: Path, tiny_checkpoint, rgb_image, capsys) -> None:
    checkpoint = str(tiny_checkpoint("fcn32s"))
    image = tmp_path / "a.png"
    Image.fromarray(rgb_image).save(image)
    args = ["predict", str(image), "--checkpoint", checkpoint, "--out", str(tmp_path / "o")]
    assert main(args) == 0
    assert main(args) == 1
    assert "exists; not overwritten (use --force)" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_predict_reports_a_bad_checkpoint_in_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00" * 10)
    assert main(["predict", "x.png", "--checkpoint", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]


def test_predict_precision_option(tmp_path: Path, tiny_checkpoint, rgb_image, capsys) -> None:
    checkpoint = tiny_checkpoint("fcn8s", num_classes=4)
    image = tmp_path / "a.png"
    Image.fromarray(rgb_image).save(image)
    args = ["predict", str(image), "--checkpoint", str(checkpoint), "--force", "--scores"]
    assert main([*args, "--out", str(tmp_path / "exact"), "--precision", "float32"]) == 0
    exact = Predictor(load_checkpoint(checkpoint), device="cpu", precision="float32").predict(load_image(image))
    np.testing.assert_array_equal(np.load(tmp_path / "exact" / "a_scores.npz")["logits"], exact.logits)
    assert main([*args, "--out", str(tmp_path / "fast"), "--precision", "bfloat16"]) == 0
    fast = np.load(tmp_path / "fast" / "a_scores.npz")["logits"]
    assert 0 < np.abs(fast - exact.logits).max() < 0.05 * np.abs(exact.logits).max()
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "half"), "--precision", "float16", "--device", "cpu"]) == 2
    assert "float16 (half precision) is for GPUs" in capsys.readouterr().err
