"""The queue-drain benchmark's bookkeeping: rates per drain and the median the section reports."""

from __future__ import annotations

import math

import pytest

from benchmarks import queue_drain
from benchmarks.queue_drain import Counts, Drain


def test_drain_rates() -> None:
    drain = Drain(30, answered=30, seconds=1.5, worker_cpu_seconds=0.9)
    assert drain.photos_per_second == 20.0
    assert math.isclose(drain.worker_cpu_ms_per_photo, 30.0)
    assert math.isnan(Drain(0).photos_per_second)


def test_the_section_reports_each_drain_and_their_median(monkeypatch: pytest.MonkeyPatch) -> None:
    drains = [Drain(10, answered=10, seconds=s, worker_cpu_seconds=0.5) for s in (1.0, 0.5, 2.0)]
    drains[1].duplicated = 1
    monkeypatch.setattr(queue_drain, "measure", lambda counts, revision: {"after": drains})
    section = queue_drain.run(Counts(photos=10, rounds=3), revision=None)
    (row,) = section.rows
    assert row[:6] == ["after", "3 × 10", 30, 1, 0, "10.0, 20.0, 5.0"]
    assert row[6] == section.data["photos_per_second"] == 10.0
    assert row[7] == 50.0
    assert section.notes == ["one worker drains 10.0 photos/s (median)"]
    assert "| version | drains |" in section.to_markdown()


def test_before_and_after_side_by_side_with_the_speedup(monkeypatch: pytest.MonkeyPatch) -> None:
    before = [Drain(10, answered=10, seconds=1.0) for _ in range(2)]
    after = [Drain(10, answered=10, seconds=0.4) for _ in range(2)]
    monkeypatch.setattr(
        queue_drain, "measure", lambda counts, revision: {"before": before, "after": after}
    )
    monkeypatch.setattr(queue_drain.baseline, "describe", lambda revision: "abc1234 (old)")
    section = queue_drain.run(Counts(photos=10, rounds=2), revision="abc1234")
    assert [row[0] for row in section.rows] == ["before", "after"]
    assert [row[6] for row in section.rows] == [10.0, 25.0]
    assert section.notes == [
        "one worker drains 25.0 photos/s (median), 2.50× before (10.0) — meets the bar (≥ 2.5×)"
    ]
    assert "abc1234 (old)" in section.summary
