"""One answer per photo when deliveries of it overlap (worker.delivery): runs of one job at once,
a dead attempt's lease, a slow send, a send Telegram refused; and an answer the Bot API could not
take for over an hour, sent late (worker.redelivery). Real Redis, a real in-process worker where
RQ's handling matters, the stand-in Bot API."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from rq import Queue, Retry
from rq.job import Job

from digitbot import defaults, keys
from digitbot.answer_marks import answer_mark_key
from digitbot.intake import PhotoIntake
from digitbot.settings import Settings
from digitbot.telegram_reply import TelegramReplier
from reading import pipeline
from tests.conftest import FAKE_TOKEN
from tests.support.photos import clear_arrays, digit_photo
from tests.support.telegram_standin import TelegramStandIn
from tests.worker.conftest import drain
from worker import delivery, jobs
from worker.runtime import WorkerRuntime

# Waits give up after this long: a hang guard, never a speed limit.
HANG_GUARD = 60.0


def recognition_queue(connection: redis.Redis) -> Queue:
    return Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )


def send_photo(standin: TelegramStandIn, connection: redis.Redis, index: int) -> tuple[Job, int]:
    """Chat 9's user sends MNIST test digit `index`; the bot enqueues it. Its job, its message."""
    x, _ = clear_arrays()
    data = digit_photo(x[index], seed=index)
    message_id = standin.user_sends_photo(9, data)
    submission = PhotoIntake(connection, max_queue_depth=10).submit(
        data, source="telegram-photo", chat_id=9, message_id=message_id
    )
    job = recognition_queue(connection).fetch_job(submission.job_id)
    assert job is not None
    return job, message_id


def answers_to(standin: TelegramStandIn, chat_id: int, message_id: int) -> list[Any]:
    return [
        r for r in standin.sent(chat_id=chat_id, method="sendMessage")
        if r.reply_to_message_id == message_id
    ]  # fmt: skip


def in_thread(name: str, call: Callable[[], Any], results: dict[str, Any]) -> threading.Thread:
    """Start `call` in a thread named `name`; its return value or exception lands in results."""

    def run() -> None:
        try:
            results[name] = call()
        except BaseException as exc:  # reported by the test's asserts
            results[name] = exc

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_a_second_run_while_the_first_is_sending_sends_nothing_and_looks_again_later(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two runs of one job at once, as when a job is rescued while its first run was only slow:
    the first holds the answer mark and is stopped inside sendMessage; the second finds the mark
    taken, sends nothing and returns an RQ Retry for when the first one's lease would lapse."""
    _, y = clear_arrays()
    job, message_id = send_photo(standin, redis_conn, 3)
    monkeypatch.setattr(jobs, "_current_job", lambda: job)  # both runs are this job
    hold = standin.hold_next("sendMessage", chat_id=9)
    results: dict[str, Any] = {}
    first = in_thread("first", lambda: jobs.recognize_photo(job.args[0]), results)
    try:
        hold.wait_until_held(timeout=HANG_GUARD)
        results["second"] = jobs.recognize_photo(job.args[0])
        assert hold.caught == 1 and answers_to(standin, 9, message_id) == []
    finally:
        hold.release()
        first.join(HANG_GUARD)
    assert not first.is_alive()
    second = results["second"]
    assert isinstance(second, Retry), results
    assert 1 <= second.intervals[0] <= defaults.ANSWER_SENDING_TTL_SECONDS + 1
    assert isinstance(results["first"], dict) and "answer" in results["first"], results
    # The retry finds the answer sent.
    assert jobs.recognize_photo(job.args[0]) == {"skipped": "already answered"}
    answers = answers_to(standin, 9, message_id)
    assert len(answers) == 1 and answers[0].text.startswith(f"{int(y[3])} — ")
    assert hold.caught == 1


def test_a_run_that_read_the_photo_while_another_answered_sends_nothing(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first run is past every early check and reading the photo when the second one
    answers; when it goes on, the mark says sent and it sends nothing."""
    job, message_id = send_photo(standin, redis_conn, 5)
    monkeypatch.setattr(jobs, "_current_job", lambda: job)
    reading = threading.Event()
    may_go_on = threading.Event()
    real_preprocess = pipeline.preprocess

    def gated_preprocess(photo: bytes) -> Any:
        if threading.current_thread().name == "first":
            reading.set()
            assert may_go_on.wait(HANG_GUARD), "the test never let the first run go on"
        return real_preprocess(photo)

    monkeypatch.setattr(pipeline, "preprocess", gated_preprocess)
    results: dict[str, Any] = {}
    first = in_thread("first", lambda: jobs.recognize_photo(job.args[0]), results)
    try:
        assert reading.wait(HANG_GUARD), "the first run never read the photo"
        results["second"] = jobs.recognize_photo(job.args[0])
    finally:
        may_go_on.set()
        first.join(HANG_GUARD)
    assert not first.is_alive()
    assert len(answers_to(standin, 9, message_id)) == 1
    assert isinstance(results["second"], dict) and "answer" in results["second"], results
    assert results["first"] == {"skipped": "already answered"}, results


def test_a_dead_attempts_lease_holds_the_answer_back_until_it_lapses(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    """An attempt that took the lease and died mid-send leaves `sending:` in the mark. The job
    sends nothing while the lease lasts (the dead attempt may have reached Telegram) and is
    scheduled to look again; once the lease lapsed, that retry sends."""
    _, y = clear_arrays()
    job, message_id = send_photo(standin, redis_conn, 4)
    mark = answer_mark_key(redis_conn, 0, 9, message_id)
    # A lease long enough that it cannot lapse while the test runs, however slow the machine;
    # the test itself says when it has lapsed (below).
    redis_conn.set(mark, "sending:dead-attempt", ex=3600)
    queue = recognition_queue(redis_conn)

    drain(redis_conn)

    assert answers_to(standin, 9, message_id) == []
    assert job.get_status(refresh=True) == "scheduled"
    assert job.id in queue.scheduled_job_registry.get_job_ids()
    assert redis_conn.get(mark) == b"sending:dead-attempt"

    redis_conn.delete(mark)  # the lease lapsed
    queue.scheduled_job_registry.remove(job)  # its time has come: run it now
    scheduled = queue.fetch_job(job.id)
    assert scheduled is not None
    queue.enqueue_job(scheduled)
    drain(redis_conn)

    answers = answers_to(standin, 9, message_id)
    assert len(answers) == 1 and answers[0].text.startswith(f"{int(y[4])} — ")
    assert job.get_status(refresh=True) == "finished"
    assert delivery.says_sent(redis_conn.get(mark) or b"")


def test_a_slow_send_keeps_its_lease_past_the_lease_time(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A send held at the stand-in for longer than the lease: the lease is renewed meanwhile,
    so a second run still finds it taken and sends nothing."""
    # Short enough to outlast in a few seconds, long enough that a loaded machine still renews
    # within it (renewals come a third of the lease apart).
    monkeypatch.setattr(defaults, "ANSWER_SENDING_TTL_SECONDS", 6)
    renewals: list[bool] = []
    renewed = threading.Condition()
    real_renew = delivery.SendingLease.renew

    def counted_renew(self: delivery.SendingLease) -> bool:
        still_ours = real_renew(self)
        with renewed:
            renewals.append(still_ours)
            renewed.notify_all()
        return still_ours

    monkeypatch.setattr(delivery.SendingLease, "renew", counted_renew)
    job, message_id = send_photo(standin, redis_conn, 6)
    monkeypatch.setattr(jobs, "_current_job", lambda: job)
    hold = standin.hold_next("sendMessage", chat_id=9)
    results: dict[str, Any] = {}
    first = in_thread("first", lambda: jobs.recognize_photo(job.args[0]), results)
    try:
        hold.wait_until_held(timeout=HANG_GUARD)
        # Four renewals, a third of the lease apart, outlast the lease itself.
        with renewed:
            renewed.wait_for(lambda: len(renewals) >= 4 or not all(renewals), HANG_GUARD)
        assert len(renewals) >= 4 and all(renewals), renewals
        results["second"] = jobs.recognize_photo(job.args[0])
    finally:
        hold.release()
        first.join(HANG_GUARD)
    assert isinstance(results["second"], Retry), results
    assert len(answers_to(standin, 9, message_id)) == 1
    assert hold.caught == 1


def test_a_refused_send_gives_the_lease_up_so_the_next_try_sends(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Telegram refused the message (nothing reached the chat): the job's next try, at once,
    must not wait for a lease nobody holds."""
    monkeypatch.setattr(defaults, "RECOGNITION_RETRY_INTERVALS", (0, 0))
    _, y = clear_arrays()
    standin.fail_next("sendMessage", status=400)
    job, message_id = send_photo(standin, redis_conn, 8)

    drain(redis_conn)

    answers = answers_to(standin, 9, message_id)
    assert len(answers) == 1 and answers[0].text.startswith(f"{int(y[8])} — ")
    assert job.get_status(refresh=True) == "finished"


def test_the_default_redelivery_schedule_grows_and_covers_more_than_an_hour() -> None:
    waits = Settings().delivery_retry_seconds
    assert waits == defaults.DELIVERY_RETRY_SECONDS
    assert waits[0] <= 10  # a short blip costs seconds, not minutes
    assert all(a <= b for a, b in zip(waits, waits[1:], strict=False))
    assert waits[-1] > 10 * waits[0]
    assert sum(waits) >= 3600
    shortened = Settings.from_env({"DIGITBOT_DELIVERY_RETRY_SECONDS": "1, 2,4"})
    assert shortened.delivery_retry_seconds == (1, 2, 4)


def run_the_due_retry(connection: redis.Redis, since: datetime) -> float:
    """Enqueue the one scheduled job now, as RQ's scheduler does once its time has come, so the
    test waits for nothing; returns the seconds it was scheduled to wait after `since`."""
    queue = recognition_queue(connection)
    registry = queue.scheduled_job_registry
    (job_id,) = registry.get_job_ids()
    job = queue.fetch_job(job_id)
    assert job is not None
    wait = (registry.get_scheduled_time(job) - since).total_seconds()
    registry.remove(job)
    queue.enqueue_job(job)
    return wait


def ended(job: Job) -> datetime:
    """When the job's last try ended (its retry was scheduled from then), in UTC."""
    job.refresh()
    assert job.ended_at is not None
    moment = job.ended_at
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_an_answer_the_bot_api_cannot_take_for_over_an_hour_is_sent_once_without_reading_again(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every sendMessage fails (502) from the photo's first answer on. The job reads the photo
    once and hands its answer to a delivery job; RQ schedules its tries after the growing waits
    of the default schedule (each try run here at once, when it is due). After more than an
    hour of waits, with 502s all along, the Bot API is back and the next try sends one answer."""
    _, y = clear_arrays()
    runtime._replier = TelegramReplier(FAKE_TOKEN, standin.api_url, sleep=lambda _: None)
    readings: list[bytes] = []
    real_read_photo = jobs.read_photo

    def counted_read_photo(photo: bytes, model: Any) -> Any:
        readings.append(photo)
        return real_read_photo(photo, model)

    monkeypatch.setattr(jobs, "read_photo", counted_read_photo)
    standin.start_outage("sendMessage")
    job, message_id = send_photo(standin, redis_conn, 2)

    drain(redis_conn)  # the recognition job: read, refused 5 times, handed over
    result = job.return_value(refresh=True)
    request_id = job.args[0]["request_id"]
    assert result is not None and result["delivery"] == keys.delivery_job_id(request_id)
    refused = standin.calls("sendMessage")
    assert refused == defaults.TELEGRAM_MAX_ATTEMPTS
    waited: list[float] = []
    while sum(waited) < 3600:
        waited.append(run_the_due_retry(redis_conn, since=ended(job)))
        job = recognition_queue(redis_conn).fetch_job(keys.delivery_job_id(request_id))
        assert job is not None
        drain(redis_conn)
        assert standin.calls("sendMessage") == refused + len(waited)  # one request a try
    assert answers_to(standin, 9, message_id) == []
    expected = defaults.DELIVERY_RETRY_SECONDS[: len(waited)]
    # The first wait counts from when the job scheduled it, a moment before it ended.
    assert all(e - 3 <= w <= e + 1 for w, e in zip(waited, expected, strict=True)), waited

    standin.end_outage()
    run_the_due_retry(redis_conn, since=ended(job))
    drain(redis_conn)
    answers = answers_to(standin, 9, message_id)
    assert len(answers) == 1 and answers[0].text.startswith(f"{int(y[2])} — ")
    assert answers[0].reply_markup is not None  # the buttons came along
    assert len(readings) == 1
    assert delivery.says_sent(redis_conn.get(answer_mark_key(redis_conn, 0, 9, message_id)) or b"")
    assert recognition_queue(redis_conn).scheduled_job_registry.get_job_ids() == []
    drain(redis_conn)
    assert len(answers_to(standin, 9, message_id)) == 1
