"""The model call: the lean runtime workers use (LiteRT) against today's compiled Keras call,
ONNX Runtime and Keras' `model.predict`, on the same model, in one run.

`model.predict` builds a data pipeline on every call (tens of milliseconds even for one image);
the compiled `tf.function` call pays TensorFlow's per-call overhead (most of a millisecond);
LiteRT and ONNX Runtime run the converted graph with little more than the arithmetic. Every path
gives calibrated probabilities (`DigitModel.probabilities`' contract), on the same threads as a
worker process (DIGITBOT_COMPUTE_THREADS), and the paths take turns in rounds so that load on
the machine falls on all of them alike.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.report import Section
from benchmarks.stats import ratio, time_calls
from reading.calibration import apply_temperature

BATCH_SIZES = (1, 32)
AGREEMENT_DIGITS = 1000
SINGLE_IMAGE_BAR_MS = 0.3
SPEEDUP_BAR = 3.0
CLEAR_WIN = 1.5  # ONNX Runtime would replace LiteRT only if this much faster
KERAS, LITERT, ONNX, PREDICT = "keras", "litert", "onnx", "predict"
PATH_NAMES = {
    KERAS: "Keras call",
    LITERT: "LiteRT",
    ONNX: "ONNX Runtime",
    PREDICT: "model.predict",
}


@dataclass(frozen=True)
class Counts:
    calls: int  # timed calls of each fast path per batch size, over all rounds
    predicts: int  # timed model.predict calls per batch size (each costs ~40 ms)
    rounds: int  # the paths take turns this many times


FULL = Counts(calls=600, predicts=30, rounds=3)
QUICK = Counts(calls=60, predicts=4, rounds=2)

Call = Callable[[np.ndarray], np.ndarray]


def test_batch(size: int) -> np.ndarray:
    """`size` MNIST test digits as (size, 28, 28) floats in [0, 1]."""
    from tests.support.photos import mnist_test_digits

    x_test, _ = mnist_test_digits()
    return x_test[:size].astype(np.float32) / 255.0


def limit_tensorflow_threads(threads: int) -> tuple[int, int]:
    """Give TensorFlow a worker's thread pools when it has not started yet; return the
    (intra-op, inter-op) sizes it runs with (0: one per core)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # already initialised (another benchmark ran first): measure as is
        pass
    return (
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )


def onnx_call(keras_model: Any, temperature: float, threads: int) -> Call | None:
    """The model through tf2onnx and ONNX Runtime, or None when they are not installed (they
    are not dependencies: measured for comparison only)."""
    try:
        import onnxruntime
        import tensorflow as tf
        import tf2onnx
    except ImportError:
        return None
    signature = [tf.TensorSpec([None, 28, 28, 1], tf.float32, name="x")]
    graph = tf.function(lambda x: keras_model(x, training=False))
    proto, _ = tf2onnx.convert.from_function(graph, input_signature=signature, opset=17)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = threads
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    session = onnxruntime.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )

    def call(crops: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(crops, dtype=np.float32).reshape((-1, 28, 28, 1))
        return apply_temperature(session.run(None, {"x": batch})[0], temperature)

    return call


def build_calls(model: Any, threads: int) -> dict[str, Call]:
    """Every path that can run here, each giving calibrated probabilities for (n, 28, 28)."""
    from reading.lean import LeanModel, convert

    if model.lean is None:  # no .tflite beside the model: convert it for this run
        model.lean = LeanModel(convert(model.keras_model), num_threads=threads)
    lean = model.lean

    def litert(crops: np.ndarray) -> np.ndarray:
        batch = np.asarray(crops, dtype=np.float32).reshape((-1, 28, 28, 1))
        return apply_temperature(lean.run(batch), model.temperature)

    def predict(crops: np.ndarray) -> np.ndarray:
        batch = crops.reshape((-1, 28, 28, 1))
        return apply_temperature(model.keras_model.predict(batch, verbose=0), model.temperature)

    calls: dict[str, Call] = {KERAS: model.keras_probabilities, LITERT: litert}
    onnx = onnx_call(model.keras_model, model.temperature, threads)
    if onnx is not None:
        calls[ONNX] = onnx
    calls[PREDICT] = predict
    return calls


def measure(calls: dict[str, Call], crops: np.ndarray, counts: Counts) -> dict[str, float]:
    """Median ms of one call per path, the paths taking turns over `counts.rounds` rounds."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(counts.rounds):
        for name, call in calls.items():
            total = counts.predicts if name == PREDICT else counts.calls
            samples[name] += time_calls(partial(call, crops), max(1, total // counts.rounds))
    return {name: 1000.0 * statistics.median(values) for name, values in samples.items()}


def compare_onnx(results: list[dict[str, Any]]) -> str:
    """One line: how ONNX Runtime's call compares with LiteRT's, and what follows."""
    ratios = {r["batch"]: ratio(r["ms_per_call"][ONNX], r["ms_per_call"][LITERT]) for r in results}
    text = "ONNX Runtime ÷ LiteRT time per call: " + ", ".join(
        f"{value:.2f} at batch {batch}" for batch, value in ratios.items()
    )
    if min(ratios.values()) * CLEAR_WIN <= 1.0:
        return text + f" — ONNX Runtime wins by ≥ {CLEAR_WIN:g}× somewhere: worth switching"
    return (
        text + f" — no clear win (≥ {CLEAR_WIN:g}×) for ONNX Runtime, so workers keep LiteRT: "
        "TensorFlow's own converter and one runtime package, where ONNX Runtime needs tf2onnx "
        "and onnx besides"
    )


def run(counts: Counts, model_path: Path | None = None) -> Section:
    from digitbot.settings import Settings

    threads = Settings.from_env().compute_threads
    tf_threads = limit_tensorflow_threads(threads)  # before the model makes TensorFlow start

    from reading.model import DigitModel, load_shipped_model

    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    lean_source = "its .tflite file" if model.lean is not None else "converted in this run"
    calls = build_calls(model, threads)
    model.warm_up()
    digits = test_batch(AGREEMENT_DIGITS)
    reference = model.keras_probabilities(digits)
    differences = {
        name: float(np.abs(call(digits) - reference).max())
        for name, call in calls.items()
        if name in (LITERT, ONNX)
    }
    rows: list[list[Any]] = []
    results: list[dict[str, Any]] = []
    for size in BATCH_SIZES:
        ms = measure(calls, digits[:size], counts)
        per_image = {name: value / size for name, value in ms.items()}
        microseconds = {name: 1000.0 * value for name, value in per_image.items()}
        rows.append(
            [
                size,
                microseconds[KERAS],
                microseconds[LITERT],
                microseconds.get(ONNX),
                microseconds[PREDICT],
                ratio(ms[KERAS], ms[LITERT]),
                ratio(ms[KERAS], ms[ONNX]) if ONNX in ms else None,
            ]
        )
        results.append({"batch": size, "ms_per_call": ms, "ms_per_image": per_image})
    single = results[0]["ms_per_call"]
    speedup = ratio(single[KERAS], single[LITERT])
    meets = single[LITERT] <= SINGLE_IMAGE_BAR_MS and speedup >= SPEEDUP_BAR
    notes = [
        f"one 28×28 input: LiteRT {single[LITERT]:.3f} ms, today's compiled Keras call "
        f"{single[KERAS]:.3f} ms ({speedup:.1f}×) — "
        + ("meets" if meets else "misses")
        + f" the bar (≤ {SINGLE_IMAGE_BAR_MS} ms and ≥ {SPEEDUP_BAR:g}× the Keras call)",
        "largest difference from the Keras call's probabilities on "
        f"{AGREEMENT_DIGITS} test digits: "
        + ", ".join(f"{PATH_NAMES[name]} {value:.1e}" for name, value in differences.items()),
        f"LiteRT and ONNX Runtime on {threads} thread(s) (DIGITBOT_COMPUTE_THREADS), TensorFlow "
        f"on {tf_threads[0]} intra-op / {tf_threads[1]} inter-op (0: one per core)",
    ]
    if ONNX in calls:
        notes.append(compare_onnx(results))
    else:
        notes.append("ONNX Runtime not measured: `pip install onnxruntime tf2onnx` to compare")
    return Section(
        title="Model call: LiteRT vs the compiled Keras call",
        summary=(
            f"Model {model.version}; LiteRT from {lean_source}. Median µs per image of "
            f"{counts.calls} calls of each fast path and {counts.predicts} `model.predict` "
            f"calls per batch size, the paths taking turns in {counts.rounds} rounds, after "
            "warm-up, on MNIST test digits. Workers and `digitbot predict` call LiteRT "
            "(reading/lean.py); ONNX Runtime (via tf2onnx) is measured for comparison. "
            f"Bar: one 28×28 input ≤ {SINGLE_IMAGE_BAR_MS} ms, ≥ {SPEEDUP_BAR:g}× the "
            "Keras call."
        ),
        headers=[
            "batch",
            "Keras call µs/image",
            "LiteRT µs/image",
            "ONNX Runtime µs/image",
            "model.predict µs/image",
            "Keras ÷ LiteRT",
            "Keras ÷ ONNX Runtime",
        ],
        rows=rows,
        notes=notes,
        data={
            "model_version": model.version,
            "threads": threads,
            "tensorflow_threads": list(tf_threads),
            "max_abs_difference": differences,
            "results": results,
        },
    )
