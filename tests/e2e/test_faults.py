"""Faults with real processes: Bot API errors, a worker killed mid-job, a bot restart.
Every accepted photo is answered, exactly once."""

from __future__ import annotations

import io
import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from rq import Worker
from rq.job import Job

from digitbot import keys
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_pipeline import answers_to, wait_for_answer
from tests.support.photos import clear_arrays, digit_photo, ink_mask
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
    time.sleep(1.5)
    assert len(answers_to(stack, 8100, message_id)) == 1
    sends = [r for r in stack.standin.requests_log if r.method == "sendMessage"]
    assert len(sends) == 4  # 500, 500, 429, then 200: no tight loop, no extra tries
    gaps = [b.t - a.t for a, b in zip(sends, sends[1:], strict=False)]
    assert min(gaps) >= 0.4, gaps
    assert gaps[-1] >= 0.9  # waited retry_after after the 429


def big_slow_photo(digit: np.ndarray) -> bytes:
    """A 7000×6900 PNG (under the pixel limit) whose decoding takes a noticeable time."""
    page = Image.new("L", (7000, 6900), 225)
    stroke = Image.fromarray((ink_mask(digit, (2400, 2400)) * 255).astype(np.uint8))
    page.paste(40, (2300, 2200, 4700, 4600), stroke)
    out = io.BytesIO()
    page.save(out, "PNG", compress_level=1)
    return out.getvalue()


def test_worker_killed_in_the_middle_of_a_job_is_answered_once(fault_stack: Stack) -> None:
    stack = fault_stack
    connection = stack.connection()
    x, y = clear_arrays()
    chat = 8200
    message_id = stack.standin.user_sends_photo(chat, big_slow_photo(x[60]))
    job_id = keys.recognition_job_id(chat, message_id)

    def running_worker() -> Worker | None:
        for worker in Worker.all(connection=connection):
            if worker.get_current_job_id() == job_id:
                return worker
        return None

    assert wait_until(lambda: running_worker() is not None, timeout=30, interval=0.002)
    victim = running_worker()
    assert victim is not None and victim.pid
    assert not answers_to(stack, chat, message_id), "the job finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)

    assert wait_for_answer(stack, chat, message_id).startswith(f"{int(y[60])} — ")
    assert "requeued job" in stack.workers.log()
    time.sleep(1.5)
    assert len(answers_to(stack, chat, message_id)) == 1
    job = Job.fetch(job_id, connection=connection, serializer="rq.serializers.JSONSerializer")
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
    time.sleep(1.5)
    for message_id, _ in sent:
        assert len(answers_to(stack, chat, message_id)) == 1
