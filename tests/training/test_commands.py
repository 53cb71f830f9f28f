"""The `train` command parses its options, compares every architecture, prints its results on
stdout and its progress on stderr (plain lines where stderr is not a terminal)."""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitbot import cli
from digitbot.errors import ConfigurationError
from training import commands
from training import train as train_module
from training.architectures import ARCHITECTURES
from training.datasets import CACHE_RELATIVE_PATH, NUM_TEST, NUM_TRAIN, MnistData, write_cache
from training.photo_crops import CropRecipe
from training.train import FINE_TUNE_LEARNING_RATE, TrainResult

REPO = Path(__file__).resolve().parents[2]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    commands.add_train_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def fake_metrics(arch: str, accuracy: float) -> dict[str, Any]:
    return {
        "arch": arch,
        "test_accuracy": accuracy,
        "published_accuracy": ARCHITECTURES[arch].published_accuracy,
        "params": 1234567,
        "train_seconds": 61.4,
        "ms_per_image": 0.42,
        "ms_per_image_predict": 38.0,
    }


def test_options_reach_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []

    def fake_train(arch: str, **kwargs: Any) -> TrainResult:
        calls.append({"arch": arch, **kwargs})
        return TrainResult("v", arch, tmp_path, tmp_path / "m", fake_metrics(arch, 0.99))

    monkeypatch.setenv("DIGITBOT_HOME", str(tmp_path))
    monkeypatch.setattr(train_module, "train", fake_train)
    args = parse(["train", "--arch", "cnn", "--epochs", "2", "--batch-size", "32",
                  "--no-augment", "--limit", "100", "--seed", "7", "--quiet"])  # fmt: skip

    assert commands.run_train(args) == 0
    assert calls == [
        {"arch": "cnn", "home": tmp_path, "epochs": 2, "batch_size": 32, "augment": False,
         "limit": 100, "seed": 7, "photo_crops": None, "verbose": 0, "callbacks": [],
         "init_from": None, "learning_rate": FINE_TUNE_LEARNING_RATE}
    ]  # fmt: skip
    assert not (tmp_path / "reports" / "comparison.md").exists()

    calls.clear()
    args = parse(["train", "--arch", "digitnet", "--photo-digits", "30", "--photo-negatives", "20",
                  "--photo-low-resolution", "10", "--photo-styled", "5", "--quiet"])  # fmt: skip
    assert commands.run_train(args) == 0
    assert calls[0]["photo_crops"] == CropRecipe(
        30, 20, num_low_resolution_photos=10, num_styled_photos=5
    )
    calls.clear()
    assert commands.run_train(parse(["train", "--arch", "digitnet", "--photo-styled", "4"])) == 0
    assert calls[0]["photo_crops"] == CropRecipe(0, 0, num_styled_photos=4)


def test_all_archs_writes_a_comparison_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fake_train(arch: str, **kwargs: Any) -> TrainResult:
        return TrainResult("v", arch, tmp_path, tmp_path / "m", fake_metrics(arch, 0.9961))

    monkeypatch.setenv("DIGITBOT_HOME", str(tmp_path))
    monkeypatch.setattr(train_module, "train", fake_train)

    assert commands.run_train(parse(["train", "--all-archs"])) == 0

    table = (tmp_path / "reports" / "comparison.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split("|")[1].strip() for row in rows[1:]] == list(ARCHITECTURES)
    published = ARCHITECTURES["mlp"].published_accuracy  # the figure the table must show
    assert published is not None
    assert f"| mlp | 99.61% | {100 * published:.2f}% | 1,234,567 | 61 s | 0.42 | 38.0 |" in table
    assert ARCHITECTURES["digitnet"].published_accuracy is None
    assert "| digitnet | 99.61% | — |" in table
    assert table.split("\n", 2)[2] in capsys.readouterr().out


def test_arch_and_all_archs_exclude_each_other() -> None:
    with pytest.raises(SystemExit):
        parse(["train", "--arch", "cnn", "--all-archs"])
    with pytest.raises(SystemExit):
        parse(["train", "--arch", "cnn", "--epochs", "0"])


def test_the_architecture_names_are_the_architectures() -> None:
    assert list(commands.ARCHITECTURE_NAMES) == list(ARCHITECTURES)
    with pytest.raises(SystemExit):
        parse(["train", "--arch", "nope"])


def test_errors_reach_the_command_line_handler_and_nothing_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_train(arch: str, **kwargs: Any) -> TrainResult:
        raise ConfigurationError("Could not load MNIST: every download failed")

    monkeypatch.setenv("DIGITBOT_HOME", str(tmp_path))
    monkeypatch.setattr(train_module, "train", failing_train)
    with pytest.raises(ConfigurationError, match="Could not load MNIST"):
        commands.run_train(parse(["train", "--arch", "cnn"]))
    assert capsys.readouterr().out == ""  # digitbot.cli prints the one line, on stderr
    described = cli.describe_error(ConfigurationError("Could not load MNIST"))
    assert described == ("Could not load MNIST", cli.EXIT_USAGE)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_keras_bar_on_a_terminal_plain_lines_elsewhere_none_if_quiet() -> None:
    assert commands.progress_display(quiet=False, stream=Terminal()) == (1, [])
    verbose, callbacks = commands.progress_display(quiet=False, stream=io.StringIO())
    assert verbose == 0
    assert [type(c).__name__ for c in callbacks] == ["PlainEpochLines"]
    assert commands.progress_display(quiet=True, stream=Terminal()) == (0, [])


def test_what_training_writes_to_stdout_goes_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def chatty_train(arch: str, **kwargs: Any) -> TrainResult:
        print("\x1b[1m1/3\x1b[0m ━━━━━━ 2s", end="\r")  # as Keras' bar does
        return TrainResult("v1", arch, tmp_path, tmp_path / "m", fake_metrics(arch, 0.99))

    monkeypatch.setenv("DIGITBOT_HOME", str(tmp_path))
    monkeypatch.setattr(train_module, "train", chatty_train)
    assert commands.run_train(parse(["train", "--arch", "cnn"])) == 0
    captured = capsys.readouterr()
    assert captured.out == f"v1: test accuracy 99.00%, report in {tmp_path}\n"
    assert "1/3" in captured.err


def test_train_redirected_to_files_writes_plain_lines_and_one_result(
    tmp_path: Path, stand_in_mnist: MnistData
) -> None:
    """`digitbot train ... > out 2> err`: the result on stdout; per-epoch lines on stderr,
    with no carriage return and no ANSI code in either file."""
    home = tmp_path / "home"
    full_size = MnistData(
        x_train=np.resize(stand_in_mnist.x_train, (NUM_TRAIN, 28, 28)),
        y_train=np.resize(stand_in_mnist.y_train, NUM_TRAIN),
        x_test=np.resize(stand_in_mnist.x_test, (NUM_TEST, 28, 28)),
        y_test=np.resize(stand_in_mnist.y_test, NUM_TEST),
        source="stand-in:optdigits",
    )
    write_cache(home / CACHE_RELATIVE_PATH, full_size)  # no download
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITBOT_", "REDIS_"))}
    env.update(DIGITBOT_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2")
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run(
            [sys.executable, "-m", "digitbot.cli", "train", "--arch", "mlp", "--epochs", "2",
             "--limit", "300"],
            stdout=stdout, stderr=stderr, cwd=REPO, env=env, timeout=600,
        )  # fmt: skip
    printed, progress = out.read_text(), err.read_text()
    assert done.returncode == 0, progress[-3000:]
    assert re.fullmatch(r"mlp-\d{8}-\d{6}: test accuracy \d+\.\d\d%, report in \S+\n", printed)
    for text in (printed, progress):
        assert "\x1b[" not in text and "\r" not in text
    assert re.search(r"epoch 1/2: accuracy \d+\.\d\d%, loss \d+\.\d{4}", progress), progress
    assert "epoch 2/2: " in progress
