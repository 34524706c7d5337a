"""A labelled dataset in the window: listed, walked on the worker (rows, summary, cancel), a row opened
with its truth (layers, legend, inspector, status bar), stale steps dropped, bad folders reported."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from fcnviewer.qt.window_layout import DOCK_MAX_WIDTH
from tests.qt.conftest import Heartbeat, make_image

NUM_CLASSES = 4  # the tiny checkpoint's


def _dataset(root: Path, names: list[str], *, no_mask: tuple[str, ...] = (), bad: tuple[str, ...] = ()) -> Path:
    """An images/ + masks/ folder of 48x64 images with blocky masks (a 255 border); ``bad`` masks hold class 9."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for seed, name in enumerate(names):
        make_image(root / "images" / f"{name}.png", 48, 64, seed=seed)
        if name in no_mask:
            continue
        mask = np.kron(np.random.default_rng(seed).integers(0, NUM_CLASSES, (3, 4)), np.ones((16, 16))).astype(np.uint8)
        mask[:2] = 255
        if name in bad:
            mask[10, 10] = 9
        Image.fromarray(mask, mode="L").save(root / "masks" / f"{name}.png")
    return root


def _walked(qtbot, window, path: Path) -> object:  # type: ignore[no-untyped-def]
    datasets = window.dataset_view.datasets
    window.open_paths([path])  # as `fcnviewer DIR` does
    qtbot.waitUntil(lambda: datasets.table.listing is not None and datasets.table.listing.root == path, timeout=30000)
    qtbot.waitUntil(lambda: not datasets.walking and datasets.table.walked == len(datasets.table), timeout=60000)
    return datasets


@pytest.fixture
def predictor(checkpoint: Path):  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.inference import Predictor

    return Predictor(load_checkpoint(checkpoint), device="cpu", precision="float32")


def _truth(root: Path, name: str) -> np.ndarray:
    return np.asarray(Image.open(root / "masks" / f"{name}.png"))


def _image(root: Path, name: str) -> np.ndarray:
    return np.array(Image.open(root / "images" / f"{name}.png").convert("RGB"))


def test_the_walk_fills_every_row_with_the_papers_metrics(qtbot, window, checkpoint, predictor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.training.metrics import fast_hist, scores

    root = _dataset(tmp_path / "data", ["a", "b", "c", "d", "e"], no_mask=("c",), bad=("d",))
    (root / "images" / "e.png").write_bytes(b"not an image")
    window.load_model(checkpoint)
    datasets = _walked(qtbot, window, root)
    rows = datasets.table.rows
    assert [row.entry.name for row in rows] == ["a", "b", "c", "d", "e"]
    assert rows[4].scores is None and "e.png" in rows[4].note  # the walk went on past it
    for row in rows[:2]:
        prediction = predictor.predict(_image(root, row.entry.name))
        truth = _truth(root, row.entry.name)
        for stage, labels in (("final", prediction.labels), *((n, s.labels) for n, s in prediction.stages.items())):
            expected = scores(fast_hist(truth, labels, NUM_CLASSES))
            assert row.scores.mean_iu[stage] == pytest.approx(expected["mean_iu"], abs=1e-12)
            assert row.scores.pixel_acc[stage] == pytest.approx(expected["pixel_acc"], abs=1e-12)
    assert rows[2].scores is None and rows[2].note == "no mask"
    assert rows[3].scores is None and rows[3].note.startswith("d.png holds class values 9")
    panel = window.dataset_view.image_list
    model = panel.model
    assert model.rowCount() == 5 and model.headerData(1, Qt.Orientation.Horizontal) == "IU"
    assert model.data(model.index(0, 1)) == f"{100 * rows[0].scores.mean_iu['final']:.1f}"
    assert model.data(model.index(3, model.columnCount() - 1)) == rows[3].note
    assert panel.progress.value() == 5 and panel.walk_button.text() == "Resume"
    assert "images/s" in panel.rate_label.text()
    panel.sort_worst_first()
    ious = [rows[panel.proxy.mapToSource(panel.proxy.index(r, 0)).row()].value("mean_iu", "final") for r in range(2)]
    assert ious == sorted(ious)  # worst first, the unscored rows after
    assert window.image_path == root / "images" / "a.png"  # the first image opened


def test_the_dataset_summary_is_what_eval_finds(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.checkpoints import load_checkpoint
    from fcnviewer.core.training import evaluate
    from fcnviewer.core.training.data.folders import open_folder

    root = _dataset(tmp_path / "data", ["a", "b", "c"])
    window.load_model(checkpoint)
    datasets = _walked(qtbot, window, root)
    loaded = load_checkpoint(checkpoint)
    found = evaluate(loaded.model, open_folder(root, num_classes=NUM_CLASSES), loaded.info.preprocessing, "cpu")
    summary = datasets.table.summary()
    assert summary.scored == 3
    for stage in ("final", "32", "16", "8"):
        np.testing.assert_array_equal(summary.confusion[stage], found["confusion"][stage])
    assert summary.mean_iu["final"] == found["final"]["mean_iu"]
    assert summary.mean_iu["32"] == found["stages"]["32"]["mean_iu"]
    qtbot.waitUntil(lambda: window.dataset_view.summary_panel.summary is not None, timeout=5000)
    panel = window.dataset_view.summary_panel
    assert panel.table.rowCount() == NUM_CLASSES + 1 and panel.table.columnCount() == 4
    assert not panel.picture.pixmap().isNull()


def test_cancel_stops_the_walk_and_resume_finishes_it(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = _dataset(tmp_path / "data", [f"i{n}" for n in range(8)])
    datasets = window.dataset_view.datasets
    window.load_model(checkpoint)
    with qtbot.waitSignal(datasets.row_changed, timeout=30000):
        window.open_paths([root])
    datasets.cancel_walk()
    at_cancel = datasets.table.walked
    qtbot.wait(1500)
    assert datasets.table.walked <= at_cancel + 1 < 8  # the step already sent, then nothing
    assert not datasets.walking and window.dataset_view.image_list.walk_button.text() == "Resume"
    window.dataset_view.image_list.walk_button.click()
    qtbot.waitUntil(lambda: datasets.table.walked == 8, timeout=60000)
    assert all(row.scores is not None for row in datasets.table.rows)


def test_clicking_a_row_opens_the_image_with_its_truth(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.core.training.metrics import fast_hist, scores

    root = _dataset(tmp_path / "data", ["a", "b"])
    window.load_model(checkpoint)
    datasets = _walked(qtbot, window, root)
    view = window.dataset_view.image_list.view
    rect = view.visualRect(view.model().index(1, 0))
    has_truth = lambda: datasets.truth.truth is not None  # noqa: E731
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    # The first image's truth may still arrive after the click: wait for the clicked one's.
    qtbot.waitUntil(lambda: window.image_path == root / "images" / "b.png" and has_truth(), timeout=30000)
    qtbot.waitUntil(lambda: np.array_equal(datasets.truth.truth, _truth(root, "b")), timeout=30000)
    with qtbot.waitSignal(window.image_shown, timeout=30000):
        window.step_image(-1)  # stepping goes through the dataset, and its row is selected
    assert [view.model().mapToSource(i).row() for i in view.selectionModel().selectedRows()] == [0]
    with qtbot.waitSignal(datasets.truth_changed, timeout=30000, check_params_cb=has_truth):
        window.step_image(1)
    truth = _truth(root, "b")
    np.testing.assert_array_equal(datasets.truth.truth, truth)
    for name in ("ground truth", "errors", "fixed by skips", "broken by skips"):
        assert name in window.model.layers
    class_iu = scores(fast_hist(truth, window.model.prediction.labels, NUM_CLASSES))["class_iu"]
    for index, iu in enumerate(class_iu):
        assert window.legend_panel.iu_text(index) == ("" if np.isnan(iu) else f"{100 * iu:.0f} %")
    y, x = 30, 20
    true_name = window.model.class_names[int(truth[y, x])]
    assert f"truth: {true_name} (final " in window.describe_pixel(y, x)
    window.pin_pixel(y, x)
    text = window.inspector.toPlainText()
    assert f"truth\n■ {true_name}\n■ stride 32" in text  # the truth row, then each stage marked
    assert text.count("✓") + text.count("✗") == 4


def test_a_step_of_an_earlier_walk_is_dropped(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fcnviewer.viewer.dataset_protocol import ScoreImageRequest

    first = _dataset(tmp_path / "first", ["a", "b"])
    second = _dataset(tmp_path / "second", ["x", "y", "z"])
    window.load_model(checkpoint)
    datasets = _walked(qtbot, window, first)
    old_walk, old_entry = datasets.walk, datasets.table.rows[1].entry
    datasets = _walked(qtbot, window, second)
    datasets.table.reset()  # every row waiting again: a step that landed would fill row 1
    with qtbot.waitSignal(window.worker_thread.signals.returned, timeout=30000):
        window.controller.submit(ScoreImageRequest, entry=old_entry, index=1, walk=old_walk)
    qtbot.wait(50)
    assert [row.walked for row in datasets.table.rows] == [False, False, False]
    assert [row.entry.name for row in datasets.table.rows] == ["x", "y", "z"]


def test_a_folder_that_is_no_dataset_is_one_sentence_and_the_open_stays(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = _dataset(tmp_path / "data", ["a"])
    window.load_model(checkpoint)
    datasets = _walked(qtbot, window, root)
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    for bad, words in ((tmp_path / "plain", "is not a labelled dataset"), (tmp_path / "empty", "holds no images")):
        bad.mkdir(exist_ok=True)
        with qtbot.waitSignal(window.error_shown, timeout=20000):
            window.dataset_view.open(bad)
        assert words in window.last_error and window.last_error.count(". ") == 0
        assert datasets.table.listing.root == root and len(datasets.table) == 1


def test_the_window_stays_responsive_while_the_walk_runs(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = _dataset(tmp_path / "data", [f"i{n:02d}" for n in range(40)])
    datasets = window.dataset_view.datasets
    window.resize(1400, 900)
    window.load_model(checkpoint)
    with qtbot.waitSignal(
        datasets.truth_changed, timeout=30000, check_params_cb=lambda: datasets.truth.truth is not None
    ):
        window.open_paths([root])  # the first image, its layers and the docks are drawn: then the walk alone
    heartbeat = Heartbeat()
    heartbeat.start()
    started = time.perf_counter()
    qtbot.waitUntil(lambda: datasets.table.walked == 40, timeout=60000)
    heartbeat.stop()
    longest = max(heartbeat.gaps)
    # What the window itself costs: each gap less the time its thread was runnable but waited for a core
    # (other programs on a loaded machine); waiting for the GIL (the worker) still counts.
    own = max(gap - wait for gap, wait in zip(heartbeat.gaps, heartbeat.queue_waits, strict=True))
    print(f"walk {time.perf_counter() - started:.2f} s; longest GUI stall {1000 * longest:.1f} ms, {1000 * own:.1f} ms")
    print(heartbeat.longest_gap_report())
    assert own < 0.05
    assert window.dataset_view.docks["images"].width() > DOCK_MAX_WIDTH  # below the canvas, not limited as side docks


def test_file_open_dataset_opens_the_folder_chosen(qtbot, window, checkpoint, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QFileDialog

    root = _dataset(tmp_path / "data", ["a", "b"])
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *_args: str(root)))
    action = next(a for a in window.actions() if a.text() == "Open &Dataset…")
    assert action.shortcut().toString() == "Ctrl+D"
    datasets = window.dataset_view.datasets
    with qtbot.waitSignal(datasets.listing_changed, timeout=30000):
        action.trigger()
    assert [row.entry.name for row in datasets.table.rows] == ["a", "b"]
    assert window.dataset_view.docks["images"].isVisible()


def test_a_dataset_in_the_models_classes_gets_no_domain_note(qtbot, window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    notices: list[str] = []
    window.controller.notice.connect(notices.append)
    with qtbot.waitSignal(window.controller.model_loaded, timeout=60000):
        window.load_model(None)  # the bundled model: synthetic scenes, a note on a user's own photos
    _walked(qtbot, window, _dataset(tmp_path / "data", ["a", "b"]))
    qtbot.waitUntil(lambda: window.model.prediction is not None, timeout=60000)
    assert notices == []
    with qtbot.waitSignal(window.prediction_shown, timeout=60000):
        window.open_paths([make_image(tmp_path / "photo.png", seed=5)])
    assert len(notices) == 1  # a photo outside the dataset is still noted


def test_a_double_click_on_the_shown_row_opens_nothing_again(qtbot, window, checkpoint, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = _dataset(tmp_path / "data", ["a", "b"])
    window.load_model(checkpoint)
    datasets = _walked(qtbot, window, root)
    qtbot.waitUntil(lambda: datasets.shown_row() == 0, timeout=30000)
    opened: list[int] = []
    datasets.open_row = opened.append  # what a row's click and activation ask for
    view = window.dataset_view.image_list.view
    rect = view.visualRect(view.model().index(0, 0))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # clicked, then activated
    view.activated.emit(view.model().index(0, 0))
    assert opened == []
    view.clicked.emit(view.model().index(1, 0))
    assert opened == [1]
