"""Where an ink mask becomes digits: connected components, filters, the row of a number and
its reading order (joining and cutting pieces is in `preprocess_group`).

Sizes here are relative to the digits themselves (the tallest candidate) wherever possible,
because a digit may fill the frame or be a small mark in a big photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from reading.masks import erode_cross, label4, label8
from reading.preprocess_group import (
    Group,
    group_mask,
    labels_mask,
    merge_pieces,
    split_touching,
    split_wide_in_row,
)
from reading.preprocess_mnist import stroke_width

__all__ = ["Group", "Segmentation", "group_mask", "segment_digits"]

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
# A filled blob (dot, smudge): strokes thicker than this share of the mark's size (a disc
# measures 0.5; a marker digit about 0.2).
MAX_BLOB_THICKNESS = 0.3
# More loops than this (of at least this share of the box each) is a scribble.
MAX_HOLES = 3
MIN_HOLE_SHARE = 0.015
# A component with at least this share of its pixels on a background step is a false stroke.
MAX_STEP_SHARE = 0.5
# A candidate whose strokes are thinner than this share of the typical candidate's (weighted
# by ink) is a remnant of a ruled line or grid, not a digit written with the same pen.
MIN_RELATIVE_STROKE = 0.5
# A candidate whose edges are softer than this share of the typical candidate's (weighted by
# ink) is the rim of a shadow: ink written on one sheet has edges of much the same sharpness.
MIN_RELATIVE_SHARPNESS = 0.4
# A border mark filling more of its box than this is a solid region (no handwritten digit
# fills 60 % of its box; a marker 8 about 45 %)...
SOLID_FILL = 0.6
# ...and one filling less than this is a line along the frame (the sheet's edge).
EDGE_LINE_FILL = 0.15
# A border mark spanning more than this share of the frame's side is the frame's business.
SPANS_FRAME = 0.6
# Digits of one number overlap vertically by at least this share of the shorter one.
ROW_OVERLAP = 0.25

REASON_BLANK = "blank"
REASON_TOO_SMALL = "too-small"
REASON_TOO_MANY = "too-many-components"
REASON_NOT_DIGIT_SHAPED = "not-digit-shaped"
REASON_NOISE = "noise"


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
    photo: bool = True,
) -> Segmentation:
    """Find the digits in an ink mask, left to right, or say why there are none.

    `steps` marks where the background estimate is unreliable (see `preprocess_ink`);
    components lying mostly there are dropped. With `contrast`, marks whose edges are far
    softer than the picture's other marks (the rim of a shadow) are dropped too: ink written
    on one sheet has edges of much the same sharpness. `labels` may hold the mask's
    8-connected components already (numbered in any order). `photo=False` says the mask
    comes from a clean picture (even paper, see `preprocess_clean`): there is no sheet edge,
    shadow or background step to tell from ink, so those rules are off.
    """
    height, width = binary.shape
    if labels is None:
        labels, count = label8(binary)
    else:
        count = int(labels.max())
    if count == 0:
        return Segmentation(labels, [], REASON_BLANK)
    # Labels are set exactly on the ink: counting there is counting everywhere, faster.
    areas = np.bincount(labels[binary], minlength=count + 1)
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
    # A picture may be framed tightly round its digit (a 0 filling a screenshot or a crop), so
    # marks at the border stay unless they are a solid region or a line along it.
    not_edges = [g for g in groups if not _is_frame_edge(g, width, height)]
    groups = not_edges
    if photo:  # in a photo, marks cut by the frame are a neighbour's writing more often
        groups = [g for g in not_edges if not g.touches_border] or not_edges
    if not groups:
        return Segmentation(labels, [], REASON_BLANK)

    # Cut touching digits apart first, so that a fragment (the bar of a 5) can find its own
    # digit rather than the neighbour it touches.
    groups = [part for g in groups for part in split_touching(g, labels)]
    groups = merge_pieces(groups)
    min_height = max(MIN_DIGIT_HEIGHT, MIN_DIGIT_HEIGHT_FRACTION * min(height, width))
    if max(g.height for g in groups) < min_height:
        return Segmentation(labels, [], REASON_TOO_SMALL)
    # Lines, dashes and letters reach the model, which says "not a digit"; only marks no
    # reader could take for a digit (dots, smudges, scribbles) stop here.
    shaped = [g for g in groups if g.height >= min_height and _is_digit_shaped(g, labels)]
    if contrast is not None and photo:
        shaped = _sharp_edged(shaped, labels, contrast)
    shaped = _without_hairlines(shaped, labels)
    if not shaped:
        return Segmentation(labels, [], REASON_NOT_DIGIT_SHAPED)
    tallest = max(g.height for g in shaped)
    tall = [g for g in shaped if g.height >= MIN_RELATIVE_HEIGHT * tallest]
    row = _main_row(tall)
    if len(tall) - len(row) >= 2 or len(row) > max_digits:
        # Several lines of writing, or more marks than a number has: a page of text.
        return Segmentation(labels, [], REASON_TOO_MANY)
    row = split_wide_in_row(row, labels)
    if len(row) > max_digits:
        return Segmentation(labels, [], REASON_TOO_MANY)
    row.sort(key=lambda g: (g.x0 + g.x1) / 2)
    return Segmentation(labels, row, "")


def _is_frame_edge(group: Group, width: int, height: int) -> bool:
    """A border mark that is no digit: a filled region spanning the frame (a table beyond the
    sheet, a shadow) or a long, sparse line along it (the sheet's edge)."""
    if not group.touches_border:
        return False
    spans = group.width > SPANS_FRAME * width or group.height > SPANS_FRAME * height
    fill = group.area / max(1, group.width * group.height)
    return spans and (fill > SOLID_FILL or fill < EDGE_LINE_FILL)


def _sharp_edged(groups: list[Group], labels: np.ndarray, contrast: np.ndarray) -> list[Group]:
    """The groups whose edges are about as sharp as the typical group's (no absolute floor:
    anti-aliased, enlarged and defocused digits have soft edges, and the model judges them)."""
    if len(groups) < 2:
        return groups
    sharpness = [_edge_sharpness(g, labels, contrast) for g in groups]
    floor = MIN_RELATIVE_SHARPNESS * _ink_weighted_median(groups, sharpness)
    return [g for g, value in zip(groups, sharpness, strict=True) if value >= floor]


def _without_hairlines(groups: list[Group], labels: np.ndarray) -> list[Group]:
    """Drop groups drawn far thinner than the typical group (remnants of ruled lines)."""
    if len(groups) < 2:
        return groups
    widths = [stroke_width(group_mask(labels, g)) for g in groups]
    floor = MIN_RELATIVE_STROKE * _ink_weighted_median(groups, widths)
    return [g for g, width in zip(groups, widths, strict=True) if width >= floor]


def _ink_weighted_median(groups: list[Group], values: list[float]) -> float:
    """The value that holds for at least half of the groups' ink: the digits', as they hold
    most of the ink, while an odd mark or two cannot move it."""
    order = np.argsort(values)
    areas = np.array([groups[i].area for i in order], dtype=np.float64)
    half = int(np.searchsorted(np.cumsum(areas), 0.5 * areas.sum()))
    return float(values[order[min(half, len(groups) - 1)]])


def _edge_sharpness(group: Group, labels: np.ndarray, contrast: np.ndarray) -> float:
    """Contrast gradient at the mark's rim over the contrast inside (per pixel)."""
    y0, x0 = max(0, group.y0 - 1), max(0, group.x0 - 1)
    y1, x1 = min(labels.shape[0], group.y1 + 1), min(labels.shape[1], group.x1 + 1)
    mask = labels_mask(labels[y0:y1, x0:x1], group.labels)
    window = contrast[y0:y1, x0:x1]
    if min(window.shape) < 3:
        return float("inf")
    rim = mask & ~erode_cross(mask)
    grad_y, grad_x = np.gradient(window)
    gradient = float(np.median(np.hypot(grad_y, grad_x)[rim]))
    inside = float(np.median(window[mask]))
    return gradient / max(inside, 1e-3)


def _is_digit_shaped(group: Group, labels: np.ndarray) -> bool:
    """False for a dot or smudge (as thick as it is big: scaled to a digit's box it would be a
    fair "0") and a scribble (more loops than any digit has)."""
    mask = group_mask(labels, group)
    if stroke_width(mask) > MAX_BLOB_THICKNESS * max(group.width, group.height):
        return False
    # No digit has more than two loops (8), three with a crossing stroke; a scribble has many.
    return _count_holes(mask) <= MAX_HOLES


def _count_holes(mask: np.ndarray) -> int:
    """Enclosed background regions of at least MIN_HOLE_SHARE of the box."""
    background, count = label4(np.pad(~mask, 1, constant_values=True))
    if count <= 1:
        return 0
    sizes = np.bincount(background.ravel())
    sizes[background[0, 0]] = 0  # the outside
    sizes[0] = 0
    return int((sizes >= MIN_HOLE_SHARE * mask.size).sum())


def _main_row(groups: list[Group]) -> list[Group]:
    """The groups that share a row with the tallest one."""
    anchor = max(groups, key=lambda g: g.height)
    row = []
    for g in groups:
        overlap = min(g.y1, anchor.y1) - max(g.y0, anchor.y0)
        if overlap >= ROW_OVERLAP * min(g.height, anchor.height):
            row.append(g)
    return row
