import pytest

from worker.device import CPU_BATCH, detect_device


def test_cpu_host_is_detected_with_cpu_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DIGITBOT_INFERENCE_BATCH", raising=False)
    device = detect_device()
    assert device.kind == "cpu"  # these machines have no GPU
    assert device.backend == "tensorflow"
    assert device.batch_size == CPU_BATCH
    assert device.describe().startswith("CPU ")


def test_batch_size_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITBOT_INFERENCE_BATCH", "48")
    assert detect_device().batch_size == 48
