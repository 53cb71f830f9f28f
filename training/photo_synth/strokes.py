"""Writing as centre lines: a digit's strokes traced to one-pixel lines, polylines, a row of
marks; and the pen that draws along them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from training.photo_synth.style import PhotoStyle

# Skeletons are traced at most this tall, then drawn at photo size, from the ink above one of
# these levels (see _ink_mask).
TRACE_HEIGHT = 96
TRACE_LEVELS = (0.45, 0.55, 0.65)


@dataclass
class Strokes:
    """Centre lines of some writing at photo scale, as a bool image, and its ink box."""

    lines: np.ndarray

    @property
    def height(self) -> int:
        return int(self.lines.shape[0])

    @property
    def width(self) -> int:
        return int(self.lines.shape[1])


def digit_centre_lines(digit: np.ndarray, height: float) -> Strokes:
    """Trace a 28x28 digit's strokes and draw the trace `height` pixels tall (MNIST box = 20)."""
    ink = digit.astype(np.float32) / 255.0
    rows = np.flatnonzero(ink.max(axis=1) > 0.2)
    cols = np.flatnonzero(ink.max(axis=0) > 0.2)
    if rows.size == 0:
        raise ValueError("a digit image without ink")
    ink = np.pad(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 2)
    return trace(ink, scale=height / 20.0)


def trace(ink: np.ndarray, *, scale: float) -> Strokes:
    """Skeleton of a soft ink image, traced small and drawn as connected lines at `scale`."""
    trace_scale = min(scale, TRACE_HEIGHT / ink.shape[0])
    size = (max(2, round(ink.shape[1] * trace_scale)), max(2, round(ink.shape[0] * trace_scale)))
    upsampled = np.asarray(
        Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BICUBIC)
    )
    skeleton = _thin(_ink_mask(upsampled))
    return _draw_skeleton(skeleton, scale / trace_scale)


def _ink_mask(soft: np.ndarray) -> np.ndarray:
    """Threshold a soft digit so its loops stay open without breaking its strokes.

    Blurry digits (optdigits are 8x8 upsampled) fill their loops at a low threshold and
    break at a high one: take the level that shows the most holes without more pieces.
    """
    best_mask, best_holes = None, -1
    pieces_allowed = 0
    for level in TRACE_LEVELS:
        mask = soft > level
        pieces = ndi.label(mask, structure=np.ones((3, 3)))[1]
        holes = ndi.label(np.pad(~mask, 1, constant_values=True))[1] - 1
        if best_mask is None:
            pieces_allowed = pieces
        if pieces <= pieces_allowed and holes > best_holes:
            best_mask, best_holes = mask, holes
    assert best_mask is not None
    return best_mask


def _draw_skeleton(skeleton: np.ndarray, factor: float) -> Strokes:
    """Connect neighbouring skeleton pixels with line segments on a `factor` times larger image."""
    ys, xs = np.nonzero(skeleton)
    if ys.size == 0:
        return Strokes(np.zeros((2, 2), dtype=bool))
    y0, x0 = ys.min(), xs.min()
    height = int(np.ceil((ys.max() - y0 + 1) * factor)) + 1
    width = int(np.ceil((xs.max() - x0 + 1) * factor)) + 1
    image = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(image)
    present = set(zip(ys.tolist(), xs.tolist(), strict=True))
    for y, x in present:
        start = ((x - x0 + 0.5) * factor, (y - y0 + 0.5) * factor)
        draw.point(start, fill=1)
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
            if (y + dy, x + dx) in present:
                end = ((x + dx - x0 + 0.5) * factor, (y + dy - y0 + 0.5) * factor)
                draw.line([start, end], fill=1, width=1)
    return Strokes(np.asarray(image, dtype=bool))


def polyline_strokes(points: np.ndarray) -> Strokes:
    """A polyline (N, 2) of (x, y) as centre lines."""
    return polylines_strokes([points])


def polylines_strokes(lines: Sequence[np.ndarray]) -> Strokes:
    """Several polylines of (x, y), in one picture, as centre lines."""
    low = np.min([line.min(axis=0) for line in lines], axis=0)
    # Shifted as (line - low) + 1, the order of operations the single-line drawing always had,
    # so the benchmark's photos stay the same to the last bit.
    shifted = [line - low + 1 for line in lines]
    width, height = np.ceil(np.max([line.max(axis=0) for line in shifted], axis=0)) + 2
    image = Image.new("1", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(image)
    for line in shifted:
        draw.line([tuple(p) for p in line.tolist()], fill=1, width=1)
    return Strokes(np.asarray(image, dtype=bool))


def row_of(
    strokes: list[Strokes], digit_height: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Centre lines of several marks side by side with natural gaps and a wavy baseline."""
    gaps = [int(rng.uniform(0.12, 0.45) * digit_height) for _ in strokes[:-1]] + [0]
    jitter = [int(rng.uniform(-0.06, 0.06) * digit_height) for _ in strokes]
    pad = int(0.1 * digit_height) + 8
    top = max(j for j in jitter)
    height = max(s.height - j for s, j in zip(strokes, jitter, strict=True)) + top + 2 * pad
    width = sum(s.width for s in strokes) + sum(gaps) + 2 * pad
    row = np.zeros((height, width), dtype=bool)
    boxes = []
    x = pad
    for s, gap, j in zip(strokes, gaps, jitter, strict=True):
        # Digits share a baseline (their bottoms), up to a little jitter.
        y = height - pad - s.height - top + j
        y = int(np.clip(y, 0, height - s.height))
        row[y : y + s.height, x : x + s.width] |= s.lines
        boxes.append((x, y, x + s.width, y + s.height))
        x += s.width + gap
    return row, boxes


def pen_coverage(
    row: np.ndarray, radius: float, rng: np.random.Generator, style: PhotoStyle
) -> np.ndarray:
    """Ink coverage of a pen of about `radius` px drawn along the centre lines (which need a
    margin of at least `radius` px)."""
    lines = row
    distance, (iy, ix) = ndi.distance_transform_edt(~lines, return_indices=True)
    # Pressure varies along the stroke: the radius at the nearest centre-line pixel.
    pressure = ndi.gaussian_filter(rng.standard_normal(lines.shape).astype(np.float32), 6.0)
    pressure /= float(np.abs(pressure).max()) + 1e-6
    radii = radius * (1.0 + rng.uniform(0.0, 0.3) * pressure)
    alpha = np.clip(radii[iy, ix] + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    if style.ink in ("pencil", "chalk"):
        grain = rng.uniform(0.45, 1.0, size=alpha.shape).astype(np.float32)
        alpha *= ndi.uniform_filter(grain, 2)
    if style.ink == "pencil":
        alpha *= rng.uniform(0.55, 0.85)
    return alpha


def ink_colour(ink: str, rng: np.random.Generator) -> tuple[float, float, float]:
    if ink == "black":
        level = rng.uniform(0.03, 0.2)
        return (level, level, level * 1.1)
    if ink == "blue":
        return (rng.uniform(0.05, 0.25), rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.75))
    if ink == "pencil":
        level = rng.uniform(0.2, 0.4)
        return (level, level, level)
    level = rng.uniform(0.78, 0.95)  # chalk
    return (level, level, level * 0.97)


def _thin(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide centre lines of `mask` (Zhang-Suen thinning, table driven)."""
    skeleton = np.pad(mask, 1).astype(np.uint8)
    while True:
        removed = 0
        for table in (_DELETE_FIRST, _DELETE_SECOND):
            codes = _neighbour_codes(skeleton)
            delete = table[codes] & (skeleton[1:-1, 1:-1] == 1)
            count = int(np.count_nonzero(delete))
            if count:
                skeleton[1:-1, 1:-1][delete] = 0
                removed += count
        if removed == 0:
            return skeleton[1:-1, 1:-1].astype(bool)


def _neighbour_codes(padded: np.ndarray) -> np.ndarray:
    """8-bit code of each inner pixel's neighbours, bit k for P(k+2): N, NE, E, SE, S, SW, W, NW."""
    h, w = padded.shape[0] - 2, padded.shape[1] - 2
    code = np.zeros((h, w), dtype=np.uint8)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        code |= padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] << bit
    return code


_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _deletion_tables() -> tuple[np.ndarray, np.ndarray]:
    first = np.zeros(256, dtype=bool)
    second = np.zeros(256, dtype=bool)
    for code in range(256):
        p = [(code >> k) & 1 for k in range(8)]  # p[0] = P2 (north) ... p[7] = P9 (north-west)
        neighbours = sum(p)
        transitions = sum(1 for k in range(8) if p[k] == 0 and p[(k + 1) % 8] == 1)
        if not (2 <= neighbours <= 6 and transitions == 1):
            continue
        north, east, south, west = p[0], p[2], p[4], p[6]
        first[code] = north * east * south == 0 and east * south * west == 0
        second[code] = north * east * west == 0 and north * south * west == 0
    return first, second


_DELETE_FIRST, _DELETE_SECOND = _deletion_tables()
