"""How well a recogniser reads phone-like photos: accuracy per photo set, before and after.

A recogniser is any `Callable[[bytes], str]` that answers the digits it read, or "" for "no
digit". `tutorial_baseline` is what the tutorials did (resize the whole photo to 28x28,
invert, predict). Our own pipeline is scored through `reading.pipeline.read_photo`, the path the
workers run, by `digitbot evaluate --photos` (training/evaluate.py).
"""

from __future__ import annotations

import io
import logging
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from digitbot.defaults import NOT_A_DIGIT
from training.photo_synth import PhotoSample
from training.progress_bar import ProgressBar

log = logging.getLogger(__name__)

Recogniser = Callable[[bytes], str]
# (n, 28, 28) float32 MNIST-style crops -> (n, num_classes) probabilities; a class 10, when the
# model has one, means "not a digit".
PredictFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SetScore:
    """Results on one photo set.

    `accuracy`: share of photos whose answer equals the label exactly (for the negatives set,
    the label is "", so this is the rejection rate). `rejected`: share answered "".
    `wrongly_rejected`: share of photos that show digits but were answered "".
    """

    name: str
    num_samples: int
    accuracy: float
    rejected: float
    wrongly_rejected: float
    median_ms: float


def evaluate_photo_sets(
    recognise: Recogniser,
    sets: Mapping[str, Sequence[PhotoSample]],
    *,
    progress: str | None = None,
) -> dict[str, SetScore]:
    """Run `recognise` on every photo of every set and score each set. With `progress` (what
    is being done, e.g. "reading photos"), a progress bar counts the photos."""
    total = sum(len(samples) for samples in sets.values())
    bar = ProgressBar(progress, total, unit="photo", log=log) if progress else None
    scores = {}
    for name, samples in sets.items():
        correct = rejected = wrongly_rejected = 0
        durations = []
        for sample in samples:
            started = time.perf_counter()
            answer = recognise(sample.data)
            durations.append(time.perf_counter() - started)
            if bar is not None:
                bar.update()
            correct += answer == sample.label
            rejected += answer == ""
            wrongly_rejected += answer == "" and sample.label != ""
        count = max(1, len(samples))
        scores[name] = SetScore(
            name=name,
            num_samples=len(samples),
            accuracy=correct / count,
            rejected=rejected / count,
            wrongly_rejected=wrongly_rejected / count,
            median_ms=1000.0 * statistics.median(durations) if durations else 0.0,
        )
    if bar is not None:
        bar.close()
    return scores


def markdown_table(columns: Mapping[str, Mapping[str, SetScore]]) -> str:
    """A Markdown table: one row per set, one accuracy column per recogniser.

    `columns` maps a recogniser's name to its scores; the digit sets also show how many photos
    were wrongly answered "no digit".
    """
    names = list(columns)
    set_names: list[str] = []
    for scores in columns.values():
        set_names.extend(s for s in scores if s not in set_names)
    header = "| set | photos | " + " | ".join(names) + " |"
    lines = [header, "|---|---:|" + "---:|" * len(names)]
    for set_name in set_names:
        cells = []
        num = 0
        for name in names:
            score = columns[name].get(set_name)
            if score is None:
                cells.append("–")
                continue
            num = score.num_samples
            cell = f"{100 * score.accuracy:.1f} %"
            if score.wrongly_rejected:
                cell += f" ({100 * score.wrongly_rejected:.1f} % said no digit)"
            cells.append(cell)
        lines.append(f"| {set_name} | {num} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_table(columns: Mapping[str, Mapping[str, SetScore]]) -> None:
    """Print `markdown_table(columns)`."""
    print(markdown_table(columns))


def tutorial_baseline(predict_fn: PredictFn) -> Recogniser:
    """The tutorials' way: whole photo -> 28x28 grayscale, inverted, one prediction.

    Like the tutorials' scripts it ignores EXIF orientation and always answers a digit
    (unless the model has a "not a digit" class and picks it).
    """

    def recognise(data: bytes) -> str:
        image = Image.open(io.BytesIO(data)).convert("L")
        small = image.resize((28, 28), Image.Resampling.BILINEAR)
        x = 1.0 - np.asarray(small, dtype=np.float32) / 255.0
        probabilities = np.asarray(predict_fn(x[None]))
        best = int(np.argmax(probabilities[0]))
        return "" if best == NOT_A_DIGIT else str(best)

    return recognise
