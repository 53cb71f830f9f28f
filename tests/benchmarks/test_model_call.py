"""The model-call benchmark runs every path it can on the shipped model and reports agreement;
timings are its output, never asserted."""

from __future__ import annotations

import pytest

from benchmarks import model_call
from reading.lean import MAX_ABS_DIFFERENCE

pytestmark = pytest.mark.slow


def test_the_section_compares_litert_with_the_keras_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # Leave this process' TensorFlow thread pools as the rest of the suite has them.
    monkeypatch.setattr(model_call, "limit_tensorflow_threads", lambda threads: (0, 0))
    section = model_call.run(model_call.Counts(calls=2, predicts=1, rounds=1))
    assert [row[0] for row in section.rows] == list(model_call.BATCH_SIZES)
    assert section.data["max_abs_difference"]["litert"] < MAX_ABS_DIFFERENCE
    assert section.data["max_abs_difference"].get("onnx", 0.0) < MAX_ABS_DIFFERENCE
    for result in section.data["results"]:
        assert {"keras", "litert", "predict"} <= set(result["ms_per_image"])
    assert "LiteRT from its .tflite file" in section.summary
    assert "| batch |" in section.to_markdown()
