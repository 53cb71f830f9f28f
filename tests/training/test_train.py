"""A training run evaluates, saves a clean model and writes the whole report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from digitbot.errors import ConfigurationError
from training import train as train_module
from training.architectures import digitnet_learning_rate
from training.datasets import MnistData
from training.photo_crops import CropRecipe
from training.train import to_model_input, train

REPORT_FILES = (
    "metrics.json",
    "learning_curves.png",
    "confusion_matrix.png",
    "misclassified.png",
    "model.keras",
    "model.tflite",  # its lean form, what workers call
)
METRIC_FIELDS = {
    "version": str,
    "arch": str,
    "test_accuracy": float,
    "test_loss": float,
    "params": int,
    "train_seconds": float,
    "epochs": int,
    "ms_per_image": float,
    "ms_per_image_predict": float,
    "dataset": dict,
    "created_at": str,
    "keras_version": str,
    "tensorflow_version": str,
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stand_in_mnist: MnistData) -> Path:
    monkeypatch.setattr(train_module, "load_mnist", lambda home: stand_in_mnist)
    return tmp_path


def test_train_writes_report_and_a_model_that_reads_digits(
    home: Path, stand_in_mnist: MnistData
) -> None:
    result = train("mlp", home=home, epochs=2, verbose=0)

    assert re.fullmatch(r"mlp-\d{8}-\d{6}", result.version)
    assert result.out_dir == home / "reports" / result.version
    for name in REPORT_FILES:
        assert (result.out_dir / name).stat().st_size > 0, name
    assert any((result.out_dir / "tensorboard").rglob("events.out.tfevents.*"))

    metrics = json.loads((result.out_dir / "metrics.json").read_text())
    for field, kind in METRIC_FIELDS.items():
        assert isinstance(metrics[field], kind), field
    assert metrics["version"] == result.version and metrics["epochs"] == 2
    assert metrics["dataset"] == {
        "name": "mnist",
        "source": "stand-in:optdigits",
        "sha256": stand_in_mnist.sha256,
    }
    assert metrics["test_accuracy"] > 0.8  # two epochs on 1500 real digits
    assert metrics["ms_per_image"] > 0 and metrics["ms_per_image_predict"] > 0
    assert len(metrics["history"]["val_accuracy"]) == 2

    model = keras.saving.load_model(result.model_path)
    probabilities = keras.ops.convert_to_numpy(model(to_model_input(stand_in_mnist.x_test)))
    accuracy = (probabilities.argmax(axis=1) == stand_in_mnist.y_test).mean()
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_augmented_training_ships_a_clean_model_on_schedule(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Timing is covered above; an eager digitnet call is slow enough to double this test.
    monkeypatch.setattr(train_module.reports, "time_inference", lambda model, image: {})
    result = train(
        "digitnet", home=home, epochs=1, limit=256, out_dir=home / "run", seed=1, verbose=0
    )

    assert result.out_dir == home / "run" and result.metrics["augment"] is True
    assert result.metrics["train_images"] == 256
    model = keras.saving.load_model(result.model_path)
    assert "augmenter" not in [layer.name for layer in model.layers]
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    # The one-cycle schedule was applied per batch: 256 images at batch 128 is two steps, so
    # the last one ran at the rate for progress 1/2.
    last = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    assert last == pytest.approx(digitnet_learning_rate(0.5), rel=1e-5)


def test_unknown_architecture_names_the_known_ones(home: Path) -> None:
    with pytest.raises(ConfigurationError, match="digitnet"):
        train("resnet-9000", home=home)


def test_learning_curves_use_the_validation_split_when_the_recipe_has_one(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}
    original_fit = keras.Model.fit

    def spy_fit(self: keras.Model, *args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy_fit)
    monkeypatch.setattr(train_module.reports, "time_inference", lambda model, image: {})
    train("lenet5", home=home, epochs=1, limit=200, verbose=0)

    assert seen["validation_split"] == pytest.approx(0.1)
    assert "validation_data" not in seen


def test_extra_training_data_and_callbacks_join_the_run(
    home: Path, stand_in_mnist: MnistData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_module.reports, "time_inference", lambda model, image: {})
    seen_sizes: list[int] = []
    original_fit = keras.Model.fit

    def spy_fit(self: keras.Model, x: np.ndarray, *args: object, **kwargs: object) -> object:
        seen_sizes.append(len(x))
        return original_fit(self, x, *args, **kwargs)

    class CountEpochs(keras.callbacks.Callback):
        epochs = 0

        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            CountEpochs.epochs += 1

    monkeypatch.setattr(keras.Model, "fit", spy_fit)
    extra = (stand_in_mnist.x_test[:20], stand_in_mnist.y_test[:20])

    result = train("mlp", home=home, epochs=2, limit=100, extra_train=extra,
                   callbacks=[CountEpochs()], verbose=0)  # fmt: skip

    assert seen_sizes == [120]
    assert result.metrics["train_images"] == 120 and result.metrics["extra_train_images"] == 20
    assert CountEpochs.epochs == 2
    with pytest.raises(ValueError, match="uint8"):
        train("mlp", home=home, extra_train=(extra[0] / 255.0, extra[1]), verbose=0)


def test_photo_crops_add_the_not_a_digit_class(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_module.reports, "time_inference", lambda model, image: {})
    recipe = CropRecipe(num_digit_photos=8, num_negative_photos=8, seed=21)

    result = train("mlp", home=home, epochs=1, limit=200, photo_crops=recipe, verbose=0)

    model = keras.saving.load_model(result.model_path, compile=False)
    assert model.output_shape[-1] == 11
    crops = result.metrics["photo_crops"]
    assert result.metrics["num_classes"] == 11
    assert crops["num_negative_photos"] == 8 and crops["negatives_crops"] >= 1
    assert result.metrics["train_images"] == 200 + crops["crops"]
    assert crops["crops"] == crops["digits_crops"] + crops["negatives_crops"]
    # Without them the model keeps ten classes.
    plain = train("mlp", home=home, epochs=1, limit=200, verbose=0)
    assert plain.metrics["num_classes"] == 10 and plain.metrics["photo_crops"] == {}


def test_fine_tuning_starts_from_the_given_model_and_refuses_another_shape(
    home: Path, stand_in_mnist: MnistData
) -> None:
    first = train("mlp", home=home, epochs=1, verbose=0)
    tuned = train("mlp", home=home, epochs=1, verbose=0, init_from=first.model_path,
                  learning_rate=0.0)  # fmt: skip
    # At learning rate 0 the weights cannot move: the tuned model is the one it started from.
    before = keras.saving.load_model(first.model_path, compile=False)
    after = keras.saving.load_model(tuned.model_path, compile=False)
    for old, new in zip(before.get_weights(), after.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    assert tuned.metrics["init_from"] == str(first.model_path)
    other = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])  # fmt: skip
    other_path = home / "three-classes.keras"
    other.save(other_path)
    with pytest.raises(ValueError, match="fine-tuning needs"):
        train("mlp", home=home, epochs=1, verbose=0, init_from=other_path)
