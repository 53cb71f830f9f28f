"""Correcting an answer with the buttons, through the real bot and workers; /forget removes it;
admins exclude (and include again) a user's samples."""

from __future__ import annotations

import numpy as np
import pytest

from digitbot import defaults, texts
from digitbot.feedback import FeedbackStore
from digitbot.intake import PhotoIntake
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
    fix = buttons_of(answer.reply_markup)["✏️ correct it"]
    # What the worker kept of its answer: a correction against a digit read at least this
    # surely is held for review, any other is recorded at once.
    pending = FeedbackStore(stack.connection()).pending(fix.partition(":")[2])
    assert pending is not None and pending.text == str(label)
    confident = pending.confidences[0] >= defaults.REVIEW_CONFIDENCE

    stack.standin.user_presses_button(chat, answer.message_id, fix)
    assert wait_until(
        lambda: "0" in buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    )
    wrong = (label + 1) % 10  # the user insists on another digit
    digit_buttons = buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    stack.standin.user_presses_button(chat, answer.message_id, digit_buttons[str(wrong)])

    expected = (texts.HELD_CORRECTION if confident else texts.RECORDED_CORRECTION).format(
        label=wrong
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
    assert wait_for_answer(stack, chat, forget) == texts.FORGOTTEN.format(count=1)
    assert store.samples() == []


def test_a_number_sent_in_reply_to_an_answer_corrects_it_even_with_more_digits(
    stack: Stack,
) -> None:
    chat = 7150
    x, y = clear_arrays()
    label = str(y[35])
    message_id = stack.standin.user_sends_photo(chat, digit_photo(x[35], seed=2))
    assert wait_for_answer(stack, chat, message_id).startswith(f"{label} — ")
    [answer] = answers_to(stack, chat, message_id)
    store = FeedbackStore(stack.connection())
    before = {s.sample_id for s in store.samples()}

    # The user swipes the answer and types the number they wrote: two digits for one read.
    written = label + str((int(label) + 1) % 10)
    reply = stack.standin.user_sends_text(chat, written, reply_to=answer.message_id)
    said = wait_for_answer(stack, chat, reply)
    [sample] = [s for s in store.samples() if s.sample_id not in before]
    assert (sample.label, sample.predicted, sample.kind) == (written, label, "corrected")
    assert sample.crops.shape == (1, 28, 28)  # the one mark that was read
    expected = texts.HELD_CORRECTION if sample.status == "held" else texts.RECORDED_CORRECTION
    assert said == expected.format(label=written)
    # The answer shows it, as after the buttons, and offers no ✅ / ✏️ any more.
    assert wait_until(
        lambda: stack.standin.message(chat, answer.message_id)["text"].endswith(said), timeout=20
    )
    shown = buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    assert set(shown) == {texts.EXPLAIN_BUTTON}


def test_typing_a_correction_with_fewer_digits_than_were_read(stack: Stack) -> None:
    chat = 7160
    x, y = clear_arrays()
    number = f"{y[36]}{y[37]}"
    photo = digit_photo(np.concatenate([x[36], x[37]], axis=1), seed=5)
    message_id = stack.standin.user_sends_photo(chat, photo)
    assert wait_for_answer(stack, chat, message_id).startswith(f"{number} — ")
    [answer] = answers_to(stack, chat, message_id)
    stack.standin.user_presses_button(
        chat, answer.message_id, buttons_of(answer.reply_markup)["✏️ correct it"]
    )
    assert wait_until(
        lambda: (
            texts.TYPE_BUTTON
            in buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
        )
    )
    keyboard = buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    stack.standin.user_presses_button(chat, answer.message_id, keyboard[texts.TYPE_BUTTON])
    asked = stack.standin.wait_for(
        lambda r: (
            r.method == "sendMessage" and r.chat_id == chat and r.text == texts.TYPE_CORRECTION
        )
    )
    assert asked
    store = FeedbackStore(stack.connection())
    before = {s.sample_id for s in store.samples()}
    typed = stack.standin.user_sends_text(chat, number[0])  # "it is one digit, not two"
    said = wait_for_answer(stack, chat, typed)
    [sample] = [s for s in store.samples() if s.sample_id not in before]
    assert (sample.label, sample.predicted, sample.crops.shape[0]) == (number[0], number, 2)
    expected = texts.HELD_CORRECTION if sample.status == "held" else texts.RECORDED_CORRECTION
    assert said == expected.format(label=number[0])


def test_a_button_with_data_we_never_made_is_answered_not_left_spinning(stack: Stack) -> None:
    chat = 7200
    start = stack.standin.user_sends_text(chat, "/start")
    wait_for_answer(stack, chat, start)
    reply = answers_to(stack, chat, start)[0]
    forged = ["dig:abc:9:42:1", "ok:../secret", "rv:abc", "explain:"]
    for data in forged:
        stack.standin.user_presses_button(chat, reply.message_id, data, check_button=False)
    answered = stack.standin.wait_for(
        lambda r: r.method == "answerCallbackQuery" and r.chat_id == chat, count=len(forged)
    )
    assert [r.text for r in answered] == [texts.UNKNOWN_BUTTON] * len(forged)
    assert stack.standin.sent(chat_id=chat, method="sendMessage") == [reply]  # no error reply


ADMIN = 1001  # DIGITBOT_ADMIN_IDS in the stack's environment


def correct_with_buttons(stack: Stack, chat: int, offset: int) -> str:
    """Send a clear digit, correct it to another digit with the buttons; the label given."""
    x, y = clear_arrays()
    label = int(y[offset])
    message_id = stack.standin.user_sends_photo(chat, digit_photo(x[offset], seed=4))
    assert wait_for_answer(stack, chat, message_id).startswith(f"{label} — ")
    answer = answers_to(stack, chat, message_id)[0]
    stack.standin.user_presses_button(
        chat, answer.message_id, buttons_of(answer.reply_markup)["✏️ correct it"]
    )
    assert wait_until(
        lambda: "0" in buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    )
    wrong = str((label + 3) % 10)
    digit_buttons = buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    stack.standin.user_presses_button(chat, answer.message_id, digit_buttons[wrong])
    assert wait_until(lambda: len(FeedbackStore(stack.connection()).samples()) == 1, timeout=20)
    return wrong


def test_admins_exclude_and_include_a_user_named_by_the_hash_feedback_shows(stack: Stack) -> None:
    chat = 7300
    connection = stack.connection()
    store = FeedbackStore(connection)
    for sample in store.samples():  # a clean store whatever ran before
        store.forget_user(sample.user_hash)
    label = correct_with_buttons(stack, chat, offset=41)
    user_hash = PhotoIntake(connection, max_queue_depth=1).user_hash(chat)
    [sample] = store.samples()
    assert (sample.label, sample.user_hash) == (label, user_hash)
    status_before = sample.status
    shown = user_hash[:8]

    summary = wait_for_answer(stack, ADMIN, stack.standin.user_sends_text(ADMIN, "/feedback"))
    assert f"user {shown}" in summary, summary
    help_text = wait_for_answer(stack, ADMIN, stack.standin.user_sends_text(ADMIN, "/help"))
    assert help_text == texts.HELP + texts.ADMIN_HELP and "/exclude <user>" in help_text

    # not an admin: refused, nothing changes
    refused = stack.standin.user_sends_text(chat, f"/exclude {shown}")
    assert wait_for_answer(stack, chat, refused) == texts.ADMIN_ONLY
    assert store.samples()[0].status == status_before
    assert not store.moderation.is_excluded(user_hash)

    too_short = stack.standin.user_sends_text(ADMIN, f"/exclude {shown[:4]}")
    assert wait_for_answer(stack, ADMIN, too_short) == texts.USER_USAGE.format(
        command="exclude", min_chars=8
    )
    unknown = "0" * 8 if not user_hash.startswith("0" * 8) else "f" * 8
    nobody = stack.standin.user_sends_text(ADMIN, f"/exclude {unknown}")
    assert wait_for_answer(stack, ADMIN, nobody) == texts.NO_SUCH_USER.format(prefix=unknown)

    excluded = stack.standin.user_sends_text(ADMIN, f"/exclude {shown}")
    assert wait_for_answer(stack, ADMIN, excluded) == texts.USER_EXCLUDED.format(
        user=shown, count=1
    )
    assert store.moderation.is_excluded(user_hash)
    assert [s.status for s in store.samples()] == ["rejected"]
    assert store.samples(status="held") == []  # out of the review queue too

    included = stack.standin.user_sends_text(ADMIN, f"/include {shown}")
    assert wait_for_answer(stack, ADMIN, included) == texts.USER_INCLUDED.format(
        user=shown, count=1
    )
    assert [s.status for s in store.samples()] == [status_before]
    assert not store.moderation.is_excluded(user_hash)
    assert store.forget_user(user_hash) == 1
