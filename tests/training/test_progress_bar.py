"""Progress of the long steps: a tqdm bar on a terminal, plain log lines anywhere else (no
carriage returns or ANSI codes), and the steps that report it: the MNIST download, rendering
training photos, reading photo sets, training epochs."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from training import datasets, photo_benchmark
from training.photo_crops import CropRecipe, load_photo_crops
from training.photo_synth import PhotoSample
from training.progress_bar import ProgressBar, format_metrics, plain_epoch_lines

log = logging.getLogger("tests.progress")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def messages(caplog: pytest.LogCaptureFixture, name: str | None = None) -> list[str]:
    return [r.getMessage() for r in caplog.records if name is None or r.name == name]


def test_off_a_terminal_a_plain_line_at_each_tenth_and_at_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = io.StringIO()
    caplog.set_level(logging.INFO)
    with ProgressBar("rendering", 50, unit="photo", log=log, stream=stream) as progress:
        assert not progress.is_bar
        for _ in range(50):
            progress.update()
    lines = messages(caplog)
    assert lines[0] == "rendering: 5/50 photo (10%)"
    assert lines[-1] == "rendering: 50/50 photo (100%)"
    assert [line.rsplit("(", 1)[1] for line in lines] == [f"{p}%)" for p in range(10, 101, 10)]
    assert stream.getvalue() == ""  # tqdm stayed off: nothing with \r went anywhere


def test_big_steps_give_one_line_each_not_one_per_tenth_crossed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with ProgressBar("reading", 1000, log=log, stream=io.StringIO()) as progress:
        progress.update(450)
        progress.update(550)
    assert messages(caplog) == ["reading: 450/1,000 it (45%)", "reading: 1,000/1,000 it (100%)"]


def test_on_a_terminal_a_tqdm_bar_and_no_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    terminal = Terminal()
    caplog.set_level(logging.INFO)
    with ProgressBar("rendering", 20, unit="photo", log=log, stream=terminal) as progress:
        assert progress.is_bar
        progress.update(20)
    assert "\r" in terminal.getvalue() and "rendering" in terminal.getvalue()
    assert "20/20" in terminal.getvalue()
    assert messages(caplog) == []


def test_bytes_are_shown_in_megabytes_and_an_unknown_total_as_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with ProgressBar("downloading", 11_490_434, unit="B", unit_scale=True, log=log) as progress:
        progress.update(11_490_434)
    with ProgressBar("reading", None, unit="photo", log=log) as progress:
        progress.update(7)
    assert messages(caplog) == ["downloading: 11.5MB/11.5MB (100%)", "reading: 7 photo"]


def test_epoch_lines_give_metrics_and_quarters_of_a_long_epoch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    callback = plain_epoch_lines(log)
    callback.set_params({"epochs": 3, "steps": 400, "verbose": 0})
    caplog.set_level(logging.INFO)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    for step in range(400):
        callback.on_train_batch_end(step)
    callback.on_epoch_end(0, {"loss": 0.04123, "accuracy": 0.98712, "val_accuracy": 0.9902})
    assert messages(caplog) == [
        "epoch 1/3: 25% (100/400 steps)",
        "epoch 1/3: 50% (200/400 steps)",
        "epoch 1/3: 75% (300/400 steps)",
        "epoch 1/3: accuracy 98.71%, loss 0.0412, val_accuracy 99.02%",
    ]


def test_metrics_leave_out_the_learning_rate() -> None:
    assert format_metrics({"val_loss": 0.5, "learning_rate": 0.001, "loss": 0.25}) == (
        "loss 0.2500, val_loss 0.5000"
    )


# --- the long steps report progress ---------------------------------------------------------


class Response(io.BytesIO):
    """An HTTP response as urlopen gives it: a body and its Content-Length."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.length = len(payload)


def test_the_mnist_download_reports_its_progress(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    payload = bytes(5 * datasets.DOWNLOAD_BLOCK_BYTES)
    caplog.set_level(logging.INFO)
    got = datasets._read_with_progress(Response(payload), "downloading MNIST")
    assert got == payload
    lines = messages(caplog, "training.datasets")
    assert lines[0] == "downloading MNIST: 65.5kB/328kB (20%)"
    assert lines[-1] == "downloading MNIST: 328kB/328kB (100%)"


def test_rendering_training_photos_reports_photos_done(
    tmp_path: Path,
    stand_in_mnist: datasets.MnistData,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    recipe = CropRecipe(4, 0)
    load_photo_crops(
        tmp_path,
        stand_in_mnist.x_train,
        stand_in_mnist.y_train,
        recipe,
        mnist_sha256="abc",
        processes=1,
    )
    assert "rendering training photos: 4/4 photo (100%)" in messages(caplog, "training.photo_crops")


def test_reading_photo_sets_reports_photos_read(caplog: pytest.LogCaptureFixture) -> None:
    sets = {name: [PhotoSample(bytes([i]), "1", {}) for i in range(10)] for name in ("a", "b")}
    caplog.set_level(logging.INFO)
    scores = photo_benchmark.evaluate_photo_sets(lambda data: "1", sets, progress="reading")
    assert scores["a"].accuracy == 1.0
    lines = messages(caplog, "training.photo_benchmark")
    assert lines[0] == "reading: 2/20 photo (10%)" and lines[-1] == "reading: 20/20 photo (100%)"
    caplog.clear()
    photo_benchmark.evaluate_photo_sets(lambda data: "1", sets)  # callers that want no progress
    assert messages(caplog, "training.photo_benchmark") == []


def test_the_end_line_is_written_once_however_often_it_is_closed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    progress = ProgressBar("saving", 3, log=log, stream=io.StringIO())
    progress.update(3)
    progress.close()
    progress.close()
    assert messages(caplog) == ["saving: 3/3 it (100%)"]
