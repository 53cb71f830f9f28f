"""`digitbot evaluate --photos`: our phone-photo benchmark through the real preprocessing and
model (the same `read_photo` the workers run), beside the tutorials' way of reading a photo."""

from __future__ import annotations

from pathlib import Path

from digitbot.errors import BadImageError
from training.datasets import load_mnist, load_optdigits
from training.photo_benchmark import (
    Recogniser,
    SetScore,
    evaluate_photo_sets,
    print_table,
    tutorial_baseline,
)
from training.photo_synth import DEFAULT_SEEDS, SET_NAMES, PhotoSample, build_photo_set
from worker.model import DigitModel, load_shipped_model
from worker.reading import read_photo


def photo_sets(home: Path, n: int, draw: int = 0) -> dict[str, list[PhotoSample]]:
    """The benchmark's sets (fixed seeds; MNIST *test* digits and optdigits only). A non-zero
    `draw` moves every set's seed by that much: new photos from the same generator and digit
    pools, to tell a real change from the luck of one draw."""
    mnist = load_mnist(home)
    sources = {
        "mnist-single": (mnist.x_test, mnist.y_test),
        "optdigits-single": load_optdigits(),
        "numbers": (mnist.x_test, mnist.y_test),
        "negatives": None,
    }
    return {
        name: build_photo_set(name, sources[name], n, seed=DEFAULT_SEEDS[name] + draw)
        for name in SET_NAMES
    }


def pipeline(model: DigitModel) -> Recogniser:
    def recognise(data: bytes) -> str:
        try:
            return read_photo(data, model).recognition.text
        except BadImageError:
            return ""

    return recognise


def run_evaluate(
    home: Path,
    *,
    n: int,
    draw: int = 0,
    model_path: Path | None = None,
    baseline: bool = True,
) -> dict[str, dict[str, SetScore]]:
    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    sets = photo_sets(home, n, draw)
    columns: dict[str, dict[str, SetScore]] = {}
    if baseline:
        columns["tutorials' way (resize + invert)"] = evaluate_photo_sets(
            tutorial_baseline(model.probabilities), sets
        )
    columns[f"digitbot ({model.version})"] = evaluate_photo_sets(pipeline(model), sets)
    print_table(columns)
    return columns
