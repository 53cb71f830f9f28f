"""Model files for the lean-runtime tests: a copy of the shipped model, and a stale lean form."""

from __future__ import annotations

import shutil
from pathlib import Path

from reading.lean import convert, lean_path
from reading.model import shipped_model_path


def copy_shipped_model(directory: Path, *, with_lean: bool = True) -> Path:
    """The shipped `.keras` file and its metadata (and its `.tflite` form) copied into
    `directory`; returns the copy's `.keras` path."""
    source = shipped_model_path()
    target = directory / source.name
    shutil.copyfile(source, target)
    shutil.copyfile(source.with_suffix(".json"), target.with_suffix(".json"))
    if with_lean:
        shutil.copyfile(lean_path(source), lean_path(target))
    return target


def stale_lean_form(model_path: Path) -> bytes:
    """The lean form of the same architecture with other weights (each trained one scaled by a
    seeded factor in [0.5, 1.5]): what a `.tflite` file left beside a `.keras` file retrained in
    place would be. It loads and runs fine; only its answers differ."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    model = keras.saving.load_model(model_path, compile=False)
    model.set_weights([w * rng.uniform(0.5, 1.5, w.shape) for w in model.get_weights()])
    return convert(model)
