import keras
import pytest

from worker.device import detect_device


def test_the_host_is_detected() -> None:
    """What this host has, as TensorFlow sees it."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"Keras runs on {keras.backend.backend()} here, not TensorFlow")
    import tensorflow as tf

    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    device = detect_device()
    assert device.backend == "tensorflow"
    if has_gpu:
        assert device.kind == "gpu"
        assert device.describe().startswith("GPU ")
    else:
        assert device.kind == "cpu"
        assert device.describe().startswith("CPU ")


def test_a_gpu_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU branch, on any host: TensorFlow is made to report one GPU."""
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
    assert (device.kind, device.name) == ("gpu", "Test GPU")
    assert device.describe() == "GPU Test GPU (tensorflow)"
