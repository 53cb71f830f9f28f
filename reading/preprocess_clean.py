"""Where a clean picture becomes an ink mask: screenshots, scans, canvases, image files of
datasets (MNIST as PNG), photos of a sheet in even light.

Such a picture has two levels, paper and ink, and the paper is the same everywhere. Then one
global threshold (Otsu's) separates them better than the photo path of `preprocess_ink`,
whose local background estimate, step and ruled-line detection exist for uneven light and
would take a frame-filling or soft-edged (anti-aliased, enlarged) digit for background.

`find_ink_clean` decides which path a picture takes (None: not clean); it looks only at the
paper's evenness and the separation of the two levels, never at the shape of the marks.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from reading.preprocess_ink import InkMaps, hysteresis

# The paper is even: the median paper level of each cell of a CLEAN_GRID x CLEAN_GRID split
# differs from the others by at most this much (of [0, 1] gray), and its noise (MAD) is at
# most CLEAN_MAX_NOISE.
CLEAN_GRID = 4
CLEAN_MAX_SPREAD = 0.06
CLEAN_MAX_NOISE = 0.03
# Ink and paper are far apart: their medians differ by at least this much...
CLEAN_MIN_SEPARATION = 0.3
# ...and ink, the minority level, covers at most this share of the picture (a marker digit
# filling its frame covers about 40 %).
CLEAN_MAX_INK_SHARE = 0.5
# Ink is strokes: at least this share of its pixels lies within CLEAN_STROKE_REACH (of the
# picture's short side) of paper. A shadow or the table beside the sheet is also a second
# level, but a wide one.
CLEAN_MIN_NEAR_PAPER = 0.9
CLEAN_STROKE_REACH = 0.12
# Hysteresis: pixels darker than paper by this share of the threshold's depth join the ink
# when they touch it (the faint, thin parts of a pen stroke).
WEAK_INK_SHARE = 0.5
# A cell with fewer paper pixels than this share tells nothing about the paper's level.
MIN_CELL_PAPER_SHARE = 0.2
CELL_PAPER_QUANTILE = 0.75
# The values of a decoded 8-bit picture: level k is k / 255 as the decoder computes it.
LEVEL_VALUES = np.arange(256, dtype=np.float32) * np.float32(1.0 / 255.0)


def _clean_split(gray: np.ndarray) -> tuple[float, bool] | None:
    """Otsu's split of `gray` (see `_split`) when the picture is clean (two even levels: paper
    and a minority of ink), else None."""
    values = _GrayValues(gray)
    split = _split(values)
    if split is None:
        return None
    threshold, dark_ink = split

    def is_paper(v: np.ndarray) -> np.ndarray:
        return v > threshold if dark_ink else v <= threshold

    ink_share = 1.0 - values.share(is_paper)
    if not 0.0 < ink_share <= CLEAN_MAX_INK_SHARE:
        return None
    paper_level = values.median(is_paper)
    if abs(paper_level - values.median(lambda v: ~is_paper(v))) < CLEAN_MIN_SEPARATION:
        return None
    paper = is_paper(gray)
    noise = 1.4826 * values.deviation_median(paper, paper_level, step=7)
    if noise > CLEAN_MAX_NOISE:
        return None
    page = gray if dark_ink else 1.0 - gray
    levels = _cell_paper_levels(page, paper)
    if not levels or max(levels) - min(levels) > CLEAN_MAX_SPREAD:
        return None
    reach = CLEAN_STROKE_REACH * min(gray.shape)
    distance = cv2.distanceTransform((~paper).astype(np.uint8), cv2.DIST_L2, 3)
    near_paper = float((distance[~paper] <= reach).mean())
    return split if near_paper >= CLEAN_MIN_NEAR_PAPER else None


class _GrayValues:
    """Statistics of a picture's gray values: shares, medians, spreads.

    A decoded photo holds 256 values only (its 8-bit levels scaled to [0, 1]). Then the
    statistics come from the levels' histogram, the same numbers np.mean and np.median give
    on the values themselves, at a fraction of the time (a median of 300k values costs 2 ms).
    Other pictures (resized, drawn on a canvas) are measured value by value.
    """

    def __init__(self, gray: np.ndarray) -> None:
        self.gray = gray
        self.counts: np.ndarray | None = None
        # The levels Otsu's threshold works on. A decoded photo's come back by rounding, in
        # one pass (for its values the rounding up from half gives the same levels).
        self.levels = cv2.convertScaleAbs(gray, alpha=255.0)
        if gray.size < 2**24 and np.array_equal(cv2.LUT(self.levels, LEVEL_VALUES), gray):
            histogram = cv2.calcHist([self.levels], [0], None, [256], [0, 256])  # exact counts
            self.counts = histogram.ravel().astype(np.int64)
        else:
            self.levels = np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8)

    def level_span(self) -> int:
        """The highest level less the lowest."""
        if self.counts is None:
            return int(self.levels.max()) - int(self.levels.min())
        used = np.flatnonzero(self.counts)
        return int(used[-1] - used[0])

    def share(self, test: Callable[[np.ndarray], np.ndarray]) -> float:
        """The share of values for which `test` (elementwise, on values) holds."""
        if self.counts is None:
            return float(test(self.gray).mean())
        return int(self.counts[test(LEVEL_VALUES)].sum()) / self.gray.size

    def median(self, test: Callable[[np.ndarray], np.ndarray]) -> float:
        """np.median of the values for which `test` holds (there must be some)."""
        if self.counts is None:
            return float(np.median(self.gray[test(self.gray)]))
        return _median_of_counts(np.where(test(LEVEL_VALUES), self.counts, 0), LEVEL_VALUES)

    def deviation_median(self, where: np.ndarray, centre: float, step: int) -> float:
        """np.median(np.abs(values[where][::step] - centre)): the median distance from `centre`
        of every `step`-th value of the pixels `where` holds (in raster order)."""
        if self.counts is None:
            return float(np.median(np.abs(self.gray[where][::step] - centre)))
        counts = np.bincount(self.levels[where][::step], minlength=256)
        distances = np.abs(LEVEL_VALUES - centre)
        order = np.argsort(distances, kind="stable")
        return _median_of_counts(counts[order], distances[order])


def _median_of_counts(counts: np.ndarray, values: np.ndarray) -> float:
    """np.median of `counts[i]` copies of each `values[i]` (`values` ascending)."""
    total = int(counts.sum())
    ends = np.cumsum(counts)
    # The value at sorted position j is the first whose running count passes j.
    upper = values[int(np.searchsorted(ends, total // 2, side="right"))]
    if total % 2:
        return float(upper)
    lower = values[int(np.searchsorted(ends, total // 2 - 1, side="right"))]
    # np.median's mean of the middle two, in the values' own precision.
    return float((lower + upper) / values.dtype.type(2))


def find_ink_clean(gray: np.ndarray) -> InkMaps | None:
    """The ink of a clean picture by one global threshold; None when `gray` is not clean
    (see `_clean_split`), for the photo path to read."""
    split = _clean_split(gray)
    if split is None:
        return None
    threshold, dark_ink = split
    page = gray if dark_ink else 1.0 - gray
    cut = threshold if dark_ink else 1.0 - threshold
    paper = page > cut
    paper_level = max(float(np.median(page[paper])) if paper.any() else 1.0, 0.02)
    strong = page <= cut
    weak = page <= paper_level - WEAK_INK_SHARE * (paper_level - cut)
    binary, _ = hysteresis(weak, strong)
    darkness = np.clip(paper_level - page, 0.0, 1.0).astype(np.float32)
    contrast = np.clip(darkness / paper_level, 0.0, 1.0).astype(np.float32)
    noise = 1.4826 * float(np.median(np.abs(page[~binary][::7] - paper_level))) + 1e-3
    nothing = np.zeros(gray.shape, dtype=bool)
    return InkMaps(
        dark_ink=dark_ink,
        contrast=contrast,
        binary=binary,
        lines=nothing,
        steps=nothing,
        noise=noise,
        darkness=darkness,
        ink_level=WEAK_INK_SHARE * (paper_level - cut),
    )


def _split(values: _GrayValues) -> tuple[float, bool] | None:
    """Otsu's threshold (of [0, 1] gray) and whether ink is the dark level (the minority)."""
    if values.level_span() < 2:
        return None  # one level: nothing written
    threshold, _ = cv2.threshold(values.levels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Half a level above Otsu's: cv2 puts values equal to the threshold in the dark class.
    cut = (float(threshold) + 0.5) / 255.0
    dark_share = values.share(lambda v: v <= cut)
    return cut, dark_share < 0.5


def _cell_paper_levels(page: np.ndarray, paper: np.ndarray) -> list[float]:
    """Each cell's paper level (ink dark in `page`): an upper quantile, because the paper
    pixels next to a stroke take some of its darkness (anti-aliasing, blur)."""
    height, width = page.shape
    rows = np.linspace(0, height, CLEAN_GRID + 1).astype(int)
    cols = np.linspace(0, width, CLEAN_GRID + 1).astype(int)
    levels = []
    for r0, r1 in zip(rows[:-1], rows[1:], strict=True):
        for c0, c1 in zip(cols[:-1], cols[1:], strict=True):
            cell_paper = paper[r0:r1, c0:c1]
            if cell_paper.size and cell_paper.mean() >= MIN_CELL_PAPER_SHARE:
                values = page[r0:r1, c0:c1][cell_paper]
                levels.append(float(np.quantile(values, CELL_PAPER_QUANTILE)))
    return levels
