"""The OpenCV mask operations give scipy.ndimage's results, pixel for pixel, label for label;
and the preprocessing steps moved onto OpenCV give what their scipy/Pillow forms gave."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi

from reading import preprocess_ink
from reading.masks import dilate_cross, erode_cross, label4, label8

SHAPES = [(1, 1), (1, 7), (5, 1), (3, 3), (17, 23), (120, 160), (480, 640)]


def random_masks() -> Iterator[np.ndarray]:
    rng = np.random.default_rng(20)
    for shape in SHAPES:
        for density in (0.02, 0.3, 0.6, 0.97):
            yield rng.random(shape) < density


@pytest.fixture(params=[1, 2], ids=["1 thread", "2 threads"])
def opencv_threads(request: pytest.FixtureRequest) -> Iterator[int]:
    before = cv2.getNumThreads()
    cv2.setNumThreads(request.param)
    yield request.param
    cv2.setNumThreads(before)


def test_labels_are_numbered_as_scipy_numbers_them(opencv_threads: int) -> None:
    for mask in random_masks():
        labels, count = label8(mask)
        expected, expected_count = ndi.label(mask, structure=np.ones((3, 3), dtype=bool))
        assert count == expected_count and np.array_equal(labels, expected)
        labels, count = label4(mask)
        expected, expected_count = ndi.label(mask)
        assert count == expected_count and np.array_equal(labels, expected)


def test_erosion_and_dilation_are_scipys() -> None:
    for mask in random_masks():
        assert np.array_equal(erode_cross(mask), ndi.binary_erosion(mask))
        assert np.array_equal(erode_cross(mask), ndi.binary_erosion(mask, border_value=0))
        assert np.array_equal(dilate_cross(mask), ndi.binary_dilation(mask))
    strided = np.random.default_rng(1).random((40, 60)) < 0.5
    assert np.array_equal(erode_cross(strided[::2, 1::3]), ndi.binary_erosion(strided[::2, 1::3]))


def test_hysteresis_keeps_the_weak_components_that_hold_a_strong_pixel() -> None:
    rng = np.random.default_rng(3)
    weak = rng.random((200, 300)) < 0.45
    strong = weak & (rng.random((200, 300)) < 0.01)
    binary, labels = preprocess_ink.hysteresis(weak, strong)
    expected_labels, count = ndi.label(weak, structure=np.ones((3, 3), dtype=bool))
    keep = np.zeros(count + 1, dtype=bool)
    keep[expected_labels[strong]] = True
    keep[0] = False
    assert np.array_equal(binary, keep[expected_labels])
    assert np.array_equal(labels, np.where(binary, expected_labels, 0))


def scipy_background(
    paper_blocks: np.ndarray, block: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """estimate_background as it was on scipy and Pillow (with no region off the page)."""
    size = int(np.ceil(preprocess_ink.MAX_STROKE_FRACTION * max(shape) / block)) | 1
    closed = ndi.minimum_filter(ndi.maximum_filter(paper_blocks, size), size)
    floor = np.maximum(ndi.minimum_filter(closed, 3), np.float32(0.02))
    step_blocks = ndi.maximum_filter(closed, 3) > preprocess_ink.STEP_RATIO * floor
    grid = Image.fromarray(np.ascontiguousarray(closed, dtype=np.float32))
    up = grid.resize((closed.shape[1] * block, closed.shape[0] * block), Image.Resampling.BILINEAR)
    steps = np.repeat(np.repeat(step_blocks, block, axis=0), block, axis=1)
    return np.asarray(up, dtype=np.float32)[: shape[0], : shape[1]], steps[: shape[0], : shape[1]]


@pytest.mark.parametrize("shape", [(480, 640), (256, 256), (300, 400), (640, 427), (301, 333)])
def test_background_is_what_scipy_and_pillow_made(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(shape[0])
    # Paper brightening towards one corner, a dark region (a stroke) and noise.
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    page = (0.6 + 0.3 * xx / shape[1] + 0.05 * rng.random(shape)).astype(np.float32)
    page[shape[0] // 3 : shape[0] // 2, shape[1] // 4 : shape[1] // 2] = 0.2
    block = max(1, int(np.ceil(max(shape) / preprocess_ink.BACKGROUND_BLOCKS_PER_SIDE)))
    paper_blocks = preprocess_ink._block_max(preprocess_ink._pad_to_multiple(page, block), block)
    padded = preprocess_ink._pad_to_multiple(page, block)
    tiles = padded.reshape(padded.shape[0] // block, block, -1, block).max(axis=(1, 3))
    assert np.array_equal(paper_blocks, tiles)
    background, steps = preprocess_ink.estimate_background(paper_blocks, block, shape)
    expected_background, expected_steps = scipy_background(paper_blocks, block, shape)
    assert np.array_equal(steps, expected_steps)
    assert np.abs(background - expected_background).max() <= 1e-6
