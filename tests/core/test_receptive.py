"""Receptive fields: tables, exact boxes, stage geometry, ERFs, branch contributions, ``fcnviewer rf``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from fcnviewer.core.alignment import upsample_to_image
from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.receptive import (
    Box,
    branch_contributions,
    effective_receptive_field,
    effective_receptive_fields,
    layer_table,
    pixel_boxes,
    stage_geometry,
    stage_map_shapes,
    unit_box,
    units_seeing,
)

TINY = 1 / 16


def tiny(arch: str, *, seed: int = 0, positive: bool = False) -> nn.Module:
    """A small FCN with every conv randomised (the reference zero-initialises the score layers).

    With ``positive``, weights are positive, biases zero and max pools become average pools of
    the same geometry, so every input pixel inside a receptive field has a nonzero gradient.
    """
    torch.manual_seed(seed)
    model = build_model(ArchSpec(arch, width=TINY))
    for module in model.modules():
        if type(module) is nn.Conv2d:
            fan_in = module.weight[0].numel()
            if positive:
                nn.init.uniform_(module.weight, 0.5 / fan_in, 1.5 / fan_in)
                nn.init.zeros_(module.bias)
            else:
                nn.init.normal_(module.weight, std=(2 / fan_in) ** 0.5)
                nn.init.normal_(module.bias, std=0.1)
    if positive:
        for name, module in list(model.named_children()):
            if isinstance(module, nn.MaxPool2d):
                setattr(model, name, nn.AvgPool2d(module.kernel_size, module.stride, ceil_mode=module.ceil_mode))
    return model.eval()


def support(grad: torch.Tensor) -> Box:
    """Bounding box of the nonzero entries of an ``(1, 3, H, W)`` gradient."""
    ys, xs = np.nonzero(grad[0].abs().sum(0).numpy())
    return Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))


def clipped(box: Box, height: int, width: int) -> Box:
    return Box(max(box.x0, 0), max(box.y0, 0), min(box.x1, width - 1), min(box.y1, height - 1))


def inside(inner: Box, outer: Box) -> bool:
    return outer.x0 <= inner.x0 and outer.y0 <= inner.y0 and inner.x1 <= outer.x1 and inner.y1 <= outer.y1


def displayed(model: nn.Module, out: dict[str, torch.Tensor], stage: str, height: int, width: int) -> torch.Tensor:
    """What the viewer shows for ``stage``: the map upsampled onto the image, or the final logits."""
    if stage == "final":
        return out["out"]
    return upsample_to_image(out[stage], stage_geometry(model)[stage], height, width)


# ----------------------------------------------------------------------------- tables


def test_vgg16_table_at_full_width() -> None:
    with torch.device("meta"):
        model = build_model(ArchSpec("fcn8s"))
    rows = {row.layer: row for row in layer_table(model)}
    expected = {"pool3": (44, 8), "pool4": (100, 16), "pool5": (212, 32), "fc6": (404, 32), "score_fr": (404, 32)}
    for layer, (size, stride) in expected.items():
        assert (rows[layer].size, rows[layer].stride) == (size, stride), layer
    assert rows["conv1_1"].center0 == -99.0
    assert rows["score_fr"].center0 == 12.5
    fused = {name: (rows[name].size, rows[name].stride, rows[name].center0) for name in ("16", "8", "final")}
    assert fused == {"16": (436, 16.0, -11.5), "8": (468, 8.0, -23.5), "final": (468, 1.0, 0.0)}
    assert [row.layer for row in layer_table(build_model(ArchSpec("fcn8s", width=TINY)))] == list(rows)
    assert layer_table(build_model(ArchSpec("fcn8s", width=TINY))) == list(rows.values())


def test_table_reads_the_modules() -> None:
    model = build_model(ArchSpec("fcn32s", width=TINY))
    model.pool1 = nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)
    model.fc6 = nn.Conv2d(model.fc6.in_channels, model.fc6.out_channels, 3, dilation=2)
    rows = {row.layer: row for row in layer_table(model)}
    assert (rows["pool1"].size, rows["pool1"].center0) == (7, -99.0)
    assert rows["fc6"].size == rows["pool5"].size + 4 * 32
    # the recurrence for the chain and the interval method for the stage agree
    assert stage_geometry(model)["32"].offset == rows["score_fr"].center0


def test_stage_geometry_and_shapes() -> None:
    model = build_model(ArchSpec("fcn8s", width=TINY))
    geometry = stage_geometry(model)
    assert {k: (g.stride, g.offset) for k, g in geometry.items()} == {
        "32": (32.0, 12.5),
        "16": (16.0, -11.5),
        "8": (8.0, -23.5),
    }
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 80))
    assert stage_map_shapes(model, (64, 80)) == {k: tuple(out[k].shape[-2:]) for k in model.stage_names}


def test_resnet_stage_geometry() -> None:
    with torch.device("meta"):
        model = build_model(ArchSpec("fcn_resnet50", aux=True))
    geometry = stage_geometry(model)
    assert {k: g.stride for k, g in geometry.items()} == {"8": 8.0, "aux": 8.0}
    boxes = pixel_boxes(model, 30, 40, (64, 80))
    assert list(boxes) == ["8", "aux", "final"]
    assert boxes["aux"].width < boxes["8"].width


@pytest.mark.parametrize("arch", ["fcn32s", "fcn16s", "fcn8s"])
def test_geometry_matches_the_networks_own_upsampling(arch: str) -> None:
    """With bilinear deconvolutions, ``out`` is the finest stage interpolated at the geometry's positions."""
    model = tiny(arch)
    height, width = 64, 80
    with torch.no_grad():
        out = model(torch.randn(1, 3, height, width))
    stage = model.stage_names[-1]
    g = stage_geometry(model)[stage]
    ours = upsample_to_image(out[stage], g, height, width)
    h, w = out[stage].shape[-2:]
    ys = [y for y in range(height) if 0 <= (y - g.offset) / g.stride <= h - 1]
    xs = [x for x in range(width) if 0 <= (x - g.offset) / g.stride <= w - 1]
    assert len(ys) > 20 and len(xs) > 20
    rows, cols = slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1)
    torch.testing.assert_close(ours[..., rows, cols], out["out"][..., rows, cols], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- boxes


def test_boxes_contain_the_gradient_support() -> None:
    model = tiny("fcn8s", seed=1)
    height, width = 64, 80
    x = torch.randn(1, 3, height, width, requires_grad=True)
    out = model(x)
    shapes = {k: tuple(out[k].shape[-2:]) for k in model.stage_names}
    for y, xp in [(0, 0), (63, 79), (30, 40)]:
        boxes = pixel_boxes(model, y, xp, (height, width), shapes)
        assert list(boxes) == ["32", "16", "8", "final"]
        for stage, box in boxes.items():
            value = displayed(model, out, stage, height, width)[0, 3, y, xp]
            (grad,) = torch.autograd.grad(value, x, retain_graph=True)
            assert inside(support(grad), box), (stage, y, xp)


@pytest.mark.parametrize("arch", ["fcn32s", "fcn8s"])
def test_boxes_are_tight(arch: str) -> None:
    """With every path active, the gradient reaches exactly the box (clipped to the image).

    The image is wide enough (480 columns) for a whole box (436 or 468 wide) to fit across.
    """
    model = tiny(arch, positive=True)
    height, width = 72, 480
    x = (torch.rand(1, 3, height, width) + 0.1).requires_grad_(True)
    out = model(x)
    for y, xp in [(36, 240), (5, 470)][: 2 if arch == "fcn32s" else 1]:
        boxes = pixel_boxes(model, y, xp, (height, width))
        for stage, box in boxes.items():
            value = displayed(model, out, stage, height, width)[0, 0, y, xp]
            (grad,) = torch.autograd.grad(value, x, retain_graph=True)
            assert support(grad) == clipped(box, height, width), (stage, y, xp)
    final = pixel_boxes(model, 36, 240, (height, width))["final"]
    assert final.x0 > 0 and final.x1 < width - 1


def test_units_seeing_is_the_inverse_of_unit_boxes() -> None:
    model = build_model(ArchSpec("fcn8s", width=TINY))
    height, width = 64, 80
    streams = model.streams()
    shapes = stage_map_shapes(model, (height, width))
    geometry = stage_geometry(model)
    for stage in model.stage_names:
        h, w = shapes[stage]
        for y, x in [(0, 0), (31, 47), (63, 79)]:
            y0, y1, x0, x1 = units_seeing(model, stage, y, x, (h, w))
            for uy in range(h):
                for ux in range(w):
                    box = unit_box(streams[stage], (uy, uy), (ux, ux))
                    sees = box.y0 <= y <= box.y1 and box.x0 <= x <= box.x1
                    assert sees == (y0 <= uy <= y1 and x0 <= ux <= x1)
            # the units the display reads at a pixel all see it
            for unit, lo, hi in [
                (geometry[stage].units_read(y, h), y0, y1),
                (geometry[stage].units_read(x, w), x0, x1),
            ]:
                assert lo <= unit[0] <= unit[1] <= hi
    assert units_seeing(model, "final", 10, 10, (height, width)) == (0, height - 1, 0, width - 1)
    assert units_seeing(model, "32", -1000, 10, shapes["32"]) is None


# ----------------------------------------------------------------------------- gradients


def test_effective_receptive_fields() -> None:
    model = tiny("fcn8s", seed=2)
    height, width = 64, 80
    x = torch.randn(1, 3, height, width)
    y, xp = 20, 50
    fields = effective_receptive_fields(model, x, y, xp)
    assert list(fields) == ["32", "16", "8", "final"]
    with torch.no_grad():
        out = model(x)
    predicted = int(out["out"][0, :, y, xp].argmax())
    streams = model.streams()
    streams["final"] = streams.pop("out")
    for stage, field in fields.items():
        assert field.values.shape == (height, width) and field.values.dtype == np.float32
        assert field.class_index == predicted and (field.values >= 0).all() and field.values.max() > 0
        uy, ux = field.unit
        box = clipped(unit_box(streams[stage], (uy, uy), (ux, ux)), height, width)
        outside = field.values.copy()
        outside[box.y0 : box.y1 + 1, box.x0 : box.x1 + 1] = 0
        assert not outside.any(), stage
    assert fields["final"].unit == (y, xp)
    assert fields["8"].unit == (round((y + 23.5) / 8), round((xp + 23.5) / 8))
    one = effective_receptive_field(model, x, y, xp, stage="16", class_index=4)
    assert one.class_index == 4 and one.unit == fields["16"].unit
    assert model.training is False


def test_effective_receptive_field_is_the_input_gradient() -> None:
    model = tiny("fcn32s", seed=3)
    x = torch.randn(1, 3, 48, 48)
    field = effective_receptive_field(model, x, 10, 10)
    x.requires_grad_(True)
    logit = model(x)["out"][0, field.class_index, 10, 10]
    (grad,) = torch.autograd.grad(logit, x)
    np.testing.assert_allclose(field.values, grad[0].abs().sum(0).numpy(), rtol=1e-6)


@pytest.mark.parametrize("arch", ["fcn32s", "fcn16s", "fcn8s", "fcn8s-atonce"])
def test_branch_contributions_sum_to_the_logit(arch: str) -> None:
    model = tiny(arch, seed=4)
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        out = model(x)["out"]
    for y, xp in [(10, 10), (40, 70)]:
        parts = branch_contributions(model, x, y, xp)
        expected = {"fcn32s": ["stride32"], "fcn16s": ["stride32", "pool4"]}.get(arch, ["stride32", "pool4", "pool3"])
        assert list(parts) == expected
        c = int(out[0, :, y, xp].argmax())
        logit = float(out[0, c, y, xp])
        assert sum(parts.values()) == pytest.approx(logit, rel=1e-4, abs=1e-6)
        assert branch_contributions(model, x, y, xp, class_index=2) != parts
    if arch == "fcn16s":
        # the stride-32 share is what the network outputs when the pool4 skip is silenced
        parts = branch_contributions(model, x, 40, 70, class_index=5)
        nn.init.zeros_(model.score_pool4.weight)
        nn.init.zeros_(model.score_pool4.bias)
        with torch.no_grad():
            silenced = float(model(x)["out"][0, 5, 40, 70])
        assert parts["stride32"] == pytest.approx(silenced, rel=1e-4, abs=1e-6)


def test_branch_contributions_need_an_out_stream() -> None:
    with torch.device("meta"):
        model = build_model(ArchSpec("fcn_resnet50"))
    with pytest.raises(ValueError, match="not a sum of branches"):
        branch_contributions(model, torch.zeros(1, 3, 16, 16, device="meta"), 0, 0)


# ----------------------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    from fcnviewer.cli import main

    return main(["rf", *argv])


@pytest.fixture
def checkpoint(tmp_path):
    from fcnviewer.core import checkpoints

    spec = ArchSpec("fcn16s", width=TINY)
    path = tmp_path / "tiny.safetensors"
    checkpoints.save_checkpoint(path, tiny("fcn16s", seed=5), checkpoints.ModelInfo.default_for(spec))
    return path


def test_cli_json_with_pixel_and_erf(checkpoint, tmp_path, capsys) -> None:
    from PIL import Image

    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(image)
    erf = tmp_path / "erf.data"
    argv = ["--checkpoint", str(checkpoint), "--json", "--image", str(image), "--pixel", "12,30", "--erf", str(erf)]
    assert run_cli([*argv, "--class", "3"]) == 0
    report = json.loads(capsys.readouterr().out)
    layers = {row["layer"]: row for row in report["layers"]}
    assert layers["pool4"] == {"layer": "pool4", "size": 100, "stride": 16.0, "center0": -91.5, "whole_image": False}
    pixel = report["pixel"]
    assert (pixel["y"], pixel["x"], pixel["clipped"]) == (12, 30, False)
    assert [b["stage"] for b in pixel["boxes"]] == ["32", "16", "final"]
    model = tiny("fcn16s", seed=5)
    assert pixel["boxes"][-1]["box"] == pixel_boxes(model, 12, 30, (40, 56))["final"].as_list()
    assert pixel["erf"]["class"] == 3
    values = np.load(erf)
    assert values.shape == (40, 56) and values.dtype == np.float32 and values.max() > 0


def test_cli_text_and_errors(checkpoint, tmp_path, capsys) -> None:
    assert run_cli(["--checkpoint", str(checkpoint)]) == 0
    text = capsys.readouterr().out
    assert "score_fr" in text and "404" in text
    missing = tmp_path / "missing.pth"
    assert run_cli(["--checkpoint", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.count("\n") == 1
    assert run_cli(["--checkpoint", str(checkpoint), "--image", str(tmp_path / "none.png"), "--pixel", "1,1"]) == 2
    assert "none.png" in capsys.readouterr().err
    assert run_cli(["--checkpoint", str(checkpoint), "--pixel", "1,1"]) == 2


def test_the_union_of_boxes_holds_each_and_sees_the_whole_image_if_one_does() -> None:
    boxes = [Box(-4, 10, 20, 30), Box(0, -2, 12, 40), Box(5, 5, 33, 6, whole_image=True)]
    assert Box.union(boxes) == Box(-4, -2, 33, 40, whole_image=True)
    assert Box.union(boxes[:2]) == Box(-4, -2, 20, 40)
    assert Box.union(iter(boxes[:1])) == boxes[0]
