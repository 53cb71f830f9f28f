"""`digitbot evaluate --photos`: our phone-photo benchmark through the real preprocessing and
model (the same `read_photo` the workers run), beside the tutorials' way of reading a photo."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from digitbot.errors import BadImageError
from reading.model import DigitModel, load_shipped_model
from reading.pipeline import read_photo
from training.datasets import load_mnist, load_optdigits
from training.handwriting_styles import STYLED_LABELS, restyle
from training.miss_sheet import write_miss_sheets
from training.photo_benchmark import (
    Recogniser,
    SetScore,
    evaluate_photo_sets,
    print_table,
    tutorial_baseline,
)
from training.photo_synth import (
    DEFAULT_SEEDS,
    SET_NAMES,
    PhotoSample,
    build_photo_set,
    random_style,
    render_photo,
)
from training.progress_bar import ProgressBar

log = logging.getLogger(__name__)

# Each set's digit pool: (images uint8 (N, 28, 28) ink bright, labels), None for the negatives.
DigitSources = dict[str, tuple[np.ndarray, np.ndarray] | None]
# `--styles`: the same MNIST test 1s and 7s photographed twice, restyled and as written.
STYLE_SETS = ("continental-1-7", "plain-1-7")
STYLE_SEED = 20_240_505


def photo_sets(
    home: Path,
    n: int,
    draw: int = 0,
    *,
    sources: DigitSources | None = None,
    progress: ProgressBar | None = None,
) -> dict[str, list[PhotoSample]]:
    """The benchmark's sets (fixed seeds; MNIST *test* digits and optdigits only). A non-zero
    `draw` moves every set's seed by that much: new photos from the same generator and digit
    pools, to tell a real change from the luck of one draw. `progress` counts each set's
    photos as it is made."""
    sources = sources or digit_sources(home)
    sets = {}
    for name in SET_NAMES:
        sets[name] = build_photo_set(name, sources[name], n, seed=DEFAULT_SEEDS[name] + draw)
        if progress is not None:
            progress.update(len(sets[name]))
    return sets


def digit_sources(home: Path) -> DigitSources:
    """Each set's digit pool: (images, labels), or None for the negatives."""
    mnist = load_mnist(home)
    return {
        "mnist-single": (mnist.x_test, mnist.y_test),
        "optdigits-single": load_optdigits(),
        "numbers": (mnist.x_test, mnist.y_test),
        "negatives": None,
    }


def style_sets(
    digits: tuple[np.ndarray, np.ndarray], n: int, draw: int = 0
) -> dict[str, list[PhotoSample]]:
    """`n` pairs of photos of the same 1s and 7s in the same light: written the continental
    way (training.handwriting_styles) and as they were written."""
    images, labels = digits
    rng = np.random.default_rng(STYLE_SEED + draw)
    pool = np.flatnonzero(np.isin(labels, STYLED_LABELS))
    styled: list[PhotoSample] = []
    plain: list[PhotoSample] = []
    while len(styled) < n:
        index = int(pool[rng.integers(0, len(pool))])
        label = int(labels[index])
        restyled = restyle(images[index], label, rng)
        if restyled is None:
            continue
        style = random_style(rng)
        for photos, digit in ((styled, restyled), (plain, images[index])):
            data, meta = render_photo([digit], rng, style=style)
            photos.append(PhotoSample(data, str(label), {**meta, "source_indices": [index]}))
    return dict(zip(STYLE_SETS, (styled, plain), strict=True))


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
    styles: bool = False,
) -> dict[str, dict[str, SetScore]]:
    """Score the model on the benchmark (and the tutorials' way beside it); print the table.
    With `misses_dir`, also write a contact sheet of each set's misses there; with `styles`,
    also score the continental 1s and 7s beside the same digits as written (`style_sets`)."""
    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    sources = digit_sources(home)
    num_sets = len(SET_NAMES) + (len(STYLE_SETS) if styles else 0)
    with ProgressBar("making photo sets", n * num_sets, unit="photo", log=log) as progress:
        sets = photo_sets(home, n, draw, sources=sources, progress=progress)
        if styles:
            mnist_test = sources["mnist-single"]
            assert mnist_test is not None
            made = style_sets(mnist_test, n, draw)
            sets.update(made)
            sources.update(dict.fromkeys(STYLE_SETS, mnist_test))
            progress.update(sum(len(samples) for samples in made.values()))
    columns: dict[str, dict[str, SetScore]] = {}
    if baseline:
        columns["tutorials' way (resize + invert)"] = evaluate_photo_sets(
            tutorial_baseline(model.probabilities), sets, progress="reading photos, tutorials' way"
        )
    answers: dict[bytes, str] = {}
    recognise = pipeline(model)

    def remembered(data: bytes) -> str:
        answers[data] = recognise(data)
        return answers[data]

    columns[f"digitbot ({model.version})"] = evaluate_photo_sets(
        remembered, sets, progress="reading photos"
    )
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
