"""Faults with real processes, one worker: Bot API errors, photos piling up while the worker is
stopped, a worker killed mid-job, slow downloads, a bot restart, the bot killed between fetching a
photo and enqueueing it, a Bot API outage longer than the old retry budget. Every accepted photo
is answered, exactly once, and each chat's answers come in the order it sent its photos."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from rq import Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from digitbot import defaults, keys
from digitbot.errors import CorruptImageError
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_pipeline import (
    ANSWER_TIMEOUT,
    answers_to,
    assert_answered_once,
    wait_for_answer,
    waiting,
)
from tests.support.photos import clear_arrays, corrupt_jpeg, digit_photo
from tests.support.processes import ManagedProcess, digitbot_command, wait_until
from tests.support.quiet import wait_until_quiet

pytestmark = pytest.mark.slow


# Today's waits between the tries of a late answer, shortened: 30 tries a second apart.
SHORT_DELIVERY_WAITS = ",".join(["1"] * 30)
# The sendMessage calls the old code made for one photo before giving up for good: 4 tries of
# the job with 5 requests each, then an apology with 5; then silence.
OLD_BUDGET_CALLS = 4 * 5 + 5


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One worker process: it takes a chat's queued photos one at a time, in the order sent, and
    a killed worker's job has no other worker to go to until the supervisor starts a new one."""
    with running_stack(
        tmp_path_factory.mktemp("faults"),
        processes=1,
        extra_env={"DIGITBOT_DELIVERY_RETRY_SECONDS": SHORT_DELIVERY_WAITS},
    ) as stack:
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


def test_bot_api_errors_on_getfile_and_sendmessage_still_answer_once(fault_stack: Stack) -> None:
    stack = fault_stack
    x, y = clear_arrays()
    stack.standin.open_chat(8100)
    stack.standin.fail_next("getFile", status=429, retry_after=1)
    stack.standin.fail_next("download", status=502)
    stack.standin.fail_next("sendMessage", status=500, count=2)
    stack.standin.fail_next("sendMessage", status=429, retry_after=1)
    message_id = stack.standin.user_sends_photo(8100, digit_photo(x[50], seed=5))
    assert wait_for_answer(stack, 8100, message_id).startswith(f"{int(y[50])} — ")
    assert_answered_once(stack, [(8100, message_id)])
    sends = [r for r in stack.standin.requests_log if r.method == "sendMessage"]
    assert len(sends) == 4  # 500, 500, 429, then 200: no tight loop, no extra tries
    # Floors the worker's own waits set (0.5 s backoff, retry_after=1): load only adds to them.
    gaps = [b.t - a.t for a, b in zip(sends, sends[1:], strict=False)]
    assert min(gaps) >= 0.4, gaps
    assert gaps[-1] >= 0.9  # waited retry_after after the 429


def kill_the_worker_running(stack: Stack, job_id: str) -> None:
    """SIGKILL the worker process whose current job is `job_id`, which must be started."""
    connection = stack.connection()
    started = StartedJobRegistry(defaults.QUEUE_RECOGNITION, connection=connection)
    assert job_id in started.get_job_ids(cleanup=False), "the job is not running"
    (victim,) = [w for w in Worker.all(connection=connection) if w.get_current_job_id() == job_id]
    assert victim.pid
    os.kill(victim.pid, signal.SIGKILL)


def test_photos_queued_while_the_worker_was_stopped_are_answered_once_in_order(
    fault_stack: Stack,
) -> None:
    stack = fault_stack
    x, y = clear_arrays()
    chats = [9100 + i % 4 for i in range(24)]
    photos = [(chat, digit_photo(x[i], seed=i), False) for i, chat in enumerate(chats)]
    photos[10] = (chats[10], corrupt_jpeg(), True)  # a bad file among them
    messages = queue_while_stopped(stack, photos)
    stack.resume_workers()

    for index, (chat_id, message_id) in enumerate(zip(chats, messages, strict=True)):
        text = wait_for_answer(stack, chat_id, message_id)
        if index == 10:
            assert text == CorruptImageError.user_message
        else:
            assert text.startswith(f"{int(y[index])} — "), (index, text)
    assert_answered_once_in_order(stack, chats, messages)


def test_worker_killed_in_the_middle_of_a_job_loses_nothing(fault_stack: Stack) -> None:
    """The worker is killed while it sends the first answer of a chat's queue. That photo waits
    until the dead attempt's sending lease lapses (it may have reached Telegram; see
    worker.delivery), so it may come after the chat's later photos; those keep their order."""
    stack = fault_stack
    connection = stack.connection()
    x, y = clear_arrays()
    chat = 9200
    indices = [30, 60, *range(31, 39)]
    photos = [(chat, digit_photo(x[i], seed=i), False) for i in indices]
    messages = queue_while_stopped(stack, photos)
    order = queue_order(stack)
    bot_id = int(stack.standin.token.partition(":")[0])
    assert order == [keys.recognition_job_id(chat, m, bot_id=bot_id) for m in messages]
    first_job = order[0]
    # The first answer waits at the stand-in until the test drops it: the job has read and
    # classified its photo and holds the answer mark, and nothing is answered, when it is killed.
    hold = stack.standin.hold_next("sendMessage", chat_id=chat)
    stack.resume_workers()
    try:
        hold.wait_until_held(timeout=ANSWER_TIMEOUT)
        assert not any(answers_to(stack, chat, m) for m in messages), "answered before the kill"
        kill_the_worker_running(stack, first_job)
        hold.wait_until_abandoned(timeout=ANSWER_TIMEOUT)  # the worker is dead
    finally:
        hold.drop()  # the killed worker's send never reached Telegram
    assert hold.dropped == 1

    for index, message_id in zip(indices, messages, strict=True):
        assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[index])} — ")
    assert_answered_once_in_order(stack, [chat] * (len(messages) - 1), messages[1:])
    assert len(answers_to(stack, chat, messages[0])) == 1
    assert f"requeued job {first_job}" in stack.workers.log()
    job = Job.fetch(first_job, connection=connection, serializer=defaults.JOB_SERIALIZER)
    assert job.get_status() == "finished"


def distinct_digits(count: int) -> list[int]:
    """Indices into clear_arrays() of `count` digits, each a different one."""
    _, y = clear_arrays()
    first: dict[int, int] = {}
    for index, label in enumerate(y):
        first.setdefault(int(label), index)
    return sorted(first.values())[:count]


def test_a_chats_answers_come_in_the_order_sent_however_slow_its_downloads(
    fault_stack: Stack,
) -> None:
    stack = fault_stack
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


def test_bot_restart_with_photos_queued_loses_nothing(fault_stack: Stack) -> None:
    stack = fault_stack
    connection = stack.connection()
    x, y = clear_arrays()
    chat = 8300
    sent = []
    stack.pause_workers()
    try:
        for index in range(70, 73):
            sent.append(
                (stack.standin.user_sends_photo(chat, digit_photo(x[index])), int(y[index]))
            )
        assert wait_until(
            lambda: (
                connection.llen("rq:queue:recognition")
                + connection.llen("rq:queue:recognition:intermediate")
                >= 3
            ),
            timeout=30,
        )
        assert stack.bot.stop() == 0
        stack.bot = ManagedProcess(
            "bot-restarted", digitbot_command("bot"), stack.env, stack.log_dir
        ).start()
        stack.bot.wait_for_log("ready", timeout=60)
        index = 73
        sent.append((stack.standin.user_sends_photo(chat, digit_photo(x[index])), int(y[index])))
        assert wait_until(
            lambda: (
                connection.llen("rq:queue:recognition")
                + connection.llen("rq:queue:recognition:intermediate")
                >= 4
            ),
            timeout=30,
        )
    finally:
        stack.resume_workers()
    for message_id, label in sent:
        assert wait_for_answer(stack, chat, message_id).startswith(f"{label} — ")
    assert_answered_once(stack, [(chat, message_id) for message_id, _ in sent])


def test_bot_killed_between_fetching_a_photo_and_enqueueing_it_answers_it_once(
    fault_stack: Stack,
) -> None:
    """The bot has fetched the photo's update and confirmed it to Telegram (its next getUpdates
    went out), and is stopped in getFile, before the photo is enqueued, when it is SIGKILLed.
    Telegram will not deliver that update again: the restarted bot finds it in its journal."""
    stack = fault_stack
    x, y = clear_arrays()
    chat, index = 8400, 80
    held = stack.standin.hold_next("getFile")
    message_id = stack.standin.user_sends_photo(chat, digit_photo(x[index], seed=index))
    try:
        held.wait_until_held(timeout=ANSWER_TIMEOUT)
        assert wait_until(lambda: stack.standin.pending_update_count == 0, timeout=ANSWER_TIMEOUT)
        assert not waiting(stack.connection()), "enqueued before the kill"
        os.killpg(stack.bot.pid, signal.SIGKILL)
        held.wait_until_abandoned(timeout=ANSWER_TIMEOUT)  # the bot is dead
    finally:
        held.drop()  # the killed bot's getFile never reached Telegram
    assert stack.bot.process is not None and stack.bot.process.wait() == -signal.SIGKILL
    stack.bot = ManagedProcess(
        "bot-after-kill", digitbot_command("bot"), stack.env, stack.log_dir
    ).start()
    stack.bot.wait_for_log("ready", timeout=60)

    assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[index])} — ")
    assert_answered_once(stack, [(chat, message_id)])
    assert "handling 1 update(s) taken in before a restart" in stack.bot.log()


def refused_sends(stack: Stack) -> int:
    """How many sendMessage calls the stand-in answered with a 502 so far."""
    log = stack.standin.requests_log
    return sum(1 for r in log if r.method == "sendMessage" and r.status == 502)


def test_a_bot_api_outage_longer_than_the_old_budget_ends_with_one_answer_read_once(
    fault_stack: Stack,
) -> None:
    """sendMessage fails (502) from the photo's first answer on, until the stand-in has refused
    more calls than the old code made before it gave up for good (about 62 s of tries). Late
    answers wait 1 s a try here (DIGITBOT_DELIVERY_RETRY_SECONDS; the default schedule's shape:
    tests/worker/test_delivery.py). Once the Bot API is back, one answer comes, and the photo
    was read once."""
    stack = fault_stack
    x, y = clear_arrays()
    chat, index = 8500, 90
    refused_before = refused_sends(stack)
    stack.standin.start_outage("sendMessage")
    try:
        message_id = stack.standin.user_sends_photo(chat, digit_photo(x[index], seed=index))
        assert wait_until(
            lambda: refused_sends(stack) - refused_before > OLD_BUDGET_CALLS, timeout=180
        ), f"{refused_sends(stack) - refused_before} sends refused\n{stack.workers.log()[-3000:]}"
        assert answers_to(stack, chat, message_id) == []
    finally:
        stack.standin.end_outage()

    assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[index])} — ")
    assert_answered_once(stack, [(chat, message_id)])
    bot_id = int(stack.standin.token.partition(":")[0])
    job = Job.fetch(
        keys.recognition_job_id(chat, message_id, bot_id=bot_id),
        connection=stack.connection(),
        serializer=defaults.JOB_SERIALIZER,
    )
    request_id = job.args[0]["request_id"]
    assert stack.workers.log().count(f"request {request_id}: read ") == 1  # one reading
    assert f"request {request_id}: answer delivered late" in stack.workers.log()
