"""``fcnviewer models`` and ``--checkpoint NAME`` from the command line, against 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from fcnviewer.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _listing(capsys) -> dict[str, dict]:
    assert main(["models", "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)["models"]}


def test_models_json_lists_the_catalogue_and_cached_flips_after_a_download(local_zoo, capsys) -> None:
    rows = _listing(capsys)
    row = rows[local_zoo.name]
    assert {"name", "family", "classes", "url", "size", "hash", "cached"} <= set(row)
    assert row["cached"] is False and row["hash"] == {"algorithm": "md5", "value": local_zoo.hash.value}
    assert row["url"] == local_zoo.url and len(row["classes"]) == 21 and row["family"] == "fcn_vgg"
    assert rows["unet_carvana_scale0.5"]["hash"] is None
    from fcnviewer.core.zoo import fetch

    fetch(local_zoo)
    assert _listing(capsys)[local_zoo.name]["cached"] is True
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    assert f"{local_zoo.name}  (fcn_vgg, 21 classes, ~513 MB, cached)" in text
    assert "none published: not verified" in text


def test_predict_with_a_catalogue_name_downloads_once_with_a_progress_bar(local_zoo, tmp_path, rgb_image) -> None:
    """``python -m fcnviewer predict IMG --checkpoint NAME`` in a subprocess, its catalogue entry
    pointed at the local server (the only change to the command), TORCH_HOME a fresh folder."""
    image = tmp_path / "scene.png"
    Image.fromarray(rgb_image).save(image)
    patch = (
        "import dataclasses, runpy, sys\n"
        "from fcnviewer.core.catalogue import Hash, catalogue\n"
        f"entry = catalogue()[{local_zoo.name!r}]\n"
        f"catalogue()[entry.name] = dataclasses.replace(entry, url={local_zoo.url!r}, "
        f"hash=Hash('md5', {local_zoo.hash.value!r}))\n"
        "sys.argv = ['fcnviewer', *sys.argv[1:]]\n"
        "runpy.run_module('fcnviewer', run_name='__main__')\n"
    )
    command = [sys.executable, "-c", patch, "predict", str(image), "--out", str(tmp_path / "out")]
    env = {**os.environ, "TORCH_HOME": os.environ["TORCH_HOME"], "PYTHONPATH": str(ROOT)}
    first = subprocess.run([*command, "--checkpoint", local_zoo.name], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "download" in first.stderr and "100%" in first.stderr  # tqdm's bar, on stderr
    assert (tmp_path / "out" / "scene_mask.png").exists() and local_zoo.cached_path.is_file()
    second = subprocess.run(
        [*command, "--checkpoint", local_zoo.name, "--force"], capture_output=True, text=True, env=env
    )
    assert second.returncode == 0 and "download" not in second.stderr


def test_a_failed_download_is_one_line_naming_the_url(local_zoo, capsys, tmp_path, monkeypatch) -> None:
    import dataclasses

    from fcnviewer.core.catalogue import catalogue

    catalogue()[local_zoo.name] = dataclasses.replace(local_zoo, url="http://127.0.0.1:9/x.pth")
    image = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(image)
    assert main(["predict", str(image), "--out", str(tmp_path / "o"), "--checkpoint", local_zoo.name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "http://127.0.0.1:9/x.pth" in err[0] and err[0].startswith("fcnviewer: error:")
    assert not local_zoo.cached_path.parent.exists() or list(local_zoo.cached_path.parent.iterdir()) == []
