"""Batching with real processes: photos queued while the worker is stopped are read in batches
by one worker, each answered exactly once and in order per chat, also when the worker is killed
in the middle of a batch."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator

import pytest
from rq import Worker

from digitbot import keys
from digitbot.errors import CorruptImageError
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_faults import big_slow_photo
from tests.e2e.test_pipeline import answers_to, wait_for_answer, waiting
from tests.support.photos import clear_arrays, corrupt_jpeg, digit_photo
from tests.support.processes import wait_until

pytestmark = pytest.mark.slow

BATCH_LINE = re.compile(r"batch of (\d+) photo")


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("batching"), processes=1) as stack:
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
    """Job ids in the order the stopped worker will get them (the one it took comes first).

    The bot handles updates concurrently, so a chat's photos can reach the queue in another
    order than they were sent; what a worker must keep is the queue's order.
    """
    connection = stack.connection()
    queue_key = "rq:queue:recognition"
    taken = connection.lrange(f"{queue_key}:intermediate", 0, -1)
    return [job_id.decode() for job_id in taken + connection.lrange(queue_key, 0, -1)]


def assert_answered_once_in_order(
    stack: Stack, chats: list[int], messages: list[int], order: list[str]
) -> None:
    time.sleep(1.5)  # a second answer would arrive within this
    for chat_id, message_id in zip(chats, messages, strict=True):
        assert len(answers_to(stack, chat_id, message_id)) == 1, (chat_id, message_id)
    for chat_id in set(chats):
        ours = {m for c, m in zip(chats, messages, strict=True) if c == chat_id}
        replied = [
            r.reply_to_message_id for r in stack.standin.sent(chat_id=chat_id, method="sendMessage")
            if r.reply_to_message_id in ours
        ]  # fmt: skip
        queued = [m for m in replied_order(order, chat_id) if m in ours]
        assert replied == queued, f"chat {chat_id}: answered {replied}, queued {queued}"


def replied_order(order: list[str], chat_id: int) -> list[int]:
    """The chat's message ids in queue order (job ids are tg-<chat>-<message>)."""
    prefix = f"tg-{chat_id}-"
    return [int(job_id.removeprefix(prefix)) for job_id in order if job_id.startswith(prefix)]


def test_photos_queued_while_the_worker_was_stopped_are_read_in_batches(
    one_worker: Stack,
) -> None:
    stack = one_worker
    x, y = clear_arrays()
    chats = [9100 + i % 4 for i in range(24)]
    photos = [(chat, digit_photo(x[i], seed=i), False) for i, chat in enumerate(chats)]
    photos[10] = (chats[10], corrupt_jpeg(), True)  # a bad file in the middle of a batch
    messages = queue_while_stopped(stack, photos)
    order = queue_order(stack)
    stack.resume_workers()

    for index, (chat_id, message_id) in enumerate(zip(chats, messages, strict=True)):
        text = wait_for_answer(stack, chat_id, message_id)
        if index == 10:
            assert text == CorruptImageError.user_message
        else:
            assert text.startswith(f"{int(y[index])} — "), (index, text)
    assert_answered_once_in_order(stack, chats, messages, order)
    sizes = [int(n) for n in BATCH_LINE.findall(stack.workers.log())]
    assert sum(sizes) >= len(photos) and max(sizes) > 1, sizes


def test_worker_killed_in_the_middle_of_a_batch_loses_nothing(one_worker: Stack) -> None:
    stack = one_worker
    connection = stack.connection()
    x, y = clear_arrays()
    chat = 9200
    indices = [30, 60, *range(31, 39)]
    photos = [(chat, digit_photo(x[i], seed=i), False) for i in indices]
    photos[1] = (chat, big_slow_photo(x[60]), False)  # read slowly: the moment to kill
    # One at a time for the first two, so the slow photo is the second one in the queue.
    messages = [
        *queue_while_stopped(stack, photos[:1]),
        *queue_while_stopped(stack, photos[1:2]),
        *queue_while_stopped(stack, photos[2:]),
    ]
    order = queue_order(stack)
    first_job = order[0]
    assert order[1] == keys.recognition_job_id(chat, messages[1])
    stack.resume_workers()

    def claimed() -> int:
        return int(connection.llen(keys.claim_key(first_job)))

    assert wait_until(lambda: claimed() >= 2, timeout=30, interval=0.002)
    assert not any(answers_to(stack, chat, m) for m in messages), "answered before the kill"
    (victim,) = [
        w for w in Worker.all(connection=connection) if w.get_current_job_id() == first_job
    ]
    assert victim.pid
    os.kill(victim.pid, signal.SIGKILL)

    for index, message_id in zip(indices, messages, strict=True):
        assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[index])} — ")
    assert_answered_once_in_order(stack, [chat] * len(messages), messages, order)
    log = stack.workers.log()
    assert f"requeued job {first_job}" in log
    assert "(resumed claim)" in log
