"""Where an ink mask becomes digits: connected components, filters, grouping, reading order.

Sizes here are relative to the digits themselves (the tallest candidate) wherever possible,
because a digit may fill the frame or be a small mark in a big photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from worker.preprocess_mnist import stroke_width

# Components smaller than this many pixels, or this fraction of the image, are specks.
MIN_COMPONENT_PIXELS = 8
MIN_COMPONENT_FRACTION = 2e-5
# More components than this (after dropping specks) is a page of text or a noisy picture.
MAX_COMPONENTS = 150
# A digit is at least this many pixels tall at segmentation resolution.
MIN_DIGIT_HEIGHT = 10
# ...and at least this fraction of the picture's short side (smaller marks are specks, dust,
# or writing in the background)...
MIN_DIGIT_HEIGHT_FRACTION = 0.035
# ...and at least this fraction of the tallest digit candidate.
MIN_RELATIVE_HEIGHT = 0.4
# Wider than this times its height is a dash or a line, not a digit.
MAX_DIGIT_ASPECT = 2.0
# Pieces whose x-ranges overlap by this share of the narrower one belong to one digit...
MERGE_X_OVERLAP = 0.5
# ...when the vertical gap between them is at most this share of the taller one's height;
# pieces side by side must overlap by this share.
MERGE_MAX_GAP = 0.45
MERGE_CONTAINED = 0.85
MERGE_SHORT = 0.75
MERGE_HANGING_OVERLAP = 0.2
# Pieces are not joined into something wider than this times its height, or taller than this
# times the tallest single piece.
MAX_MERGED_ASPECT = 1.6
MAX_MERGED_HEIGHT = 1.5
# A small piece (shorter than this share of the tallest) joins a digit this close to it.
FRAGMENT_HEIGHT = 0.5
FRAGMENT_MAX_DISTANCE = 0.25
# A filled blob (dot, smudge): strokes thicker than this share of the mark's size (a disc
# measures 0.5; a marker digit about 0.2).
MAX_BLOB_THICKNESS = 0.3
# A component with at least this share of its pixels on a background step is a false stroke.
MAX_STEP_SHARE = 0.5
# Touching digits: a group wider than this times its height is cut where a single thin
# stroke joins two halves.
SPLIT_ASPECT = 1.3
SPLIT_MAX_BRIDGE = 1.8  # stroke widths
# In a number, a group this much wider than the typical one is cut from this aspect on.
ROW_SPLIT_WIDTH = 1.5
ROW_SPLIT_ASPECT = 0.9
# Ink edges are sharp: at the rim the contrast changes by at least this share of the mark's
# contrast per pixel (a shadow's rim changes far more slowly).
MIN_EDGE_SHARPNESS = 0.12
# Digits of one number overlap vertically by at least this share of the shorter one.
ROW_OVERLAP = 0.25

REASON_BLANK = "blank"
REASON_TOO_SMALL = "too-small"
REASON_TOO_MANY = "too-many-components"
REASON_NOT_DIGIT_SHAPED = "not-digit-shaped"
REASON_NOISE = "noise"


@dataclass
class Group:
    """One candidate digit: the components it is made of and their joint box (x1, y1 exclusive)."""

    labels: list[int]
    x0: int
    y0: int
    x1: int
    y1: int
    area: int
    touches_border: bool = False

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def absorb(self, other: Group) -> None:
        self.labels.extend(other.labels)
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.area += other.area
        self.touches_border = self.touches_border or other.touches_border


@dataclass(frozen=True)
class Segmentation:
    labels: np.ndarray  # int32 (H, W) component labels
    groups: list[Group]  # digits, left to right
    reason: str  # "" when groups is not empty


def segment_digits(
    binary: np.ndarray,
    *,
    max_digits: int,
    steps: np.ndarray | None = None,
    contrast: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> Segmentation:
    """Find the digits in an ink mask, left to right, or say why there are none.

    `steps` marks where the background estimate is unreliable (see `preprocess_ink`);
    components lying mostly there are dropped. With `contrast`, marks whose edges are soft
    (the rim of a shadow) are dropped too: ink has sharp edges. `labels` may hold the mask's
    8-connected components already (numbered in any order).
    """
    height, width = binary.shape
    if labels is None:
        labels, count = ndi.label(binary, structure=np.ones((3, 3), dtype=bool))
    else:
        count = int(labels.max())
    if count == 0:
        return Segmentation(labels, [], REASON_BLANK)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[0] = 0
    min_area = max(MIN_COMPONENT_PIXELS, int(MIN_COMPONENT_FRACTION * height * width))
    keep = areas >= min_area
    keep[0] = False
    if steps is not None and steps.any():
        on_steps = np.bincount(labels[steps], minlength=count + 1)
        keep &= on_steps < MAX_STEP_SHARE * areas
    big = np.flatnonzero(keep)
    if big.size == 0:
        return Segmentation(labels, [], REASON_NOISE if count > MAX_COMPONENTS else REASON_BLANK)
    if big.size > 4 * MAX_COMPONENTS:
        return Segmentation(labels, [], REASON_NOISE)
    slices = ndi.find_objects(labels)
    groups: list[Group] = []
    for label in big:
        rows, cols = slices[label - 1]
        group = Group([int(label)], cols.start, rows.start, cols.stop, rows.stop, int(areas[label]))
        group.touches_border = (
            group.x0 == 0 or group.y0 == 0 or group.x1 == width or group.y1 == height
        )
        groups.append(group)
    if len(groups) > MAX_COMPONENTS:
        return Segmentation(labels, [], REASON_TOO_MANY)
    # Marks cut by the frame are the sheet's edge, a shadow or a neighbour's writing far more
    # often than the digit the user aimed at; keep them only when there is nothing else.
    inside = [g for g in groups if not g.touches_border]
    groups = inside or [g for g in groups if not _is_page_edge(g, width, height)]
    if not groups:
        return Segmentation(labels, [], REASON_BLANK)

    groups = _merge_pieces(groups)
    groups = [part for g in groups for part in _split_touching(g, labels)]
    min_height = max(MIN_DIGIT_HEIGHT, MIN_DIGIT_HEIGHT_FRACTION * min(height, width))
    if max(g.height for g in groups) < min_height:
        return Segmentation(labels, [], REASON_TOO_SMALL)
    shaped = [g for g in groups if g.height >= min_height and _is_digit_shaped(g, labels)]
    if contrast is not None:
        shaped = [g for g in shaped if _edge_sharpness(g, labels, contrast) >= MIN_EDGE_SHARPNESS]
    if not shaped:
        return Segmentation(labels, [], REASON_NOT_DIGIT_SHAPED)
    tallest = max(g.height for g in shaped)
    tall = [g for g in shaped if g.height >= MIN_RELATIVE_HEIGHT * tallest]
    row = _main_row(tall)
    if len(tall) - len(row) >= 2 or len(row) > max_digits:
        # Several lines of writing, or more marks than a number has: a page of text.
        return Segmentation(labels, [], REASON_TOO_MANY)
    row = _split_wide_in_row(row, labels)
    if len(row) > max_digits:
        return Segmentation(labels, [], REASON_TOO_MANY)
    row.sort(key=lambda g: (g.x0 + g.x1) / 2)
    return Segmentation(labels, row, "")


def group_mask(labels: np.ndarray, group: Group) -> np.ndarray:
    """The group's own ink inside its box (other components that reach into the box excluded)."""
    window = labels[group.y0 : group.y1, group.x0 : group.x1]
    return np.isin(window, group.labels)


def _is_page_edge(group: Group, width: int, height: int) -> bool:
    if not group.touches_border:
        return False
    spans_x = group.width > 0.6 * width
    spans_y = group.height > 0.6 * height
    fill = group.area / max(1, group.width * group.height)
    # Along the border and long, and either mostly empty box (an edge line) or filling both
    # directions (a dark table or shadow region); a digit filling the frame is neither.
    return (spans_x and spans_y) or ((spans_x or spans_y) and fill < 0.15)


def _merge_pieces(groups: list[Group]) -> list[Group]:
    """Join the pieces of one digit: strokes stacked in x, and small fragments next to a digit."""
    groups = sorted(groups, key=lambda g: g.x0)
    tallest = max(g.height for g in groups)
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(groups):
            for j in range(i + 1, len(groups)):
                b = groups[j]
                if b.x0 > a.x1 + FRAGMENT_MAX_DISTANCE * tallest:
                    break
                if _same_digit(a, b, tallest):
                    a.absorb(b)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


def _same_digit(a: Group, b: Group, tallest: int) -> bool:
    union_w = max(a.x1, b.x1) - min(a.x0, b.x0)
    union_h = max(a.y1, b.y1) - min(a.y0, b.y0)
    if union_w > MAX_MERGED_ASPECT * union_h or union_h > MAX_MERGED_HEIGHT * tallest:
        return False  # the union would not look like one digit
    overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
    gap_y = max(a.y0, b.y0) - min(a.y1, b.y1)
    taller = max(a.height, b.height)
    narrower = min(a.width, b.width)
    if -gap_y > 0.5 * min(a.height, b.height):
        # Side by side: one piece lies within the other's columns, or a shorter piece that
        # ends well above the other's foot overlaps it (the two strokes of a 4, the loop and
        # stem of a 9 written in two goes). Two digits stand on one baseline instead: a
        # slanted 1 next to a 9 must not join it.
        if overlap_x >= MERGE_CONTAINED * narrower:
            return True
        short, tall = (a, b) if a.height < b.height else (b, a)
        hangs = short.height < MERGE_SHORT * tall.height and short.y1 < tall.y1 - 0.15 * tall.height
        if hangs and overlap_x >= MERGE_HANGING_OVERLAP * narrower:
            return True
    elif overlap_x >= MERGE_X_OVERLAP * narrower and gap_y <= MERGE_MAX_GAP * taller:
        return True  # stacked pieces: the bar of a 5, a 0 broken at top and bottom
    if min(a.height, b.height) >= FRAGMENT_HEIGHT * tallest:
        return False
    gap_x = max(a.x0, b.x0) - min(a.x1, b.x1)
    distance = max(gap_x, gap_y, 0)
    # A small fragment joins a digit-sized piece right next to it.
    return distance <= FRAGMENT_MAX_DISTANCE * tallest and taller >= FRAGMENT_HEIGHT * tallest


def _split_wide_in_row(row: list[Group], labels: np.ndarray) -> list[Group]:
    """Try to cut groups much wider than their neighbours in a number (two touching digits)."""
    if len(row) < 2:
        return row
    widths = sorted(g.width for g in row)
    typical = widths[len(widths) // 2]
    result = []
    for g in row:
        if g.width > ROW_SPLIT_WIDTH * typical:
            result.extend(_split_touching(g, labels, aspect=ROW_SPLIT_ASPECT))
        else:
            result.append(g)
    return result


def _split_touching(group: Group, labels: np.ndarray, aspect: float = SPLIT_ASPECT) -> list[Group]:
    """Cut a too-wide group where two digits touch through one thin stroke."""
    if group.width <= aspect * group.height or group.height < MIN_DIGIT_HEIGHT:
        return [group]
    mask = group_mask(labels, group)
    columns = mask.sum(axis=0)
    thickness = stroke_width(mask)
    low, high = int(0.25 * group.width), int(0.75 * group.width)
    middle = columns[low:high].astype(np.float32)
    if middle.size == 0:
        return [group]
    # Smooth so a single stray column does not decide the cut.
    smoothed = np.convolve(middle, np.ones(3, dtype=np.float32) / 3, mode="same")
    # Only columns crossed by a single stroke can be a joint (the middle of a wide 0 is
    # crossed twice).
    single = _runs_per_column(mask[:, low:high]) == 1
    smoothed = np.where(single, smoothed, np.inf)
    cut = low + int(np.argmin(smoothed))
    bridge = float(smoothed[cut - low])
    # A dash is all bridge: cut only where the halves hold much more ink than the joint.
    if not np.isfinite(bridge) or bridge > SPLIT_MAX_BRIDGE * thickness:
        return [group]
    if columns.max() < 2.5 * max(bridge, 1.0):
        return [group]
    if not 0 < cut < group.width:
        return [group]
    parts = []
    for start, stop in ((0, cut), (cut, group.width)):
        rows = np.flatnonzero(mask[:, start:stop].any(axis=1))
        if rows.size == 0:
            continue
        area = int(mask[:, start:stop].sum())
        part = Group(
            list(group.labels),
            group.x0 + start,
            group.y0 + int(rows[0]),
            group.x0 + stop,
            group.y0 + int(rows[-1]) + 1,
            area,
            group.touches_border,
        )
        parts.extend(_split_touching(part, labels, aspect))
    return parts


def _edge_sharpness(group: Group, labels: np.ndarray, contrast: np.ndarray) -> float:
    """Contrast gradient at the mark's rim over the contrast inside (per pixel)."""
    y0, x0 = max(0, group.y0 - 1), max(0, group.x0 - 1)
    y1, x1 = min(labels.shape[0], group.y1 + 1), min(labels.shape[1], group.x1 + 1)
    mask = np.isin(labels[y0:y1, x0:x1], group.labels)
    window = contrast[y0:y1, x0:x1]
    if min(window.shape) < 3:
        return float("inf")
    rim = mask & ~ndi.binary_erosion(mask)
    grad_y, grad_x = np.gradient(window)
    gradient = float(np.median(np.hypot(grad_y, grad_x)[rim]))
    inside = float(np.median(window[mask]))
    return gradient / max(inside, 1e-3)


def _runs_per_column(mask: np.ndarray) -> np.ndarray:
    """How many separate vertical runs of ink each column holds."""
    starts = mask[1:] & ~mask[:-1]
    return starts.sum(axis=0) + mask[0]


def _is_digit_shaped(group: Group, labels: np.ndarray) -> bool:
    if group.width > MAX_DIGIT_ASPECT * group.height:
        return False  # a dash, a line
    # A dot or smudge is as thick as it is big; digit strokes are a fraction of the height.
    thickness = stroke_width(group_mask(labels, group))
    return thickness <= MAX_BLOB_THICKNESS * max(group.width, group.height)


def _main_row(groups: list[Group]) -> list[Group]:
    """The groups that share a row with the tallest one."""
    anchor = max(groups, key=lambda g: g.height)
    row = []
    for g in groups:
        overlap = min(g.y1, anchor.y1) - max(g.y0, anchor.y0)
        if overlap >= ROW_OVERLAP * min(g.height, anchor.height):
            row.append(g)
    return row
