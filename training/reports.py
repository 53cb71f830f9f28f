"""What a training run leaves behind for people: plots, inference timings, metrics.json."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers and workers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

METRICS_FILE = "metrics.json"
LEARNING_CURVES_FILE = "learning_curves.png"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"
MISCLASSIFIED_FILE = "misclassified.png"

CALL_TIMING_REPEATS = 200
PREDICT_TIMING_REPEATS = 20
# Untimed calls first, so one-off tracing and allocation are not counted.
TIMING_WARMUP_CALLS = 5
MISCLASSIFIED_SHOWN = 100
MISCLASSIFIED_COLUMNS = 10


def median_milliseconds(function: Callable[[], Any], repeats: int) -> float:
    for _ in range(TIMING_WARMUP_CALLS):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000.0


def time_inference(model: keras.Model, image: np.ndarray) -> dict[str, float]:
    """Median milliseconds for one (1, 28, 28, 1) image: a direct model call and model.predict.

    Also times `predict_on_batch`, which reuses Keras' compiled predict function and so avoids
    the per-layer overhead of an eager call.
    """
    return {
        "ms_per_image": median_milliseconds(
            lambda: model(image, training=False), CALL_TIMING_REPEATS
        ),
        "ms_per_image_predict": median_milliseconds(
            lambda: model.predict(image, verbose=0), PREDICT_TIMING_REPEATS
        ),
        "ms_per_image_predict_on_batch": median_milliseconds(
            lambda: model.predict_on_batch(image), CALL_TIMING_REPEATS
        ),
    }


def write_metrics(out_dir: Path, metrics: Mapping[str, Any]) -> Path:
    path = out_dir / METRICS_FILE
    path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    return path


def plot_learning_curves(
    out_dir: Path,
    history: Mapping[str, list[float]],
    title: str,
    validation_label: str = "validation",
) -> Path:
    """Loss and accuracy per epoch, training against the held-out data Keras reported on."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        for key, label in ((metric, "training"), (f"val_{metric}", validation_label)):
            values = history.get(key)
            if values:
                axis.plot(range(1, len(values) + 1), values, marker="o", label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    return save(figure, out_dir / LEARNING_CURVES_FILE)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[true, predicted]."""
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    return counts


def plot_confusion_matrix(out_dir: Path, counts: np.ndarray, title: str) -> Path:
    num_classes = counts.shape[0]
    figure, axis = plt.subplots(figsize=(7, 6))
    # Log colour scale: the diagonal holds ~1000 per cell, the errors a handful.
    image = axis.imshow(np.log1p(counts), cmap="Blues")
    for true in range(num_classes):
        for predicted in range(num_classes):
            if counts[true, predicted]:
                colour = "white" if true == predicted else "black"
                axis.text(predicted, true, str(counts[true, predicted]), ha="center",
                          va="center", fontsize=7, color=colour)  # fmt: skip
    axis.set_xticks(range(num_classes))
    axis.set_yticks(range(num_classes))
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.colorbar(image, ax=axis, label="log(1 + count)")
    return save(figure, out_dir / CONFUSION_MATRIX_FILE)


def plot_misclassified(
    out_dir: Path, images: np.ndarray, labels: np.ndarray, probabilities: np.ndarray
) -> Path:
    """A grid of the wrongly read test digits, most confident mistakes first."""
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != labels)
    wrong = wrong[np.argsort(-probabilities[wrong, predictions[wrong]])][:MISCLASSIFIED_SHOWN]
    rows = max(1, -(-len(wrong) // MISCLASSIFIED_COLUMNS))
    figure, axes = plt.subplots(
        rows, MISCLASSIFIED_COLUMNS, figsize=(MISCLASSIFIED_COLUMNS * 1.2, rows * 1.4)
    )
    axes = np.atleast_1d(axes).ravel()
    for axis in axes:
        axis.axis("off")
    for axis, index in zip(axes, wrong, strict=False):
        axis.imshow(images[index].reshape(images.shape[1], images.shape[2]), cmap="gray")
        axis.set_title(
            f"{labels[index]}→{predictions[index]} {probabilities[index].max():.0%}", fontsize=8
        )
    figure.suptitle(f"{len(np.flatnonzero(predictions != labels))} misclassified (true→read)")
    return save(figure, out_dir / MISCLASSIFIED_FILE)


def save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
