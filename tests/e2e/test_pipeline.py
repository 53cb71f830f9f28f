"""Photo in, answer out: the real bot, workers and Redis against the stand-in Bot API."""

from __future__ import annotations

import statistics
import threading
from collections.abc import Iterable

import numpy as np
import pytest

from digitbot import keys, texts
from digitbot.answer_marks import answer_mark_key
from digitbot.errors import CorruptImageError, NotAnImageError
from tests.e2e.conftest import Stack
from tests.support.photos import clear_digits, corrupt_jpeg, digit_photo
from tests.support.processes import wait_until
from tests.support.quiet import wait_until_quiet

pytestmark = pytest.mark.slow

ANSWER_TIMEOUT = 60.0


def answers_to(stack: Stack, chat_id: int, message_id: int) -> list:
    return [
        r for r in stack.standin.sent(chat_id=chat_id, method="sendMessage")
        if r.reply_to_message_id == message_id
    ]  # fmt: skip


def wait_for_answer(stack: Stack, chat_id: int, message_id: int) -> str:
    assert wait_until(lambda: answers_to(stack, chat_id, message_id), timeout=ANSWER_TIMEOUT), (
        f"no answer to message {message_id} in chat {chat_id}\n"
        f"bot log:\n{stack.bot.log()[-3000:]}\nworkers log:\n{stack.workers.log()[-3000:]}"
    )
    return answers_to(stack, chat_id, message_id)[0].text


def assert_answered_once(
    stack: Stack, messages: Iterable[tuple[int, int]], *, marked: bool = True
) -> None:
    """Each (chat, message) answered exactly once, counted once the stack is quiet (see
    tests.support.quiet): no later answer can come then. `marked`: workers answered them all,
    so each has its answer mark."""
    messages = list(messages)
    wait_until_quiet(
        stack.connection(),
        stack.standin,
        chats={chat_id for chat_id, _ in messages},
        marked=messages if marked else (),
    )
    for chat_id, message_id in messages:
        answers = [a.text for a in answers_to(stack, chat_id, message_id)]
        assert len(answers) == 1, (chat_id, message_id, answers)


def picked_digits(count: int, offset: int = 0) -> list[tuple[np.ndarray, int]]:
    return clear_digits(count, offset)


def test_several_users_at_once_each_photo_answered_once_with_right_digit(stack: Stack) -> None:
    digits = picked_digits(12)
    sent: list[tuple[int, int, int]] = []  # chat, message, label
    lock = threading.Lock()

    def user(user_index: int) -> None:
        chat_id = 2000 + user_index
        for k in range(3):
            image, label = digits[user_index * 3 + k]
            as_document = k == 1
            data = digit_photo(image, seed=user_index * 10 + k, document=as_document)
            if as_document:
                message_id = stack.standin.user_sends_document(
                    chat_id, data, file_name=f"digit{k}.png", mime_type="image/png"
                )
            else:
                message_id = stack.standin.user_sends_photo(chat_id, data)
            with lock:
                sent.append((chat_id, message_id, label))

    threads = [threading.Thread(target=user, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    latencies = []
    for chat_id, message_id, label in sent:
        text = wait_for_answer(stack, chat_id, message_id)
        assert text.startswith(f"{label} — "), f"expected {label}, got {text!r}"
        answer = answers_to(stack, chat_id, message_id)[0]
        latencies.append(answer.t - stack.standin.update_time(chat_id, message_id))
    assert_answered_once(stack, [(chat_id, message_id) for chat_id, message_id, _ in sent])
    assert all(t > 0 for t in latencies)  # each answer came after its photo
    print(
        f"\nphoto->answer latency over {len(latencies)} photos: "
        f"p50 {1000 * statistics.median(latencies):.0f} ms, max {1000 * max(latencies):.0f} ms"
    )


def test_answer_marks_name_the_bot_and_a_salted_hash_of_the_chat_never_its_id(
    stack: Stack,
) -> None:
    chat_id = 7_350_123_456  # a chat id no other key could contain by chance
    image, label = picked_digits(1, offset=20)[0]
    message_id = stack.standin.user_sends_photo(chat_id, digit_photo(image, seed=5))
    assert wait_for_answer(stack, chat_id, message_id).startswith(f"{label} — ")
    assert_answered_once(stack, [(chat_id, message_id)])
    connection = stack.connection()
    bot_id = int(stack.standin.token.partition(":")[0])  # what getMe told the bot
    mark_key = answer_mark_key(connection, bot_id, chat_id, message_id)
    assert f":{bot_id}:" in mark_key
    mark = connection.get(mark_key)
    assert mark is not None and mark.startswith(b"sent:")
    marks = [key.decode() for key in connection.scan_iter(match=f"{keys.PREFIX}:answered:*")]
    assert mark_key in marks
    assert not [key for key in marks if str(chat_id) in key], marks
    # The job that read it is this bot's: another bot's photo with the same ids is not a duplicate.
    job_id = keys.recognition_job_id(chat_id, message_id, bot_id=bot_id)
    assert connection.exists(f"rq:job:{job_id}")


def test_answers_carry_the_explain_button_and_it_sends_a_picture(stack: Stack) -> None:
    ((image, label),) = picked_digits(1, offset=40)
    chat_id = 3100
    message_id = stack.standin.user_sends_photo(chat_id, digit_photo(image, seed=3))
    wait_for_answer(stack, chat_id, message_id)
    answer = answers_to(stack, chat_id, message_id)[0]
    buttons = [b for row in answer.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["✅ right", "✏️ correct it", "🔍 How I read it"]
    button = buttons[-1]
    assert button["callback_data"].startswith("explain:")
    stack.standin.user_presses_button(chat_id, answer.message_id, button["callback_data"])
    photos = stack.standin.wait_for(
        lambda r: r.method == "sendPhoto" and r.chat_id == chat_id, timeout=ANSWER_TIMEOUT
    )
    assert photos[0].reply_to_message_id == answer.message_id
    assert photos[0].photo is not None and photos[0].photo[:8] == b"\x89PNG\r\n\x1a\n"
    assert photos[0].caption.startswith(f"{label} — ")


def test_text_sticker_and_bad_files_each_get_their_explanation(stack: Stack) -> None:
    chat_id = 3000
    standin = stack.standin
    cases = {
        standin.user_sends_text(chat_id, "what is this?"): texts.TEXT_INSTEAD_OF_PHOTO,
        standin.user_sends_sticker(chat_id): texts.STICKER,
        standin.user_sends_text(chat_id, "/help"): texts.HELP,
        standin.user_sends_document(
            chat_id, b"%PDF-1.4 not an image", file_name="x.jpg", mime_type="image/jpeg"
        ): NotAnImageError.user_message,
        standin.user_sends_document(
            chat_id, b"\x00" * 100, file_name="big.png", mime_type="image/png",
            declared_size=21 * 1024 * 1024,
        ): texts.TELEGRAM_FILE_TOO_LARGE,
        standin.user_sends_document(
            chat_id, corrupt_jpeg(), file_name="broken.jpg", mime_type="image/jpeg"
        ): CorruptImageError.user_message,
    }  # fmt: skip
    for message_id, expected in cases.items():
        assert wait_for_answer(stack, chat_id, message_id) == expected
    # The bot answers most of these itself: no answer mark to wait for, only a quiet stack.
    assert_answered_once(stack, [(chat_id, message_id) for message_id in cases], marked=False)


def waiting(connection) -> int:  # type: ignore[no-untyped-def]
    return connection.llen("rq:queue:recognition") + connection.llen(
        "rq:queue:recognition:intermediate"
    )


def test_redis_restart_loses_nothing_that_was_accepted(stack: Stack) -> None:
    """Photos queued before Redis stops are answered once it is back; one sent while it is down
    waits at Telegram, unconfirmed (the bot cannot record it: bot.update_journal), and is
    answered too, with its digit rather than "try again"."""
    chat_id = 4000
    digits = picked_digits(6, offset=20)
    connection = stack.connection()
    accepted: list[tuple[int, int]] = []

    stack.pause_workers()
    try:
        for image, label in digits[:4]:
            accepted.append((stack.standin.user_sends_photo(chat_id, digit_photo(image)), label))
        # Paused workers may already hold a job each in RQ's intermediate list.
        assert wait_until(lambda: waiting(connection) >= 4, timeout=30)

        stack.redis_server.stop()
        image, label = digits[4]
        accepted.append((stack.standin.user_sends_photo(chat_id, digit_photo(image)), label))
        stack.bot.wait_for_log("cannot record 1 fetched update(s)", timeout=ANSWER_TIMEOUT)
        assert stack.standin.pending_update_count == 1  # not confirmed to Telegram
        assert answers_to(stack, chat_id, accepted[-1][0]) == []

        stack.redis_server.start()
        image, label = digits[5]
        accepted.append((stack.standin.user_sends_photo(chat_id, digit_photo(image)), label))
        assert wait_until(lambda: waiting(connection) >= 6, timeout=30)
    finally:
        stack.resume_workers()

    for message_id, label in accepted:
        assert wait_for_answer(stack, chat_id, message_id).startswith(f"{label} — ")
    assert_answered_once(stack, [(chat_id, message_id) for message_id, _ in accepted])
    assert not [r for r in stack.standin.sent(chat_id=chat_id) if r.text == texts.QUEUE_DOWN]
