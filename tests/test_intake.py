import json
import zlib

import redis
from rq import Queue

from digitbot import defaults, keys
from digitbot.intake import Outcome, PhotoIntake


def test_submit_stores_bytes_with_ttl_and_enqueues_json_job(redis_conn: redis.Redis) -> None:
    intake = PhotoIntake(redis_conn, max_queue_depth=10)
    submission = intake.submit(
        b"jpeg-bytes", source="telegram-photo", chat_id=5, message_id=9, user_id=987654321
    )
    assert submission.outcome is Outcome.ACCEPTED
    assert submission.job_id == keys.recognition_job_id(5, 9)
    photo_key = keys.photo_key(submission.request_id)
    assert redis_conn.get(photo_key) == b"jpeg-bytes"
    assert 0 < redis_conn.ttl(photo_key) <= defaults.PHOTO_TTL_SECONDS
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    job = queue.fetch_job(submission.job_id)
    assert job is not None and job.func_name == "worker.jobs.recognize_photo"
    payload = job.args[0]
    assert payload["chat_id"] == 5 and payload["message_id"] == 9
    assert payload["photo_key"] == photo_key
    # JSON only: the stored job data decodes as JSON, and the user id is not in it.
    raw = redis_conn.hget(job.key, "data")
    assert raw is not None
    decoded = json.loads(zlib.decompress(raw))  # RQ compresses job data; it is JSON inside
    assert decoded[0] == "worker.jobs.recognize_photo"
    assert "987654321" not in json.dumps(decoded)
    assert payload["user_hash"] and payload["user_hash"] != "987654321"
    assert job.retries_left == len(defaults.RECOGNITION_RETRY_INTERVALS)


def test_same_message_twice_is_enqueued_once(redis_conn: redis.Redis) -> None:
    intake = PhotoIntake(redis_conn, max_queue_depth=10)
    first = intake.submit(b"a", source="telegram-photo", chat_id=1, message_id=2)
    second = intake.submit(b"a", source="telegram-photo", chat_id=1, message_id=2)
    assert first.outcome is Outcome.ACCEPTED
    assert second.outcome is Outcome.DUPLICATE
    assert Queue(defaults.QUEUE_RECOGNITION, connection=redis_conn).count == 1
    assert redis_conn.get(keys.photo_key(second.request_id)) is None


def test_deep_queue_answers_busy_without_storing(redis_conn: redis.Redis) -> None:
    intake = PhotoIntake(redis_conn, max_queue_depth=2)
    for message_id in (1, 2):
        assert (
            intake.submit(b"x", source="telegram-photo", chat_id=1, message_id=message_id).outcome
            is Outcome.ACCEPTED
        )
    busy = intake.submit(b"x", source="telegram-photo", chat_id=1, message_id=3)
    assert busy.outcome is Outcome.BUSY
    assert len(redis_conn.keys(keys.photo_key("*"))) == 2


def test_user_hash_is_salted_and_stable(redis_conn: redis.Redis) -> None:
    intake = PhotoIntake(redis_conn, max_queue_depth=10)
    again = PhotoIntake(redis_conn, max_queue_depth=10)
    assert intake.user_hash(7) == again.user_hash(7)
    assert intake.user_hash(7) != intake.user_hash(8)
    import hashlib

    assert intake.user_hash(7) != hashlib.sha256(b"7").hexdigest()[:32]


def test_user_sending_too_fast_is_asked_to_slow_down_others_are_not(
    redis_conn: redis.Redis,
) -> None:
    intake = PhotoIntake(redis_conn, max_queue_depth=100, per_user_per_minute=3)
    outcomes = [
        intake.submit(b"x", source="telegram-photo", chat_id=1, message_id=i, user_id=1).outcome
        for i in range(5)
    ]
    assert outcomes == [Outcome.ACCEPTED] * 3 + [Outcome.RATE_LIMITED] * 2
    other = intake.submit(b"x", source="telegram-photo", chat_id=2, message_id=1, user_id=2)
    assert other.outcome is Outcome.ACCEPTED
    assert Queue(defaults.QUEUE_RECOGNITION, connection=redis_conn).count == 4
