"""The load test's schedule, answer counting and report, on made-up sends and answers."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from benchmarks.load_report import LoadPlan, RunResult, markdown_section, results_table
from benchmarks.loadtest import (
    SentPhoto,
    analyse,
    cpu_used,
    parse_workers,
    send_on_schedule,
    stage_latencies,
)


def photo(message_id: int, update_time: float, label: int = 7, chat: int = 1) -> SentPhoto:
    return SentPhoto(chat, message_id, label, lag=0.0, update_time=update_time)


def test_analyse_counts_answered_duplicated_and_lost() -> None:
    sent = [photo(1, 10.0), photo(2, 10.5), photo(3, 11.0), photo(4, 11.5, label=3)]
    answers = {
        (1, 1): [(10.1, "7 — 99% sure")],
        (1, 2): [(10.9, "7 — 90% sure"), (10.7, "1 — 60% sure")],  # two answers: duplicated
        (1, 4): [(11.7, "I couldn't find a digit in this photo.")],
        (2, 3): [(12.0, "7 — 99% sure")],  # another chat's message 3: not ours
    }
    result = analyse(2, sent, answers)
    assert (result.sent, result.answered, result.duplicated, result.lost) == (4, 3, 1, 1)
    assert result.read_right == 1  # photo 2's first answer (t=10.7) read "1"
    assert result.no_digit_or_error == 1
    assert result.latency.p50_ms == pytest.approx(200.0)
    assert result.latency.max_ms == pytest.approx(200.0)
    assert result.answers_per_second == pytest.approx(3 / 1.7)
    assert not result.meets_bars()  # lost and duplicated


def test_analyse_with_no_answers() -> None:
    result = analyse(1, [photo(1, 5.0)], {})
    assert result.lost == 1 and result.answers_per_second == 0.0
    assert math.isnan(result.latency.p50_ms)
    assert "–" in results_table([result])


def test_schedule_is_open_loop_and_spreads_over_users() -> None:
    class FakeStandIn:
        def __init__(self) -> None:
            self.messages: dict[int, int] = {}
            self.times: dict[tuple[int, int], float] = {}

        def user_sends_photo(self, chat_id: int, data: bytes) -> int:
            self.messages[chat_id] = self.messages.get(chat_id, 0) + 1
            self.times[(chat_id, self.messages[chat_id])] = float(len(self.times))
            return self.messages[chat_id]

        def update_time(self, chat_id: int, message_id: int) -> float:
            return self.times[(chat_id, message_id)]

    plan = LoadPlan(rate=500.0, duration=0.02, users=3)
    assert plan.num_photos == 10 and plan.offsets()[:3] == [0.0, 0.002, 0.004]
    sent = send_on_schedule(FakeStandIn(), [(b"a", 1), (b"b", 2)], plan)
    assert [p.chat_id for p in sent[:4]] == [5001, 5002, 5003, 5001]
    assert [p.label for p in sent[:3]] == [1, 2, 1]
    assert sent[3].message_id == 2


def test_cpu_used_counts_new_processes_from_zero() -> None:
    before = {"workers": {10: 1.0, 11: 2.0}, "bot": {20: 5.0}}
    after = {"workers": {10: 1.5, 12: 0.25}, "bot": {20: 5.5}}
    assert cpu_used(before, after) == {"workers": 0.75, "bot": 0.5}


def test_markdown_section_round_trips_through_json() -> None:
    sent = [photo(i, float(i)) for i in range(1, 5)]
    answers = {(1, i): [(i + 0.1, "7 — 99% sure")] for i in range(1, 5)}
    result = analyse(2, sent, answers)
    result.window_seconds = 4.0
    result.cpu_seconds = {"workers": 2.0, "bot": 0.4}
    result.worker_peak_rss_mib = result.bot_peak_rss_mib = 300.0
    document: dict[str, Any] = {
        "machine": {"date": "2026-01-01T00:00:00+00:00"},
        "plan": {"rate": 20.0, "duration": 0.2, "users": 2, "drain_timeout": 5.0},
        "runs": [result.as_dict()],
    }
    document = json.loads(json.dumps(document))
    assert RunResult.from_dict(document["runs"][0]) == result
    text = markdown_section(document)
    assert "| workers |" in text and "bar at 2 workers, 20 photos/s: met" in text
    assert "workers 2.0 s (500 ms/photo)" in text


def test_parse_workers() -> None:
    assert parse_workers("1,2,4") == [1, 2, 4]
    with pytest.raises(Exception, match="worker counts"):
        parse_workers("0")


def test_stage_latencies_split_the_whole_latency() -> None:
    sent = [photo(1, 100.0), photo(2, 101.0), photo(3, 102.0)]
    answers = {(1, 1): [(100.3, "7")], (1, 2): [(101.5, "7")]}
    offset = 1_000.0  # wall clock = monotonic + 1000
    times = {(1, 1): (1100.05, 1100.10), (1, 2): (1101.10, 1101.40), (1, 3): (1102.1, 1102.2)}
    stages = stage_latencies(sent, answers, times, offset)
    assert stages["bot"]["count"] == 2  # photo 3 has no answer
    assert stages["bot"]["max_ms"] == pytest.approx(100.0)
    assert stages["queue"]["max_ms"] == pytest.approx(300.0)
    assert stages["worker"]["max_ms"] == pytest.approx(200.0)
    assert stages["worker"]["p50_ms"] == pytest.approx(150.0)
