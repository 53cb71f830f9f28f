"""Augmentation run once outside a model, to look at what the training layers do."""

from __future__ import annotations

import numpy as np
from keras import ops

from training.augment import DEFAULT_CONFIG, IMAGE_SIDE, AugmentConfig, build_augmenter


def augment_images(
    images: np.ndarray, config: AugmentConfig = DEFAULT_CONFIG, seed: int = 0
) -> np.ndarray:
    """Augment MNIST-style images once: uint8 or [0, 1] floats, (N, 28, 28[, 1]) in and out.

    Returns float32 in [0, 1] with the input's shape; training runs the same layers inside the
    model graph.
    """
    array = np.asarray(images)
    floats = array.astype("float32") / 255.0 if array.dtype == np.uint8 else array.astype("float32")
    batch = floats.reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 1)
    augmented = build_augmenter(config, seed)(batch, training=True)
    return np.clip(ops.convert_to_numpy(augmented), 0.0, 1.0).reshape(array.shape)
