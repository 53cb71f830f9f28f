"""What people read: one text per situation, figures from the constants, Telegram's limits kept."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from digitbot import defaults, texts
from digitbot.feedback import RecordOutcome, outcome_message

# answerCallbackQuery shows at most this many characters.
CALLBACK_ANSWER_LIMIT = 200


def all_texts() -> dict[str, str]:
    return {
        name: value
        for name, value in vars(texts).items()
        if name.isupper() and not name.startswith("_") and isinstance(value, str)
    }


def test_no_two_situations_share_a_text() -> None:
    by_value: dict[str, list[str]] = {}
    for name, value in all_texts().items():
        by_value.setdefault(value, []).append(name)
    assert [names for names in by_value.values() if len(names) > 1] == []


@pytest.fixture()
def reloaded_texts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield
    monkeypatch.undo()
    importlib.reload(texts)  # back to the real constants for every later test


@pytest.mark.usefixtures("reloaded_texts")
def test_figures_in_the_texts_follow_the_constants(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(defaults, "MAX_DOWNLOAD_BYTES", 5 * 2**20)
    monkeypatch.setattr(defaults, "MAX_IMAGE_PIXELS", 12_500_000)
    monkeypatch.setattr(defaults, "MAX_DIGITS", 6)
    monkeypatch.setattr(defaults, "USER_HASH_SHOWN", 10)
    importlib.reload(texts)
    assert "under 5 MB and 12.5 megapixels" in texts.IMAGE_TOO_LARGE
    assert "larger than 5 MB" in texts.TELEGRAM_FILE_TOO_LARGE
    assert "up to 6 digits" in texts.HELP
    assert "the first 10 or more characters" in texts.ADMIN_HELP
    assert "20" not in texts.IMAGE_TOO_LARGE + texts.TELEGRAM_FILE_TOO_LARGE


def test_the_real_limits_read_naturally() -> None:
    assert "under 20 MB and 50 megapixels" in texts.IMAGE_TOO_LARGE
    assert "up to 8 digits" in texts.HELP


@pytest.mark.parametrize(
    "name",
    [
        "EXPLAIN_EXPIRED",
        "EXPLAINING",
        "EXPLAIN_PENDING",
        "QUEUE_DOWN",
        "FEEDBACK_EXPIRED",
        "FEEDBACK_LIMITED",
        "FEEDBACK_INVALID",
        "ADMIN_ONLY",
        "UNKNOWN_BUTTON",
        "REVIEW_DONE",
        "REVIEW_ALREADY_DONE",
    ],
)
def test_texts_shown_as_button_answers_fit_telegrams_limit(name: str) -> None:
    assert 0 < len(getattr(texts, name)) <= CALLBACK_ANSWER_LIMIT


def test_each_feedback_outcome_tells_its_own_story() -> None:
    outcomes = [getattr(RecordOutcome, n) for n in vars(RecordOutcome) if n.isupper()]
    said = {outcome: outcome_message(outcome, "42") for outcome in outcomes}
    assert len(set(said.values())) == len(outcomes)
    assert "42" in said[RecordOutcome.RECORDED] and "42" in said[RecordOutcome.HELD]
    assert outcome_message(RecordOutcome.RECORDED, "7", confirmed=True) == texts.RECORDED_RIGHT
