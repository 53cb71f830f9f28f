"""The photo benchmark's table: before and after side by side, and the bars' verdicts (the
timings themselves come from child processes and are never asserted)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import photo_decode


def fake_results(after_total: float, before_total: float) -> dict[str, dict[str, Any]]:
    def version(total: float) -> dict[str, Any]:
        return {
            "ms": {"decode": 1.0, "preprocess": total - 1.5, "model": 0.5, "total": total},
            "correct": 4,
        }

    return {
        kind.label: {"before": version(before_total), "after": version(after_total)}
        for kind in photo_decode.PHOTO_KINDS
    }


def test_the_table_puts_before_beside_after(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photo_decode, "measure", lambda *args: fake_results(8.0, 24.0))
    monkeypatch.setattr(photo_decode, "make_photos", lambda kind: [(b"x" * 1024, 1)] * 4)
    monkeypatch.setattr(photo_decode.baseline, "describe", lambda revision: "abc1234 (old)")
    section = photo_decode.run(photo_decode.QUICK, revision="abc1234")
    assert section.headers[2:4] == ["decode ms before", "decode ms after"]
    row = section.rows[1]
    assert row[0] == photo_decode.BAR_SIZE_LABEL and row[8:11] == [24.0, 8.0, 3.0]
    assert row[-1] == "4/4 / 4/4"
    assert section.notes[0].endswith("meets the bar (≤ 10 ms, ≥ 2.5×)")
    assert "4000×3000 JPEG end to end: 8.0 ms — meets the 20 ms bar" in section.notes[1]


def test_a_slow_photo_misses_the_bars() -> None:
    notes = photo_decode._verdicts(fake_results(12.0, 24.0), paired_run=True)
    assert "2.00× before (24.0 ms) — misses the bar" in notes[0]
    only_after = {k: {"after": v["after"]} for k, v in fake_results(9.0, 0.0).items()}
    assert photo_decode._verdicts(only_after, paired_run=False)[0].endswith("meets the 10 ms bar")
