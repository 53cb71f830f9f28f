"""The digit model in a lean runtime: LiteRT (TensorFlow Lite's interpreter, XNNPACK kernels).

A compiled `tf.function` call costs 0.4–1.4 ms for one 28×28 image, nearly all of it
TensorFlow's per-call overhead; LiteRT runs the same graph, converted by TensorFlow's own
TFLite converter, in about 0.06 ms (BENCHMARKS.md, "Model call"). Training stays in Keras: the
`.tflite` file is a second form of the same model, written beside the `.keras` file
(champion.keras -> champion.tflite) and stored beside the artifact in the registry.

Running needs only `ai-edge-litert`; converting needs TensorFlow. Both are imported lazily.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from digitbot.errors import ModelError
from digitbot.quiet_native import captured_native_stderr, import_keras

LEAN_SUFFIX = ".tflite"
LEAN_FORMAT = "tflite"
RUNTIME_NAME = "LiteRT"
# Converted forms must give the Keras model's probabilities to within this, digit by digit.
MAX_ABS_DIFFERENCE = 1e-4
INPUT_SHAPE = (28, 28, 1)
NUM_PROBE_IMAGES = 8


def lean_path(model_path: Path) -> Path:
    """Where the lean form of a `.keras` file lives: beside it, same stem."""
    return Path(model_path).with_suffix(LEAN_SUFFIX)


class LeanModel:
    """One LiteRT interpreter over a converted model, with a fixed number of threads.

    `run` may be called from several threads (the web page serves requests on a pool): an
    interpreter holds its input and output buffers, so calls take turns on a lock.
    """

    def __init__(self, content: bytes, *, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if num_threads < 1:
            raise ValueError(f"num_threads must be at least 1, got {num_threads}")
        self.num_threads = num_threads
        try:
            # XNNPACK takes the graph at the first allocation and announces it on descriptor 2:
            # keep that line off terminals.
            with captured_native_stderr():
                self._interpreter = Interpreter(model_content=content, num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except Exception as exc:  # a bad flatbuffer raises ValueError or RuntimeError
            raise ModelError(f"cannot read the {RUNTIME_NAME} model: {exc}") from exc
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(
                f"the {RUNTIME_NAME} model has {len(inputs)} inputs and {len(outputs)} outputs; "
                "expected one of each"
            )
        input_shape = tuple(int(d) for d in inputs[0]["shape_signature"][1:])
        self.num_classes = int(outputs[0]["shape_signature"][-1])
        if input_shape != INPUT_SHAPE or self.num_classes not in (10, 11):
            raise ModelError(
                f"the {RUNTIME_NAME} model takes {input_shape} and gives {self.num_classes} "
                f"classes; expected {INPUT_SHAPE} and 10 or 11"
            )
        self._input = int(inputs[0]["index"])
        self._output = int(outputs[0]["index"])
        self._batch_size = int(inputs[0]["shape"][0])  # tensors are allocated for this many
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: Path, *, num_threads: int) -> LeanModel:
        try:
            content = Path(path).read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc
        return cls(content, num_threads=num_threads)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(n, 28, 28, 1) float32 -> (n, num_classes) softmax outputs, as the Keras model gives."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if batch.shape[0] != self._batch_size:
                # Cheap (microseconds): buffers are planned again, kernels are kept.
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._batch_size = batch.shape[0]
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return np.array(self._interpreter.get_tensor(self._output))


def convert(keras_model: Any) -> bytes:
    """The `.tflite` bytes of a Keras model, by TensorFlow's TFLite converter (float32, no
    quantisation: the probabilities must match the Keras call)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    # The converter exports a SavedModel first and prints its signature to stdout, which is
    # `digitbot predict --json`'s channel.
    with contextlib.redirect_stdout(io.StringIO()), captured_native_stderr():
        content = converter.convert()
    return bytes(content)


def probe_images(count: int = NUM_PROBE_IMAGES) -> np.ndarray:
    """Fixed inputs on which two forms of one model must agree: blank, full, and seeded noise
    (different models disagree on noise long before they disagree on clean digits)."""
    rng = np.random.default_rng(20)
    images = rng.random((count, *INPUT_SHAPE), dtype=np.float32)
    images[0] = 0.0
    images[1] = 1.0
    return images


def largest_difference(
    lean: LeanModel, keras_call: Callable[[np.ndarray], np.ndarray], images: np.ndarray
) -> float:
    """The largest absolute difference between the two forms' outputs on `images`."""
    batch = np.asarray(images, dtype=np.float32).reshape((-1, *INPUT_SHAPE))
    return float(np.abs(lean.run(batch) - keras_call(batch)).max())


def write_lean_beside(model_path: Path) -> Path:
    """Convert a `.keras` file and write its lean form beside it; return that path."""
    keras = import_keras()
    target = lean_path(model_path)
    target.write_bytes(convert(keras.saving.load_model(model_path, compile=False)))
    return target


def main(argv: list[str]) -> int:
    """`python -m reading.lean MODEL.keras...`: write MODEL.tflite beside each file."""
    if not argv:
        print("usage: python -m reading.lean MODEL.keras...", file=sys.stderr)
        return 2
    for name in argv:
        target = write_lean_beside(Path(name))
        print(f"wrote {target} ({target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
