"""Augmentation keeps the model's input contract and really distorts, only when training."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from tests.support.augment import augment_images
from training.augment import (
    DEFAULT_CONFIG,
    PIVOT,
    RandomAffine,
    RandomStrokeWidth,
    build_augmenter,
)
from training.train import to_model_input

NUM_IMAGES = 64


def centre_of_mass(images: np.ndarray) -> np.ndarray:
    weights = images.reshape(len(images), 28, 28).astype(np.float64)
    total = weights.sum(axis=(1, 2))
    rows = (weights.sum(axis=2) * np.arange(28)).sum(axis=1) / total
    cols = (weights.sum(axis=1) * np.arange(28)).sum(axis=1) / total
    return np.stack([rows, cols], axis=1)


def test_augment_keeps_shape_and_range_and_changes_images(
    optdigits: tuple[np.ndarray, np.ndarray],
) -> None:
    images = optdigits[0][:NUM_IMAGES]
    for batch in (images, to_model_input(images)):
        augmented = augment_images(batch, seed=3)
        assert augmented.shape == batch.shape and augmented.dtype == np.float32
        assert augmented.min() >= 0.0 and augmented.max() <= 1.0
        difference = np.abs(augmented.reshape(NUM_IMAGES, -1) - images.reshape(NUM_IMAGES, -1)
                            / 255.0).mean(axis=1)  # fmt: skip
        assert (difference > 0.005).mean() > 0.9  # nearly every image visibly changed
    # Still the same digit, roughly where MNIST puts it.
    shift = np.abs(centre_of_mass(augmented) - centre_of_mass(images))
    assert np.median(shift) < DEFAULT_CONFIG.max_shift_pixels + 1


def test_augment_is_reproducible_per_seed(optdigits: tuple[np.ndarray, np.ndarray]) -> None:
    images = optdigits[0][:8]
    np.testing.assert_array_equal(augment_images(images, seed=5), augment_images(images, seed=5))
    assert not np.array_equal(augment_images(images, seed=5), augment_images(images, seed=6))


def test_augmenter_is_identity_outside_training(optdigits: tuple[np.ndarray, np.ndarray]) -> None:
    x = to_model_input(optdigits[0][:8])
    out = keras.ops.convert_to_numpy(build_augmenter()(x, training=False))
    np.testing.assert_array_equal(out, x)


def test_identity_affine_leaves_images_unchanged(optdigits: tuple[np.ndarray, np.ndarray]) -> None:
    x = to_model_input(optdigits[0][:8])
    layer = RandomAffine(0.0, 0.0, 1.0, 1.0, seed=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x, training=True)), x, atol=1e-5)


def test_affine_scaling_pivots_on_the_centre(optdigits: tuple[np.ndarray, np.ndarray]) -> None:
    x = to_model_input(optdigits[0][:16])
    grown = keras.ops.convert_to_numpy(RandomAffine(0.0, 0.0, 1.2, 1.2, seed=0)(x, training=True))
    ink_before = (x > 0.5).sum(axis=(1, 2, 3))
    ink_after = (grown > 0.5).sum(axis=(1, 2, 3))
    assert (ink_after > ink_before).mean() > 0.8
    assert np.abs(centre_of_mass(grown) - PIVOT).max() < 1.5


def test_stroke_width_thickens_and_thins(optdigits: tuple[np.ndarray, np.ndarray]) -> None:
    x = to_model_input(optdigits[0][:32])
    ink = x.sum(axis=(1, 2, 3))
    thicker = RandomStrokeWidth(1.0, max_thicken=1.0, max_thin=0.0, seed=0)(x, training=True)
    thinner = RandomStrokeWidth(1.0, max_thicken=0.0, max_thin=1.0, seed=0)(x, training=True)
    thicker_ink = keras.ops.convert_to_numpy(thicker).sum(axis=(1, 2, 3))
    thinner_ink = keras.ops.convert_to_numpy(thinner).sum(axis=(1, 2, 3))
    # Strengths are drawn in [-1, 1]: about half the images move, and only one way.
    assert (thicker_ink >= ink - 1e-3).all() and (thicker_ink > ink * 1.05).mean() > 0.2
    assert (thinner_ink <= ink + 1e-3).all() and (thinner_ink < ink * 0.95).mean() > 0.2


def test_zero_strength_config_changes_nothing(optdigits: tuple[np.ndarray, np.ndarray]) -> None:
    off = dataclasses.replace(
        DEFAULT_CONFIG,
        max_rotation_degrees=0.0,
        max_shift_pixels=0.0,
        min_scale=1.0,
        max_scale=1.0,
        stroke_probability=0.0,
        blur_probability=0.0,
        noise_probability=0.0,
    )
    images = optdigits[0][:8]
    np.testing.assert_allclose(augment_images(images, off), images / 255.0, atol=1e-5)
