"""Continental handwriting drawn onto MNIST digits: a 1 with a flag and a foot, a crossed 7.

MNIST's writers were American: their 1 is mostly a bare stroke and their 7 has no bar. Much
of Europe writes both differently, and so did the writers of optdigits (sklearn's
`load_digits`), whose 1s the shipped model reads only 68 % of the time (28x28, no photo; 99.7 %
of MNIST's). Here MNIST *training* 1s and 7s get the missing strokes, drawn with the digit's own
pen width and joined to its own stroke ends, so the photo renderer traces them as one mark.
Training uses them only when asked (`--photo-styled N`); see BENCHMARKS.md.

Pure functions on uint8 (28, 28) ink-bright images; everything random comes from the generator
passed in.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

# The labels that have a continental style here.
STYLED_LABELS = (1, 7)
# Pixels at or above this (of 255) are ink when finding stroke ends.
INK_LEVEL = 100
# Strokes are drawn this many times larger, then boxed down: anti-aliased like MNIST's scans.
SUPERSAMPLE = 4
# Share of styled 1s that get a flag (the lead-in stroke at the top) and a foot (the base).
FLAG_SHARE = 0.85
FOOT_SHARE = 0.6
# Flag: length as a share of the digit's height, and degrees below the horizontal.
FLAG_LENGTH = (0.2, 0.4)
FLAG_ANGLE = (30.0, 65.0)
# Foot: reach to the left and to the right of the stroke's end, as shares of the height.
FOOT_LEFT = (0.0, 0.35)
FOOT_RIGHT = (0.1, 0.4)
# Crossbar of a 7: the height it crosses at (share from the top), half its length, its tilt.
BAR_HEIGHT = (0.45, 0.6)
BAR_HALF_LENGTH = (0.15, 0.28)
BAR_TILT = 0.08


def restyle(image: np.ndarray, label: int, rng: np.random.Generator) -> np.ndarray | None:
    """The digit written the continental way, or None when `label` has no such style here.

    None also comes back for an image whose strokes cannot carry the style (no ink, or a 7
    with no ink at the crossing height).
    """
    image = np.asarray(image, dtype=np.uint8)
    ink = image >= INK_LEVEL
    if not ink.any():
        return None
    if label == 1:
        return _one_with_flag_and_foot(image, ink, rng)
    if label == 7:
        return _crossed_seven(image, ink, rng)
    return None


def _one_with_flag_and_foot(
    image: np.ndarray, ink: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    (top_x, top_y), (bottom_x, bottom_y) = _stroke_ends(ink)
    height = bottom_y - top_y + 1
    segments = []
    flag = rng.random() < FLAG_SHARE
    foot = rng.random() < FOOT_SHARE
    if flag or not foot:  # a 1 restyled gets at least its flag
        angle = np.deg2rad(rng.uniform(*FLAG_ANGLE))
        length = height * rng.uniform(*FLAG_LENGTH)
        tip = (top_x - length * np.cos(angle), top_y + length * np.sin(angle))
        segments.append(((top_x, top_y), tip))
    if foot:
        left = height * rng.uniform(*FOOT_LEFT)
        right = height * rng.uniform(*FOOT_RIGHT)
        segments.append(((bottom_x - left, bottom_y), (bottom_x + right, bottom_y)))
    return _with_strokes(image, ink, segments)


def _crossed_seven(
    image: np.ndarray, ink: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    rows = np.flatnonzero(ink.any(axis=1))
    top, bottom = rows[0], rows[-1]
    row = int(round(top + (bottom - top) * rng.uniform(*BAR_HEIGHT)))
    columns = np.flatnonzero(ink[row])
    if columns.size == 0:
        return None
    centre_x, centre_y = columns.mean() + 0.5, row + 0.5
    height = bottom - top + 1
    half = height * rng.uniform(*BAR_HALF_LENGTH)
    tilt = height * rng.uniform(-BAR_TILT, BAR_TILT)
    bar = ((centre_x - half, centre_y + tilt), (centre_x + half, centre_y - tilt))
    return _with_strokes(image, ink, [bar])


def _stroke_ends(ink: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Pixel-centre (x, y) of the topmost and of the bottommost ink."""
    ys, xs = np.nonzero(ink)
    top, bottom = ys.min(), ys.max()
    return (
        (float(xs[ys <= top + 1].mean()) + 0.5, float(top) + 0.5),
        (float(xs[ys >= bottom - 1].mean()) + 0.5, float(bottom) + 0.5),
    )


def pen_width(ink: np.ndarray) -> float:
    """The digit's stroke width in pixels: twice the depth of its deepest ink, within reason."""
    depth = ndi.distance_transform_edt(ink)
    return float(np.clip(2.0 * np.percentile(depth[ink], 90), 1.5, 4.0))


def _with_strokes(
    image: np.ndarray,
    ink: np.ndarray,
    segments: list[tuple[tuple[float, float], tuple[float, float]]],
) -> np.ndarray:
    """`image` with round-capped lines of the digit's pen width along `segments` (x, y pixels)."""
    side = image.shape[0] * SUPERSAMPLE
    layer = Image.new("L", (image.shape[1] * SUPERSAMPLE, side), 0)
    draw = ImageDraw.Draw(layer)
    width = pen_width(ink) * SUPERSAMPLE
    radius = width / 2
    for start, end in segments:
        points = [(x * SUPERSAMPLE, y * SUPERSAMPLE) for x, y in (start, end)]
        draw.line(points, fill=255, width=max(1, round(width)))
        for x, y in points:
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    strokes = np.asarray(layer.resize(image.shape[::-1], Image.Resampling.BOX))
    return np.maximum(image, strokes)
