"""The inline buttons under answers and their callback data, built and read in one place.

Workers put the answer's buttons under their reply, the bot edits them while a user corrects
the answer, and the bot routes each press by its callback data. Markups are plain Bot API JSON
(`{"inline_keyboard": [[{"text": ..., "callback_data": ...}]]}`), so no telegram import is needed.

Callback data (at most 64 bytes; already-sent messages keep theirs, so the format is stable):

    ok:<rid>                      ✅ the answer is right
    fix:<rid>                     ✏️ open the correction keyboard
    pos:<rid>:<i>:<digits>        choose which digit of a number to change
    dig:<rid>:<i>:<digits>:<d>    set digit i of `digits` to d
    lbl:<rid>:<digits>            save `digits` as the right answer
    type:<rid>                    type the right number instead
    explain:<rid>                 🔍 how I read it
    rv:<sample>:<1|0>             operators accept or reject a held correction
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from digitbot import defaults, texts

# Telegram refuses callback data longer than this many bytes.
MAX_CALLBACK_BYTES = 64


class Action(enum.StrEnum):
    RIGHT = "ok"
    CORRECT = "fix"
    POSITION = "pos"
    DIGIT = "dig"
    SAVE = "lbl"
    TYPE = "type"
    EXPLAIN = "explain"
    REVIEW = "rv"


# The presses a user makes on an answer to confirm or correct it.
FEEDBACK_ACTIONS = frozenset(
    {Action.RIGHT, Action.CORRECT, Action.POSITION, Action.DIGIT, Action.SAVE, Action.TYPE}
)


@dataclass(frozen=True)
class ButtonPress:
    """One button's meaning: what it asks for and about which answer (or held sample)."""

    action: Action
    target: str  # the answer's request id; the sample id for REVIEW
    digits: str = ""  # POSITION, DIGIT: the number being corrected; SAVE: the number to save
    position: int = 0  # POSITION, DIGIT: which digit of `digits`, from 0
    digit: str = ""  # DIGIT: the new digit at `position`
    accept: bool = False  # REVIEW: accept (True) or reject the sample

    def corrected(self) -> str:
        """DIGIT: `digits` with the digit at `position` replaced by `digit`."""
        return self.digits[: self.position] + self.digit + self.digits[self.position + 1 :]


def callback_data(press: ButtonPress) -> str:
    """The callback data that `parse_callback_data` reads back as `press`.

    Raises ValueError for a press that data cannot carry (an id that is not alphanumeric, a
    position outside the digits, more than MAX_CALLBACK_BYTES).
    """
    action, target = press.action, press.target
    if action in (Action.POSITION, Action.DIGIT):
        fields = [target, str(press.position), press.digits]
        if action is Action.DIGIT:
            fields.append(press.digit)
    elif action is Action.SAVE:
        fields = [target, press.digits]
    elif action is Action.REVIEW:
        fields = [target, "1" if press.accept else "0"]
    else:
        fields = [target]
    data = ":".join([action.value, *fields])
    # Reading it back checks every field and that nothing unused was set.
    if len(data.encode()) > MAX_CALLBACK_BYTES or parse_callback_data(data) != press:
        raise ValueError(f"a button cannot carry {press!r}")
    return data


def parse_callback_data(data: object) -> ButtonPress | None:
    """The press that callback data stands for; None for anything we did not build."""
    if not isinstance(data, str) or len(data.encode()) > MAX_CALLBACK_BYTES:
        return None
    name, _, rest = data.partition(":")
    try:
        action = Action(name)
    except ValueError:
        return None
    fields = rest.split(":")
    target = fields[0]
    if not _is_id(target):
        return None
    if action in (Action.POSITION, Action.DIGIT):
        return _parse_position(action, target, fields[1:])
    if action is Action.SAVE:
        if len(fields) != 2 or not _is_number(fields[1]):
            return None
        return ButtonPress(action, target, digits=fields[1])
    if action is Action.REVIEW:
        if len(fields) != 2 or fields[1] not in ("0", "1"):
            return None
        return ButtonPress(action, target, accept=fields[1] == "1")
    return ButtonPress(action, target) if len(fields) == 1 else None


def matches(*actions: Action) -> Callable[[object], bool]:
    """A test for callback data that is one of `actions` (a CallbackQueryHandler pattern)."""
    wanted = frozenset(actions)

    def test(data: object) -> bool:
        press = parse_callback_data(data)
        return press is not None and press.action in wanted

    return test


def answer_markup(request_id: str, *, with_feedback: bool) -> dict[str, Any]:
    """The buttons under an answer: ✅ right / ✏️ correct it (when there are digits to
    correct), and 🔍 how I read it."""
    rows = []
    if with_feedback:
        right = _button(texts.RIGHT_BUTTON, ButtonPress(Action.RIGHT, request_id))
        correct = _button(texts.CORRECT_BUTTON, ButtonPress(Action.CORRECT, request_id))
        rows.append([right, correct])
    rows.append([_button(texts.EXPLAIN_BUTTON, ButtonPress(Action.EXPLAIN, request_id))])
    return {"inline_keyboard": rows}


def album_markup(photos: Sequence[tuple[int, str, bool]]) -> dict[str, Any]:
    """The buttons under an album's answer: a row per photo (number, request id, whether it has
    digits to confirm or correct), each button labelled with the photo's number."""
    labels = {
        Action.RIGHT: texts.ALBUM_RIGHT_BUTTON,
        Action.CORRECT: texts.ALBUM_CORRECT_BUTTON,
        Action.EXPLAIN: texts.ALBUM_EXPLAIN_BUTTON,
    }
    rows = []
    for number, request_id, with_feedback in photos:
        actions = [Action.RIGHT, Action.CORRECT] if with_feedback else []
        rows.append(
            [
                _button(labels[action].format(number=number), ButtonPress(action, request_id))
                for action in [*actions, Action.EXPLAIN]
            ]
        )
    return {"inline_keyboard": rows}


def answer_targets(markup: dict[str, Any] | None) -> list[str]:
    """The request ids the buttons of an answer name, in order, each once: one for the answer
    to one photo, one per photo for an album's."""
    targets: list[str] = []
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            press = parse_callback_data(button.get("callback_data"))
            named = press.target if press and press.action is not Action.REVIEW else None
            if named and named not in targets:
                targets.append(named)
    return targets


def button_number(markup: dict[str, Any] | None, data: str) -> int | None:
    """The photo number an album button with callback data `data` shows ("2 ✏️" -> 2)."""
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            if button.get("callback_data") == data:
                number = str(button.get("text", "")).split(" ", 1)[0]
                return int(number) if number.isdigit() else None
    return None


def without_feedback(markup: dict[str, Any] | None, request_id: str) -> dict[str, Any]:
    """`markup` less the ✅ / ✏️ buttons of `request_id` (its feedback is recorded)."""
    feedback = {callback_data(ButtonPress(a, request_id)) for a in (Action.RIGHT, Action.CORRECT)}
    rows = [
        [button for button in row if button.get("callback_data") not in feedback]
        for row in (markup or {}).get("inline_keyboard", [])
    ]
    return {"inline_keyboard": [row for row in rows if row]}


def correction_markup(request_id: str, digits: str) -> dict[str, Any]:
    """The keyboard for correcting `digits`: the ten digits for a single digit; for a number,
    a button per position, one to save it as it stands, and one to type it."""
    if len(digits) == 1:
        return digit_markup(request_id, 0, digits)
    rows = [
        [
            _button(
                texts.POSITION_BUTTON.format(number=i + 1, digit=digit),
                ButtonPress(Action.POSITION, request_id, digits=digits, position=i),
            )
        ]
        for i, digit in enumerate(digits)
    ]
    save = ButtonPress(Action.SAVE, request_id, digits=digits)
    rows.append([_button(texts.SAVE_BUTTON.format(digits=digits), save)])
    rows.append([_button(texts.TYPE_BUTTON, ButtonPress(Action.TYPE, request_id))])
    return {"inline_keyboard": rows}


def digit_markup(request_id: str, position: int, digits: str) -> dict[str, Any]:
    """The ten digits for position `position` of `digits` (0-4, 5-9), and "type it"."""

    def button(digit: int) -> dict[str, str]:
        press = ButtonPress(
            Action.DIGIT, request_id, digits=digits, position=position, digit=str(digit)
        )
        return _button(str(digit), press)

    rows = [[button(d) for d in range(0, 5)], [button(d) for d in range(5, 10)]]
    rows.append([_button(texts.TYPE_BUTTON, ButtonPress(Action.TYPE, request_id))])
    return {"inline_keyboard": rows}


def review_markup(sample_id: str) -> dict[str, Any]:
    """Accept / reject under a held correction that an operator reviews."""
    accept = _button(texts.ACCEPT_BUTTON, ButtonPress(Action.REVIEW, sample_id, accept=True))
    reject = _button(texts.REJECT_BUTTON, ButtonPress(Action.REVIEW, sample_id, accept=False))
    return {"inline_keyboard": [[accept, reject]]}


def _button(text: str, press: ButtonPress) -> dict[str, str]:
    return {"text": text, "callback_data": callback_data(press)}


def _parse_position(action: Action, target: str, fields: list[str]) -> ButtonPress | None:
    """POSITION: <i>:<digits>; DIGIT: <i>:<digits>:<d>."""
    if len(fields) != (3 if action is Action.DIGIT else 2):
        return None
    position, digits = fields[0], fields[1]
    if not _is_number(digits) or position not in [str(i) for i in range(len(digits))]:
        return None
    digit = fields[2] if action is Action.DIGIT else ""
    if action is Action.DIGIT and not (len(digit) == 1 and _is_number(digit)):
        return None
    return ButtonPress(action, target, digits=digits, position=int(position), digit=digit)


def _is_id(value: str) -> bool:
    """Request and sample ids are uuid4 hex (digitbot.payload, digitbot.feedback)."""
    return value.isascii() and value.isalnum()


def _is_number(value: str) -> bool:
    """ASCII digits only (str.isdigit also takes "²" and "٣"), at most MAX_DIGITS of them."""
    return 0 < len(value) <= defaults.MAX_DIGITS and value.isascii() and value.isdigit()
