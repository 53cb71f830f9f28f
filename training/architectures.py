"""Every model we train, defined once: the tutorials' models and ours (`digitnet`).

All take MNIST-style input (N, 28, 28, 1) floats in [0, 1] and end in a softmax over
`num_classes` (0-9 are digits; digitnet may get an 11th "not a digit" class). They are pure
Keras 3, so the same saved model also runs on the torch backend. Every model is compiled for
one-hot targets, so the same training code drives all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_DIGITS = 10


@dataclass(frozen=True)
class Architecture:
    """A named model recipe and the training settings it was published with.

    `published_accuracy` is a fraction (0.9785), as the tutorial reported it on MNIST test.
    `learning_rate_schedule`, when set, maps training progress in [0, 1] to a learning rate and
    is applied every batch. `augment` says whether this model trains on augmented images by
    default.
    """

    name: str
    description: str
    build: Callable[[int], keras.Model]
    epochs: int
    batch_size: int
    validation_split: float
    published_accuracy: float | None
    source: str
    learning_rate_schedule: Callable[[float], float] | None = None
    augment: bool = False


def compile_for_onehot(
    model: keras.Model, optimizer: keras.optimizers.Optimizer, *, label_smoothing: float = 0.0
) -> keras.Model:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


def softmax_head(x: keras.KerasTensor, num_classes: int) -> keras.KerasTensor:
    return layers.Dense(num_classes, activation="softmax", name="probabilities")(x)


# --- the tutorials' models ---------------------------------------------------------------------


def build_mlp(num_classes: int) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Flatten()(inputs)
    x = layers.Dense(512, activation="relu")(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="mlp")
    return compile_for_onehot(model, keras.optimizers.RMSprop())


def build_mlp_dropout(num_classes: int) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Flatten()(inputs)
    x = layers.Dense(512, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="mlp_dropout")
    return compile_for_onehot(model, keras.optimizers.Adamax())


ONE_HIDDEN_UNITS = 300
ONE_HIDDEN_DROPOUT = 0.2
ONE_HIDDEN_LEARNING_RATE = 0.1


def build_one_hidden(
    num_classes: int,
    *,
    hidden_units: int = ONE_HIDDEN_UNITS,
    dropout_rate: float = ONE_HIDDEN_DROPOUT,
) -> keras.Model:
    """The TF1 tutorial's network (one hidden layer, plain SGD), rebuilt in Keras 3."""
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Flatten()(inputs)
    x = layers.Dense(hidden_units, activation="relu")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate)(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="one_hidden")
    return compile_for_onehot(model, keras.optimizers.SGD(ONE_HIDDEN_LEARNING_RATE))


def build_lenet5(num_classes: int) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE)
    x = inputs
    for filters in (6, 16, 32):
        x = layers.Conv2D(filters, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(200, activation="relu")(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="lenet5")
    return compile_for_onehot(model, keras.optimizers.Adam())


def build_cnn_small(num_classes: int) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Dropout(0.2)(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="cnn_small")
    return compile_for_onehot(model, keras.optimizers.Adam())


def build_cnn(num_classes: int) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE)
    x = layers.Conv2D(32, 5, padding="same", activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(1024, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="cnn")
    return compile_for_onehot(model, keras.optimizers.Adam(1e-4))


# --- ours ----------------------------------------------------------------------------------------

DIGITNET_PEAK_LEARNING_RATE = 3e-3
# One-cycle: warm up over this share of training, then cosine-anneal towards zero.
DIGITNET_WARMUP_FRACTION = 0.15
DIGITNET_START_DIVISOR = 20.0
DIGITNET_FINAL_DIVISOR = 1000.0
DIGITNET_WEIGHT_DECAY = 1e-4
DIGITNET_LABEL_SMOOTHING = 0.1
DIGITNET_DROPOUT = 0.3


def digitnet_learning_rate(progress: float) -> float:
    """One-cycle learning rate at `progress` in [0, 1] of the whole run."""
    peak = DIGITNET_PEAK_LEARNING_RATE
    start, final = peak / DIGITNET_START_DIVISOR, peak / DIGITNET_FINAL_DIVISOR
    progress = min(max(progress, 0.0), 1.0)
    if progress < DIGITNET_WARMUP_FRACTION:
        return start + (peak - start) * progress / DIGITNET_WARMUP_FRACTION
    decay = (progress - DIGITNET_WARMUP_FRACTION) / (1.0 - DIGITNET_WARMUP_FRACTION)
    return final + (peak - final) * 0.5 * (1.0 + math.cos(math.pi * decay))


def conv_block(x: keras.KerasTensor, filters: int, kernel_size: int = 3) -> keras.KerasTensor:
    """Conv (no bias: BatchNorm supplies it) + BatchNorm + ReLU, 'valid' padding.

    'valid' padding shrinks the maps a little at every layer, which on a 2-core CPU is the
    cheapest way to spend compute only where the digit is.
    """
    x = layers.Conv2D(filters, kernel_size, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def build_digitnet(num_classes: int) -> keras.Model:
    """Our production model: a compact BatchNorm CNN sized for CPU training and inference.

    28 -conv32-> 26 -pool-> 13 -conv64-> 11 -conv64-> 9 -pool-> 4 -conv128-> 2 -> dense 128.
    About 6 M multiply-adds per image, so one image costs well under a millisecond.
    """
    inputs = keras.Input(INPUT_SHAPE)
    x = conv_block(inputs, 32)
    x = layers.MaxPooling2D()(x)
    x = conv_block(x, 64)
    x = conv_block(x, 64)
    x = layers.MaxPooling2D()(x)
    x = conv_block(x, 128)
    x = layers.Flatten()(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(DIGITNET_DROPOUT)(x)
    model = keras.Model(inputs, softmax_head(x, num_classes), name="digitnet")
    optimizer = keras.optimizers.AdamW(
        learning_rate=digitnet_learning_rate(0.0), weight_decay=DIGITNET_WEIGHT_DECAY
    )
    return compile_for_onehot(model, optimizer, label_smoothing=DIGITNET_LABEL_SMOOTHING)


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture(
            name="mlp",
            description="Dense 512 ReLU + softmax, RMSprop",
            build=build_mlp,
            epochs=5,
            batch_size=128,
            validation_split=0.0,
            published_accuracy=0.9785,
            source="Keras MLP tutorial (Dense 512, RMSprop, 5 epochs)",
        ),
        Architecture(
            name="mlp-dropout",
            description="Dense 512 - Dropout - Dense 128 - Dropout - softmax, Adamax",
            build=build_mlp_dropout,
            epochs=10,
            batch_size=128,
            validation_split=0.0,
            published_accuracy=0.980,
            source="MLP-with-dropout tutorial (Adamax, 10 epochs)",
        ),
        Architecture(
            name="one-hidden",
            description=f"one hidden layer of {ONE_HIDDEN_UNITS} + dropout, plain SGD",
            build=build_one_hidden,
            epochs=10,
            batch_size=100,
            validation_split=0.0,
            published_accuracy=None,
            source="TensorFlow 1 tutorial, rebuilt in Keras 3",
        ),
        Architecture(
            name="lenet5",
            description="Conv 6/16/32 5x5 same + max-pool, Dense 200",
            build=build_lenet5,
            epochs=30,
            batch_size=128,
            validation_split=0.1,
            published_accuracy=0.987,
            source="LeNet-5 style tutorial (30 epochs, validation split 0.1)",
        ),
        Architecture(
            name="cnn-small",
            description="Conv 32 3x3, dropout, Conv 16 3x3, max-pool, dropout, Dense 128",
            build=build_cnn_small,
            epochs=10,
            batch_size=128,
            validation_split=0.0,
            published_accuracy=0.9912,
            source="small Keras CNN tutorial (10 epochs)",
        ),
        Architecture(
            name="cnn",
            description="Conv 32 5x5 + pool, Conv 64 5x5 + pool, Dense 1024, Dropout 0.5, "
            "Adam 1e-4",
            build=build_cnn,
            epochs=10,
            batch_size=64,
            validation_split=0.0,
            published_accuracy=0.9924,
            source="TensorFlow 'Deep MNIST' CNN tutorial, in Keras",
        ),
        Architecture(
            name="digitnet",
            description="ours: BatchNorm CNN 32-pool-64-64-pool-128, AdamW one-cycle, "
            "label smoothing, photo-like augmentation",
            build=build_digitnet,
            # ~70 s an epoch on 2 CPU cores: 10 epochs keep a full run inside 15 minutes.
            epochs=10,
            batch_size=128,
            validation_split=0.0,
            published_accuracy=None,
            source="digitbot (production model)",
            learning_rate_schedule=digitnet_learning_rate,
            augment=True,
        ),
    )
}
