"""Correcting an answer with the buttons, through the real bot and workers; /forget removes it."""

from __future__ import annotations

import pytest

from bot import messages
from digitbot.feedback import FeedbackStore
from tests.e2e.conftest import Stack
from tests.e2e.test_pipeline import answers_to, wait_for_answer
from tests.support.photos import clear_arrays, digit_photo
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow


def buttons_of(markup: dict | None) -> dict[str, str]:
    assert markup is not None
    return {b["text"]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}


def test_correct_with_buttons_then_forget(stack: Stack) -> None:
    chat = 7100
    x, y = clear_arrays()
    label = int(y[33])
    message_id = stack.standin.user_sends_photo(chat, digit_photo(x[33], seed=9))
    text = wait_for_answer(stack, chat, message_id)
    assert text.startswith(f"{label} — ")
    answer = answers_to(stack, chat, message_id)[0]
    confident = ">99.9%" in text or float(text.split(" — ")[1].split("%")[0]) >= 98.0

    stack.standin.user_presses_button(
        chat, answer.message_id, buttons_of(answer.reply_markup)["✏️ correct it"]
    )
    assert wait_until(
        lambda: "0" in buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    )
    wrong = (label + 1) % 10  # the user insists on another digit
    digit_buttons = buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    stack.standin.user_presses_button(chat, answer.message_id, digit_buttons[str(wrong)])

    expected = (messages.HELD_CORRECTION if confident else messages.RECORDED_CORRECTION).format(
        wrong
    )
    assert wait_until(
        lambda: stack.standin.message(chat, answer.message_id)["text"].endswith(expected),
        timeout=20,
    ), stack.standin.message(chat, answer.message_id)
    store = FeedbackStore(stack.connection())
    samples = store.samples()
    assert [s.label for s in samples] == [str(wrong)]
    assert samples[0].predicted == str(label)
    assert samples[0].status == ("held" if confident else "accepted")
    assert samples[0].crops.shape == (1, 28, 28)
    # privacy: the stored sample knows neither the chat id nor the photo
    stored = stack.connection().hgetall(f"digitbot:feedback:sample:{samples[0].sample_id}")
    text_fields = {k: v for k, v in stored.items() if k not in (b"crops", b"created_at")}
    assert str(chat).encode() not in b"|".join(text_fields.values())
    assert set(stored) == {
        b"sample_id",
        b"label",
        b"kind",
        b"predicted",
        b"model_version",
        b"user_hash",
        b"created_at",
        b"status",
        b"crops",
        b"count",
    }

    forget = stack.standin.user_sends_text(chat, "/forget")
    assert wait_for_answer(stack, chat, forget) == messages.FORGOTTEN.format(1)
    assert store.samples() == []
