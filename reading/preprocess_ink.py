"""Where a photo becomes an ink mask: polarity, illumination flattening and binarisation (ruled
lines are taken out by `preprocess_lines`).

All functions are pure and work on float32 grayscale in [0, 1] at the segmentation resolution.
"Ink contrast" below is how much darker a pixel is than the paper around it, as a fraction of
the paper's brightness; dividing by the local paper level is what makes shadows disappear.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from reading.masks import dilate_cross, label4, label8
from reading.preprocess_lines import find_ruled_lines, heal_line_cuts

# Background is estimated on a coarse grid of blocks about this many per long side.
BACKGROUND_BLOCKS_PER_SIDE = 160
# Strokes up to this fraction of the long side thick are removed by the background closing
# (a marker digit that fills the frame is about this thick).
MAX_STROKE_FRACTION = 0.10
# Polarity: contrast (of [0, 1] gray) that counts as a valley or ridge, the distances tried
# (in half-resolution pixels), how much evidence decides, and by what majority.
POLARITY_CONTRAST = 0.06
POLARITY_SCALES = (1, 2, 4, 8, 16, 32)
POLARITY_MIN_EVIDENCE = 1e-3
POLARITY_RATIO = 3.0
POLARITY_GRID = 4
# Ink contrast floors: below these nothing counts as ink, however clean the paper.
MIN_SEED_CONTRAST = 0.08
MIN_GROW_CONTRAST = 0.05
# Thresholds as multiples of the paper's noise level.
SEED_NOISE_FACTOR = 6.0
GROW_NOISE_FACTOR = 2.5
# Background brighter by this factor within a few blocks is a sharp step (sheet edge, hard
# shadow): there the coarse estimate cannot follow, and the false strokes it leaves are dropped.
STEP_RATIO = 1.3
# Off the page: a region along the border whose brightest pixels are darker than this share of
# the paper around it (a desk beside the sheet, the wall beside a board) is not paper.
OFF_PAGE_RATIO = 0.7
OFF_PAGE_BORDER_SHARE = 0.2


@dataclass(frozen=True)
class InkMaps:
    """Intermediate images of one photo at segmentation resolution."""

    dark_ink: bool  # True: dark ink on light paper; False: light ink (chalk) on a dark board
    contrast: np.ndarray  # float32 (H, W): ink contrast in [0, 1]
    binary: np.ndarray  # bool (H, W): ink, ruled lines removed
    lines: np.ndarray  # bool (H, W): what was removed as ruled lines
    # bool (H, W): near a sharp step of the background (sheet edge, hard shadow), where the
    # coarse background estimate lags and leaves a false stroke along the step
    steps: np.ndarray
    noise: float  # noise of the paper's brightness (absolute, of [0, 1] gray)
    # float32 (H, W): how much darker than the paper each pixel is (absolute), and the level
    # above which a pixel connected to strong ink counts as ink
    darkness: np.ndarray
    ink_level: float
    # int32 (H, W): 8-connected components of `binary` (not numbered consecutively), or None
    labels: np.ndarray | None = None


def find_ink(gray: np.ndarray) -> InkMaps:
    """Flatten the lighting of `gray`, decide the polarity and binarise the ink."""
    block = max(1, int(np.ceil(max(gray.shape) / BACKGROUND_BLOCKS_PER_SIDE)))
    dark_ink = is_dark_ink(gray)
    # From here on ink is dark: chalk pictures are inverted.
    page = gray if dark_ink else 1.0 - gray
    # Each block's brightest pixel: paper, unless a stroke covers the whole block.
    paper_blocks = _block_max(_pad_to_multiple(page, block), block)
    background, steps = estimate_background(paper_blocks, block, gray.shape)
    contrast = flatten(page, background)
    # Noise is even in absolute brightness, so relative to a shadow's dim paper it is larger:
    # thresholds are set on the absolute difference, with floors on the relative one.
    difference = contrast * background
    level, noise = _median_and_noise(difference)
    ink_level = level + GROW_NOISE_FACTOR * noise
    strong = (contrast > MIN_SEED_CONTRAST) & (difference > level + SEED_NOISE_FACTOR * noise)
    weak = (contrast > MIN_GROW_CONTRAST) & (difference > ink_level)
    binary, components = hysteresis(weak, strong)
    labels: np.ndarray | None = components
    lines = find_ruled_lines(binary, difference, level, noise)
    if lines.any():
        binary = heal_line_cuts(binary & ~lines, lines)
        labels = None  # the components changed: segmentation labels them again
    return InkMaps(dark_ink, contrast, binary, lines, steps, noise, difference, ink_level, labels)


def is_dark_ink(gray: np.ndarray) -> bool:
    """True for dark ink on light paper, False for light ink (chalk) on a dark board.

    Ink is thin: a pixel on a dark stroke is darker than the pixels at some distance d on both
    sides of it (a valley), a pixel on a chalk stroke brighter (a ridge). The edges of the
    sheet and of shadows are steps, neither. Counting from small d to large and deciding as
    soon as one kind clearly dominates finds thin strokes before the holes of loops (which
    are ridges between dark strokes) come into play; only pixels darker (or lighter) than the
    local background level count, which keeps pencil grain and chalk dust out of it.
    """
    half = _half_size(gray)
    level = _local_median(half, POLARITY_GRID)
    darker = half < level - POLARITY_CONTRAST
    lighter = half > level + POLARITY_CONTRAST
    needed = POLARITY_MIN_EVIDENCE * half.size
    valleys = ridges = 0
    for d in POLARITY_SCALES:
        if 2 * d >= min(half.shape):
            break
        # Neighbours d to the left and right, then d above and below (rows: contiguous).
        for inner, before, after in (
            (np.s_[:, d:-d], half[:, : -2 * d], half[:, 2 * d :]),
            (np.s_[d:-d, :], half[: -2 * d], half[2 * d :]),
        ):
            centre, inner_dark, inner_light = half[inner], darker[inner], lighter[inner]
            valleys += int(
                np.count_nonzero(
                    (np.minimum(before, after) - centre > POLARITY_CONTRAST) & inner_dark
                )
            )
            ridges += int(
                np.count_nonzero(
                    (centre - np.maximum(before, after) > POLARITY_CONTRAST) & inner_light
                )
            )
        if valleys + ridges >= needed and max(valleys, ridges) >= POLARITY_RATIO * max(
            1, min(valleys, ridges)
        ):
            return valleys > ridges
    if valleys != ridges:
        return valleys > ridges
    # No thin structure at all (a blank page): assume paper.
    return True


def estimate_background(
    paper_blocks: np.ndarray, block: int, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Paper brightness everywhere, and where it steps sharply.

    `paper_blocks` holds each block's brightest value (ink is dark here), so strokes thinner
    than a block are gone already; a closing on the block grid removes thicker ones. Regions
    off the page keep their own level, so a desk beside the sheet is not read as a huge
    stroke. The result is upsampled bilinearly; the step mask is upsampled as blocks.
    """
    size = int(np.ceil(MAX_STROKE_FRACTION * max(shape) / block)) | 1
    # OpenCV's erosion and dilation are minimum and maximum filters; their border (pixels
    # outside do not count) gives what scipy's reflected border does for these filters.
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    paper_blocks = np.ascontiguousarray(paper_blocks, dtype=np.float32)
    closed = cv2.erode(cv2.dilate(paper_blocks, square), square)
    off_page = _off_page(paper_blocks, closed)
    if off_page.any():
        closed = np.where(off_page, paper_blocks, closed)
    near = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    floor = np.maximum(cv2.erode(closed, near), np.float32(0.02))
    step_blocks = cv2.dilate(closed, near) > STEP_RATIO * floor
    height, width = shape[0], shape[1]
    size_up = (closed.shape[1] * block, closed.shape[0] * block)
    up = cv2.resize(closed, size_up, interpolation=cv2.INTER_LINEAR)
    steps = np.repeat(np.repeat(step_blocks, block, axis=0), block, axis=1)
    return up[:height, :width], steps[:height, :width]


def _off_page(paper_blocks: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """Blocks of dark regions that run along the border for a good stretch."""
    dark = paper_blocks < OFF_PAGE_RATIO * closed
    if not dark.any():
        return dark
    labels, count = label4(dark)
    rows, cols = dark.shape
    contact = np.zeros(count + 1, dtype=np.float64)
    for edge, side in (
        (labels[0, :], cols),
        (labels[-1, :], cols),
        (labels[:, 0], rows),
        (labels[:, -1], rows),
    ):
        contact = np.maximum(contact, np.bincount(edge, minlength=count + 1) / side)
    along_border = contact >= OFF_PAGE_BORDER_SHARE
    along_border[0] = False
    if not along_border.any():
        return np.zeros_like(dark)
    # One block more: the blocks that straddle the sheet's edge.
    return dilate_cross(along_border[labels])


def flatten(page: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Ink contrast (background - page) / background, in [0, 1]."""
    contrast = background - page
    contrast /= np.maximum(background, np.float32(0.02))
    np.clip(contrast, 0.0, 1.0, out=contrast)
    return contrast


def hysteresis(weak: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of `weak` connected to a pixel of `strong`, and their component labels."""
    labels, count = label8(weak)
    keep = np.zeros(count + 1, dtype=bool)
    keep[labels[strong & weak]] = True
    keep[0] = False
    binary = np.take(keep, labels)
    np.multiply(labels, binary, out=labels)
    return binary, labels


def _median_and_noise(values: np.ndarray) -> tuple[float, float]:
    """Median of the paper's values and their noise (1.4826 MAD), from a subsample."""
    sample = values[1::4, 1::4].ravel()
    median = float(np.median(sample))
    return median, 1.4826 * float(np.median(np.abs(sample - median))) + 1e-3


def _pad_to_multiple(image: np.ndarray, block: int) -> np.ndarray:
    pad_h = (-image.shape[0]) % block
    pad_w = (-image.shape[1]) % block
    if pad_h or pad_w:
        return np.pad(image, ((0, pad_h), (0, pad_w)), mode="edge")
    return image


def _block_max(image: np.ndarray, block: int) -> np.ndarray:
    """Each block x block tile's maximum (the image's sides are multiples of `block`)."""
    rows = image[0::block]
    for offset in range(1, block):
        rows = np.maximum(rows, image[offset::block])
    tiles = rows[:, 0::block]
    for offset in range(1, block):
        tiles = np.maximum(tiles, rows[:, offset::block])
    return tiles


def _half_size(image: np.ndarray) -> np.ndarray:
    height, width = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
    if height < 4 or width < 4:
        return image
    even = image[:height, :width]
    return (even[0::2, 0::2] + even[1::2, 0::2] + even[0::2, 1::2] + even[1::2, 1::2]) * 0.25


def _local_median(image: np.ndarray, grid: int) -> np.ndarray:
    """Median brightness of each cell of a grid x grid split, spread over the cell."""
    sample = image[::2, ::2]
    cell_h, cell_w = -(-sample.shape[0] // grid), -(-sample.shape[1] // grid)
    padded = np.pad(
        sample,
        ((0, cell_h * grid - sample.shape[0]), (0, cell_w * grid - sample.shape[1])),
        mode="edge",
    )
    cells = padded.reshape(grid, cell_h, grid, cell_w).transpose(0, 2, 1, 3).reshape(grid, grid, -1)
    medians = np.median(cells, axis=2).astype(np.float32)
    rows = np.minimum(np.arange(image.shape[0]) // (2 * cell_h), grid - 1)
    cols = np.minimum(np.arange(image.shape[1]) // (2 * cell_w), grid - 1)
    return np.take(np.take(medians, rows, axis=0), cols, axis=1)
