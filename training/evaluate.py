"""`digitbot evaluate --photos`: our phone-photo benchmark through the real preprocessing and
model (the same `read_photo` the workers run), beside the tutorials' way of reading a photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digitbot.errors import BadImageError
from training.datasets import load_mnist, load_optdigits
from training.miss_sheet import write_miss_sheets
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

# Each set's digit pool: (images uint8 (N, 28, 28) ink bright, labels), None for the negatives.
DigitSources = dict[str, tuple[np.ndarray, np.ndarray] | None]


def photo_sets(
    home: Path, n: int, draw: int = 0, *, sources: DigitSources | None = None
) -> dict[str, list[PhotoSample]]:
    """The benchmark's sets (fixed seeds; MNIST *test* digits and optdigits only). A non-zero
    `draw` moves every set's seed by that much: new photos from the same generator and digit
    pools, to tell a real change from the luck of one draw."""
    sources = sources or digit_sources(home)
    return {
        name: build_photo_set(name, sources[name], n, seed=DEFAULT_SEEDS[name] + draw)
        for name in SET_NAMES
    }


def digit_sources(home: Path) -> DigitSources:
    """Each set's digit pool: (images, labels), or None for the negatives."""
    mnist = load_mnist(home)
    return {
        "mnist-single": (mnist.x_test, mnist.y_test),
        "optdigits-single": load_optdigits(),
        "numbers": (mnist.x_test, mnist.y_test),
        "negatives": None,
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
    misses_dir: Path | None = None,
) -> dict[str, dict[str, SetScore]]:
    """Score the model on the benchmark (and the tutorials' way beside it); print the table.
    With `misses_dir`, also write a contact sheet of each set's misses there."""
    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    sources = digit_sources(home)
    sets = photo_sets(home, n, draw, sources=sources)
    columns: dict[str, dict[str, SetScore]] = {}
    if baseline:
        columns["tutorials' way (resize + invert)"] = evaluate_photo_sets(
            tutorial_baseline(model.probabilities), sets
        )
    answers: dict[bytes, str] = {}
    recognise = pipeline(model)

    def remembered(data: bytes) -> str:
        answers[data] = recognise(data)
        return answers[data]

    columns[f"digitbot ({model.version})"] = evaluate_photo_sets(remembered, sets)
    print_table(columns)
    if misses_dir is not None:
        written = write_miss_sheets(
            sets,
            {name: [answers[s.data] for s in samples] for name, samples in sets.items()},
            {name: None if source is None else source[0] for name, source in sources.items()},
            lambda data: read_photo(data, model),
            misses_dir,
        )
        for name, (path, count) in written.items():
            print(f"{count} misses of {name}: {path}")
    return columns
