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
    monkeypatch.setattr(queue_drain, "measure", lambda counts: drains)
    section = queue_drain.run(Counts(photos=10, rounds=3))
    (row,) = section.rows
    assert row[:5] == ["3 × 10", 30, 1, 0, "10.0, 20.0, 5.0"]
    assert row[5] == section.data["photos_per_second"] == 10.0
    assert row[6] == 50.0
    assert section.notes == ["one worker drains 10.0 photos/s (median)"]
    assert "| drains |" in section.to_markdown()
