"""Albums through the real bot and workers: photos sent together get one answer, a line and a
row of buttons per photo, in order; a photo sent alone is not held back.

The stack waits 600 s for more photos of an album, far longer than any test runs: the album here
is complete because the chat sends something else once its photos are stored (the bot's own
rule), so nothing depends on how fast the machine is. How long the bot waits without that is
tests/bot/test_albums.py's business.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from digitbot import keys, texts
from digitbot.feedback import FeedbackStore
from tests.conftest import FAKE_TOKEN
from tests.e2e.test_feedback_flow import buttons_of
from tests.e2e.test_pipeline import ANSWER_TIMEOUT, answers_to, wait_for_answer
from tests.support.photos import clear_arrays, digit_photo
from tests.support.processes import wait_until
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.slow

BOT_ID = int(FAKE_TOKEN.partition(":")[0])
NEVER = 600  # seconds of album wait: no album here completes by waiting


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    extra = {"DIGITBOT_ALBUM_WAIT_SECONDS": str(NEVER)}
    with running_stack(tmp_path_factory.mktemp("albums"), extra_env=extra) as running:
        yield running


def send_album(stack: Stack, chat: int, offsets: list[int]) -> tuple[list[int], list[str]]:
    """Send clear digits as one album and wait until the bot has stored all of them; the
    messages' ids and the digits, in order."""
    x, y = clear_arrays()
    photos = [digit_photo(x[i], seed=i) for i in offsets]
    message_ids = stack.standin.user_sends_album(chat, photos)
    group = stack.standin.message(chat, message_ids[0])["media_group_id"]  # type: ignore[index]
    album = keys.album_key(BOT_ID, group)
    assert wait_until(
        lambda: stack.connection().hlen(album) == len(photos), timeout=ANSWER_TIMEOUT
    ), stack.bot.log()[-3000:]
    return message_ids, [str(y[i]) for i in offsets]


def test_an_album_gets_one_answer_listing_each_photo_and_a_lone_photo_is_not_held(
    stack: Stack,
) -> None:
    chat = 8100
    album, digits = send_album(stack, chat, [11, 12, 13])
    # Stored, and waiting for more photos: nothing is answered yet.
    assert stack.standin.sent(chat_id=chat, method="sendMessage") == []

    x, y = clear_arrays()
    lone = stack.standin.user_sends_photo(chat, digit_photo(x[14], seed=3))
    # Answered though albums wait NEVER seconds: a photo sent alone does not wait.
    assert wait_for_answer(stack, chat, lone).startswith(f"{y[14]} — ")
    text = wait_for_answer(stack, chat, album[0])

    lines = text.split("\n")
    for number, digit in enumerate(digits, start=1):
        assert lines[number - 1].startswith(f"Photo {number}: {digit} — "), text
    assert all(answers_to(stack, chat, later) == [] for later in album[1:])
    [answer] = answers_to(stack, chat, album[0])
    rows = answer.reply_markup["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [
        [f"{n} ✅", f"{n} ✏️", f"{n} 🔍"] for n in (1, 2, 3)
    ]
    targets = [{b["callback_data"].split(":")[1] for b in row} for row in rows]
    assert all(len(t) == 1 for t in targets) and len(set.union(*targets)) == 3
    sent = stack.standin.sent(chat_id=chat, method="sendMessage")
    assert sorted(r.message_id for r in sent) == sorted(
        [answer.message_id, answers_to(stack, chat, lone)[0].message_id]
    )


def test_each_photo_of_an_album_is_confirmed_or_corrected_from_its_own_buttons(
    stack: Stack,
) -> None:
    chat = 8200
    album, digits = send_album(stack, chat, [21, 22])
    stack.standin.user_sends_text(chat, "thanks")  # the chat moves on: the album is complete
    wait_for_answer(stack, chat, album[0])
    [answer] = answers_to(stack, chat, album[0])
    store = FeedbackStore(stack.connection())

    # ✅ beside photo 1: recorded; the answer keeps photo 2's buttons.
    stack.standin.user_presses_button(
        chat, answer.message_id, buttons_of(answer.reply_markup)["1 ✅"]
    )
    assert wait_until(
        lambda: (
            "1 ✅" not in buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
        ),
        timeout=20,
    )
    left = buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"])
    assert set(left) == {"1 🔍", "2 ✅", "2 ✏️", "2 🔍"}
    [confirmed] = store.samples()
    assert (confirmed.label, confirmed.kind) == (digits[0], "confirmed")

    # ✏️ beside photo 2: its correction keyboard comes in a message of its own.
    stack.standin.user_presses_button(chat, answer.message_id, left["2 ✏️"])
    assert wait_until(lambda: answers_to(stack, chat, answer.message_id), timeout=20)
    [correcting] = answers_to(stack, chat, answer.message_id)
    assert correcting.text == texts.ALBUM_CORRECTING.format(number=2, digits=digits[1])
    wrong = str((int(digits[1]) + 1) % 10)
    stack.standin.user_presses_button(
        chat, correcting.message_id, buttons_of(correcting.reply_markup)[wrong]
    )
    assert wait_until(lambda: len(store.samples()) == 2, timeout=20)
    corrected = next(s for s in store.samples() if s.kind == "corrected")
    assert (corrected.label, corrected.predicted) == (wrong, digits[1])
    assert wait_until(
        lambda: (
            set(buttons_of(stack.standin.message(chat, answer.message_id)["reply_markup"]))
            == {"1 🔍", "2 🔍"}
        ),
        timeout=20,
    )

    # A number in reply to the album's answer cannot say which photo it means.
    asked = stack.standin.user_sends_text(chat, "38", reply_to=answer.message_id)
    assert wait_for_answer(stack, chat, asked) == texts.REPLY_TO_ALBUM
    assert len(store.samples()) == 2
