"""Continental 1s and 7s on MNIST-style digits: new strokes land where the style puts them."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from digitbot.defaults import NOT_A_DIGIT
from tests.support.photo_crops import build_photo_crops
from training.datasets import MnistData
from training.evaluate import style_sets
from training.handwriting_styles import pen_width, restyle
from training.photo_crops import CropRecipe


def drawn(lines: list[tuple[int, int, int, int]], width: int = 2) -> np.ndarray:
    image = Image.new("L", (28, 28), 0)
    for line in lines:
        ImageDraw.Draw(image).line(line, fill=255, width=width)
    return np.asarray(image)


ONE = drawn([(14, 4, 14, 23)])  # a bare upright stroke, MNIST's 1
SEVEN = drawn([(8, 4, 20, 4), (20, 4, 12, 23)])


def pieces(image: np.ndarray) -> int:
    return int(ndi.label(image >= 100, structure=np.ones((3, 3)))[1])


def added(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return (after >= 100) & (before < 100)


@pytest.mark.parametrize("seed", range(12))
def test_a_one_gains_a_flag_or_a_foot_joined_to_its_stroke(seed: int) -> None:
    styled = restyle(ONE, 1, np.random.default_rng(seed))
    assert styled is not None and styled.dtype == np.uint8 and styled.shape == (28, 28)
    assert (styled >= ONE).all()  # the digit's own ink stays
    new = added(ONE, styled)
    flag = new[4:14, :14]  # up and to the left of the stroke's top
    foot = new[21:26, :]  # along the stroke's bottom
    assert flag.any() or foot.any()
    assert not new[14:20].any()  # the middle of the stroke stays bare
    if foot.any():
        foot_xs = np.flatnonzero(foot.any(axis=0))
        assert foot_xs.max() >= 16  # it reaches right of the stroke
    assert pieces(styled) == 1  # one mark, so a photo traces it whole


@pytest.mark.parametrize("seed", range(12))
def test_a_seven_gains_a_bar_across_its_stem(seed: int) -> None:
    styled = restyle(SEVEN, 7, np.random.default_rng(seed))
    assert styled is not None and (styled >= SEVEN).all()
    new = added(SEVEN, styled)
    rows = np.flatnonzero(new.any(axis=1))
    assert rows.min() >= 10 and rows.max() <= 18  # about halfway down
    row = int(np.median(rows))
    stem = np.flatnonzero(SEVEN[row] >= 100)
    bar = np.flatnonzero(new[rows.min() : rows.max() + 1].any(axis=0))
    assert bar.min() < stem.min() and bar.max() > stem.max()  # it crosses, both sides
    assert pieces(styled) == 1


def test_only_ones_and_sevens_with_ink_are_restyled() -> None:
    rng = np.random.default_rng(0)
    for label in (0, 2, 3, 4, 5, 6, 8, 9):
        assert restyle(ONE, label, rng) is None
    assert restyle(np.zeros((28, 28), np.uint8), 1, rng) is None
    # A "7" whose ink skips the crossing height has nowhere to take a bar.
    broken = drawn([(8, 4, 20, 4), (12, 21, 12, 23)])
    assert restyle(broken, 7, rng) is None


def test_restyling_is_reproducible_and_varies_with_the_draws() -> None:
    first = restyle(ONE, 1, np.random.default_rng(5))
    again = restyle(ONE, 1, np.random.default_rng(5))
    np.testing.assert_array_equal(first, again)
    others = [restyle(ONE, 1, np.random.default_rng(s)) for s in range(6, 12)]
    assert any(not np.array_equal(first, other) for other in others)


def test_new_strokes_take_the_digits_pen_width() -> None:
    thin, bold = drawn([(14, 4, 14, 23)], width=2), drawn([(14, 4, 14, 23)], width=5)
    assert pen_width(thin >= 100) < pen_width(bold >= 100)
    rng_seed = 3
    thin_new = added(thin, restyle(thin, 1, np.random.default_rng(rng_seed))).sum()
    bold_new = added(bold, restyle(bold, 1, np.random.default_rng(rng_seed))).sum()
    assert bold_new > thin_new


def test_the_styled_part_photographs_only_ones_and_sevens(stand_in_mnist: MnistData) -> None:
    images, labels = stand_in_mnist.x_train, stand_in_mnist.y_train
    crops = build_photo_crops(images, labels, CropRecipe(0, 0, seed=8, num_styled_photos=10),
                              processes=1)  # fmt: skip
    assert crops.stats["styled_photos"] == 10
    assert crops.stats["styled_crops"] == len(crops.labels) >= 6
    assert set(crops.labels.tolist()) <= {1, 7} and NOT_A_DIGIT not in crops.labels
    assert len(set(crops.labels.tolist())) == 2


def test_style_sets_pair_each_restyled_digit_with_the_same_digit_as_written(
    stand_in_mnist: MnistData,
) -> None:
    digits = (stand_in_mnist.x_test, stand_in_mnist.y_test)
    sets = style_sets(digits, 3)
    styled, plain = sets["continental-1-7"], sets["plain-1-7"]
    assert len(styled) == len(plain) == 3
    for a, b in zip(styled, plain, strict=True):
        index = a.meta["source_indices"]
        assert index == b.meta["source_indices"] and a.label == b.label
        assert a.label == str(int(digits[1][index[0]])) and a.label in {"1", "7"}
        assert a.meta["style"] == b.meta["style"] and a.data != b.data  # same light, other ink
    again = style_sets(digits, 3)
    assert [s.data for s in again["continental-1-7"]] == [s.data for s in styled]
    other = style_sets(digits, 3, draw=1)
    assert [s.data for s in other["plain-1-7"]] != [s.data for s in plain]
