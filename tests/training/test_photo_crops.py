"""Training crops read back from rendered photos: labelled right, reproducible, cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitbot.defaults import NOT_A_DIGIT
from tests.support.photo_crops import build_photo_crops
from training import photo_crops
from training.datasets import MnistData
from training.photo_crops import (
    CropRecipe,
    is_stick,
    load_photo_crops,
    low_resolution,
)
from training.photo_synth import DEFAULT_SEEDS, random_style


def test_the_benchmark_seeds_are_refused() -> None:
    for seed in DEFAULT_SEEDS.values():
        with pytest.raises(ValueError, match="benchmark"):
            CropRecipe(10, 10, seed=seed)


def test_crops_are_labelled_reproducible_and_independent_of_process_count(
    stand_in_mnist: MnistData,
) -> None:
    images, labels = stand_in_mnist.x_train, stand_in_mnist.y_train
    recipe = CropRecipe(12, 10, seed=11, low_resolution_share=0.5)

    one = build_photo_crops(images, labels, recipe, processes=1)
    two = build_photo_crops(images, labels, recipe, processes=2)

    np.testing.assert_array_equal(one.images, two.images)
    np.testing.assert_array_equal(one.labels, two.labels)
    assert one.stats == two.stats
    digits = one.labels < NOT_A_DIGIT
    assert digits.sum() == one.stats["digits_crops"] >= 9  # most photos read as one digit
    assert (~digits).sum() == one.stats["negatives_crops"] >= 1
    assert one.images.dtype == np.uint8 and one.images.shape[1:] == (28, 28)
    # MNIST-style crops: ink inside a 20x20 box, centred.
    for crop in one.images:
        rows = np.flatnonzero(crop.max(axis=1) > 25)
        cols = np.flatnonzero(crop.max(axis=0) > 25)
        assert rows[-1] - rows[0] < 24 and cols[-1] - cols[0] < 24
    assert not any(is_stick(c / 255.0) for c in one.images[~digits])

    other_seed = build_photo_crops(images, labels, CropRecipe(12, 0, seed=12), processes=1)
    assert not np.array_equal(other_seed.images, one.images[digits])


def test_digit_crops_carry_the_label_of_the_digit_photographed(
    stand_in_mnist: MnistData,
) -> None:
    # Every training digit is a "7": whatever photos are drawn, the crops must say 7.
    sevens = stand_in_mnist.x_train[stand_in_mnist.y_train == 7]
    labels = np.full(len(sevens), 7, np.uint8)
    crops = build_photo_crops(sevens, labels, CropRecipe(6, 0, seed=3), processes=1)
    assert len(crops.labels) >= 4 and set(crops.labels.tolist()) == {7}


def test_crops_are_cached_by_part(tmp_path: Path, stand_in_mnist: MnistData) -> None:
    images, labels = stand_in_mnist.x_train, stand_in_mnist.y_train
    recipe = CropRecipe(4, 2, seed=5)
    first = load_photo_crops(tmp_path, images, labels, recipe, mnist_sha256="abc", processes=1)
    cached = sorted((tmp_path / "datasets").glob("photo-crops-*.npz"))
    assert [p.name.split("-")[2] for p in cached] == ["digits", "negatives"]
    stamps = [p.stat().st_mtime_ns for p in cached]

    again = load_photo_crops(tmp_path, images, labels, recipe, mnist_sha256="abc", processes=1)

    assert [p.stat().st_mtime_ns for p in cached] == stamps
    np.testing.assert_array_equal(first.images, again.images)
    assert first.stats == again.stats
    # A part added to the recipe is rendered alone; the others come from the cache.
    more = CropRecipe(4, 2, seed=5, num_low_resolution_photos=3)
    bigger = load_photo_crops(tmp_path, images, labels, more, mnist_sha256="abc", processes=1)
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert bigger.stats["low_resolution_photos"] == 3
    np.testing.assert_array_equal(bigger.images[: len(first.images)], first.images)
    assert (bigger.labels[len(first.labels) :] < NOT_A_DIGIT).all()
    # Other MNIST data is other files.
    load_photo_crops(tmp_path, images, labels, recipe, mnist_sha256="def", processes=1)
    assert len(list((tmp_path / "datasets").glob("photo-crops-*.npz"))) == 5


def test_low_resolution_keeps_the_digit_but_loses_detail(stand_in_mnist: MnistData) -> None:
    digit = stand_in_mnist.x_train[0]
    small = low_resolution(digit)
    assert small.shape == (28, 28) and small.dtype == np.uint8
    a, b = digit.astype(float).ravel(), small.astype(float).ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.6
    assert not np.array_equal(digit, small)
    blank = np.zeros((28, 28), np.uint8)
    np.testing.assert_array_equal(low_resolution(blank), blank)


def test_sticks_are_told_from_digits() -> None:
    stick = np.zeros((28, 28))
    stick[4:24, 12:16] = 1.0
    zero = np.zeros((28, 28))
    zero[4:24, 6:22] = 1.0
    zero[8:20, 10:18] = 0.0
    assert is_stick(stick) and not is_stick(zero) and not is_stick(np.zeros((28, 28)))


def test_a_size_limit_scales_the_photo_without_changing_its_draws() -> None:
    full = random_style(np.random.default_rng(9))
    small = random_style(np.random.default_rng(9), max_side=400)
    assert max(small.width, small.height) <= 400
    assert small.ink == full.ink and small.rotation == full.rotation
    factor = small.width / full.width
    assert abs(small.digit_height - full.digit_height * factor) <= 1 or small.digit_height == 14
    assert random_style(np.random.default_rng(9), max_side=5000) == full


def test_recipe_version_changes_the_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    (part,) = CropRecipe(1, 0).parts()
    before = part.key("x")
    monkeypatch.setattr(photo_crops, "RECIPE_VERSION", photo_crops.RECIPE_VERSION + 1)
    assert part.key("x") != before
