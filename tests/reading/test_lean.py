"""The lean runtime (LiteRT): the shipped model answers through it with the Keras model's
probabilities, and falls back to the Keras call when its `.tflite` form is missing, unreadable,
stale or fails."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from reading.lean import MAX_ABS_DIFFERENCE, LeanModel, lean_path
from reading.model import DigitModel, shipped_model_path
from tests.support.lean_forms import copy_shipped_model, stale_lean_form
from tests.support.photos import mnist_test_digits

NUM_DIGITS = 300


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    x_test, _ = mnist_test_digits()
    return x_test[:NUM_DIGITS].astype(np.float32) / 255.0


def fallback_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "reading.model"]


def test_the_shipped_model_answers_through_litert_as_keras_does(
    shipped_model: DigitModel, digits: np.ndarray
) -> None:
    assert lean_path(shipped_model_path()).exists(), "the shipped model carries its lean form"
    assert shipped_model.runtime == "litert"
    assert shipped_model.lean is not None and shipped_model.lean.num_threads == 1  # the default
    lean = shipped_model.probabilities(digits)
    keras = shipped_model.keras_probabilities(digits)
    assert lean.shape == keras.shape == (NUM_DIGITS, shipped_model.num_classes)
    assert float(np.abs(lean - keras).max()) < MAX_ABS_DIFFERENCE
    np.testing.assert_array_equal(lean.argmax(axis=1), keras.argmax(axis=1))
    # Batches of other sizes resize the interpreter's buffers; the answers stay the same.
    for start, size in ((0, 1), (1, 7), (8, 32), (40, 1)):
        part = shipped_model.probabilities(digits[start : start + size])
        assert float(np.abs(part - lean[start : start + size]).max()) < MAX_ABS_DIFFERENCE
    assert shipped_model.probabilities(digits[:0]).shape == (0, shipped_model.num_classes)


def test_calls_from_several_threads_each_get_their_own_answer(
    shipped_model: DigitModel, digits: np.ndarray
) -> None:
    expected = shipped_model.probabilities(digits)
    errors: list[float] = []

    def serve(offset: int) -> None:
        for start in range(offset, 120, 4):
            size = 1 + start % 5
            found = shipped_model.probabilities(digits[start : start + size])
            errors.append(float(np.abs(found - expected[start : start + size]).max()))

    threads = [threading.Thread(target=serve, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 120 and max(errors) < MAX_ABS_DIFFERENCE


def test_threads_come_from_the_compute_threads_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITBOT_COMPUTE_THREADS", "2")
    model = DigitModel.load(copy_shipped_model(tmp_path))
    assert model.lean is not None and model.lean.num_threads == 2


@pytest.mark.parametrize(
    "damage",
    ["missing", "empty", "garbage", "truncated", "stale"],
)
def test_a_missing_or_bad_lean_form_falls_back_to_the_keras_call(
    damage: str,
    tmp_path: Path,
    shipped_model: DigitModel,
    digits: np.ndarray,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = copy_shipped_model(tmp_path)
    lean_file = lean_path(path)
    content = lean_file.read_bytes()
    if damage == "missing":
        lean_file.unlink()
    elif damage == "empty":
        lean_file.write_bytes(b"")
    elif damage == "garbage":
        lean_file.write_bytes(b"TFL3 not a flatbuffer" * 50)
    elif damage == "truncated":
        lean_file.write_bytes(content[: len(content) // 3])
    else:
        lean_file.write_bytes(stale_lean_form(path))
    caplog.set_level(logging.INFO, logger="reading.model")

    model = DigitModel.load(path)

    assert model.runtime == "keras"
    (record,) = fallback_records(caplog)  # one line says why
    assert "using the Keras call" in record.getMessage()
    assert record.levelno == (logging.INFO if damage == "missing" else logging.WARNING)
    found = model.probabilities(digits)
    assert float(np.abs(found - shipped_model.probabilities(digits)).max()) < MAX_ABS_DIFFERENCE


def test_registry_bytes_bring_the_lean_form_along(shipped_model: DigitModel) -> None:
    path = shipped_model_path()
    blob, lean = path.read_bytes(), lean_path(path).read_bytes()
    with_lean = DigitModel.from_bytes(blob, version="v1", metadata={}, lean_blob=lean)
    without = DigitModel.from_bytes(blob, version="v1", metadata={})
    assert (with_lean.runtime, without.runtime) == ("litert", "keras")


def test_a_failing_lean_call_hands_over_to_keras_for_good(
    tmp_path: Path, digits: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    model = DigitModel.load(copy_shipped_model(tmp_path))
    expected = model.probabilities(digits[:5])
    assert model.lean is not None

    def broken(batch: np.ndarray) -> np.ndarray:
        raise RuntimeError("interpreter failed")

    model.lean.run = broken  # type: ignore[method-assign]
    found = model.probabilities(digits[:5])
    assert model.runtime == "keras"
    assert float(np.abs(found - expected).max()) < MAX_ABS_DIFFERENCE
    assert any("uses the Keras call" in r.getMessage() for r in fallback_records(caplog))


def test_fewer_than_one_thread_is_refused() -> None:
    with pytest.raises(ValueError, match="num_threads"):
        LeanModel(lean_path(shipped_model_path()).read_bytes(), num_threads=0)
