"""Photo decode, preprocessing and the model, per image size, before and after: where a
photo's time goes, for the reading library of the checkout and of the baseline commit.

    python -m benchmarks.photo_decode                  # both versions, taking turns
    python -m benchmarks.photo_decode --baseline none  # the checkout only

The photos are phone-like JPEGs (and one PNG) of MNIST test digits, made before timing starts.
Each timed call reads the next of a few different photos, so no single image is favoured.
Each version runs in a child process set up as a worker process is (compute threads from
DIGITBOT_COMPUTE_THREADS, for OpenCV and the model alike); the children take turns, a round
of calls each, so that load on the machine falls on both alike.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import baseline, paired
from benchmarks.report import Section
from benchmarks.stats import ratio

PHOTOS_PER_SIZE = 4
BAR_SIZE_LABEL = "1280×960 JPEG"
LARGE_SIZE_LABEL = "4000×3000 JPEG"
# Bars (issue 20): a 1280-px JPEG end to end, absolute and against the baseline; a 12 MP one.
BAR_MS = 10.0
BAR_SPEEDUP = 2.5
LARGE_BAR_MS = 20.0
STAGES = ("decode", "preprocess", "model", "total")
CHILD_MODULE = "benchmarks.photo_decode"


@dataclass(frozen=True)
class PhotoKind:
    label: str
    size: tuple[int, int]
    png: bool = False


PHOTO_KINDS = (
    PhotoKind("640×480 JPEG", (640, 480)),
    PhotoKind(BAR_SIZE_LABEL, (1280, 960)),
    PhotoKind("2000×1500 JPEG", (2000, 1500)),
    PhotoKind(LARGE_SIZE_LABEL, (4000, 3000)),
    PhotoKind("1280×960 PNG", (1280, 960), png=True),
)


@dataclass(frozen=True)
class Counts:
    repeats: int  # timed calls per photo kind, stage and version
    rounds: int  # turns each version takes (repeats are split among them)


FULL = Counts(repeats=60, rounds=6)
QUICK = Counts(repeats=10, rounds=2)


def make_photos(kind: PhotoKind, count: int = PHOTOS_PER_SIZE) -> list[tuple[bytes, int]]:
    """`count` photos of different MNIST test digits, with their labels."""
    from tests.support.photos import digit_photo, mnist_test_digits

    x_test, y_test = mnist_test_digits()
    return [
        (digit_photo(x_test[i], seed=i, size=kind.size, document=kind.png), int(y_test[i]))
        for i in range(count)
    ]


class StageTimer:
    """The child's side: photos of each kind, and rounds of timed calls of each stage."""

    def __init__(self, model_path: Path | None) -> None:
        from digitbot.settings import Settings
        from reading.model import DigitModel, load_shipped_model
        from worker.rq_worker import limit_compute_threads

        limit_compute_threads(Settings.from_env().compute_threads)
        self.model = DigitModel.load(model_path) if model_path else load_shipped_model()
        self.model.warm_up()
        self.kinds = {kind.label: kind for kind in PHOTO_KINDS}
        self.prepared: dict[str, dict[str, tuple[Callable[[Any], Any], list[Any]]]] = {}
        self.correct: dict[str, int] = {}

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        label, repeats = request["kind"], int(request["repeats"])
        if label not in self.prepared:
            self.prepared[label] = self._prepare(self.kinds[label])
        samples = {
            name: _time_calls(stage, inputs, repeats)
            for name, (stage, inputs) in self.prepared[label].items()
        }
        return {"samples": samples, "correct": self.correct[label]}

    def _prepare(self, kind: PhotoKind) -> dict[str, tuple[Callable[[Any], Any], list[Any]]]:
        from reading.decode import decode_image
        from reading.pipeline import read_photo
        from reading.preprocess import SEGMENT_MAX_SIDE, preprocess_array
        from reading.recognize import recognize

        model = self.model
        photos = make_photos(kind)
        data = [photo for photo, _ in photos]
        grays = [decode_image(photo, max_side=SEGMENT_MAX_SIDE) for photo in data]
        found = [preprocess_array(gray) for gray in grays]
        self.correct[kind.label] = sum(
            read_photo(photo, model).recognition.text == str(label) for photo, label in photos
        )
        # Each stage is timed on its own input, so the stages add up to about the total.
        return {
            "decode": (lambda photo: decode_image(photo, max_side=SEGMENT_MAX_SIDE), data),
            "preprocess": (preprocess_array, grays),
            "model": (lambda pre: recognize(pre.crops, pre.boxes, model, reason=pre.reason), found),
            "total": (lambda photo: read_photo(photo, model), data),
        }


def _time_calls(stage: Callable[[Any], Any], inputs: list[Any], repeats: int) -> list[float]:
    """Seconds of `repeats` calls of `stage` on `inputs` in turn, after one untimed call."""
    cycle = itertools.cycle(inputs)
    stage(inputs[0])
    samples = []
    for _ in range(repeats):
        item = next(cycle)
        started = time.perf_counter()
        stage(item)
        samples.append(time.perf_counter() - started)
    return samples


def measure(
    counts: Counts, model_path: Path | None, revision: str | None
) -> dict[str, dict[str, Any]]:
    """{kind: {version: {"ms": {stage: median ms}, "correct": n}}}, versions taking turns."""
    per_round = max(1, counts.repeats // counts.rounds)
    samples: dict[str, dict[str, dict[str, list[float]]]] = {}
    correct: dict[str, dict[str, int]] = {}
    with paired.children(CHILD_MODULE, paired.child_args(model_path), revision) as children:
        for number in range(counts.rounds):
            for kind in PHOTO_KINDS:
                for name in paired.in_turns(list(children), number):
                    reply = children[name].ask({"kind": kind.label, "repeats": per_round})
                    mine = samples.setdefault(kind.label, {}).setdefault(name, {})
                    for stage, values in reply["samples"].items():
                        mine.setdefault(stage, []).extend(values)
                    correct.setdefault(kind.label, {})[name] = reply["correct"]
    return {
        label: {
            name: {
                "ms": {stage: 1000 * statistics.median(v) for stage, v in stages.items()},
                "correct": correct[label][name],
            }
            for name, stages in versions.items()
        }
        for label, versions in samples.items()
    }


def run(
    counts: Counts,
    model_path: Path | None = None,
    revision: str | None = baseline.BASELINE_REVISION,
) -> Section:
    notes: list[str] = []
    try:
        results = measure(counts, model_path, revision)
    except baseline.BaselineError as exc:
        notes.append(f"before: not measured ({exc})")
        revision = None
        results = measure(counts, model_path, None)
    versions = [paired.BEFORE, paired.AFTER] if revision else [paired.AFTER]
    rows = []
    for kind in PHOTO_KINDS:
        found = results[kind.label]
        kib = sum(len(data) for data, _ in make_photos(kind)) / PHOTOS_PER_SIZE / 1024
        cells: list[Any] = [kind.label, kib]
        for stage in STAGES:
            cells += [found[name]["ms"][stage] for name in versions]
        if revision:
            totals = [found[name]["ms"]["total"] for name in (paired.BEFORE, paired.AFTER)]
            cells.append(ratio(*totals))
        cells.append(" / ".join(f"{found[name]['correct']}/{PHOTOS_PER_SIZE}" for name in versions))
        rows.append(cells)
    notes += _verdicts(results, revision is not None)
    headers = ["photo", "KiB"]
    for stage in STAGES:
        headers += [f"{stage} ms {name}" for name in versions] if revision else [f"{stage} ms"]
    headers += ["before ÷ after (total)"] if revision else []
    headers += ["read right" + (" (before / after)" if revision else "")]
    before = f"before is the reading library at {baseline.describe(revision)}; " if revision else ""
    return Section(
        title="Photo decode and preprocessing per image size",
        summary=(
            f"Median ms per photo over {counts.repeats} calls per stage and version, cycling "
            f"through {PHOTOS_PER_SIZE} phone-like photos of MNIST test digits per size; "
            f"{before}after is the checkout. The versions run in two child processes set up "
            f"like a worker process and take turns ({counts.rounds} rounds). Stages: decode "
            "(to gray, longest side ≤ 640 px), preprocess (ink, segmentation, 28×28 crops), "
            "model (classify the crops); total is `read_photo`, all three. Bars: a 1280-px "
            f"JPEG ≤ {BAR_MS:g} ms and ≥ {BAR_SPEEDUP:g}× before; a 4000×3000 JPEG "
            f"≤ {LARGE_BAR_MS:g} ms. Command: `python -m benchmarks --only photos`."
        ),
        headers=headers,
        rows=rows,
        notes=notes,
        data={"results": results, "baseline": revision},
    )


def _verdicts(results: dict[str, dict[str, Any]], paired_run: bool) -> list[str]:
    bar = results[BAR_SIZE_LABEL]
    large = results[LARGE_SIZE_LABEL][paired.AFTER]["ms"]["total"]
    after = bar[paired.AFTER]["ms"]["total"]
    notes = []
    if paired_run:
        before = bar[paired.BEFORE]["ms"]["total"]
        speedup = ratio(before, after)
        met = after <= BAR_MS and speedup >= BAR_SPEEDUP
        notes.append(
            f"1280-px JPEG end to end: {after:.1f} ms, {speedup:.2f}× before ({before:.1f} ms)"
            f" — {'meets' if met else 'misses'} the bar (≤ {BAR_MS:g} ms, ≥ {BAR_SPEEDUP:g}×)"
        )
    else:
        verdict = "meets" if after <= BAR_MS else "misses"
        notes.append(f"1280-px JPEG end to end: {after:.1f} ms — {verdict} the {BAR_MS:g} ms bar")
    verdict = "meets" if large <= LARGE_BAR_MS else "misses"
    notes.append(
        f"4000×3000 JPEG end to end: {large:.1f} ms — {verdict} the {LARGE_BAR_MS:g} ms bar"
    )
    return notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.photo_decode", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small counts")
    parser.add_argument("--model", type=Path, default=None, help="a .keras file")
    parser.add_argument(
        "--baseline",
        default=baseline.BASELINE_REVISION,
        help="git revision of the 'before' reading library ('none': the checkout only)",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # a child
    args = parser.parse_args(argv)
    if args.serve:
        return paired.serve(StageTimer(args.model).answer)
    revision = None if args.baseline == "none" else args.baseline
    section = run(QUICK if args.quick else FULL, args.model, revision)
    print(section.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
