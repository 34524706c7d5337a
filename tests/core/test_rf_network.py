"""The network table (every layer, crops with their reason), skip paths' boxes and ERFs, any layer's target."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fcnviewer.core.models import ArchSpec, build_model
from fcnviewer.core.receptive import (
    Box,
    branch_contributions,
    gradient_map,
    layer_names,
    layer_table,
    layer_target,
    unit_box,
)
from fcnviewer.core.receptive.network import network_table
from fcnviewer.core.receptive.paths import path_boxes, path_fields, skip_paths
from tests.core.test_receptive import clipped, run_cli, tiny

SIZE = (72, 88)


@pytest.mark.parametrize(
    ("arch", "crops"), [("fcn32s", [19]), ("fcn16s", [5, 27]), ("fcn8s", [5, 9, 31]), ("fcn8s-atonce", [5, 9, 31])]
)
def test_crops_are_rows_that_say_where_unit_zero_lands(arch: str, crops: list[int]) -> None:
    rows = network_table(build_model(ArchSpec(arch, width=1 / 16)))
    crop_rows = [row for row in rows if row.kind == "crop"]
    assert [row.layer for row in crop_rows] == [f"crop {k}" for k in crops]
    by_name = {row.layer: row for row in rows}
    cropped = {19: "upscore", 27: "upscore16", 31: "upscore8", 5: "score_pool4", 9: "score_pool3"}
    for row in crop_rows:
        k = int(row.layer.split()[1])
        before = by_name[cropped[k]]
        assert row.center0 == before.center0 + k * before.stride and row.stride == before.stride
        assert f"Crop {k}: drops the first {k} units" in row.note
    final_crop = crop_rows[-1]
    assert final_crop.center0 == 0.0 and "output pixel 0 is centred on image pixel 0" in final_crop.note
    if arch != "fcn32s":  # the pool4 path's unit 0 lands on upscore2's
        assert by_name["crop 5"].center0 == by_name["upscore2"].center0 == -11.5
        assert "onto the centre of unit 0 of the map it is added to (-11.5 px)" in by_name["crop 5"].note


def test_every_row_of_the_layer_table_is_in_the_network_table_with_its_numbers() -> None:
    for arch in ("fcn8s", "unet", "unet_paper"):
        model = build_model(ArchSpec(arch, width=1 / 16))
        rows = {(row.layer, row.kind != "path"): row for row in network_table(model)}
        for row in layer_table(model):
            mine = rows[(row.layer, True)]
            assert (mine.size, mine.stride, mine.center0, mine.whole_image) == (
                row.size,
                row.stride,
                row.center0,
                row.whole_image,
            )


def test_channels_padding_and_order_of_fcn8s() -> None:
    rows = network_table(build_model(ArchSpec("fcn8s", num_classes=5, width=1 / 16)))
    by_name = {row.layer: row for row in rows}
    assert (by_name["conv1_1"].channels, by_name["conv1_1"].padding, by_name["conv1_1"].kind) == (4, 100, "conv")
    assert (by_name["pool1"].channels, by_name["pool1"].kind) == (4, "pool")
    assert (by_name["upscore2"].kind, by_name["16"].kind, by_name["16"].channels) == ("upsample", "map", 5)
    order = [row.layer for row in rows]
    tail = ["score_fr", "upscore2", "score_pool4", "crop 5", "16", "upscore_pool4", "score_pool3", "crop 9", "8"]
    assert order[order.index("score_fr") : order.index("8") + 1] == tail
    assert order[-6:] == ["upscore8", "crop 31", "final", "stride32", "pool4", "pool3"]
    paths = {row.layer: row.size for row in rows if row.kind == "path"}
    assert paths["pool3"] < paths["pool4"] < paths["stride32"] == by_name["final"].size


def test_off_chain_layers_and_levels_are_targets() -> None:
    model = tiny("fcn8s", positive=True)
    assert {"score_pool4", "upscore2", "score_pool3", "upscore8"} <= set(layer_names(model))
    inputs = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(0))
    target = layer_target(model, "score_pool4", 40, 50)
    values = gradient_map(model, target, inputs)
    ys, xs = np.nonzero(values)
    assert Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())) == clipped(target.box, *SIZE)
    assert target.box.width == 100
    unet = build_model(ArchSpec("unet", width=1 / 16)).eval()
    assert {"16", "8", "1"} <= set(layer_names(unet))
    level = layer_target(unet, "8", 30, 30)
    assert gradient_map(unet, level, torch.randn(1, 3, 64, 64)).max() > 0
    assert (level.stride, level.box.width) == (8.0, 172)


def test_skip_paths_boxes_and_fields() -> None:
    model = tiny("fcn8s", positive=True)
    inputs = torch.randn(1, 3, *SIZE, generator=torch.Generator().manual_seed(1))
    assert [path.name for path in skip_paths(model)] == ["stride32", "pool4", "pool3"]
    shares, fields = path_fields(model, inputs, 30, 40, 2)
    contributions = branch_contributions(model, inputs, 30, 40, 2)
    assert list(shares) == list(contributions)
    np.testing.assert_allclose(list(shares.values()), list(contributions.values()), rtol=1e-5)
    boxes = path_boxes(model, 30, 40, SIZE, {})
    for name, values in fields.items():
        ys, xs = np.nonzero(values)
        assert values.shape == SIZE and values.dtype == np.float32
        assert Box(int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())) == clipped(boxes[name], *SIZE), name
    assert boxes["pool3"].width < boxes["pool4"].width < boxes["stride32"].width
    stream = {path.name: path.stream for path in skip_paths(model)}["pool3"]
    assert boxes["pool3"] == unit_box(stream, (30, 30), (40, 40))


def test_skip_paths_refused_where_the_output_is_no_sum() -> None:
    with pytest.raises(ValueError, match="not a sum"):
        skip_paths(build_model(ArchSpec("unet", width=1 / 16)))


def test_cli_layer_on_a_unet_level(tmp_path, capsys) -> None:
    from PIL import Image

    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(image)
    argv = ["--arch", "unet", "--image", str(image), "--pixel", "30,30", "--layer", "8", "--json"]
    assert run_cli(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["layer"]["name"], report["layer"]["stride"], report["layer"]["size"]) == ("8", 8.0, 172)
