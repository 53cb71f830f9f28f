"""Faults with real processes: Bot API errors, a worker killed mid-job, a bot restart.
Every accepted photo is answered, exactly once."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest
from rq import Worker
from rq.job import Job
from rq.registry import StartedJobRegistry

from digitbot import defaults, keys
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_pipeline import (
    ANSWER_TIMEOUT,
    answers_to,
    assert_answered_once,
    wait_for_answer,
)
from tests.support.photos import clear_arrays, digit_photo
from tests.support.processes import ManagedProcess, digitbot_command, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("faults")) as stack:
        yield stack


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


def test_worker_killed_in_the_middle_of_a_job_is_answered_once(fault_stack: Stack) -> None:
    stack = fault_stack
    connection = stack.connection()
    x, y = clear_arrays()
    chat = 8200
    # The job's answer waits at the stand-in until the test drops it: the job is surely in
    # the middle (read, classified, not answered) when its worker is killed.
    hold = stack.standin.hold_next("sendMessage", chat_id=chat)
    try:
        message_id = stack.standin.user_sends_photo(chat, digit_photo(x[60], seed=6))
        job_id = keys.recognition_job_id(chat, message_id)
        hold.wait_until_held(timeout=ANSWER_TIMEOUT)
        assert not answers_to(stack, chat, message_id)
        kill_the_worker_running(stack, job_id)
        hold.wait_until_abandoned(timeout=ANSWER_TIMEOUT)  # the worker is dead
    finally:
        hold.drop()  # the killed worker's send never reached Telegram
    assert hold.dropped == 1

    assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[60])} — ")
    assert f"requeued job {job_id}" in stack.workers.log()
    assert_answered_once(stack, [(chat, message_id)])
    job = Job.fetch(job_id, connection=connection, serializer=defaults.JOB_SERIALIZER)
    assert job.get_status() == "finished"


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
