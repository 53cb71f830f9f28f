"""Recognition jobs run by a real RQ SimpleWorker (burst) on a real Redis, replying to the
stand-in Bot API: right answer, exactly once, clear messages for bad input, apologies on failure.
Concurrent deliveries of one answer: tests/worker/test_delivery.py."""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Queue
from rq.registry import FailedJobRegistry

from digitbot import defaults, keys, texts
from digitbot.answer_marks import answer_mark_key
from digitbot.errors import CorruptImageError
from digitbot.intake import PhotoIntake
from digitbot.telegram_reply import TelegramReplier
from reading import pipeline
from tests.conftest import FAKE_TOKEN
from tests.support.photos import clear_arrays, corrupt_jpeg, digit_photo
from tests.support.telegram_standin import TelegramStandIn
from tests.worker.conftest import drain
from worker.runtime import WorkerRuntime


def test_photo_is_answered_with_its_digit_as_a_reply(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, y = clear_arrays()
    message_id = standin.user_sends_photo(9, digit_photo(x[7], seed=2))
    PhotoIntake(redis_conn, max_queue_depth=10).submit(
        digit_photo(x[7], seed=2), source="telegram-photo", chat_id=9, message_id=message_id
    )
    drain(redis_conn)
    sent = standin.sent(chat_id=9, method="sendMessage")
    assert len(sent) == 1
    assert sent[0].text.startswith(f"{int(y[7])} — ")
    assert sent[0].reply_to_message_id == message_id
    mark = redis_conn.get(answer_mark_key(redis_conn, 0, 9, message_id))
    assert mark is not None and mark.startswith(b"sent:")


def test_a_job_run_twice_answers_once(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, _ = clear_arrays()
    data = digit_photo(x[1])
    intake = PhotoIntake(redis_conn, max_queue_depth=10)
    submission = intake.submit(data, source="telegram-photo", chat_id=9, message_id=50)
    drain(redis_conn)
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    job = queue.fetch_job(submission.job_id)
    assert job is not None
    queue.enqueue_job(job)  # the same job delivered again (e.g. a requeue after a crash)
    drain(redis_conn)
    assert len(standin.sent(chat_id=9, method="sendMessage")) == 1
    assert job.return_value() == {"skipped": "already answered"}


def test_corrupt_photo_gets_its_explanation(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    PhotoIntake(redis_conn, max_queue_depth=10).submit(
        corrupt_jpeg(), source="telegram-document", chat_id=9, message_id=60
    )
    drain(redis_conn)
    sent = standin.sent(chat_id=9, method="sendMessage")
    assert [r.text for r in sent] == [CorruptImageError.user_message]


def test_expired_photo_is_not_silent(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    submission = PhotoIntake(redis_conn, max_queue_depth=10).submit(
        b"x", source="telegram-photo", chat_id=9, message_id=70
    )
    redis_conn.delete(keys.photo_key(submission.request_id))
    drain(redis_conn)
    assert [r.text for r in standin.sent(chat_id=9)] == [texts.LOST_PHOTO]


def test_failing_for_good_sends_one_apology_and_keeps_the_job_in_failed_registry(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(data: bytes) -> None:
        raise RuntimeError("preprocessing exploded")

    monkeypatch.setattr(pipeline, "preprocess", broken)
    monkeypatch.setattr(defaults, "RECOGNITION_RETRY_INTERVALS", (0, 0))
    x, _ = clear_arrays()
    submission = PhotoIntake(redis_conn, max_queue_depth=10).submit(
        digit_photo(x[0]), source="telegram-photo", chat_id=9, message_id=80
    )
    drain(redis_conn)
    assert [r.text for r in standin.sent(chat_id=9)] == [texts.JOB_FAILED]
    failed = FailedJobRegistry(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    assert submission.job_id in failed.get_job_ids()


def test_the_apology_waits_for_a_bot_api_that_is_down_like_an_answer(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The job fails for good while the Bot API is down: its apology goes to a delivery job,
    which sends it once the Bot API is back."""

    def broken(data: bytes) -> None:
        raise RuntimeError("preprocessing exploded")

    monkeypatch.setattr(pipeline, "preprocess", broken)
    monkeypatch.setattr(defaults, "RECOGNITION_RETRY_INTERVALS", (0, 0))
    runtime._replier = TelegramReplier(FAKE_TOKEN, standin.api_url, sleep=lambda _: None)
    standin.start_outage("sendMessage")
    x, _ = clear_arrays()
    submission = PhotoIntake(redis_conn, max_queue_depth=10).submit(
        digit_photo(x[0]), source="telegram-photo", chat_id=9, message_id=85
    )
    drain(redis_conn)
    assert standin.sent(chat_id=9) == []
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    apology = keys.delivery_job_id(submission.request_id)
    assert queue.scheduled_job_registry.get_job_ids() == [apology]

    standin.end_outage()
    queue.scheduled_job_registry.remove(apology)  # its time has come
    job = queue.fetch_job(apology)
    assert job is not None
    queue.enqueue_job(job)
    drain(redis_conn)
    assert [r.text for r in standin.sent(chat_id=9)] == [texts.JOB_FAILED]


def test_web_request_result_is_stored_with_model_inputs(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    import json

    x, y = clear_arrays()
    submission = PhotoIntake(redis_conn, max_queue_depth=10).submit(
        digit_photo(x[11]), source="web-upload"
    )
    drain(redis_conn)
    raw = redis_conn.get(keys.web_result_key(submission.request_id))
    assert raw is not None
    result = json.loads(raw)
    assert result["text"] == str(int(y[11]))
    assert result["answer"].startswith(f"{int(y[11])} — ")
    assert len(result["inputs"]) == 1 and len(result["inputs"][0]) == 28
    assert standin.sent() == []


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.one_of(st.binary(max_size=2048), st.just(b"\x89PNG\r\n\x1a\n" + bytes(64))))
def test_any_bytes_get_exactly_one_answer_and_never_a_crash(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn, data: bytes
) -> None:
    message_id = standin.user_sends_photo(9, b"\xff\xd8placeholder")
    PhotoIntake(redis_conn, max_queue_depth=10).submit(
        data, source="telegram-document", chat_id=9, message_id=message_id
    )
    drain(redis_conn)
    answers = [r for r in standin.sent(chat_id=9) if r.reply_to_message_id == message_id]
    assert len(answers) == 1
    assert answers[0].text and answers[0].text != texts.JOB_FAILED
    failed = FailedJobRegistry(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    assert failed.count == 0
