"""Where notebook rules, squared-paper grids and margin lines are found and taken out.

A ruled line crosses most of the picture at one tilt. The tilt comes from projections of the
faint-ink pixels; in the picture sheared by that tilt a line is a row in which most pixels
hold at least faint ink, even where thresholding broke the line into dashes. Ink pixels on
such rows are removed, and given back where a stroke continues on both sides of the line.
"""

from __future__ import annotations

import numpy as np

# Lines are searched up to 15 degrees of tilt, coarse to fine: (+- span around the best so
# far, step, in degrees; rows per projection bin).
TILT_SEARCH = ((15.0, 2.0, 16), (1.5, 0.25, 4), (0.3, 0.05, 1))
# A line row: at least this share of its pixels hold faint ink...
LINE_ROW_FILL = 0.5
# Rows two away from a line row with at least this share are its fringe too.
LINE_FRINGE_FILL = 0.05
# ...over a row at least this share of the picture's width long.
LINE_MIN_LENGTH_FRACTION = 0.3
# Faint ink: contrast above this many noise levels (and above a floor).
FAINT_NOISE_FACTOR = 2.5
FAINT_MIN_CONTRAST = 0.03
# A ruled line is thin: at most this share of the long side; a thicker band is a drawing or a
# shadow and stays.
LINE_MAX_THICKNESS_FRACTION = 0.015
# Faint pixels are sampled from every n-th column: sparsely to screen for lines at all, more
# densely to find their tilt and how full each row is; wide bins count coverage in blocks of
# columns.
SCREEN_SAMPLING = 8
FILL_SAMPLING = 2
COVERAGE_BLOCK = 2
# Points used to find the tilt (a subsample keeps this fast).
TILT_SAMPLE_POINTS = 3000


def find_ruled_lines(
    binary: np.ndarray, darkness: np.ndarray, paper: float, noise: float
) -> np.ndarray:
    """Ink pixels of `binary` on long thin straight lines, horizontal or vertical.

    `darkness` is how much darker than the paper around it each pixel is; `paper` and `noise`
    are its typical value on bare paper and that value's noise.
    """
    threshold = paper + max(FAINT_MIN_CONTRAST, FAINT_NOISE_FACTOR * noise)
    lines = np.zeros_like(binary)
    ink_y = ink_x = np.zeros(0, dtype=np.int64)  # the ink's pixels, found when first needed
    for transposed in (False, True):
        view = darkness.T if transposed else darkness
        height, width = view.shape
        length = LINE_MIN_LENGTH_FRACTION * width
        if width < 16:
            continue
        # Most photos have no lines: a sparse sample and the coarse search say so cheaply.
        ys, xs = _faint_pixels(view[:, ::SCREEN_SAMPLING], threshold)
        if _line_slope(ys, xs * SCREEN_SAMPLING, height, length, SCREEN_SAMPLING, 1) is None:
            continue
        ys, xs = _faint_pixels(view[:, ::FILL_SAMPLING], threshold)
        xs *= FILL_SAMPLING
        slope = _line_slope(ys, xs, height, length, FILL_SAMPLING, len(TILT_SEARCH))
        if slope is None:
            continue
        line_rows, shift = _line_rows(ys, xs, (height, width), slope)
        if line_rows is None:
            continue
        if ink_y.size == 0:
            ink_y, ink_x = np.nonzero(binary)
        rows, cols = (ink_x, ink_y) if transposed else (ink_y, ink_x)
        on_line = line_rows[rows + shift[cols]]
        lines[ink_y[on_line], ink_x[on_line]] = True
    return lines


def _faint_pixels(view: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """np.nonzero(view > threshold), row by row: three times faster through the flat index."""
    flat = np.flatnonzero(np.ascontiguousarray(view > threshold))
    rows, cols = np.divmod(flat, view.shape[1])
    return rows, cols


def heal_line_cuts(binary: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Give back removed line pixels where a stroke continues on both sides of the line.

    `binary` no longer holds the line pixels; a removed pixel returns when there is ink within
    a line's thickness above and below it (or left and right, for vertical lines).
    """
    height, width = binary.shape
    reach = max(3, int(round(LINE_MAX_THICKNESS_FRACTION * max(height, width))) + 2)
    ly, lx = np.nonzero(lines)
    if ly.size == 0:
        return binary
    keep = _ink_on_both_sides(binary, ly, lx, reach, axis=0)
    keep |= _ink_on_both_sides(binary, ly, lx, reach, axis=1)
    healed = binary.copy()
    healed[ly[keep], lx[keep]] = True
    return healed


def _ink_on_both_sides(
    binary: np.ndarray, ys: np.ndarray, xs: np.ndarray, reach: int, axis: int
) -> np.ndarray:
    """For the pixels (ys, xs): is there ink within `reach` before and after them on `axis`?"""
    pad = ((1, 0), (0, 0)) if axis == 0 else ((0, 0), (1, 0))
    # counts at index i: how many ink pixels lie before position i along the axis.
    counts = np.pad(np.cumsum(binary, axis=axis, dtype=np.int32), pad)

    def ink_before(index: np.ndarray) -> np.ndarray:
        return counts[index, xs] if axis == 0 else counts[ys, index]

    position = ys if axis == 0 else xs
    size = binary.shape[axis]
    before = ink_before(position) - ink_before(np.maximum(position - reach, 0))
    after = ink_before(np.minimum(position + reach + 1, size)) - ink_before(position + 1)
    return (before > 0) & (after > 0)


def _line_rows(
    faint_rows: np.ndarray, faint_cols: np.ndarray, shape: tuple[int, int], slope: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """Which rows of the picture sheared by `slope` are lines (with their fringe), and the
    shear: pixel (y, x) lies on sheared row y + shift[x]. The faint pixels are a sample of
    every FILL_SAMPLING-th column."""
    height, width = shape
    shift = np.rint(np.arange(width) * slope).astype(np.int64)
    shift = shift.max() - shift
    num_rows = height + int(shift.max())
    # Pixels per sheared row: every column contributes rows shift[x] .. shift[x] + height - 1.
    starts = np.bincount(shift, minlength=num_rows + 1)
    stops = np.bincount(shift + height, minlength=num_rows + 1)
    row_length = np.cumsum(starts - stops)[:num_rows]
    faint_count = np.bincount(faint_rows + shift[faint_cols], minlength=num_rows)[:num_rows]
    fill = faint_count * FILL_SAMPLING / np.maximum(row_length, 1)
    line_rows = (fill >= LINE_ROW_FILL) & (row_length >= LINE_MIN_LENGTH_FRACTION * width)
    if not line_rows.any():
        return None, shift
    max_thickness = max(2, int(LINE_MAX_THICKNESS_FRACTION * max(height, width)))
    line_rows = _without_thick_bands(line_rows, max_thickness)
    # The anti-aliased fringe: the rows next to a line row, and the next ones where they are
    # partly on the line too.
    widened = line_rows.copy()
    widened[1:] |= line_rows[:-1]
    widened[:-1] |= line_rows[1:]
    further = np.zeros_like(line_rows)
    further[2:] |= line_rows[:-2]
    further[:-2] |= line_rows[2:]
    widened |= further & (fill >= LINE_FRINGE_FILL)
    return widened, shift


def _without_thick_bands(rows: np.ndarray, max_thickness: int) -> np.ndarray:
    """Drop runs of consecutive line rows thicker than a rule."""
    padded = np.concatenate(([False], rows, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, stops = edges[0::2], edges[1::2]
    keep = rows.copy()
    for start, stop in zip(starts, stops, strict=True):
        if stop - start > max_thickness:
            keep[start:stop] = False
    return keep


def _line_slope(
    rows: np.ndarray, cols: np.ndarray, height: int, length: float, sampling: int, stages: int
) -> float | None:
    """The tilt (d row / d col) whose projection has a row holding `length` faint pixels.

    Coarse to fine (the first `stages` of TILT_SEARCH): wide bins forgive a coarse angle (a
    thin line drifts across rows when the angle is off), narrow bins need a fine one. The
    faint pixels are a sample of every `sampling`-th column.
    """
    step = max(1, rows.size // TILT_SAMPLE_POINTS)
    ys, xs = rows[::step].astype(np.float32), cols[::step].astype(np.float32)
    if rows.size * sampling < length:
        return None
    needed = LINE_ROW_FILL * length / (step * sampling)
    best = 0.0
    for span, angle_step, bin_rows in TILT_SEARCH[:stages]:
        degrees = best + np.arange(-span, span + 1e-6, angle_step)
        best, count = _best_projection(ys, xs, height, degrees, bin_rows, sampling)
        if count < needed:
            return None  # wider bins only ever hold more: no line at any finer step either
    return float(np.tan(np.radians(best)))


def _best_projection(
    ys: np.ndarray, xs: np.ndarray, height: int, degrees: np.ndarray, bin_rows: int, sampling: int
) -> tuple[float, int]:
    """The angle whose projection (in bins of `bin_rows` rows) has the sharpest profile, and how
    many sampled columns its fullest bin covers.

    Coverage, not pixel count: a thick stroke piles many pixels into a wide bin, but only a
    line covers the whole width.
    """
    slopes = np.tan(np.radians(degrees)).astype(np.float32)
    offset = int(np.ceil((float(xs.max()) + 1) * float(np.abs(slopes).max()))) + 1
    bins = (height + 2 * offset) // bin_rows + 1
    # Row of each point at each angle: rint(ys - xs * slope), in place; the indices below stay
    # far below 2**31, and int32 halves the memory traffic.
    projected = xs[None, :] * slopes[:, None]
    np.subtract(ys[None, :], projected, out=projected)
    rows = np.rint(projected, out=projected).astype(np.int32)
    rows += offset
    # Bins of all angles in one flat array: angle i's bins start at i * bins.
    first_bin = np.arange(slopes.size, dtype=np.int32)[:, None] * bins
    if bin_rows == 1:
        # One pixel per row and column: the count is the coverage.
        rows += first_bin
        coverage = np.bincount(rows.ravel(), minlength=slopes.size * bins)
        coverage = coverage.reshape(slopes.size, bins)
    else:
        rows //= bin_rows
        rows += first_bin
        # Coverage counted in blocks of columns, scaled back to sampled columns.
        columns = (xs // (sampling * COVERAGE_BLOCK)).astype(np.int32)
        num_columns = int(columns.max()) + 1
        rows *= num_columns
        rows += columns  # now the (angle, bin, column block) cell of each point
        occupied = np.zeros((slopes.size * bins, num_columns), dtype=bool)
        occupied.ravel()[rows.ravel()] = True
        coverage = np.count_nonzero(occupied, axis=1).reshape(slopes.size, bins) * COVERAGE_BLOCK
    # The angle that lines up the most: many full lines (a grid) outweigh one strong line at
    # another angle (the sheet's edge).
    sharpness = (coverage.astype(np.float64) ** 2).sum(axis=1)
    index = int(np.argmax(sharpness))
    return float(degrees[index]), int(coverage[index].max())
