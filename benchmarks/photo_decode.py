"""Photo decode, preprocessing and the model, per image size: where a photo's time goes.

The photos are phone-like JPEGs (and one PNG) of MNIST test digits, made before timing starts.
Each timed call reads the next of a few different photos, so no single image is favoured.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import Section
from benchmarks.stats import median_ms

PHOTOS_PER_SIZE = 4
BAR_SIZE_LABEL = "1280×960 JPEG"
BAR_MS = 30.0


@dataclass(frozen=True)
class PhotoKind:
    label: str
    size: tuple[int, int]
    png: bool = False


PHOTO_KINDS = (
    PhotoKind("640×480 JPEG", (640, 480)),
    PhotoKind(BAR_SIZE_LABEL, (1280, 960)),
    PhotoKind("2000×1500 JPEG", (2000, 1500)),
    PhotoKind("4000×3000 JPEG", (4000, 3000)),
    PhotoKind("1280×960 PNG", (1280, 960), png=True),
)


@dataclass(frozen=True)
class Counts:
    repeats: int  # timed calls per photo kind and stage


FULL = Counts(repeats=60)
QUICK = Counts(repeats=10)


def make_photos(kind: PhotoKind, count: int = PHOTOS_PER_SIZE) -> list[tuple[bytes, int]]:
    """`count` photos of different MNIST test digits, with their labels."""
    from tests.support.photos import digit_photo, mnist_test_digits

    x_test, y_test = mnist_test_digits()
    return [
        (digit_photo(x_test[i], seed=i, size=kind.size, document=kind.png), int(y_test[i]))
        for i in range(count)
    ]


def time_stage(stage: Callable[[Any], Any], inputs: list[Any], repeats: int) -> float:
    """Median ms of `stage` called on `inputs` in turn."""
    cycle = itertools.cycle(inputs)
    return median_ms(lambda: stage(next(cycle)), repeats)


def run(counts: Counts, model_path: Path | None = None) -> Section:
    from reading.decode import decode_image
    from reading.model import DigitModel, load_shipped_model
    from reading.pipeline import read_photo
    from reading.preprocess import SEGMENT_MAX_SIDE, preprocess_array
    from reading.recognize import recognize

    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    model.warm_up()
    rows = []
    results = []
    bar_ms = float("nan")
    for kind in PHOTO_KINDS:
        photos = make_photos(kind)
        grays = [decode_image(data, max_side=SEGMENT_MAX_SIDE) for data, _ in photos]
        found = [preprocess_array(gray) for gray in grays]
        correct = sum(
            read_photo(data, model).recognition.text == str(label) for data, label in photos
        )
        # Each stage is timed on its own input, so the stages add up to about the total.
        stage_inputs: dict[str, tuple[Callable[[Any], Any], list[Any]]] = {
            "decode": (
                lambda data: decode_image(data, max_side=SEGMENT_MAX_SIDE),
                [data for data, _ in photos],
            ),
            "preprocess": (preprocess_array, grays),
            "model": (lambda pre: recognize(pre.crops, pre.boxes, model, reason=pre.reason), found),
            "total": (lambda data: read_photo(data, model), [data for data, _ in photos]),
        }
        timings = {
            name: time_stage(stage, inputs, counts.repeats)
            for name, (stage, inputs) in stage_inputs.items()
        }
        size_kib = sum(len(data) for data, _ in photos) / len(photos) / 1024
        rows.append([kind.label, size_kib, *timings.values(), f"{correct}/{len(photos)}"])
        results.append(
            {"photo": kind.label, "kib": size_kib, "correct": correct, "photos": len(photos)}
            | {f"{name}_ms": value for name, value in timings.items()}
        )
        if kind.label == BAR_SIZE_LABEL:
            bar_ms = timings["total"]
    verdict = "meets" if bar_ms <= BAR_MS else "misses"
    return Section(
        title="Photo decode and preprocessing per image size",
        summary=(
            f"Median ms per photo over {counts.repeats} calls per stage, cycling through "
            f"{PHOTOS_PER_SIZE} phone-like photos of MNIST test digits per size. Stages: "
            f"decode (to gray, longest side ≤ {SEGMENT_MAX_SIDE} px), preprocess (ink, "
            "segmentation, 28×28 crops), model (classify the crops); total is `read_photo`, "
            f"all three. Bar: a 1280-px photo, total ≤ {BAR_MS:.0f} ms."
        ),
        headers=[
            "photo",
            "KiB",
            "decode ms",
            "preprocess ms",
            "model ms",
            "total ms",
            "read right",
        ],
        rows=rows,
        notes=[f"1280-px JPEG end to end: {bar_ms:.1f} ms — {verdict} the {BAR_MS:.0f} ms bar"],
        data={"results": results},
    )
