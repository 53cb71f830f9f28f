"""Batched recognition with a real in-process worker, real Redis and the shipped model: waiting
photos are read with one model call, every request is answered exactly once and in order per
chat, and one photo's trouble never costs the others their answers."""

from __future__ import annotations

import json

import pytest
import redis
from rq import Queue

from bot.intake import PhotoIntake
from digitbot import defaults, keys, stats
from digitbot.claims import ClaimBook
from digitbot.errors import CorruptImageError
from digitbot.payload import RecognitionRequest
from tests.support.photos import clear_arrays, corrupt_jpeg, digit_photo
from tests.support.telegram_standin import TelegramStandIn
from tests.worker.conftest import drain
from worker import batch, jobs
from worker.runtime import WorkerRuntime

BATCH_SIZE = 8


@pytest.fixture(autouse=True)
def batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known batch size, and a read budget no loaded test machine runs into."""
    monkeypatch.setenv("DIGITBOT_INFERENCE_BATCH", str(BATCH_SIZE))
    monkeypatch.setattr(defaults, "BATCH_READ_BUDGET_SECONDS", 60.0)


def send_photos(
    standin: TelegramStandIn, connection: redis.Redis, photos: list[tuple[int, bytes]]
) -> list[tuple[int, int]]:
    """Each (chat, photo bytes) sent by its user and enqueued by the bot; (chat, message) back."""
    intake = PhotoIntake(connection, max_queue_depth=1000)
    sent = []
    for chat_id, data in photos:
        standin.open_chat(chat_id)
        message_id = standin.user_sends_photo(chat_id, data)
        intake.submit(data, source="telegram-photo", chat_id=chat_id, message_id=message_id)
        sent.append((chat_id, message_id))
    return sent


def answers(standin: TelegramStandIn, chat_id: int, message_id: int) -> list[str]:
    return [
        r.body for r in standin.sent(chat_id=chat_id, method="sendMessage")
        if r.reply_to_message_id == message_id
    ]  # fmt: skip


def batch_sizes(connection: redis.Redis) -> dict[int, int]:
    """How many batches of each size the workers read (the shared `batches:<size>` counters)."""
    return {
        int(field.split(":")[1]): count
        for field, count in stats.read_counters(connection).items()
        if field.startswith("batches:")
    }


def test_waiting_photos_of_several_chats_are_read_in_batches_answered_once_in_order(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, y = clear_arrays()
    photos = [(100 + i % 3, digit_photo(x[i], seed=i)) for i in range(20)]
    sent = send_photos(standin, redis_conn, photos)
    labels = {chat_message: int(y[i]) for i, chat_message in enumerate(sent)}

    drain(redis_conn)

    for (chat_id, message_id), label in labels.items():
        texts = answers(standin, chat_id, message_id)
        assert len(texts) == 1, (chat_id, message_id, texts)
        assert texts[0].startswith(f"{label} — ")
    for chat_id in (100, 101, 102):
        replied = [r.reply_to_message_id or 0 for r in standin.sent(chat_id=chat_id)]
        assert replied == sorted(replied)
    assert batch_sizes(redis_conn) == {8: 2, 4: 1}
    assert redis_conn.llen(keys.WAITING_REQUESTS_KEY) == 0
    assert not redis_conn.keys(keys.claim_key("*"))


def test_a_bad_photo_in_a_batch_gets_its_error_and_the_others_their_digits(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, y = clear_arrays()
    photos = [(200, digit_photo(x[i], seed=i)) for i in range(5)]
    photos.insert(2, (200, corrupt_jpeg()))
    sent = send_photos(standin, redis_conn, photos)

    drain(redis_conn)

    texts = [answers(standin, chat_id, message_id) for chat_id, message_id in sent]
    assert texts[2] == [CorruptImageError.user_message]
    good = texts[:2] + texts[3:]
    for index, found in enumerate(good):
        assert len(found) == 1 and found[0].startswith(f"{int(y[index])} — ")
    assert batch_sizes(redis_conn) == {6: 1}


def test_an_unexpected_error_on_one_photo_costs_only_that_photo(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, y = clear_arrays()
    poisoned = digit_photo(x[3], seed=99)
    real_preprocess = batch.preprocess

    def preprocess(data: bytes):  # type: ignore[no-untyped-def]
        if data == poisoned:
            raise RuntimeError("preprocessing exploded")
        return real_preprocess(data)

    monkeypatch.setattr(batch, "preprocess", preprocess)
    monkeypatch.setattr(defaults, "RECOGNITION_RETRY_INTERVALS", (0, 0))
    photos = [(300, digit_photo(x[i], seed=i)) for i in range(4)]
    photos.insert(1, (300, poisoned))
    sent = send_photos(standin, redis_conn, photos)

    drain(redis_conn)

    texts = [answers(standin, chat_id, message_id) for chat_id, message_id in sent]
    assert texts[1] == [jobs.APOLOGY_TEXT]  # after the job's tries, once
    good = texts[:1] + texts[2:]
    for index, found in enumerate(good):
        assert len(found) == 1 and found[0].startswith(f"{int(y[index])} — ")
    assert not redis_conn.keys(keys.claim_key("*"))


def test_a_job_run_again_after_a_crash_answers_what_its_batch_still_owes(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, y = clear_arrays()
    sent = send_photos(standin, redis_conn, [(400, digit_photo(x[i], seed=i)) for i in range(4)])
    requests = [waiting_request(redis_conn, chat, message) for chat, message in sent]
    # The job of the first photo claimed three, answered the first, then its worker died.
    book = ClaimBook(redis_conn)
    first_job = keys.recognition_job_id(*sent[0])
    book.start(first_job, requests[0])
    book.take_next(first_job)
    book.take_next(first_job)
    redis_conn.set(keys.answer_key(*sent[0]), "sent:1")

    drain(redis_conn)  # the first job runs again, as the supervisor's requeue would make it

    assert answers(standin, *sent[0]) == []  # answered before the crash: not again
    for index, (chat_id, message_id) in enumerate(sent[1:], start=1):
        found = answers(standin, chat_id, message_id)
        assert len(found) == 1 and found[0].startswith(f"{int(y[index])} — ")
    assert [r.reply_to_message_id for r in standin.sent(chat_id=400)] == [m for _, m in sent[1:]]
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    second = queue.fetch_job(keys.recognition_job_id(*sent[1]))
    assert second is not None and second.return_value() == {"skipped": "already answered"}


def waiting_request(connection: redis.Redis, chat_id: int, message_id: int) -> RecognitionRequest:
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )
    job = queue.fetch_job(keys.recognition_job_id(chat_id, message_id))
    assert job is not None
    return RecognitionRequest.from_dict(job.args[0])


def test_batch_size_one_turns_batching_off(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGITBOT_INFERENCE_BATCH", "1")
    x, y = clear_arrays()
    sent = send_photos(standin, redis_conn, [(500, digit_photo(x[i], seed=i)) for i in range(4)])

    drain(redis_conn)

    for index, (chat_id, message_id) in enumerate(sent):
        found = answers(standin, chat_id, message_id)
        assert len(found) == 1 and found[0].startswith(f"{int(y[index])} — ")
    assert batch_sizes(redis_conn) == {1: 4}
    assert redis_conn.llen(keys.WAITING_REQUESTS_KEY) == 0


def test_the_read_budget_bounds_a_batch(
    runtime: WorkerRuntime,
    redis_conn: redis.Redis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(defaults, "BATCH_READ_BUDGET_SECONDS", 0.0)
    x, _ = clear_arrays()
    send_photos(standin, redis_conn, [(600, digit_photo(x[i], seed=i)) for i in range(3)])
    drain(redis_conn)
    assert batch_sizes(redis_conn) == {1: 3}


def test_web_and_telegram_requests_share_a_batch(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, y = clear_arrays()
    intake = PhotoIntake(redis_conn, max_queue_depth=10)
    web = intake.submit(digit_photo(x[5], seed=5), source="web-upload")
    (telegram,) = send_photos(standin, redis_conn, [(700, digit_photo(x[6], seed=6))])

    drain(redis_conn)

    raw = redis_conn.get(keys.web_result_key(web.request_id))
    assert raw is not None and json.loads(raw)["text"] == str(int(y[5]))
    found = answers(standin, *telegram)
    assert len(found) == 1 and found[0].startswith(f"{int(y[6])} — ")
    assert batch_sizes(redis_conn) == {2: 1}
