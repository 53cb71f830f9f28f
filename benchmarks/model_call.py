"""The worker's compiled model call against Keras' `model.predict`, on the same model.

`model.predict` builds a data pipeline on every call, which costs tens of milliseconds even for
one image; `DigitModel.probabilities` calls a traced function and should cost about one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from benchmarks.report import Section
from benchmarks.stats import median_ms, ratio
from reading.calibration import apply_temperature

BATCH_SIZES = (1, 32)


@dataclass(frozen=True)
class Counts:
    calls: int  # timed calls of the compiled path per batch size
    predicts: int  # timed model.predict calls per batch size (each costs ~40 ms)


FULL = Counts(calls=300, predicts=40)
QUICK = Counts(calls=50, predicts=8)


def test_batch(size: int) -> np.ndarray:
    """`size` MNIST test digits as (size, 28, 28) floats in [0, 1]."""
    from tests.support.photos import mnist_test_digits

    x_test, _ = mnist_test_digits()
    return x_test[:size].astype(np.float32) / 255.0


def run(counts: Counts, model_path: Path | None = None) -> Section:
    from reading.model import DigitModel, load_shipped_model

    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    model.warm_up()
    rows = []
    results: list[dict[str, float]] = []
    for size in BATCH_SIZES:
        crops = test_batch(size)
        inputs = crops.reshape((-1, 28, 28, 1))
        call_ms = median_ms(partial(model.probabilities, crops), counts.calls)
        predict_ms = median_ms(
            partial(model.keras_model.predict, inputs, verbose=0), counts.predicts
        )
        # Both paths must agree, or the fast one is measuring something else.
        difference = float(
            np.abs(
                model.probabilities(crops)
                # the call applies the model's confidence calibration; predict does not
                - apply_temperature(model.keras_model.predict(inputs, verbose=0), model.temperature)
            ).max()
        )
        speedup = ratio(predict_ms, call_ms)
        rows.append([size, call_ms, call_ms / size, predict_ms, predict_ms / size, speedup])
        results.append(
            {
                "batch": size,
                "call_ms": call_ms,
                "predict_ms": predict_ms,
                "speedup": speedup,
                "max_abs_difference": difference,
            }
        )
    single_call = results[0]["call_ms"]
    return Section(
        title="Model call vs model.predict",
        summary=(
            f"Model {model.version}. Median of {counts.calls} compiled calls "
            f"(`DigitModel.probabilities`) and {counts.predicts} `keras_model.predict` calls, "
            "after warm-up, on MNIST test digits. Bar: one 28×28 input ≤ 1 ms."
        ),
        headers=[
            "batch",
            "call ms",
            "call ms/image",
            "predict ms",
            "predict ms/image",
            "predict ÷ call",
        ],
        rows=rows,
        notes=[
            f"single image: {single_call:.2f} ms — "
            + ("meets the 1 ms bar" if single_call <= 1.0 else "misses the 1 ms bar"),
            "largest difference between the two paths' probabilities: "
            f"{max(r['max_abs_difference'] for r in results):.1e}",
        ],
        data={"model_version": model.version, "results": results},
    )
