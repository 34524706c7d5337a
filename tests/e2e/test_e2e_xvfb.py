"""End to end on a real X server: ``python main.py IMAGE --checkpoint CK`` as a user starts it.

Needs ``Xvfb``, ``xdotool`` and ``xwd`` (Debian: xvfb, xdotool, x11-apps) and Qt's xcb
libraries. Skipped only when Xvfb is missing and ``CI`` is not set; fails otherwise.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcnviewer.core.resources import sample_images

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCREEN = (1280, 800)
#: Colours of the receptive-field boxes of the stride-32 and stride-8 stages (fcnviewer.viewer.layers.STAGE_COLORS).
BOX_COLOURS = [(255, 80, 80), (0, 220, 255)]


INSTALL = "apt-get install xvfb xdotool x11-apps"


def _require(tool: str, *, skippable: bool = False) -> str:
    """The path of ``tool``; skip (``skippable`` and ``CI`` unset) or fail when it is missing."""
    path = shutil.which(tool)
    if path is None:
        if skippable and not os.environ.get("CI"):
            pytest.skip(f"{tool} is not installed")
        pytest.fail(f"{tool} is not installed ({INSTALL})")
    return path


def read_xwd(data: bytes) -> np.ndarray:
    """An XWD screen dump (ZPixmap, 24/32 bits per pixel, as ``xwd -root`` writes) as ``(h, w, 3)`` uint8."""
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height = fields[0], fields[4], fields[5]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    red_mask, green_mask, blue_mask, ncolors = fields[14], fields[15], fields[16], fields[19]
    assert bits_per_pixel == 32, f"expected a 32-bit dump, got {bits_per_pixel} bits per pixel"
    start = header_size + 12 * ncolors
    raw = np.frombuffer(data[start : start + bytes_per_line * height], dtype="<u4" if byte_order == 0 else ">u4")
    pixels = raw.reshape(height, bytes_per_line // 4)[:, :width]
    channels = []
    for mask in (red_mask, green_mask, blue_mask):
        shift = (mask & -mask).bit_length() - 1
        channels.append(((pixels & mask) >> shift).astype(np.uint8))
    return np.stack(channels, axis=2)


def _wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def display() -> Iterator[str]:
    """A fresh Xvfb display."""
    xvfb = _require("Xvfb", skippable=True)
    for tool in ("xdotool", "xwd"):
        _require(tool)
    read_end, write_end = os.pipe()
    process = subprocess.Popen(  # Xvfb picks a free display and writes its number to the pipe
        [xvfb, "-displayfd", str(write_end), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as pipe:
            ready, _, _ = select.select([pipe], [], [], 20)
            number = pipe.readline().strip() if ready else ""
        assert number and process.poll() is None, "Xvfb did not start"
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(5)


def screenshot(env: dict[str, str]) -> np.ndarray:
    """The whole X screen."""
    dump = subprocess.run(["xwd", "-root", "-silent"], env=env, capture_output=True, check=True, timeout=20).stdout
    return read_xwd(dump)


def test_viewer_draws_mask_and_receptive_fields(display: str, tmp_path: Path) -> None:
    from tests.qt.conftest import make_checkpoint, make_image

    checkpoint = make_checkpoint(tmp_path / "tiny.safetensors")
    samples = sample_images()
    image_path = samples[0] if samples else make_image(tmp_path / "sample.png", 320, 400)
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "DISPLAY": display,
        "QT_QPA_PLATFORM": "xcb",
        "FCNVIEWER_E2E_REPORT": str(report),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the user's settings stay untouched
    }
    app = subprocess.Popen(
        [sys.executable, "main.py", str(image_path), "--checkpoint", str(checkpoint), "--device", "cpu"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )

    def state(event: str) -> Callable[[], dict | None]:
        def check() -> dict | None:
            assert app.poll() is None, f"the viewer exited: {app.stdout.read().decode() if app.stdout else ''}"
            if not report.exists():
                return None
            try:
                data = json.loads(report.read_text())
            except json.JSONDecodeError:
                return None
            return data if data["event"] == event else None

        return check

    try:
        window = _wait_for(
            lambda: subprocess.run(
                ["xdotool", "search", "--name", "FCN Viewer"], env=env, capture_output=True, text=True
            ).stdout.strip(),
            60,
            "the viewer window",
        )
        assert window
        shown = _wait_for(state("prediction"), 90, "the first prediction")
        time.sleep(0.5)  # let the window repaint
        assert isinstance(shown, dict)
        height, width = shown["image_size"]
        x0, y0 = shown["image_origin_on_screen"]
        cx, cy = shown["image_centre_on_screen"]
        scale = (cx - x0) / (width / 2)
        with_mask = screenshot(env)

        # The mask is drawn over the image: the screen differs from the plain image there (class 0 is
        # transparent by default, so only the other classes' share: 28 % with this random tiny model).
        source = np.asarray(Image.open(image_path).convert("RGB"))
        ys = np.clip(((np.arange(int(y0) + 2, int(y0 + height * scale) - 2) - y0) / scale).astype(int), 0, height - 1)
        xs = np.clip(((np.arange(int(x0) + 2, int(x0 + width * scale) - 2) - x0) / scale).astype(int), 0, width - 1)
        on_screen = with_mask[int(y0) + 2 : int(y0) + 2 + len(ys), int(x0) + 2 : int(x0) + 2 + len(xs)].astype(int)
        plain = source[np.ix_(ys, xs)].astype(int)
        changed = (np.abs(on_screen - plain).sum(2) > 40).mean()
        assert changed > 0.15, f"only {changed:.0%} of the image looks masked"

        # Click the image's centre: receptive-field boxes and the effective RF get drawn.
        subprocess.run(["xdotool", "mousemove", str(int(cx)), str(int(cy)), "click", "1"], env=env, check=True)
        _wait_for(state("probe"), 60, "the effective receptive field")
        subprocess.run(["xdotool", "key", "minus", "minus", "minus"], env=env, check=True)  # focus follows the pointer
        time.sleep(0.7)
        clicked = screenshot(env)
        Image.fromarray(clicked).save(tmp_path / "clicked.png")
        region = (slice(int(y0), int(y0 + height * scale)), slice(int(x0), int(x0 + width * scale)))
        erf_changed = (np.abs(clicked[region].astype(int) - with_mask[region].astype(int)).sum(2) > 40).mean()
        assert erf_changed > 0.001, "nothing changed on the image after the click"
        for colour in BOX_COLOURS:
            count = int((clicked == colour).all(axis=2).sum())
            assert count > 50, (
                f"no receptive-field box drawn in {colour} ({count} pixels); see {tmp_path / 'clicked.png'}"
            )
    finally:
        app.terminate()
        try:
            app.wait(5)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(5)
