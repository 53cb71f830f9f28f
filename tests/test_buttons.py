"""Answer buttons: callback data round-trips, keeps its sent format, and refuses anything else."""

from __future__ import annotations

import pytest

from digitbot import buttons, defaults, texts
from digitbot.buttons import Action, ButtonPress, callback_data, parse_callback_data

RID = "0123456789abcdef0123456789abcdef"  # a uuid4 hex, as digitbot.payload makes them

PRESSES = [
    ButtonPress(Action.RIGHT, RID),
    ButtonPress(Action.CORRECT, RID),
    ButtonPress(Action.POSITION, RID, digits="4071", position=3),
    ButtonPress(Action.DIGIT, RID, digits="4071", position=0, digit="9"),
    ButtonPress(Action.DIGIT, RID, digits="9" * defaults.MAX_DIGITS, position=7, digit="0"),
    ButtonPress(Action.SAVE, RID, digits="12"),
    ButtonPress(Action.TYPE, RID),
    ButtonPress(Action.EXPLAIN, RID),
    ButtonPress(Action.REVIEW, RID, accept=True),
    ButtonPress(Action.REVIEW, RID, accept=False),
]


@pytest.mark.parametrize("press", PRESSES, ids=lambda p: f"{p.action}")
def test_every_press_round_trips_within_telegrams_64_bytes(press: ButtonPress) -> None:
    data = callback_data(press)
    assert len(data.encode()) <= buttons.MAX_CALLBACK_BYTES
    assert parse_callback_data(data) == press


def test_the_format_of_buttons_already_sent_still_parses() -> None:
    # Messages in users' chats keep the callback data they were sent with.
    assert parse_callback_data(f"ok:{RID}") == ButtonPress(Action.RIGHT, RID)
    assert parse_callback_data(f"explain:{RID}") == ButtonPress(Action.EXPLAIN, RID)
    assert parse_callback_data(f"dig:{RID}:1:42:7") == ButtonPress(
        Action.DIGIT, RID, digits="42", position=1, digit="7"
    )
    assert parse_callback_data(f"lbl:{RID}:305") == ButtonPress(Action.SAVE, RID, digits="305")
    assert parse_callback_data("rv:abc123:0") == ButtonPress(Action.REVIEW, "abc123")


@pytest.mark.parametrize(
    "data",
    [
        None,
        b"ok:" + RID.encode(),
        "",
        "ok",
        "ok:",
        f"nope:{RID}",
        f"OK:{RID}",
        f"ok:{RID}:extra",
        "ok:../etc",
        "ok:ab-cd",
        "explain:ａｂｃ",  # full-width letters are alphanumeric, but not an id we make
        f"pos:{RID}:2:42",  # position past the last digit
        f"pos:{RID}:-1:42",
        f"pos:{RID}:01:42",
        f"pos:{RID}:0",
        f"dig:{RID}:0:42",
        f"dig:{RID}:0:42:10",
        f"dig:{RID}:0:42:x",
        f"dig:{RID}:0:4x:1",
        f"dig:{RID}:0:٤٢:1",  # Arabic-Indic digits pass str.isdigit
        f"lbl:{RID}:",
        f"lbl:{RID}:{'1' * (defaults.MAX_DIGITS + 1)}",
        f"rv:{RID}:yes",
        f"rv:{RID}",
        "type:" + "a" * 64,  # over 64 bytes
    ],
)
def test_malformed_callback_data_is_refused(data: object) -> None:
    assert parse_callback_data(data) is None


@pytest.mark.parametrize(
    "press",
    [
        ButtonPress(Action.RIGHT, "not-an-id"),
        ButtonPress(Action.RIGHT, RID, digits="42"),  # a field this action does not carry
        ButtonPress(Action.POSITION, RID, digits="42", position=2),
        ButtonPress(Action.DIGIT, RID, digits="42", position=0, digit="12"),
        ButtonPress(Action.SAVE, RID, digits=""),
        ButtonPress(Action.TYPE, "a" * 60),
    ],
)
def test_a_press_that_data_cannot_carry_is_refused_when_built(press: ButtonPress) -> None:
    with pytest.raises(ValueError, match="cannot carry"):
        callback_data(press)


def test_digit_press_names_the_corrected_number() -> None:
    press = ButtonPress(Action.DIGIT, RID, digits="4071", position=2, digit="3")
    assert press.corrected() == "4031"


def _presses(markup: dict) -> list[tuple[str, ButtonPress | None]]:
    return [
        (b["text"], parse_callback_data(b["callback_data"]))
        for row in markup["inline_keyboard"]
        for b in row
    ]


def test_answer_markup_offers_feedback_only_when_asked() -> None:
    assert _presses(buttons.answer_markup(RID, with_feedback=True)) == [
        (texts.RIGHT_BUTTON, ButtonPress(Action.RIGHT, RID)),
        (texts.CORRECT_BUTTON, ButtonPress(Action.CORRECT, RID)),
        (texts.EXPLAIN_BUTTON, ButtonPress(Action.EXPLAIN, RID)),
    ]
    assert _presses(buttons.answer_markup(RID, with_feedback=False)) == [
        (texts.EXPLAIN_BUTTON, ButtonPress(Action.EXPLAIN, RID)),
    ]


def test_correcting_a_number_offers_each_position_save_and_type() -> None:
    pressed = _presses(buttons.correction_markup(RID, "42"))
    assert pressed == [
        ("digit 1: 4  ✏️", ButtonPress(Action.POSITION, RID, digits="42", position=0)),
        ("digit 2: 2  ✏️", ButtonPress(Action.POSITION, RID, digits="42", position=1)),
        ("✔ save 42", ButtonPress(Action.SAVE, RID, digits="42")),
        (texts.TYPE_BUTTON, ButtonPress(Action.TYPE, RID)),
    ]


def test_correcting_one_digit_offers_the_ten_digits_at_once() -> None:
    pressed = _presses(buttons.correction_markup(RID, "7"))
    assert [text for text, _ in pressed] == [str(d) for d in range(10)] + [texts.TYPE_BUTTON]
    assert {p.corrected() for _, p in pressed[:10] if p is not None} == set("0123456789")


def test_review_markup_accepts_or_rejects_the_sample() -> None:
    assert _presses(buttons.review_markup("abc123")) == [
        (texts.ACCEPT_BUTTON, ButtonPress(Action.REVIEW, "abc123", accept=True)),
        (texts.REJECT_BUTTON, ButtonPress(Action.REVIEW, "abc123", accept=False)),
    ]


def test_matches_routes_only_the_named_actions() -> None:
    feedback = buttons.matches(*buttons.FEEDBACK_ACTIONS)
    assert feedback(f"fix:{RID}") and feedback(f"dig:{RID}:0:4:2")
    assert not feedback(f"explain:{RID}")
    assert not feedback(f"fix:{RID}:junk")
    assert buttons.matches(Action.EXPLAIN)(f"explain:{RID}")


def test_an_albums_buttons_are_a_numbered_row_per_photo() -> None:
    first, second, third = "a" * 32, "b" * 32, "c" * 32
    # Photo 2 could not be taken: it has no row, and the numbers still say which photo is which.
    markup = buttons.album_markup([(1, first, True), (3, third, False)])
    rows = [[(b["text"], b["callback_data"]) for b in row] for row in markup["inline_keyboard"]]
    assert rows == [
        [("1 ✅", f"ok:{first}"), ("1 ✏️", f"fix:{first}"), ("1 🔍", f"explain:{first}")],
        [("3 🔍", f"explain:{third}")],
    ]
    assert buttons.answer_targets(markup) == [first, third]
    assert buttons.button_number(markup, f"explain:{third}") == 3
    assert buttons.button_number(markup, f"fix:{second}") is None
    assert buttons.answer_targets(buttons.review_markup(first)) == []  # a held sample, no answer

    kept = buttons.without_feedback(markup, first)
    assert [[b["text"] for b in row] for row in kept["inline_keyboard"]] == [["1 🔍"], ["3 🔍"]]
    single = buttons.answer_markup(first, with_feedback=True)
    assert buttons.answer_targets(single) == [first]
    assert buttons.without_feedback(single, first) == buttons.answer_markup(
        first, with_feedback=False
    )
