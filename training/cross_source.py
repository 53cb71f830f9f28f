"""`digitbot evaluate`: one table, sources x sets, through the workers' own `read_photo`.

A change to the reading counts only if it holds on every source, not only on photos from the
renderer our training crops come from. The sources:

  mnist-files   MNIST test digits as image files: the 28x28 PNG as it is (light on dark),
                inverted, enlarged x4, enlarged x10 and inverted, small on a white page
  canvas        MNIST test digits drawn on our web page in Chromium (training.canvas_source);
                left out, with the reason, where Playwright or Chromium is missing
  benchmark     our phone-photo benchmark (training.photo_synth, fixed seeds)
  heldout       photos from a renderer training never uses (training.heldout_photos)

Every set uses digits of MNIST's test split only (optdigits for one benchmark set).
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from digitbot.errors import ConfigurationError
from training import canvas_source
from training.heldout_photos import HELDOUT_SETS, build_heldout_set
from training.photo_benchmark import SetScore, evaluate_photo_sets
from training.photo_synth import SET_NAMES, PhotoSample
from training.progress_bar import ProgressBar

log = logging.getLogger(__name__)

SOURCES = ("mnist-files", "canvas", "benchmark", "heldout")
MNIST_FILE_SETS = ("as-is", "inverted", "x4", "x10-inverted", "small-on-page")
MNIST_FILES_SEED = 4_242
# Small on a page: the digit enlarged to this side on a white page of this size.
PAGE_DIGIT_SIDE = 140
PAGE_SIZE = (600, 450)


def mnist_file_sets(
    digits: tuple[np.ndarray, np.ndarray], n: int, *, draw: int = 0
) -> dict[str, list[PhotoSample]]:
    """The same `n` MNIST test digits saved as PNG files five ways (MNIST_FILE_SETS)."""
    images, labels = digits
    rng = np.random.default_rng([MNIST_FILES_SEED, draw])
    chosen = rng.choice(len(images), size=min(n, len(images)), replace=False)
    sets: dict[str, list[PhotoSample]] = {name: [] for name in MNIST_FILE_SETS}
    for index in chosen:
        label, meta = str(int(labels[index])), {"source_indices": [int(index)]}
        for name, picture in zip(MNIST_FILE_SETS, _as_files(images[index]), strict=True):
            sets[name].append(PhotoSample(_png(picture), label, meta))
    return sets


def _as_files(digit: np.ndarray) -> list[np.ndarray]:
    inverted = 255 - digit
    page = np.full(PAGE_SIZE[::-1], 255, dtype=np.uint8)
    top = (PAGE_SIZE[1] - PAGE_DIGIT_SIDE) // 2
    left = (PAGE_SIZE[0] - PAGE_DIGIT_SIDE) // 2
    page[top : top + PAGE_DIGIT_SIDE, left : left + PAGE_DIGIT_SIDE] = _enlarged(
        inverted, PAGE_DIGIT_SIDE
    )
    return [digit, inverted, _enlarged(digit, 112), _enlarged(inverted, 280), page]


def _enlarged(image: np.ndarray, side: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC))


def _png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


def check_sources(sources: Sequence[str]) -> None:
    """Raise ConfigurationError (a usage error) for a source name that is not in SOURCES."""
    unknown = [source for source in sources if source not in SOURCES]
    if unknown or not sources:
        raise ConfigurationError(
            f"--sources {','.join(sources)}: expected some of {', '.join(SOURCES)}"
        )


def cross_source_sets(
    home: Path, n: int, *, draw: int = 0, sources: Sequence[str] = SOURCES
) -> dict[str, list[PhotoSample]]:
    """Every source's sets, named "source/set", with `n` photos each (rendered under a
    progress bar: the photo sets take minutes)."""
    from training.datasets import load_mnist
    from training.evaluate import photo_sets

    check_sources(sources)
    mnist = load_mnist(home)
    test_digits = (mnist.x_test, mnist.y_test)
    num_sets = {
        "mnist-files": len(MNIST_FILE_SETS),
        "canvas": len(canvas_source.CANVAS_SETS),
        "benchmark": len(SET_NAMES),
        "heldout": len(HELDOUT_SETS),
    }
    total = n * sum(num_sets[source] for source in set(sources))
    sets: dict[str, list[PhotoSample]] = {}
    with ProgressBar("making photo sets", total, unit="photo", log=log) as progress:
        if "mnist-files" in sources:
            for name, samples in mnist_file_sets(test_digits, n, draw=draw).items():
                sets[f"mnist-files/{name}"] = samples
                progress.update(len(samples))
        if "canvas" in sources:
            for name in canvas_source.CANVAS_SETS:
                sets[f"canvas/{name}"] = canvas_source.build_canvas_set(test_digits, n, draw=draw)
                progress.update(n)
        if "benchmark" in sources:
            for name, samples in photo_sets(home, n, draw, progress=progress).items():
                sets[f"benchmark/{name}"] = samples
        if "heldout" in sources:
            for name in HELDOUT_SETS:
                sets[f"heldout/{name}"] = build_heldout_set(name, test_digits, n, draw=draw)
                progress.update(len(sets[f"heldout/{name}"]))
    return sets


def markdown(scores: Mapping[str, SetScore]) -> str:
    """One row per source and set: accuracy, and digits wrongly answered "no digit"."""
    lines = [
        "| source | set | photos | read right | said no digit (digits) |",
        "|---|---|---:|---:|---:|",
    ]
    for name, score in scores.items():
        source, _, set_name = name.partition("/")
        refused = "–" if set_name == "negatives" else f"{100 * score.wrongly_rejected:.1f} %"
        lines.append(
            f"| {source} | {set_name} | {score.num_samples} | "
            f"{100 * score.accuracy:.1f} % | {refused} |"
        )
    return "\n".join(lines)


def run_cross_source(
    home: Path, *, n: int, draw: int = 0, model_path: Path | None = None,
    sources: Sequence[str] = SOURCES,
) -> dict[str, SetScore]:  # fmt: skip
    """Score the model (default: the shipped one) on every source; print the table."""
    from reading.model import DigitModel, load_shipped_model
    from training.evaluate import pipeline

    check_sources(sources)  # before the model and MNIST take their seconds
    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    missing = canvas_source.available() if "canvas" in sources else ""
    if missing:
        print(f"canvas source left out: {missing}", file=sys.stderr)
        sources = [s for s in sources if s != "canvas"]
    scores = evaluate_photo_sets(
        pipeline(model),
        cross_source_sets(home, n, draw=draw, sources=sources),
        progress="reading photos",
    )
    print(f"model {model.version}, {n} photos per set, draw {draw}")
    print(markdown(scores))
    return scores
