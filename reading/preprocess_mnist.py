"""Where one digit's ink becomes a 28x28 MNIST-style image.

The MNIST recipe: the digit is fitted into a 20x20 box keeping its aspect ratio, anti-aliased,
and placed in a 28x28 field so that its centre of mass is at the centre. MNIST strokes are
about 2.6 px wide at that size, while a ballpoint line in a big photo may shrink to a fraction
of a pixel and a marker may fill half the box; so strokes are measured on a fine canvas first,
thin ones grown to MNIST's width and thick ones peeled half way towards it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from reading.masks import erode_cross

MNIST_SIZE = 28
MNIST_BOX = 20
MNIST_CENTRE = 14.0
# Stroke width at 28x28 (twice area over boundary length of the ink): MNIST's own strokes
# measure 2.1 to 3.7 px (10th to 90th percentile), median 2.6. Strokes in that range are left
# as they are; thinner ones are grown to the median, thicker ones peeled towards it.
MIN_STROKE_WIDTH = 2.0
MAX_STROKE_WIDTH = 3.8
TARGET_STROKE_WIDTH = 2.6
# A light blur gives the soft stroke edges MNIST has (its digits were anti-aliased twice).
MNIST_EDGE_BLUR = 0.5
# Strokes are measured and adjusted on a canvas this many times finer than 28x28.
SUPERSAMPLE = 4


def to_uint8(crops: np.ndarray) -> np.ndarray:
    """MNIST-style crops as floats in [0, 1] -> uint8 0..255, rounded (MNIST's own storage)."""
    return np.rint(np.clip(crops, 0.0, 1.0) * 255).astype(np.uint8)


def to_mnist(mask_or_gray: np.ndarray) -> np.ndarray:
    """One digit region -> (28, 28) float32 in [0, 1], ink bright, MNIST-normalised.

    `mask_or_gray` is a bool mask of the ink, or a float image with bright ink (pixels at or
    above half of its maximum count as ink). An empty input gives an all-zero image.
    """
    mask = _as_mask(mask_or_gray)
    if not mask.any():
        return np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    canvas = _resample_to_canvas(_crop(mask), MNIST_BOX * SUPERSAMPLE)
    width = stroke_width(canvas) / SUPERSAMPLE
    if width < MIN_STROKE_WIDTH:
        canvas = _thicken(canvas, (TARGET_STROKE_WIDTH - width) * SUPERSAMPLE / 2.0)
    elif width > MAX_STROKE_WIDTH:
        # Half way to MNIST's width: thinning a marker stroke all the way loses the small
        # loops it nearly closed, and the model copes with thick strokes better.
        canvas = _erode(canvas, (width - TARGET_STROKE_WIDTH) * SUPERSAMPLE / 4.0)
    return _place(canvas)


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a mask: twice the area over the boundary length."""
    area = int(mask.sum())
    if area == 0:
        return 0.0
    # The boundary is the mask less its erosion, which lies inside it.
    boundary = area - int(np.count_nonzero(erode_cross(mask)))
    return 2.0 * area / max(1, boundary)


def _as_mask(mask_or_gray: np.ndarray) -> np.ndarray:
    array = np.asarray(mask_or_gray)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D mask or grayscale image, got shape {array.shape}")
    if array.dtype == bool:
        return array
    values = array.astype(np.float32, copy=False)
    peak = float(values.max(initial=0.0))
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros(array.shape, dtype=bool)
    return values >= 0.5 * peak


def _crop(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _resample_to_canvas(mask: np.ndarray, side: int) -> np.ndarray:
    """Scale the mask so its longest side is `side`, without losing thin strokes."""
    height, width = mask.shape
    factor = side / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    image = Image.fromarray(mask.astype(np.uint8) * 255)
    if factor >= 1.0:
        canvas = np.asarray(image.resize(size, Image.Resampling.BILINEAR)) >= 128
    else:
        coverage = np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0
        # A stroke narrower than a canvas pixel only covers part of one: lower the bar to match.
        expected = min(1.0, stroke_width(mask) * factor)
        canvas = coverage >= max(0.08, 0.4 * expected)
    # Room around the ink for thickening.
    return np.pad(canvas, 2 * SUPERSAMPLE)


def _thicken(canvas: np.ndarray, grow: float) -> np.ndarray:
    """Grow every stroke by `grow` canvas pixels on each side."""
    return ndi.distance_transform_edt(~canvas) <= grow


def _erode(canvas: np.ndarray, shrink: float) -> np.ndarray:
    """Peel `shrink` canvas pixels off every stroke's sides (never all of the ink)."""
    inner = ndi.distance_transform_edt(canvas) > shrink
    return inner if inner.any() else canvas


def _place(canvas: np.ndarray) -> np.ndarray:
    """Fit the ink into the 20x20 box (area-averaged), soften it, centre its mass in 28x28."""
    ink = _crop(canvas)
    height, width = ink.shape
    # One pixel less than the box: the soft edge adds about half a pixel on each side, and
    # MNIST's 20x20 box holds its digits including their soft edges.
    factor = (MNIST_BOX - 1) / max(height, width)
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    image = Image.fromarray(ink.astype(np.uint8) * 255)
    small = np.asarray(image.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0
    margin = 6
    field = np.zeros((size[1] + 2 * margin, size[0] + 2 * margin), dtype=np.float32)
    field[margin : margin + size[1], margin : margin + size[0]] = small
    if MNIST_EDGE_BLUR > 0:
        field = ndi.gaussian_filter(field, MNIST_EDGE_BLUR, truncate=2.5)
    total = float(field.sum())
    com_y = float((field.sum(axis=1) * np.arange(field.shape[0])).sum()) / total
    com_x = float((field.sum(axis=0) * np.arange(field.shape[1])).sum()) / total
    # Top-left of the 28x28 window in field coordinates, so that the centre of mass lands on
    # pixel (14, 14), where MNIST's digits have theirs.
    top = int(round(com_y - MNIST_CENTRE))
    left = int(round(com_x - MNIST_CENTRE))
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    src_y0, src_x0 = max(0, top), max(0, left)
    src_y1 = min(field.shape[0], top + MNIST_SIZE)
    src_x1 = min(field.shape[1], left + MNIST_SIZE)
    out[src_y0 - top : src_y1 - top, src_x0 - left : src_x1 - left] = field[
        src_y0:src_y1, src_x0:src_x1
    ]
    peak = float(out.max())
    if peak > 0:
        out = np.minimum(out / peak, 1.0)
    return out
