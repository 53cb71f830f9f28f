"""Which device a worker computes on, and the inference batch size that suits it."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from digitbot import defaults
from digitbot.quiet_native import import_keras
from digitbot.settings import Settings


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "cpu" | "gpu"
    name: str
    backend: str
    batch_size: int

    def describe(self) -> str:
        return f"{self.kind.upper()} {self.name} ({self.backend}, batch {self.batch_size})"


def detect_device() -> DeviceInfo:
    """Ask the Keras backend for a GPU; fall back to the CPU. DIGITBOT_INFERENCE_BATCH overrides
    the batch size."""
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
    default_batch = defaults.GPU_INFERENCE_BATCH if kind == "gpu" else defaults.CPU_INFERENCE_BATCH
    batch = Settings.from_env().inference_batch or default_batch
    return DeviceInfo(kind=kind, name=name, backend=backend, batch_size=batch)
