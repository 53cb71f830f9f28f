"""Touching digits: the cut options preprocessing offers, and which of them reading takes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digitbot.defaults import NOT_A_DIGIT
from reading.model import DigitModel
from reading.pipeline import read_photo
from reading.preprocess import preprocess
from reading.preprocess_group import Group
from reading.touching import CutOption, apply_cuts, cut_candidates
from tests.support.photos import clear_digits, number_photo


def _labels_of(mask: np.ndarray) -> tuple[np.ndarray, Group]:
    """The mask as one labelled component and its group."""
    rows, cols = np.nonzero(mask)
    group = Group(
        [1],
        int(cols.min()),
        int(rows.min()),
        int(cols.max()) + 1,
        int(rows.max()) + 1,
        int(mask.sum()),
    )
    return mask.astype(np.int32), group


def _rings(overlap: int) -> np.ndarray:
    """Two 60-pixel rings side by side whose boxes overlap by `overlap` columns."""
    image = Image.new("1", (200, 100), 0)
    pen = ImageDraw.Draw(image)
    pen.ellipse((20, 20, 80, 80), outline=1, width=5)
    pen.ellipse((80 - overlap, 20, 140 - overlap, 80), outline=1, width=5)
    return np.asarray(image, dtype=bool)


def test_two_touching_rings_get_a_cut_where_they_meet() -> None:
    labels, group = _labels_of(_rings(overlap=6))
    options = cut_candidates(group, labels)
    assert options, "a mark twice as wide as tall gets cut options"
    # Every option is two groups that together span the mark, left then right.
    for left, right in options:
        assert left.x0 == group.x0 and right.x1 == group.x1 and left.x1 == right.x0
        assert left.height >= 0.5 * group.height and right.height >= 0.5 * group.height
    # The first cut tried is where the rings meet, not through the middle of a ring.
    meet = 80 - 6 // 2
    assert abs(options[0][0].x1 - meet) <= 3


def test_a_narrow_mark_gets_no_cut_options() -> None:
    image = Image.new("1", (100, 100), 0)
    ImageDraw.Draw(image).ellipse((30, 10, 70, 90), outline=1, width=5)  # a tall 0
    labels, group = _labels_of(np.asarray(image, dtype=bool))
    assert cut_candidates(group, labels) == []


def _row(digit: int, p: float) -> np.ndarray:
    """A probability row over 11 classes with `p` on `digit` and the rest spread evenly."""
    row = np.full(11, (1.0 - p) / 10, dtype=np.float32)
    row[digit] = p
    return row


def _option(index: int, tag: float) -> CutOption:
    crops = np.full((2, 28, 28), tag, dtype=np.float32)
    return CutOption(index, crops, [(int(tag), 0, 1, 1), (int(tag), 1, 1, 2)])


@pytest.mark.parametrize(
    ("whole", "sides", "cut"),
    [
        (_row(9, 0.6), [_row(0, 0.99), _row(4, 0.98)], True),  # unsure whole, sure sides
        (_row(7, 0.995), [_row(7, 0.99), _row(1, 0.99)], False),  # a sure digit stays whole
        (_row(NOT_A_DIGIT, 0.9), [_row(9, 1.0), _row(1, 1.0)], True),  # two digits, not one
        (_row(NOT_A_DIGIT, 0.995), [_row(8, 0.99), _row(8, 0.99)], False),  # letters stay out
        (_row(2, 0.5), [_row(2, 0.99), _row(NOT_A_DIGIT, 0.9)], False),  # a side is no digit
        (_row(2, 0.3), [_row(2, 0.6), _row(5, 0.6)], False),  # the cut is no surer
    ],
)
def test_a_cut_is_taken_only_when_the_model_believes_in_both_sides(
    whole: np.ndarray, sides: list[np.ndarray], cut: bool
) -> None:
    crops = np.stack([np.full((28, 28), 0.5, np.float32), np.full((28, 28), 0.7, np.float32)])
    boxes = [(0, 0, 5, 5), (10, 0, 15, 5)]
    option = _option(index=1, tag=3.0)
    rows = np.stack([_row(5, 0.99), whole, *sides])
    out_crops, out_boxes, out_rows = apply_cuts(crops, boxes, [option], rows)
    if cut:
        assert out_boxes == [boxes[0], *option.boxes]
        assert np.array_equal(out_crops[1:], option.crops)
        assert np.array_equal(out_rows, np.stack([rows[0], *sides]))
    else:
        assert out_boxes == boxes
        assert np.array_equal(out_crops, crops) and np.array_equal(out_rows, rows[:2])


def test_the_best_of_several_cuts_wins() -> None:
    crops = np.zeros((1, 28, 28), np.float32)
    weak, strong = _option(0, 1.0), _option(0, 2.0)
    rows = np.stack([_row(4, 0.4), _row(1, 0.8), _row(7, 0.8), _row(2, 0.99), _row(3, 0.99)])
    _, out_boxes, out_rows = apply_cuts(crops, [(0, 0, 9, 9)], [weak, strong], rows)
    assert out_boxes == strong.boxes
    assert [int(r.argmax()) for r in out_rows] == [2, 3]


def test_touching_digits_in_a_photo_are_read_as_two(shipped_model: DigitModel) -> None:
    # Clear MNIST test digits written so close that their strokes run into each other.
    merged = read = 0
    pairs = clear_digits(12)
    for index in range(0, len(pairs), 2):
        (left, left_label), (right, right_label) = pairs[index], pairs[index + 1]
        photo = number_photo([left, right], gap=-13, seed=index)
        if len(preprocess(photo).crops) == 1:
            merged += 1
            read += (
                read_photo(photo, shipped_model).recognition.text == f"{left_label}{right_label}"
            )
    assert merged >= 2, "the test needs pairs that segmentation alone sees as one mark"
    assert read == merged
