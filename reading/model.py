"""The digit model inside a worker process: loaded once, called through a compiled function.

`model.predict` costs ~40 ms for one image because it builds a data pipeline per call; a direct
call through a traced function with a fixed input signature costs about a millisecond. Keras and
TensorFlow are imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from digitbot.errors import ModelError
from digitbot.quiet_native import import_keras
from digitbot.settings import Settings
from reading.calibration import apply_temperature

log = logging.getLogger(__name__)

SHIPPED_MODEL_FILE = "champion.keras"
SHIPPED_METADATA_FILE = "champion.json"
INPUT_SHAPE = (28, 28, 1)


@dataclass
class DigitModel:
    """A loaded Keras model with its version and metadata; `probabilities` is the hot path."""

    keras_model: Any
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    _call: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @property
    def num_classes(self) -> int:
        return int(self.keras_model.output_shape[-1])

    @property
    def temperature(self) -> float:
        """Confidence calibration fitted at training time (1.0: none)."""
        return float(self.metadata.get("calibration", {}).get("temperature", 1.0))

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(n, 28, 28) floats in [0, 1] -> (n, num_classes) softmax probabilities."""
        batch = np.asarray(crops, dtype=np.float32).reshape((-1, *INPUT_SHAPE))
        if batch.shape[0] == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        if self._call is None:
            self._call = compile_call(self.keras_model)
        return apply_temperature(self._call(batch), self.temperature)

    def warm_up(self) -> None:
        """Trace the compiled call now, so the first user does not pay for it."""
        self.probabilities(np.zeros((1, 28, 28), dtype=np.float32))
        self.probabilities(np.zeros((3, 28, 28), dtype=np.float32))

    @classmethod
    def load(cls, path: Path, *, version: str | None = None) -> DigitModel:
        """Load a `.keras` file; metadata comes from a `.json` file beside it when present."""
        keras = import_keras()

        path = Path(path)
        meta_path = path.with_suffix(".json")
        metadata: dict[str, Any] = {}
        if meta_path.exists():
            metadata = json.loads(meta_path.read_text())
        try:
            keras_model = keras.saving.load_model(path, compile=False)
        except Exception as exc:  # Keras raises many types for a bad file
            raise ModelError(f"cannot load model {path}: {type(exc).__name__}: {exc}") from exc
        check_shape(keras_model, str(path))
        resolved = version or str(metadata.get("version") or path.stem)
        return cls(keras_model=keras_model, version=resolved, metadata=metadata)

    @classmethod
    def from_bytes(cls, blob: bytes, *, version: str, metadata: dict[str, Any]) -> DigitModel:
        """Load a model from the bytes of a `.keras` file (the registry's artifact)."""
        with tempfile.TemporaryDirectory(prefix="digitbot-model-") as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(blob)
            model = cls.load(path, version=version)
        model.metadata = metadata
        return model


def shipped_model_path() -> Path:
    """The model that ships inside the package (produced by our own training code), unless
    DIGITBOT_MODEL_PATH names another."""
    override = Settings.from_env().model_path
    if override is not None:
        return override
    return Path(str(resources.files("digitbot") / "models" / SHIPPED_MODEL_FILE))


def load_shipped_model() -> DigitModel:
    path = shipped_model_path()
    if not path.exists():
        raise ModelError(
            f"no model at {path}. Train one with `digitbot train --arch digitnet` or set "
            "DIGITBOT_MODEL_PATH to a .keras file."
        )
    return DigitModel.load(path)


def check_shape(keras_model: Any, name: str) -> None:
    input_shape = tuple(keras_model.input_shape[1:])
    outputs = int(keras_model.output_shape[-1])
    if input_shape != INPUT_SHAPE or outputs not in (10, 11):
        raise ModelError(
            f"model {name} takes {input_shape} and gives {outputs} classes; expected "
            f"{INPUT_SHAPE} and 10 digits (+1 optional 'not a digit')."
        )


def compile_call(keras_model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """A fast inference function: a traced tf.function on TensorFlow, a no-grad call elsewhere."""
    keras = import_keras()

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(
            input_signature=[tf.TensorSpec([None, *INPUT_SHAPE], tf.float32)],
            reduce_retracing=True,
        )
        def traced(x: Any) -> Any:
            return keras_model(x, training=False)

        return lambda batch: traced(batch).numpy()
    if backend == "torch":
        import torch

        def torch_call(batch: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = keras_model(batch, training=False)
            return np.asarray(keras.ops.convert_to_numpy(out))

        return torch_call
    return lambda batch: np.asarray(keras.ops.convert_to_numpy(keras_model(batch, training=False)))
