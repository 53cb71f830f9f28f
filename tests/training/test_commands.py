"""The `train` command parses its options and compares every architecture."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from training import commands
from training import train as train_module
from training.architectures import ARCHITECTURES
from training.photo_crops import CropRecipe
from training.train import FINE_TUNE_LEARNING_RATE, TrainResult


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
         "limit": 100, "seed": 7, "photo_crops": None, "verbose": 0, "init_from": None,
         "learning_rate": FINE_TUNE_LEARNING_RATE}
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


def test_configuration_errors_become_exit_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIGITBOT_HOME", str(tmp_path))
    assert commands.run_train(parse(["train", "--arch", "nope"])) == 2
    assert "Unknown architecture 'nope'" in capsys.readouterr().out
