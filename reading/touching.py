"""Digits that touch along more than a thin joint: where they might be cut, and the model's say.

Segmentation parts two digits only where one thin stroke joins them (`preprocess_group`).
Digits written close enough to touch along a stretch, or to overlap, stay one wide mark, and
the model then reads one digit (or none) where there were two. So for every mark at least
TRY_ASPECT times as wide as it is tall, preprocessing also offers a few vertical cuts near
the middle: where the top or bottom edge dips, then where the least ink is. Reading asks the
model about the whole mark and about the two sides of each cut in the same call, and takes a
cut only when the model is surer of both sides together (the product of their probabilities,
weighed by CUT_PRIOR) than it is of the whole mark. A wide 0 cut in two gives two halves the
model does not believe in, so it stays whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitbot.defaults import NOT_A_DIGIT
from reading.preprocess_group import (
    MIN_SPLIT_HEIGHT,
    Group,
    cut_group,
    group_mask,
    smooth_columns,
)

# Marks at least this wide for their height get cut options.
TRY_ASPECT = 0.9
# Cuts lie in this middle share of the mark, at most this many per mark, this share of the
# width apart, and leave each side ink in at least this share of the mark's rows.
CUT_ZONE = (0.2, 0.8)
MAX_CUTS = 4
MIN_CUT_DISTANCE = 0.1
MIN_SIDE_HEIGHT = 0.5
# Two digits where segmentation saw one mark must be clearly the better reading.
CUT_PRIOR = 0.9
MIN_CUT_BELIEF = 0.5
MAX_NOT_A_DIGIT = 0.98


@dataclass(frozen=True)
class CutOption:
    """Crop `index` of a photo read as two digits: their crops (2, 28, 28) and boxes."""

    index: int
    crops: np.ndarray
    boxes: list[tuple[int, int, int, int]]


def cut_candidates(group: Group, labels: np.ndarray) -> list[list[Group]]:
    """The ways to cut a wide mark into two digits worth asking the model about.

    Where two digits meet, the mark's top edge dips (two rounded tops) or its bottom edge
    rises (two feet): the deepest such valleys near the middle are the first cuts to try; the
    columns with the least ink (a thin joint) come next.
    """
    if group.width < TRY_ASPECT * group.height or group.height < MIN_SPLIT_HEIGHT:
        return []
    mask = group_mask(labels, group)
    low, high = int(CUT_ZONE[0] * group.width), int(np.ceil(CUT_ZONE[1] * group.width))
    inked = mask.any(axis=0)
    height = mask.shape[0]
    top = np.where(inked, mask.argmax(axis=0), height)
    bottom = np.where(inked, mask[::-1].argmax(axis=0), height)
    valleys = [low + int(np.argmax(smooth_columns(edge)[low:high])) for edge in (top, bottom)]
    thin = low + np.argsort(smooth_columns(mask.sum(axis=0))[low:high], kind="stable")
    chosen: list[int] = []
    for column in [*valleys, *thin.tolist()]:
        if len(chosen) == MAX_CUTS:
            break
        if all(abs(column - c) >= MIN_CUT_DISTANCE * group.width for c in chosen):
            chosen.append(int(column))
    options = [cut_group(group, mask, cut, MIN_SIDE_HEIGHT) for cut in chosen if cut > 0]
    return [parts for parts in options if parts is not None]


def apply_cuts(
    crops: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    options: list[CutOption],
    rows: np.ndarray,
) -> tuple[np.ndarray, list[tuple[int, int, int, int]], np.ndarray]:
    """Take the cuts the model believes in.

    `rows` are the model's probabilities for `crops` followed by those for every option's two
    crops, in order. Returns the crops, boxes and probability rows of the chosen reading.
    """
    count = len(crops)
    best: dict[int, tuple[float, int]] = {}
    for number, option in enumerate(options):
        sides = rows[count + 2 * number : count + 2 * number + 2]
        if (sides.argmax(axis=1) == NOT_A_DIGIT).any():
            continue
        both = float(np.prod(sides[:, :NOT_A_DIGIT].max(axis=1)))
        whole = rows[option.index]
        if both < MIN_CUT_BELIEF or whole[NOT_A_DIGIT] >= MAX_NOT_A_DIGIT:
            continue
        score = CUT_PRIOR * both
        if score > max(float(whole[:NOT_A_DIGIT].max()), best.get(option.index, (0.0, -1))[0]):
            best[option.index] = (score, number)
    if not best:
        return crops, boxes, rows[:count]
    out_crops: list[np.ndarray] = []
    out_boxes: list[tuple[int, int, int, int]] = []
    out_rows: list[np.ndarray] = []
    for index in range(count):
        if index in best:
            number = best[index][1]
            out_crops.extend(options[number].crops)
            out_boxes.extend(options[number].boxes)
            out_rows.extend(rows[count + 2 * number : count + 2 * number + 2])
        else:
            out_crops.append(crops[index])
            out_boxes.append(boxes[index])
            out_rows.append(rows[index])
    return np.stack(out_crops), out_boxes, np.stack(out_rows)
