"""The fault load test's script and counts, on made-up sends and replies (the run itself is a
benchmark: `python -m benchmarks.loadtest --faults`)."""

from __future__ import annotations

import pytest

from benchmarks.fault_load import count_outcomes, fault_script, fault_table
from benchmarks.loadtest import SentPhoto
from digitbot import texts


def photo(message_id: int, update_time: float = 10.0) -> SentPhoto:
    return SentPhoto(1, message_id, 7, lag=0.0, update_time=update_time)


def test_each_photo_counts_once_as_answered_told_to_resend_or_lost() -> None:
    sent = [photo(1), photo(2), photo(3), photo(4), photo(5)]
    answers = {
        (1, 1): [(10.2, "7 — 99% sure")],
        (1, 2): [(10.5, texts.QUEUE_DOWN)],
        (1, 3): [(10.4, "7 — 99% sure"), (10.9, "7 — 99% sure")],
        (1, 5): [(10.3, texts.DOWNLOAD_FAILED), (11.0, "7 — 90% sure")],
    }
    counts = count_outcomes("bot killed", sent, answers)
    assert (counts.sent, counts.answered, counts.told_to_resend, counts.lost) == (5, 3, 1, 1)
    assert counts.twice == 2  # photos 3 and 5 got two replies each
    assert counts.max_ms == pytest.approx(1000.0)  # photo 5's answer, not its refusal, counts
    assert counts.p50_ms == pytest.approx(400.0)


def test_the_script_has_the_four_faults_and_the_table_one_row_each() -> None:
    names = [fault.name for fault in fault_script()]
    assert len(names) == 4
    assert [n.split()[0] for n in names] == ["worker", "bot", "Redis", "Bot"]
    counts = count_outcomes(names[0], [photo(1)], {})
    table = fault_table({"faults": [counts.as_dict()]})
    assert "told to resend" in table.splitlines()[0]
    cells = [cell.strip() for cell in table.splitlines()[2].strip("|").split("|")]
    assert cells == [names[0], "1", "0", "0", "1", "0", "–", "–", "–"]
