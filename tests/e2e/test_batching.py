"""Batching with real processes: photos queued while the worker is stopped are read in batches
by one worker, each answered exactly once and in the order each chat sent them, also when the
worker is killed in the middle of a batch or a chat's first photos are the slowest to download."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from digitbot import keys
from digitbot.errors import CorruptImageError
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_faults import kill_the_worker_running
from tests.e2e.test_pipeline import ANSWER_TIMEOUT, answers_to, wait_for_answer, waiting
from tests.support.photos import clear_arrays, corrupt_jpeg, digit_photo
from tests.support.processes import wait_until
from tests.support.quiet import wait_until_quiet

pytestmark = pytest.mark.slow

BATCH_LINE = re.compile(r"batch of (\d+) photo")
# The stack's batch read budget: no loaded machine runs into it, so a batch takes every photo
# waiting, up to the batch size, however slowly each is read (tests/worker/test_batching.py
# does the same in process).
LONG_READ_BUDGET_SECONDS = 60.0


def long_read_budget_env(base: Path) -> dict[str, str]:
    """Environment whose Python processes start with digitbot.defaults.BATCH_READ_BUDGET_SECONDS
    set to LONG_READ_BUDGET_SECONDS (a sitecustomize module on PYTHONPATH)."""
    hooks = base / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(
        "import digitbot.defaults\n"
        f"digitbot.defaults.BATCH_READ_BUDGET_SECONDS = {LONG_READ_BUDGET_SECONDS!r}\n"
    )
    paths = [str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("batching")
    with running_stack(base, processes=1, extra_env=long_read_budget_env(base)) as stack:
        yield stack


def queue_while_stopped(stack: Stack, photos: list[tuple[int, bytes, bool]]) -> list[int]:
    """Send (chat, bytes, as_document) while the worker is stopped; wait until all are queued.
    Returns the message ids; the worker stays stopped."""
    connection = stack.connection()
    already = waiting(connection)
    stack.pause_workers()
    try:
        sent = []
        for chat_id, data, as_document in photos:
            if as_document:
                sent.append(
                    stack.standin.user_sends_document(
                        chat_id, data, file_name="photo.jpg", mime_type="image/jpeg"
                    )
                )
            else:
                sent.append(stack.standin.user_sends_photo(chat_id, data))
        assert wait_until(lambda: waiting(connection) >= already + len(photos), timeout=60)
    except BaseException:
        stack.resume_workers()
        raise
    return sent


def queue_order(stack: Stack) -> list[str]:
    """Job ids in the order the stopped worker will get them (the one it took comes first)."""
    connection = stack.connection()
    queue_key = "rq:queue:recognition"
    taken = connection.lrange(f"{queue_key}:intermediate", 0, -1)
    return [job_id.decode() for job_id in taken + connection.lrange(queue_key, 0, -1)]


def assert_answered_once_in_order(stack: Stack, chats: list[int], messages: list[int]) -> None:
    """Each message answered once, and each chat's answers in the order its messages were sent
    (`messages` is in send order). Counted once the stack is quiet (tests.support.quiet): no
    later answer can come then."""
    wait_until_quiet(
        stack.connection(),
        stack.standin,
        chats=set(chats),
        marked=zip(chats, messages, strict=True),
    )
    for chat_id, message_id in zip(chats, messages, strict=True):
        assert len(answers_to(stack, chat_id, message_id)) == 1, (chat_id, message_id)
    for chat_id in set(chats):
        sent = [m for c, m in zip(chats, messages, strict=True) if c == chat_id]
        replied = [
            r.reply_to_message_id for r in stack.standin.sent(chat_id=chat_id, method="sendMessage")
            if r.reply_to_message_id in sent
        ]  # fmt: skip
        assert replied == sent, f"chat {chat_id}: answered {replied}, sent {sent}"


def test_photos_queued_while_the_worker_was_stopped_are_read_in_batches(
    one_worker: Stack,
) -> None:
    stack = one_worker
    x, y = clear_arrays()
    chats = [9100 + i % 4 for i in range(24)]
    photos = [(chat, digit_photo(x[i], seed=i), False) for i, chat in enumerate(chats)]
    photos[10] = (chats[10], corrupt_jpeg(), True)  # a bad file in the middle of a batch
    messages = queue_while_stopped(stack, photos)
    stack.resume_workers()

    for index, (chat_id, message_id) in enumerate(zip(chats, messages, strict=True)):
        text = wait_for_answer(stack, chat_id, message_id)
        if index == 10:
            assert text == CorruptImageError.user_message
        else:
            assert text.startswith(f"{int(y[index])} — "), (index, text)
    assert_answered_once_in_order(stack, chats, messages)
    sizes = [int(n) for n in BATCH_LINE.findall(stack.workers.log())]
    assert sum(sizes) >= len(photos) and max(sizes) > 1, sizes


def test_worker_killed_in_the_middle_of_a_batch_loses_nothing(one_worker: Stack) -> None:
    stack = one_worker
    connection = stack.connection()
    x, y = clear_arrays()
    chat = 9200
    indices = [30, 60, *range(31, 39)]
    photos = [(chat, digit_photo(x[i], seed=i), False) for i in indices]
    messages = queue_while_stopped(stack, photos)
    # A chat's photos are queued in the order sent.
    order = queue_order(stack)
    assert order == [keys.recognition_job_id(chat, m) for m in messages]
    first_job = order[0]
    # The batch's first answer waits at the stand-in until the test drops it: the worker has
    # claimed and read the whole batch, and answered none of it, when it is killed.
    hold = stack.standin.hold_next("sendMessage", chat_id=chat)
    stack.resume_workers()
    try:
        hold.wait_until_held(timeout=ANSWER_TIMEOUT)
        claimed = connection.lrange(keys.claim_key(first_job), 0, -1)
        assert len(claimed) == len(messages), claimed  # the batch holds every photo waiting
        assert not any(answers_to(stack, chat, m) for m in messages), "answered before the kill"
        kill_the_worker_running(stack, first_job)
        hold.wait_until_abandoned(timeout=ANSWER_TIMEOUT)  # the worker is dead
    finally:
        hold.drop()  # the killed worker's send never reached Telegram
    assert hold.dropped == 1

    for index, message_id in zip(indices, messages, strict=True):
        assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[index])} — ")
    assert_answered_once_in_order(stack, [chat] * len(messages), messages)
    log = stack.workers.log()
    assert f"requeued job {first_job}" in log
    assert "(resumed claim)" in log


def distinct_digits(count: int) -> list[int]:
    """Indices into clear_arrays() of `count` digits, each a different one."""
    _, y = clear_arrays()
    first: dict[int, int] = {}
    for index, label in enumerate(y):
        first.setdefault(int(label), index)
    return sorted(first.values())[:count]


def test_a_chats_answers_come_in_the_order_sent_however_slow_its_downloads(
    one_worker: Stack,
) -> None:
    stack = one_worker
    x, y = clear_arrays()
    slow_chat, quick_chat = 9300, 9301
    indices = distinct_digits(8)
    # The slow chat's first photo cannot be fetched until the test says so (its getFile is
    # held); the photos after it take less and less time to fetch. Fetched at once, the last
    # would be queued first.
    held_fetch = stack.standin.hold_next("getFile")
    slow = [stack.standin.user_sends_photo(slow_chat, digit_photo(x[indices[0]], seed=indices[0]))]
    held_fetch.wait_until_held()
    slow += [
        stack.standin.user_sends_photo(
            slow_chat, digit_photo(x[i], seed=i), download_delay=0.05 * (len(indices) - k)
        )
        for k, i in enumerate(indices[1:], start=1)
    ]
    quick_indices = [indices[0], indices[1]]
    quick = [
        stack.standin.user_sends_photo(quick_chat, digit_photo(x[i], seed=100 + i))
        for i in quick_indices
    ]

    # The other chat does not wait for the slow chat's fetch: its answers come while it is held,
    # and the slow chat's later photos, fetched by now, wait for their turn behind the first.
    for index, message_id in zip(quick_indices, quick, strict=True):
        assert wait_for_answer(stack, quick_chat, message_id).startswith(f"{int(y[index])} — ")
    assert held_fetch.held == 1
    assert not any(answers_to(stack, slow_chat, m) for m in slow), "answered out of turn"
    held_fetch.release()
    for index, message_id in zip(indices, slow, strict=True):
        assert wait_for_answer(stack, slow_chat, message_id).startswith(f"{int(y[index])} — ")
    assert_answered_once_in_order(
        stack, [slow_chat] * len(slow) + [quick_chat] * len(quick), slow + quick
    )
