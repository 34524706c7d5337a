"""More than one process: torchrun's environment, shares, and eval/train/predict on 2 CPU processes.

The 2-process runs start ``python -m torch.distributed.run`` (torchrun) with gloo on this
machine. Where unprivileged namespaces are allowed they run in a network namespace of their
own holding only the loopback interface (torchrun's store otherwise listens on every interface,
whatever ``--master_addr`` says); elsewhere on 127.0.0.1 and a free port.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fcnviewer.cli import main
from fcnviewer.core.checkpoints import load_checkpoint
from fcnviewer.core.distributed import Context, context_from_environment
from fcnviewer.core.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180


@functools.cache
def _own_network() -> bool:
    """Whether a command can run in a network namespace with only loopback (``unshare -rn``)."""
    try:
        probe = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``torchrun --nproc_per_node 2 -m fcnviewer ARGS`` on loopback, 1 thread per process."""
    port = 29500 if _own_network() else _free_port()
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(port), "-m", "fcnviewer", *args]
    if _own_network():
        command = ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=TIMEOUT)


def test_the_environment_gives_the_context():
    assert context_from_environment({}) == Context(0, 1, 0)
    context = context_from_environment({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (context.rank, context.world_size, context.local_rank, context.is_main) == (3, 4, 1, False)
    with pytest.raises(ValueError, match="whole numbers"):
        context_from_environment({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="outside"):
        context_from_environment({"RANK": "2", "WORLD_SIZE": "2"})


def test_shares_are_strided_and_cover_every_item_once():
    items = list(range(11))
    shares = [Context(rank, 3).shard(items) for rank in range(3)]
    assert shares[0] == [0, 3, 6, 9] and shares[2] == [2, 5, 8]
    assert sorted(shares[0] + shares[1] + shares[2]) == items
    one = Context()
    assert one.shard(items) == items and one.total(5) == 5
    assert torch.equal(one.all_reduce_sum(torch.arange(3)), torch.arange(3))


def test_predict_keeps_inputs_of_one_output_name_in_one_process():
    from fcnviewer.cli.predict import _share

    paths = [Path(p) for p in ("a/x.png", "a/y.png", "a/z.png", "b/x.jpg", "b/w.png")]
    shares = [_share(paths, Context(rank, 2)) for rank in range(2)]
    assert shares[0] == [Path("a/x.png"), Path("a/z.png"), Path("b/x.jpg")]
    assert sorted(shares[0] + shares[1]) == sorted(paths)


def test_a_batch_that_does_not_split_over_the_processes_is_refused(tmp_path):
    config = TrainConfig(arch="fcn32s", width=1 / 32, num_classes=6, batch=3, out=tmp_path)
    with pytest.raises(ValueError, match="--batch 3 does not split evenly over 2 processes"):
        train(config, [], None, None, class_names=(), palette=(), context=Context(0, 2))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("form", [["--json"], []], ids=["json", "table"])
def test_eval_on_two_processes_prints_what_one_prints(tmp_path, capsys, form):
    args = ["eval", "--synthetic", "--count", "6", "--size", "64", "--device", "cpu", *form]
    assert main(args) == 0
    alone = capsys.readouterr().out
    both = torchrun(*args, cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    assert both.stdout == alone
    if form:
        result = json.loads(both.stdout)
        assert result["final"]["pixel_acc"] > 0.5
        assert [image["name"] for image in result["images"]] == [
            f"scene_{seed}" for seed in range(1_000_000, 1_000_006)
        ]


def test_eval_of_a_folder_on_two_processes_lists_and_skips_what_one_does(tmp_path, capsys, tiny_checkpoint):
    """Each process checks and evaluates its share; rank 0 lists every image in the folder's
    order, names each skipped mask once and writes the same per-image table."""
    rng = np.random.default_rng(3)
    for folder in ("images", "masks"):
        (tmp_path / "data" / folder).mkdir(parents=True)
    for i in range(7):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(tmp_path / "data/images" / f"im{i}.png")
        mask = rng.integers(0, 4, (24, 32) if i != 4 else (32, 24), dtype=np.uint8)
        Image.fromarray(mask, mode="L").save(tmp_path / "data/masks" / f"im{i}.png")
    args = ["eval", "--data", str(tmp_path / "data"), "--checkpoint", str(tiny_checkpoint()), "--device", "cpu"]
    args += ["--json"]
    assert main([*args, "--per-image", str(tmp_path / "one.csv")]) == 0
    alone = capsys.readouterr()
    both = torchrun(*args, "--per-image", str(tmp_path / "two.csv"), cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    assert both.stdout == alone.out
    names = [image["name"] for image in json.loads(both.stdout)["images"]]
    assert names == ["im0", "im1", "im2", "im3", "im5", "im6"]
    skipped = "eval: skipped im4: masks/im4.png is 24x32 but its image is 32x24"
    assert [line for line in both.stderr.splitlines() if "skipped" in line] == [skipped]
    assert (tmp_path / "two.csv").read_text() == (tmp_path / "one.csv").read_text()


def test_train_on_two_processes_follows_one_with_the_same_batch(tmp_path, capsys, one_thread):
    """Dropout is off: each process draws its own dropout masks, so with it the runs would agree
    in distribution only. The default rescaling pads some images with ignored pixels, which the
    loss's normalisation over every process's pixels takes care of."""
    args = ["train", "--synthetic", "--arch", "fcn32s", "--width", "0.03125", "--size", "32", "--train-count", "64"]
    args += ["--steps", "50", "--batch", "4", "--warmup", "5", "--dropout", "0", "--val-count", "2"]
    args += ["--val-every", "25", "--save-every", "25", "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    alone = capsys.readouterr().out
    both = torchrun(*args, "--out", str(tmp_path / "two"), cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    one, two = (load_checkpoint(tmp_path / run / "fcn32s.safetensors") for run in ("one", "two"))
    # the logged losses (averaged over steps 1..50) and validation scores, rounded to 4 digits
    assert two.info.training["history"] == one.info.training["history"]
    assert _losses(both.stdout) == _losses(alone) and len(_losses(alone)) == 3
    assert two.info.training["processes"] == 2 and "processes" not in one.info.training
    expected = one.model.state_dict()
    for key, value in two.model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=1e-4, atol=1e-5, msg=key)
    state = torch.load(tmp_path / "two" / "fcn32s-state.pth", weights_only=True)
    assert state["step"] == 50 and len(state["torch_rng_ranks"]) == 2
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["fcn32s-state.pth", "fcn32s.safetensors"]
    # one process resumes what two saved (its random state is rank 0's)
    resumed = [*args, "--out", str(tmp_path / "two"), "--resume", str(tmp_path / "two" / "fcn32s-state.pth")]
    assert main(resumed) == 0 and "[fcn32s] resumed at step 50" in capsys.readouterr().out


def _losses(log: str) -> list[str]:
    """The log lines with a loss, throughput left out."""
    return [re.sub(r", [\d.]+ img/s", "", line) for line in log.splitlines() if "loss" in line]


def test_predict_on_two_processes_writes_every_file_once(tmp_path, capsys, tiny_checkpoint, rgb_image):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(np.roll(rgb_image, 7 * i, axis=1)).save(folder / f"im{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    checkpoint = str(tiny_checkpoint())
    args = ["predict", str(folder), "--checkpoint", checkpoint, "--device", "cpu", "--precision", "float32"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 1
    capsys.readouterr()
    both = torchrun(*args, "--out", str(tmp_path / "two"), cwd=tmp_path)
    assert both.returncode != 0  # one image could not be read
    assert [line for line in both.stderr.splitlines() if line.startswith("fcnviewer: error")] == [
        f"fcnviewer: error: {folder / 'broken.png'}: not an image Pillow can read"
    ]
    written = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert written == sorted(p.name for p in (tmp_path / "one").iterdir())
    assert len(written) == 10 and sum(line.endswith("im0_overlay.png") for line in both.stdout.splitlines()) == 1
    for name in written:
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes(), name
