"""Measuring a model on the promotion gates' data: MNIST test, held-out corrections, photos."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitbot.settings import Settings
from reading.model import DigitModel
from reading.pipeline import read_photo
from training.corrections import CorrectionSet
from training.promotion import Scores

GATE_PHOTO_SETS = ("mnist-single", "numbers", "negatives")
# Sources we did not render for training (training.cross_source): a candidate worse on any of
# them is refused like one worse on our benchmark.
GATE_MNIST_FILE_SETS = ("as-is", "small-on-page")
GATE_HELDOUT_SETS = ("single", "negatives")


@dataclass(frozen=True)
class GateData:
    mnist_x: np.ndarray  # uint8 (n, 28, 28)
    mnist_y: np.ndarray
    corrections: CorrectionSet
    photos: dict[str, list]  # set name -> list[PhotoSample]


def load_gate_data(
    home: Path,
    corrections: CorrectionSet,
    *,
    photos_per_set: int | None = None,
    mnist_limit: int | None = None,
) -> GateData:
    from training.cross_source import mnist_file_sets
    from training.datasets import load_mnist
    from training.heldout_photos import build_heldout_set
    from training.photo_synth import build_photo_set

    data = load_mnist(home)
    count = photos_per_set if photos_per_set is not None else Settings.from_env().gate_photos
    source = (data.x_test, data.y_test)
    photos = {}
    if count > 0:
        for name in GATE_PHOTO_SETS:
            photos[name] = build_photo_set(name, None if name == "negatives" else source, count)
        files = mnist_file_sets(source, count)
        for name in GATE_MNIST_FILE_SETS:
            photos[f"mnist-files/{name}"] = files[name]
        for name in GATE_HELDOUT_SETS:
            photos[f"heldout/{name}"] = build_heldout_set(name, source, count)
    return GateData(data.x_test[:mnist_limit], data.y_test[:mnist_limit], corrections, photos)


def score(model: DigitModel, gate: GateData) -> Scores:
    """The model's numbers on the gate data (the same preprocessing the workers run)."""
    probabilities = model.probabilities(gate.mnist_x.astype(np.float32) / 255.0)
    mnist = float((probabilities.argmax(axis=1) == gate.mnist_y).mean())
    corrections_accuracy = None
    if gate.corrections.strings:
        right = 0
        for crops, label in gate.corrections.strings:
            probs = model.probabilities(crops.astype(np.float32) / 255.0)
            right += "".join(str(int(p[:10].argmax())) for p in probs) == label
        corrections_accuracy = right / len(gate.corrections.strings)
    photo_accuracy = {}
    for name, samples in gate.photos.items():
        right = sum(_read(sample.data, model) == sample.label for sample in samples)
        photo_accuracy[name] = right / max(1, len(samples))
    return Scores(mnist, corrections_accuracy, len(gate.corrections.strings), photo_accuracy)


def _read(data: bytes, model: DigitModel) -> str:
    from digitbot.errors import BadImageError

    try:
        return read_photo(data, model).recognition.text
    except BadImageError:
        return ""
