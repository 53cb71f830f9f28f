"""Waiting until the real stack is quiet, by its state: no recognition job queued, taken,
running, scheduled for a retry or deferred; no worker on a job; every answer mark of the chats
concerned says "sent" (and the messages a worker answers have one); every update taken by the
bot; no Bot API call being served (the bot's
long poll aside). Once the stack is quiet no further answer can come, so answers counted then
prove there is no duplicate; after a sleep, a late duplicate would still pass.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis
from rq import Queue, Worker
from rq.intermediate_queue import IntermediateQueue

from digitbot import defaults, keys
from tests.support.processes import wait_until
from tests.support.telegram_standin import TelegramStandIn
from worker.delivery import MARK_SENT

# A hang guard, never a speed limit: longer than the last retry interval of a failed job.
QUIET_TIMEOUT = 120.0


def still_busy(
    connection: redis.Redis,
    standin: TelegramStandIn,
    chats: Iterable[int] = (),
    marked: Iterable[tuple[int, int]] = (),
) -> list[str]:
    """What still goes on; empty once the stack is quiet. `marked`: (chat, message) pairs a
    worker answers, whose answer mark must say "sent"."""
    busy = []
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )
    if queue.count:
        busy.append(f"{queue.count} job(s) queued")
    taken = connection.llen(IntermediateQueue.get_intermediate_queue_key(queue.key))
    if taken:
        busy.append(f"{taken} job(s) taken from the queue, not started")
    for registry in (
        queue.started_job_registry,
        queue.scheduled_job_registry,
        queue.deferred_job_registry,
    ):
        count = registry.get_job_count(cleanup=False)
        if count:
            busy.append(f"{count} job(s) in {registry.key}")
    running = [
        f"{worker.name}: {job_id}"
        for worker in Worker.all(connection=connection)
        if (job_id := worker.get_current_job_id())
    ]
    if running:
        busy.append(f"workers on a job: {running}")
    for chat_id in chats:
        pattern = keys.answer_key(chat_id, 0).rpartition(":")[0] + ":*"
        for key in connection.scan_iter(match=pattern):
            mark = connection.get(key)
            if mark is not None and not says_sent(mark):
                busy.append(f"answer mark {key!r} is {mark!r}")
    for chat_id, message_id in marked:
        mark = connection.get(keys.answer_key(chat_id, message_id))
        if mark is None or not says_sent(mark):
            busy.append(f"message {message_id} in chat {chat_id}: answer mark {mark!r}")
    if standin.pending_update_count:
        busy.append(f"{standin.pending_update_count} update(s) not yet taken by the bot")
    if standin.requests_in_flight():
        busy.append(f"{standin.requests_in_flight()} Bot API call(s) being served")
    return busy


def says_sent(mark: bytes | str) -> bool:
    """True for an answer mark that records a sent answer (not one being sent)."""
    text = mark.decode() if isinstance(mark, bytes) else mark
    return text.startswith(f"{MARK_SENT}:")


def wait_until_quiet(
    connection: redis.Redis,
    standin: TelegramStandIn,
    chats: Iterable[int] = (),
    marked: Iterable[tuple[int, int]] = (),
    *,
    timeout: float = QUIET_TIMEOUT,
) -> None:
    """Block until `still_busy` finds nothing; AssertionError (saying what) after `timeout`."""
    chats, marked = list(chats), list(marked)
    report: list[str] = []

    def quiet() -> bool:
        report[:] = still_busy(connection, standin, chats, marked)
        return not report

    assert wait_until(quiet, timeout=timeout), f"the stack never became quiet: {report}"
