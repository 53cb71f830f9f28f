"""Shared fixtures: small, real handwriting standing in for MNIST, so no test downloads it."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from training.datasets import MnistData, load_optdigits

# sklearn's 1797 optdigits, MNIST-style: the first ones train, the rest test.
NUM_STAND_IN_TRAIN = 1500


@pytest.fixture(scope="session")
def optdigits() -> tuple[np.ndarray, np.ndarray]:
    return load_optdigits()


@pytest.fixture(scope="session")
def stand_in_mnist(optdigits: tuple[np.ndarray, np.ndarray]) -> MnistData:
    """Real handwritten digits in MNIST's layout, only smaller."""
    images, labels = optdigits
    return MnistData(
        x_train=images[:NUM_STAND_IN_TRAIN],
        y_train=labels[:NUM_STAND_IN_TRAIN],
        x_test=images[NUM_STAND_IN_TRAIN:],
        y_test=labels[NUM_STAND_IN_TRAIN:],
        source="stand-in:optdigits",
    )
