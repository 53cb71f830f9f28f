"""The digit model inside a worker process: loaded once, called through a lean runtime.

`model.predict` costs ~40 ms for one image because it builds a data pipeline per call; a direct
call through a traced function with a fixed input signature costs about a millisecond, most of it
TensorFlow's per-call overhead. The same model converted to LiteRT (reading/lean.py, the
`.tflite` file beside the `.keras` one) answers in well under a tenth of that, so that is the
call used whenever the lean form is there and agrees with the Keras model; otherwise (missing,
unreadable, stale) the compiled Keras call serves, after one log line. Keras and TensorFlow are
imported lazily so that importing this module stays cheap.
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
from reading.lean import (
    MAX_ABS_DIFFERENCE,
    RUNTIME_NAME,
    LeanModel,
    largest_difference,
    lean_path,
    probe_images,
)

log = logging.getLogger(__name__)

SHIPPED_MODEL_FILE = "champion.keras"
SHIPPED_METADATA_FILE = "champion.json"
INPUT_SHAPE = (28, 28, 1)


@dataclass
class DigitModel:
    """A loaded Keras model with its version, metadata and, when it has one, its lean form;
    `probabilities` is the hot path."""

    keras_model: Any
    version: str
    metadata: dict[str, Any] = field(default_factory=dict)
    lean: LeanModel | None = field(default=None, repr=False)
    _call: Callable[[np.ndarray], np.ndarray] | None = field(default=None, repr=False)

    @property
    def runtime(self) -> str:
        """Which call answers: "litert" (the lean form) or "keras" (the compiled Keras call)."""
        return "litert" if self.lean is not None else "keras"

    @property
    def num_classes(self) -> int:
        return int(self.keras_model.output_shape[-1])

    @property
    def temperature(self) -> float:
        """Confidence calibration fitted at training time (1.0: none)."""
        return float(self.metadata.get("calibration", {}).get("temperature", 1.0))

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        """(n, 28, 28) floats in [0, 1] -> (n, num_classes) calibrated softmax probabilities."""
        batch = np.asarray(crops, dtype=np.float32).reshape((-1, *INPUT_SHAPE))
        if batch.shape[0] == 0:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        lean = self.lean
        if lean is not None:
            try:
                return apply_temperature(lean.run(batch), self.temperature)
            except Exception as exc:  # a native failure must not stop the worker: use Keras
                log.warning("%s call failed (%s); model %s uses the Keras call from now on",
                            RUNTIME_NAME, exc, self.version)  # fmt: skip
                self.lean = None
        return apply_temperature(self.keras_call(batch), self.temperature)

    def keras_probabilities(self, crops: np.ndarray) -> np.ndarray:
        """`probabilities` through the compiled Keras call, whatever the lean form says (the
        reference for checks and benchmarks)."""
        batch = np.asarray(crops, dtype=np.float32).reshape((-1, *INPUT_SHAPE))
        return apply_temperature(self.keras_call(batch), self.temperature)

    def keras_call(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) -> the Keras model's uncalibrated softmax, through the compiled call."""
        if self._call is None:
            self._call = compile_call(self.keras_model)
        return self._call(batch)

    def warm_up(self) -> None:
        """Trace the compiled call (and size the lean one's buffers) now, so the first user does
        not pay for it."""
        for size in (1, 3):
            self.keras_call(np.zeros((size, *INPUT_SHAPE), dtype=np.float32))
            self.probabilities(np.zeros((size, 28, 28), dtype=np.float32))

    def attach_lean(self, path: Path, *, num_threads: int | None = None) -> bool:
        """Use the lean form in `path` when it loads and agrees with the Keras model on fixed
        probe inputs; otherwise keep the Keras call. One log line either way it falls back."""
        path = Path(path)
        if not path.exists():
            log.info("model %s has no %s form (%s); using the Keras call",
                     self.version, RUNTIME_NAME, path.name)  # fmt: skip
            return False
        threads = num_threads or Settings.from_env().compute_threads
        try:
            lean = LeanModel.from_file(path, num_threads=threads)
            if lean.num_classes != self.num_classes:
                raise ModelError(f"{lean.num_classes} classes, the Keras model {self.num_classes}")
            # A stale file (the .keras one retrained in place) gives other answers on noise.
            difference = largest_difference(lean, self.keras_call, probe_images())
            if not difference <= MAX_ABS_DIFFERENCE:
                raise ModelError(f"differs from the Keras model by {difference:.1e}")
        except Exception as exc:  # ImportError, native errors: any of them means "use Keras"
            log.warning("model %s: cannot use %s (%s); using the Keras call",
                        self.version, path.name, exc)  # fmt: skip
            return False
        self.lean = lean
        return True

    @classmethod
    def load(cls, path: Path, *, version: str | None = None, lean: bool = True) -> DigitModel:
        """Load a `.keras` file; metadata comes from a `.json` file beside it when present, the
        lean form from a `.tflite` file beside it (unless `lean` is False)."""
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
        model = cls(keras_model=keras_model, version=resolved, metadata=metadata)
        if lean:
            model.attach_lean(lean_path(path))
        return model

    @classmethod
    def from_bytes(
        cls,
        blob: bytes,
        *,
        version: str,
        metadata: dict[str, Any],
        lean_blob: bytes | None = None,
    ) -> DigitModel:
        """Load a model from the bytes of a `.keras` file (the registry's artifact) and, when
        given, of its lean form."""
        with tempfile.TemporaryDirectory(prefix="digitbot-model-") as tmp:
            path = Path(tmp) / "model.keras"
            path.write_bytes(blob)
            if lean_blob is not None:
                lean_path(path).write_bytes(lean_blob)
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
