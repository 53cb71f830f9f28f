"""Same answers, image by image: a fixed corpus read by `read_photo`, recorded, and compared.

    DIGITBOT_HOME=/tmp/evalhome python -m benchmarks.same_answers record /tmp/answers-before.npz
    DIGITBOT_HOME=/tmp/evalhome python -m benchmarks.same_answers check /tmp/answers-before.npz

Record and check with the same model (`--model FILE.keras`, default the shipped one): the
answers are the model's too.

A change to how preprocessing is computed (not what it decides) must give every photo of the
corpus the same text, reason and boxes, and crops within CROP_TOLERANCE. The corpus is
N_PER_SET photos of each set of the cross-source sources below, plus the photo benchmark's
phone-like photos of every size; it is built once and kept beside the record (`.corpus.npz`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_PER_SET = 60
SOURCES = ("mnist-files", "benchmark", "heldout")
# Crops may differ by float rounding (resampling, blurs); a change of more than this is a
# different crop.
CROP_TOLERANCE = 1.0 / 255.0


@dataclass(frozen=True)
class Answer:
    """What `read_photo` made of one photo."""

    text: str
    reason: str
    boxes: list[tuple[int, int, int, int]]
    crops: np.ndarray  # (n, 28, 28) float32, after the touching-digit cuts

    @property
    def crops_sha256(self) -> str:
        return hashlib.sha256(np.ascontiguousarray(self.crops, np.float32).tobytes()).hexdigest()


def build_corpus(n_per_set: int = N_PER_SET) -> tuple[list[str], list[bytes]]:
    """Names ("set/index") and bytes of the corpus photos, always the same ones."""
    from benchmarks.photo_decode import PHOTO_KINDS, make_photos
    from digitbot.settings import Settings
    from training.cross_source import cross_source_sets

    home = Settings.from_env().home
    names, photos = [], []
    for set_name, samples in cross_source_sets(home, n_per_set, sources=SOURCES).items():
        for index, sample in enumerate(samples):
            names.append(f"{set_name}/{index}")
            photos.append(sample.data)
    for kind in PHOTO_KINDS:
        for index, (data, _) in enumerate(make_photos(kind)):
            names.append(f"photos/{kind.label}/{index}")
            photos.append(data)
    return names, photos


def read_all(photos: Sequence[bytes], model_path: Path | None = None) -> list[Answer]:
    """Each photo through the workers' own `read_photo` and the model (default: shipped)."""
    from reading.model import DigitModel, load_shipped_model
    from reading.pipeline import read_photo

    model = DigitModel.load(model_path) if model_path else load_shipped_model()
    answers = []
    for data in photos:
        reading = read_photo(data, model)
        answers.append(
            Answer(
                reading.recognition.text,
                reading.recognition.reason,
                [_box(box) for box in reading.preprocessed.boxes],
                np.asarray(reading.preprocessed.crops, dtype=np.float32),
            )
        )
    return answers


def _box(box: Sequence[int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(v) for v in box)
    return x0, y0, x1, y1


def compare(
    names: Sequence[str], before: Sequence[Answer], after: Sequence[Answer]
) -> tuple[list[str], float, int]:
    """The differences that count (text, reason, boxes, crop count or crops beyond
    CROP_TOLERANCE), the largest crop difference, and how many photos' crops differ at all."""
    problems: list[str] = []
    largest, differing = 0.0, 0
    for name, old, new in zip(names, before, after, strict=True):
        if (old.text, old.reason) != (new.text, new.reason):
            was, now = f"{old.text!r}/{old.reason!r}", f"{new.text!r}/{new.reason!r}"
            problems.append(f"{name}: read {was}, now {now}")
            continue
        if old.boxes != new.boxes or old.crops.shape != new.crops.shape:
            problems.append(f"{name}: boxes {old.boxes} became {new.boxes}")
            continue
        if old.crops_sha256 == new.crops_sha256:
            continue
        differing += 1
        difference = float(np.abs(old.crops - new.crops).max())
        largest = max(largest, difference)
        if difference > CROP_TOLERANCE:
            problems.append(f"{name}: crops differ by up to {difference:.4f}")
    return problems, largest, differing


def save(path: Path, names: Sequence[str], answers: Sequence[Answer]) -> None:
    arrays: dict[str, np.ndarray] = {f"crops_{i}": a.crops for i, a in enumerate(answers)}
    arrays["names"] = np.array(names)
    arrays["meta"] = np.array([(a.text, a.reason, json.dumps(a.boxes)) for a in answers], object)
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]


def load(path: Path) -> tuple[list[str], list[Answer]]:
    with np.load(path, allow_pickle=True) as stored:
        names = [str(n) for n in stored["names"]]
        answers = [
            Answer(str(text), str(reason), [_box(b) for b in json.loads(box_list)], crops)
            for (text, reason, box_list), crops in zip(
                stored["meta"], (stored[f"crops_{i}"] for i in range(len(names))), strict=True
            )
        ]
    return names, answers


def corpus(record: Path) -> tuple[list[str], list[bytes]]:
    """The corpus kept beside `record`, built on first use."""
    path = record.with_suffix(".corpus.npz")
    if path.exists():
        with np.load(path, allow_pickle=True) as stored:
            return [str(n) for n in stored["names"]], [bytes(p) for p in stored["photos"]]
    names, photos = build_corpus()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, names=np.array(names), photos=np.array(photos, dtype=object))
    return names, photos


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.same_answers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=("record", "check"))
    parser.add_argument("record", type=Path, help="the record (.npz) to write or compare with")
    parser.add_argument("--model", type=Path, default=None, help="a .keras file")
    args = parser.parse_args(argv)
    names, photos = corpus(args.record)
    answers = read_all(photos, args.model)
    if args.action == "record":
        save(args.record, names, answers)
        print(f"recorded {len(answers)} photos in {args.record}")
        return 0
    recorded_names, recorded = load(args.record)
    if recorded_names != names:
        print("the corpus changed since the record was made", file=sys.stderr)
        return 2
    problems, largest, differing = compare(names, recorded, answers)
    for problem in problems:
        print(problem)
    print(
        f"{len(names)} photos: {len(problems)} differ in text, reason, boxes or crops beyond "
        f"{CROP_TOLERANCE:.4f}; crops of {differing} photo(s) differ at all, by at most "
        f"{largest:.2e}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
