import keras
import pytest

from digitbot import defaults
from worker.device import detect_device


def test_the_host_is_detected_with_the_batch_that_suits_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What this host has, as TensorFlow sees it: a GPU host gets the GPU batch, others the
    CPU batch."""
    monkeypatch.delenv("DIGITBOT_INFERENCE_BATCH", raising=False)
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"Keras runs on {keras.backend.backend()} here, not TensorFlow")
    import tensorflow as tf

    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    device = detect_device()
    assert device.backend == "tensorflow"
    if has_gpu:
        assert device.kind == "gpu"
        assert device.batch_size == defaults.GPU_INFERENCE_BATCH
        assert device.describe().startswith("GPU ")
    else:
        assert device.kind == "cpu"
        assert device.batch_size == defaults.CPU_INFERENCE_BATCH
        assert device.describe().startswith("CPU ")


def test_a_gpu_is_detected_with_the_gpu_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU branch, on any host: TensorFlow is made to report one GPU."""
    monkeypatch.delenv("DIGITBOT_INFERENCE_BATCH", raising=False)
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"Keras runs on {keras.backend.backend()} here, not TensorFlow")
    import tensorflow as tf

    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(
        tf.config, "list_physical_devices", lambda kind=None: [gpu] if kind == "GPU" else []
    )
    monkeypatch.setattr(
        tf.config.experimental, "get_device_details", lambda device: {"device_name": "Test GPU"}
    )
    device = detect_device()
    assert (device.kind, device.name, device.batch_size) == (
        "gpu",
        "Test GPU",
        defaults.GPU_INFERENCE_BATCH,
    )
    assert device.describe() == f"GPU Test GPU (tensorflow, batch {defaults.GPU_INFERENCE_BATCH})"


def test_batch_size_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITBOT_INFERENCE_BATCH", "48")
    assert detect_device().batch_size == 48
