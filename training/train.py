"""Train one architecture on MNIST, evaluate it on the test set and write its report.

    python -m training train --arch digitnet        # or: digitbot train --arch digitnet

Everything lands in `home/reports/<version>/`: model.keras and its lean form model.tflite
(reading/lean.py), metrics.json, learning curves, confusion matrix, misclassified digits and
TensorBoard logs.
"""

from __future__ import annotations

import datetime as dt
import logging
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from digitbot.defaults import NOT_A_DIGIT
from digitbot.errors import ConfigurationError
from reading.calibration import apply_temperature, expected_calibration_error, fit_temperature
from reading.lean import convert, lean_path
from training import reports
from training.architectures import ARCHITECTURES, NUM_DIGITS, Architecture
from training.augment import build_augmenter
from training.datasets import load_mnist
from training.photo_crops import CropRecipe, load_photo_crops

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
TENSORBOARD_DIR = "tensorboard"
REPORTS_DIR = "reports"
VERSION_TIME_FORMAT = "%Y%m%d-%H%M%S"
EVALUATION_BATCH_SIZE = 500
# Fine-tuning a trained model (`init_from`): small steps keep what it knows.
FINE_TUNE_LEARNING_RATE = 1e-4


@dataclass(frozen=True)
class TrainResult:
    """Where a run's files are and what it measured (`metrics` is metrics.json's content)."""

    version: str
    arch: str
    out_dir: Path
    model_path: Path
    metrics: dict[str, Any]

    @property
    def test_accuracy(self) -> float:
        return float(self.metrics["test_accuracy"])


class ProgressLearningRate(keras.callbacks.Callback):
    """Set the learning rate before every batch from the share of training already done."""

    def __init__(self, schedule: Any, total_steps: int) -> None:
        super().__init__()
        self.schedule, self.total_steps, self.step = schedule, max(total_steps, 1), 0

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.model.optimizer.learning_rate = self.schedule(self.step / self.total_steps)
        self.step += 1


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ConfigurationError(
            f"Unknown architecture {name!r}; expected one of: {', '.join(ARCHITECTURES)}."
        ) from None


def new_version(arch: str, now: dt.datetime | None = None) -> str:
    """`<arch>-<UTC timestamp>`, e.g. digitnet-20261121-153000."""
    now = now or dt.datetime.now(dt.UTC)
    return f"{arch}-{now.strftime(VERSION_TIME_FORMAT)}"


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1], the models' input contract."""
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]


def with_augmentation(model: keras.Model, seed: int) -> keras.Model:
    """Wrap a compiled model so training sees augmented images; `model` itself stays clean.

    The wrapper shares the model's layers and optimizer, so training it trains the model.
    """
    trainer = keras.Sequential([build_augmenter(seed=seed), model], name=f"{model.name}_trainer")
    trainer.compile(
        optimizer=model.optimizer,
        loss=model.loss,
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return trainer


def write_lean_form(model: keras.Model, model_path: Path) -> None:
    """Write the model's LiteRT form beside its `.keras` file. A failure costs only the fast
    call: the promotion check converts again, or refuses the model."""
    try:
        lean_path(model_path).write_bytes(convert(model))
    except Exception as exc:  # the converter raises many types; the .keras result stands
        log.warning("could not convert %s to LiteRT: %s: %s", model_path, type(exc).__name__, exc)


def train(
    arch: str,
    *,
    home: Path,
    epochs: int | None = None,
    batch_size: int | None = None,
    augment: bool | None = None,
    limit: int | None = None,
    out_dir: Path | None = None,
    seed: int = 0,
    verbose: int = 1,
    extra_train: tuple[np.ndarray, np.ndarray] | None = None,
    photo_crops: CropRecipe | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    init_from: Path | None = None,
    learning_rate: float = FINE_TUNE_LEARNING_RATE,
) -> TrainResult:
    """Train `arch` on MNIST's training set (the first `limit` images if given) and report.

    `extra_train` (uint8 (n, 28, 28) images, labels) is added to the training images, e.g.
    user corrections. `photo_crops` adds digits and non-digits read from rendered photos
    (training/photo_crops.py); its non-digits give the model an 11th class, "not a digit".
    `callbacks` run alongside ours (progress reporting). `init_from` (a .keras file of the
    same architecture and classes, e.g. the champion) fine-tunes that model at a constant
    `learning_rate` instead of training a new one with the recipe's schedule. Unset settings come
    from the architecture's own recipe. Evaluation always uses the full 10k test set. When the
    architecture has no validation split, the per-epoch validation curve is drawn on the test
    set; it only informs the plot, nothing is selected on it.
    """
    architecture = get_architecture(arch)
    extra = check_extra_train(extra_train) if extra_train is not None else None
    epochs = epochs or architecture.epochs
    batch_size = batch_size or architecture.batch_size
    augment = architecture.augment if augment is None else augment
    version = new_version(arch)
    out_dir = out_dir or home / REPORTS_DIR / version
    out_dir.mkdir(parents=True, exist_ok=True)

    keras.utils.set_random_seed(seed)
    data = load_mnist(home)
    x_train, y_train = data.x_train[:limit], data.y_train[:limit]
    num_extra = 0
    if extra is not None:
        num_extra = len(extra[1])
        # In front: a validation split takes the tail, which then stays plain MNIST.
        x_train, y_train = np.concatenate([extra[0], x_train]), np.concatenate([extra[1], y_train])
    crop_stats: dict[str, Any] = {}
    if photo_crops is not None:
        crops = load_photo_crops(
            home, data.x_train, data.y_train, photo_crops, mnist_sha256=data.sha256
        )
        crop_stats = {**asdict(photo_crops), **crops.stats, "crops": len(crops.labels)}
        x_train = np.concatenate([crops.images, x_train])
        y_train = np.concatenate([crops.labels, y_train])
    num_classes = NUM_DIGITS + 1 if (y_train == NOT_A_DIGIT).any() else NUM_DIGITS
    x_test = to_model_input(data.x_test)
    targets_train = keras.utils.to_categorical(y_train, num_classes)
    targets_test = keras.utils.to_categorical(data.y_test, num_classes)

    model = architecture.build(num_classes)
    if init_from is not None:
        model = _starting_from(init_from, model, learning_rate)
    trainer = with_augmentation(model, seed) if augment else model
    all_callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.TensorBoard(log_dir=str(out_dir / TENSORBOARD_DIR)),
        *callbacks,
    ]
    if architecture.learning_rate_schedule is not None and init_from is None:
        num_fit = len(x_train) * (1.0 - architecture.validation_split)
        steps = epochs * int(np.ceil(num_fit / batch_size))
        all_callbacks.append(ProgressLearningRate(architecture.learning_rate_schedule, steps))
    validation: dict[str, Any] = (
        {"validation_split": architecture.validation_split}
        if architecture.validation_split
        else {"validation_data": (x_test, targets_test)}
    )

    log.info("training %s on %d images for %d epochs (augment=%s)", arch, len(x_train), epochs,
             augment)  # fmt: skip
    started, started_cpu = time.perf_counter(), time.process_time()
    history = trainer.fit(
        to_model_input(x_train),
        targets_train,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        callbacks=all_callbacks,
        verbose=verbose,
        validation_batch_size=EVALUATION_BATCH_SIZE,
        **validation,
    )
    train_seconds = time.perf_counter() - started
    # CPU seconds tell the cost apart from how busy the machine was while it ran.
    train_cpu_seconds = time.process_time() - started_cpu

    test_loss, test_accuracy = model.evaluate(
        x_test, targets_test, batch_size=EVALUATION_BATCH_SIZE, verbose=0
    )
    probabilities = model.predict(x_test, batch_size=EVALUATION_BATCH_SIZE, verbose=0)
    calibration = calibrate(probabilities, data.y_test)
    model_path = out_dir / MODEL_FILE
    model.save(model_path)
    write_lean_form(model, model_path)

    metrics: dict[str, Any] = {
        "version": version,
        "arch": arch,
        "description": architecture.description,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "test_errors": int((probabilities.argmax(axis=1) != data.y_test).sum()),
        "published_accuracy": architecture.published_accuracy,
        "source": architecture.source,
        "params": int(model.count_params()),
        "num_classes": num_classes,
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu_seconds, 1),
        "validation": "split" if architecture.validation_split else "test set",
        "epochs": epochs,
        "batch_size": batch_size,
        "augment": augment,
        "train_images": len(x_train),
        "extra_train_images": num_extra,
        "photo_crops": crop_stats,
        "seed": seed,
        "init_from": str(init_from) if init_from else None,
        **{k: round(v, 3) for k, v in reports.time_inference(model, x_test[:1]).items()},
        "model_bytes": model_path.stat().st_size,
        "calibration": calibration,
        "dataset": {"name": "mnist", "source": data.source, "sha256": data.sha256},
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        **framework_versions(),
        "python_version": platform.python_version(),
    }
    reports.write_metrics(out_dir, metrics)
    title = f"{version}: test accuracy {test_accuracy:.2%}"
    validation_label = "validation" if architecture.validation_split else "test set"
    reports.plot_learning_curves(out_dir, history.history, title, validation_label)
    counts = reports.confusion_matrix(data.y_test, probabilities.argmax(axis=1), num_classes)
    reports.plot_confusion_matrix(out_dir, counts, title)
    reports.plot_misclassified(out_dir, data.x_test, data.y_test, probabilities)
    return TrainResult(version, arch, out_dir, model_path, metrics)


def _starting_from(path: Path, fresh: keras.Model, learning_rate: float) -> keras.Model:
    """The model stored at `path`, compiled like `fresh` (same loss) at a constant rate."""
    model = keras.saving.load_model(path, compile=False)
    if model.output_shape != fresh.output_shape or model.input_shape != fresh.input_shape:
        raise ValueError(
            f"{path} takes {model.input_shape} and gives {model.output_shape}; fine-tuning needs "
            f"the architecture's {fresh.input_shape} -> {fresh.output_shape}"
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=fresh.loss,
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


def check_extra_train(extra: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Return extra training data as uint8 arrays, or raise ValueError saying what is wrong."""
    images, labels = np.asarray(extra[0]), np.asarray(extra[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(
            f"extra_train must be (n, 28, 28) images with n labels; got images "
            f"{images.shape} and labels {labels.shape}"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"extra_train images must be uint8 0..255 like MNIST, got {images.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_DIGITS):
        raise ValueError(f"extra_train labels must be digits 0..{NUM_DIGITS - 1}")
    return images, labels.astype(np.uint8)


def calibrate(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Fit the confidence temperature on the first half of the test set, check it on the other.

    It changes confidences only, never which class wins, so test accuracy is unaffected.
    """
    half = len(labels) // 2
    temperature = fit_temperature(probabilities[:half], labels[:half])
    check_p, check_y = probabilities[half:], labels[half:]
    return {
        "method": "temperature",
        "temperature": round(temperature, 4),
        "fitted_on": f"MNIST test digits 0-{half - 1}",
        "checked_on": f"MNIST test digits {half}-{len(labels) - 1}",
        "ece_before": round(expected_calibration_error(check_p, check_y), 4),
        "ece_after": round(
            expected_calibration_error(apply_temperature(check_p, temperature), check_y), 4
        ),
    }


def framework_versions() -> dict[str, str]:
    """Keras, its backend and (when installed) TensorFlow versions, for reproducibility."""
    versions = {"keras_version": keras.__version__, "backend": keras.backend.backend()}
    try:
        import tensorflow as tf

        versions["tensorflow_version"] = tf.__version__
    except ImportError:  # a torch- or jax-only install
        pass
    return versions
