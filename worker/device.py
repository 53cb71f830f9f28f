"""Which device a worker computes on (a GPU when the Keras backend sees one, else the CPU)."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from digitbot.quiet_native import import_keras


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cpu" | "gpu"
    name: str
    backend: str

    def describe(self) -> str:
        return f"{self.kind.upper()} {self.name} ({self.backend})"


def detect_device() -> DeviceInfo:
    """Ask the Keras backend for a GPU; fall back to the CPU."""
    keras = import_keras()

    backend = keras.backend.backend()
    kind, name = "cpu", platform.processor() or platform.machine() or "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            kind, name = "gpu", str(details.get("device_name", gpus[0].name))
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            kind, name = "gpu", torch.cuda.get_device_name(0)
    elif backend == "jax":
        import jax

        devices = [d for d in jax.devices() if d.platform == "gpu"]
        if devices:
            kind, name = "gpu", str(devices[0].device_kind)
    return DeviceInfo(kind=kind, name=name, backend=backend)
