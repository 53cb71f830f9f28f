"""Every architecture takes the (28, 28, 1) contract, outputs a softmax and learns."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from training.architectures import (
    ARCHITECTURES,
    DIGITNET_FINAL_DIVISOR,
    DIGITNET_PEAK_LEARNING_RATE,
    DIGITNET_START_DIVISOR,
    DIGITNET_WARMUP_FRACTION,
    digitnet_learning_rate,
)
from training.train import to_model_input

NUM_STEPS = 3
NUM_IMAGES = 32


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_architecture_contract_and_one_step_of_learning(
    name: str, optdigits: tuple[np.ndarray, np.ndarray]
) -> None:
    keras.utils.set_random_seed(0)
    architecture = ARCHITECTURES[name]
    model = architecture.build(10)
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    assert tuple(model.output_shape) == (None, 10)

    images, labels = optdigits
    x = to_model_input(images[:NUM_IMAGES])
    y = keras.utils.to_categorical(labels[:NUM_IMAGES], 10)
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)

    if architecture.learning_rate_schedule is not None:
        # Start where the schedule peaks: its first batches are deliberately gentle.
        model.optimizer.learning_rate = max(
            architecture.learning_rate_schedule(p / 100) for p in range(101)
        )
    # Measure in training mode: BatchNorm's running statistics barely move in a few steps.
    keras.utils.set_random_seed(1)
    before = float(model.compute_loss(x=x, y=y, y_pred=model(x, training=True)))
    for _ in range(NUM_STEPS):
        model.train_on_batch(x, y)
    keras.utils.set_random_seed(1)
    after = float(model.compute_loss(x=x, y=y, y_pred=model(x, training=True)))
    assert after < before


@pytest.mark.parametrize("name", ["digitnet", "cnn", "mlp"])
def test_eleven_classes_for_not_a_digit(name: str) -> None:
    model = ARCHITECTURES[name].build(11)
    assert tuple(model.output_shape) == (None, 11)


def test_registry_rows_describe_their_recipe() -> None:
    assert list(ARCHITECTURES) == [
        "mlp", "mlp-dropout", "one-hidden", "lenet5", "cnn-small", "cnn", "digitnet",
    ]  # fmt: skip
    for name, architecture in ARCHITECTURES.items():
        assert architecture.name == name
        assert architecture.epochs > 0 and architecture.batch_size > 0
        assert 0.0 <= architecture.validation_split < 0.5
        published = architecture.published_accuracy
        assert published is None or 0.9 < published < 1.0
    assert ARCHITECTURES["lenet5"].validation_split == pytest.approx(0.1)
    assert ARCHITECTURES["digitnet"].augment


def test_digitnet_model_stays_small() -> None:
    model = ARCHITECTURES["digitnet"].build(10)
    # Parameters are what a saved model costs: weights plus two Adam moments, 4 bytes each.
    assert model.count_params() * 4 * 3 < 5_000_000


def test_digitnet_learning_rate_is_one_cycle() -> None:
    peak = DIGITNET_PEAK_LEARNING_RATE
    assert digitnet_learning_rate(0.0) == pytest.approx(peak / DIGITNET_START_DIVISOR)
    assert digitnet_learning_rate(DIGITNET_WARMUP_FRACTION) == pytest.approx(peak)
    assert digitnet_learning_rate(1.0) == pytest.approx(peak / DIGITNET_FINAL_DIVISOR)
    decay = [digitnet_learning_rate(p / 100) for p in range(15, 101)]
    assert all(a >= b for a, b in zip(decay, decay[1:], strict=False))
    assert digitnet_learning_rate(2.0) == digitnet_learning_rate(1.0)
