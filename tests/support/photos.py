"""Phone-like test photos of real handwritten digits (MNIST test set), made by the tests.

A digit is upscaled, drawn as dark ink on light paper with uneven light and a little noise, and
saved as JPEG, the way a phone would send it. The paper and ink vary with the seed.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

REPO_ROOT = Path(__file__).resolve().parents[2]
TEST_HOME = REPO_ROOT / ".digitbot" / "test-home"


@lru_cache(maxsize=1)
def mnist_test_digits() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test digits (never its training digits), cached under .digitbot/test-home."""
    from training.datasets import load_mnist

    data = load_mnist(TEST_HOME)
    return data.x_test, data.y_test


def digit_photo(
    digit_image: np.ndarray,
    *,
    seed: int = 0,
    size: tuple[int, int] = (800, 600),
    document: bool = False,
) -> bytes:
    """Render a 28×28 MNIST digit (ink bright) as a JPEG photo of dark ink on paper."""
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 200 + 30 * rng.random()
    gradient = 25 * (xx / width - 0.5) * rng.choice([-1, 1]) + 15 * (yy / height - 0.5)
    background = paper + gradient + rng.normal(0, 3, size=(height, width))
    digit_side = int(rng.integers(int(height * 0.35), int(height * 0.6)))
    mask = ink_mask(digit_image, (digit_side, digit_side))
    x0 = int(rng.integers(width // 6, width - digit_side - width // 6))
    y0 = int(rng.integers(height // 8, height - digit_side - height // 8))
    ink_tone = 40 + 30 * rng.random()
    region = background[y0 : y0 + digit_side, x0 : x0 + digit_side]
    background[y0 : y0 + digit_side, x0 : x0 + digit_side] = region * (1 - mask) + ink_tone * mask
    rgb = np.stack([background, background * 0.98, background * 0.93], axis=-1)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    out = io.BytesIO()
    image.save(out, format="PNG" if document else "JPEG", quality=85)
    return out.getvalue()


def ink_mask(digit_image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Upscale a 28×28 digit into a pen stroke: smooth outline, ink-like edge (not a blur)."""
    grown = Image.fromarray(digit_image).resize(size, Image.BICUBIC)
    soft = np.asarray(grown.filter(ImageFilter.GaussianBlur(2.0)), dtype=np.float32) / 255.0
    stroke = np.clip((soft - 0.35) * 6.0, 0.0, 1.0)  # threshold with a short ramp
    edge = Image.fromarray((stroke * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.8))
    return np.asarray(edge, dtype=np.float32) / 255.0


def number_photo(digit_images: list[np.ndarray], *, seed: int = 0, gap: int = 4) -> bytes:
    """Several digits side by side on one photo (a handwritten number), `gap` MNIST pixels
    apart (negative: their 28x28 frames overlap, so wide digits touch)."""
    row = np.zeros((28, 28 * len(digit_images) + gap * (len(digit_images) - 1)), np.uint8)
    for index, image in enumerate(digit_images):
        window = row[:, index * (28 + gap) : index * (28 + gap) + 28]
        np.maximum(window, image, out=window)
    rng = np.random.default_rng(seed)
    width, height = 1000, 600
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = 215 + 15 * (xx / width - 0.5) + rng.normal(0, 3, size=(height, width))
    scale = 6
    mask = ink_mask(row, (row.shape[1] * scale, 28 * scale))
    x0, y0 = (width - mask.shape[1]) // 2, (height - mask.shape[0]) // 2
    region = background[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
    background[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]] = region * (1 - mask) + 50 * mask
    out = io.BytesIO()
    Image.fromarray(np.clip(background, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=85)
    return out.getvalue()


def corrupt_jpeg(seed: int = 0) -> bytes:
    """A JPEG cut off after its first third."""
    x, _ = mnist_test_digits()
    data = digit_photo(x[0], seed=seed)
    return data[: len(data) // 3]


@lru_cache(maxsize=1)
def _clear_indices() -> tuple[int, ...]:
    """MNIST test digits the shipped model reads right and sure (p >= 0.99) as clean input.

    End-to-end tests check the distributed pipeline (right answer, once, to the right photo);
    they use unambiguous digits so that a hard digit cannot fail them. Accuracy itself is
    measured by the photo benchmark.
    """
    from reading.model import load_shipped_model

    x, y = mnist_test_digits()
    model = load_shipped_model()
    probabilities = model.probabilities(x[:400].astype(np.float32) / 255.0)[:, :10]
    sure = (probabilities.argmax(1) == y[:400]) & (probabilities.max(1) >= 0.99)
    return tuple(int(i) for i in np.flatnonzero(sure))


def clear_digits(count: int, offset: int = 0) -> list[tuple[np.ndarray, int]]:
    """`count` unambiguous MNIST test digits (image, label), starting at the `offset`-th."""
    x, y = mnist_test_digits()
    chosen = _clear_indices()[offset : offset + count]
    assert len(chosen) == count, "not enough unambiguous digits in the first 400"
    return [(x[i], int(y[i])) for i in chosen]


def clear_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The unambiguous digits as arrays (images, labels), indexable like MNIST's test set."""
    x, y = mnist_test_digits()
    chosen = list(_clear_indices())
    return x[chosen], y[chosen]
