"""`digitbot evaluate --misses DIR`: contact sheets of what the benchmark got wrong."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reading.model import DigitModel, load_shipped_model
from reading.pipeline import read_photo
from tests.support.photos import mnist_test_digits
from training import evaluate
from training.miss_sheet import CAPTION_HEIGHT, TILE_HEIGHT, write_miss_sheets
from training.photo_synth import SET_NAMES, build_photo_set

DIGITS = mnist_test_digits()


def test_a_sheet_shows_only_the_misses_with_their_source_digits(tmp_path: Path) -> None:
    model = load_shipped_model()
    numbers = build_photo_set("numbers", DIGITS, 3, seed=5)
    singles = build_photo_set("mnist-single", DIGITS, 2, seed=6)
    for sample in numbers:
        indices = sample.meta["source_indices"]
        assert "".join(str(DIGITS[1][i]) for i in indices) == sample.label
    answers = {
        "numbers": [numbers[0].label, "wrong", numbers[2].label],
        "mnist-single": [s.label for s in singles],
    }
    written = write_miss_sheets(
        {"numbers": numbers, "mnist-single": singles},
        answers,
        {"numbers": DIGITS[0], "mnist-single": DIGITS[0]},
        lambda data: read_photo(data, model),
        tmp_path,
    )

    assert set(written) == {"numbers"}  # a set with no miss gets no sheet
    path, count = written["numbers"]
    assert count == 1 and path == tmp_path / "numbers.png"
    sheet = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    assert sheet.shape[0] == TILE_HEIGHT + CAPTION_HEIGHT + 8  # one row: one tile
    # The tile opens with the missed photo's source digits, in the order they were written.
    for k, index in enumerate(numbers[1].meta["source_indices"]):
        shown = sheet[:TILE_HEIGHT, k * (TILE_HEIGHT + 2) : k * (TILE_HEIGHT + 2) + TILE_HEIGHT]
        expected = Image.fromarray(DIGITS[0][index]).resize((TILE_HEIGHT, TILE_HEIGHT))
        assert np.abs(shown - np.asarray(expected, dtype=np.float64)).mean() < 2.0
    # The photo part has the marks preprocessing found boxed in red.
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 60) & (rgb[..., 2] < 60)
    assert red[:TILE_HEIGHT].any()


def test_evaluate_writes_a_sheet_per_set_with_as_many_tiles_as_misses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class TestDigitsOnly:
        x_test, y_test = DIGITS

    monkeypatch.setattr(evaluate, "load_mnist", lambda home: TestDigitsOnly())
    monkeypatch.setattr(evaluate, "load_optdigits", lambda: DIGITS)
    real_pipeline = evaluate.pipeline

    def every_other_answer_wrong(model: DigitModel) -> Callable[[bytes], str]:
        recognise, calls = real_pipeline(model), itertools.count()
        return lambda data: recognise(data) + ("9" if next(calls) % 2 else "")

    monkeypatch.setattr(evaluate, "pipeline", every_other_answer_wrong)
    n = 4
    columns = evaluate.run_evaluate(
        tmp_path, n=n, baseline=False, misses_dir=tmp_path / "misses", styles=True
    )

    scores = next(iter(columns.values()))
    assert list(scores) == [*SET_NAMES, *evaluate.STYLE_SETS]
    out = capsys.readouterr().out
    printed = {
        name: int(count) for count, name in re.findall(r"^(\d+) misses of (\S+):", out, re.M)
    }
    assert sum(printed.values()) >= 2 * len(scores)
    for name, score in scores.items():
        misses = round((1 - score.accuracy) * n)
        sheet = tmp_path / "misses" / f"{name}.png"
        assert sheet.exists() == (misses > 0)
        assert printed.get(name, 0) == misses
        if misses:
            rows = Image.open(sheet).height // (TILE_HEIGHT + CAPTION_HEIGHT + 8)
            assert rows == math.ceil(misses / 3)
