"""The shipped model gives the same answers on Keras' torch backend (CPU) as on TensorFlow.

A GPU host without TensorFlow, or a GPU check machine, runs the model this way. Keras picks its
backend once per process, so the torch side runs in a subprocess with KERAS_BACKEND=torch and
the TensorFlow side in this one. Both load a copy of the shipped model taken at the start, so
the test holds whichever model is shipped (its version and number of classes are read from it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reading.model import DigitModel, shipped_model_path
from reading.preprocess import preprocess
from tests.support.photos import REPO_ROOT, clear_arrays, digit_photo, mnist_test_digits

NUM_MNIST_DIGITS = 300
NUM_PHOTOS = 20
MAX_ABS_DIFFERENCE = 1e-4
TORCH_CALL = "compile_call.<locals>.torch_call"

# Runs with KERAS_BACKEND=torch: argv = model file, inputs (.npy), outputs (.npy), info (.json).
TORCH_SIDE = """
import json, sys
import numpy as np
import keras
from reading.model import DigitModel

model_path, inputs_path, outputs_path, info_path = sys.argv[1:5]
model = DigitModel.load(model_path)
np.save(outputs_path, model.probabilities(np.load(inputs_path)))
with open(info_path, "w") as info:
    json.dump({
        "backend": keras.backend.backend(),
        "call": model._call.__qualname__,
        "tensorflow_imported": "tensorflow" in sys.modules,
        "version": model.version,
    }, info)
"""

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed: `scripts/setup dev` installs torch==2.13.0 (CPU)",
)


def model_inputs() -> np.ndarray:
    """MNIST test digits and the crops preprocessing cuts from phone-like photos, (n, 28, 28)."""
    x_test, _ = mnist_test_digits()
    digits = x_test[:NUM_MNIST_DIGITS].astype(np.float32) / 255.0
    x_clear, _ = clear_arrays()
    crops = [preprocess(digit_photo(x_clear[i], seed=i)).crops for i in range(NUM_PHOTOS)]
    return np.concatenate([digits, *crops]).astype(np.float32)


def copy_shipped_model(directory: Path) -> Path:
    """The shipped model file (and its metadata) copied, so a replacement midway cannot split
    the comparison between two models."""
    source = shipped_model_path()
    target = directory / source.name
    shutil.copyfile(source, target)
    if source.with_suffix(".json").exists():
        shutil.copyfile(source.with_suffix(".json"), target.with_suffix(".json"))
    return target


def run_on_torch(model_path: Path, inputs: np.ndarray, directory: Path) -> tuple[np.ndarray, dict]:
    inputs_path, outputs_path = directory / "inputs.npy", directory / "torch-outputs.npy"
    info_path = directory / "torch-info.json"
    np.save(inputs_path, inputs)
    env = {**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""}
    completed = subprocess.run(
        [sys.executable, "-c", TORCH_SIDE, str(model_path), str(inputs_path),
         str(outputs_path), str(info_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-4000:]
    return np.load(outputs_path), json.loads(info_path.read_text())


def test_shipped_model_answers_the_same_on_torch_as_on_tensorflow(tmp_path: Path) -> None:
    import keras

    assert keras.backend.backend() == "tensorflow", "this side must run on TensorFlow"
    model_path = copy_shipped_model(tmp_path)
    inputs = model_inputs()
    assert len(inputs) > NUM_MNIST_DIGITS  # the photos gave crops too

    on_tensorflow = DigitModel.load(model_path)
    expected = on_tensorflow.probabilities(inputs)
    found, info = run_on_torch(model_path, inputs, tmp_path)

    assert info["backend"] == "torch"
    assert info["call"] == TORCH_CALL  # reading.model.compile_call took its torch path
    assert not info["tensorflow_imported"]
    assert info["version"] == on_tensorflow.version
    assert found.shape == expected.shape == (len(inputs), on_tensorflow.num_classes)
    np.testing.assert_array_equal(found.argmax(axis=1), expected.argmax(axis=1))
    assert float(np.abs(found - expected).max()) < MAX_ABS_DIFFERENCE
