"""The same-answers check: what counts as a different reading, and the record's round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.same_answers import CROP_TOLERANCE, Answer, compare, load, save


def answer(text: str, crops: np.ndarray, reason: str = "") -> Answer:
    return Answer(text, reason, [(1, 2, 30, 40)] * len(crops), crops)


def test_text_reason_boxes_and_far_crops_count_near_crops_do_not() -> None:
    crops = np.zeros((1, 28, 28), dtype=np.float32)
    near = crops + np.float32(0.5 * CROP_TOLERANCE)
    far = crops + np.float32(2 * CROP_TOLERANCE)
    moved = Answer("7", "", [(0, 2, 30, 40)], crops)
    names = ["same", "near", "far", "text", "reason", "box"]
    before = [answer("7", crops)] * 6
    after = [
        answer("7", crops),
        answer("7", near),
        answer("7", far),
        answer("1", crops),
        answer("", crops, "not-a-digit"),
        moved,
    ]
    problems, largest, differing = compare(names, before, after)
    assert [p.split(":")[0] for p in problems] == ["far", "text", "reason", "box"]
    assert differing == 2 and np.isclose(largest, 2 * CROP_TOLERANCE)


def test_a_record_reads_back_as_written(tmp_path: Path) -> None:
    crops = np.random.default_rng(0).random((2, 28, 28)).astype(np.float32)
    answers = [answer("12", crops), Answer("", "blank", [], np.zeros((0, 28, 28), np.float32))]
    save(tmp_path / "record.npz", ["a/0", "b/1"], answers)
    names, loaded = load(tmp_path / "record.npz")
    assert names == ["a/0", "b/1"]
    assert [(a.text, a.reason, a.boxes) for a in loaded] == [
        (a.text, a.reason, a.boxes) for a in answers
    ]
    assert all(a.crops_sha256 == b.crops_sha256 for a, b in zip(answers, loaded, strict=True))
