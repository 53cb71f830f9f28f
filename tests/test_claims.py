"""Claims on waiting recognition requests (real Redis): who answers which request, in order."""

from __future__ import annotations

import json

import redis
from rq import Queue
from rq.job import JobStatus

from bot.intake import PhotoIntake
from digitbot import claims, defaults, keys
from digitbot.claims import Claim, ClaimBook, HeldElsewhere
from digitbot.payload import RecognitionRequest


def submit(connection: redis.Redis, count: int, *, chat_id: int = 1) -> list[RecognitionRequest]:
    """Enqueue `count` photos the way the bot does; return their requests, oldest first."""
    intake = PhotoIntake(connection, max_queue_depth=1000)
    requests = []
    for message_id in range(1, count + 1):
        submission = intake.submit(
            b"photo", source="telegram-photo", chat_id=chat_id, message_id=message_id
        )
        requests.append(stored_request(connection, submission.request_id))
    return requests


def stored_request(connection: redis.Redis, request_id: str) -> RecognitionRequest:
    raw = connection.get(keys.request_payload_key(request_id))
    assert raw is not None
    return RecognitionRequest.from_dict(json.loads(raw))


def ids(requests: list[RecognitionRequest]) -> list[str]:
    return [r.request_id for r in requests]


def test_a_job_claims_its_own_request_then_takes_the_oldest_waiting_ones(
    redis_conn: redis.Redis,
) -> None:
    first, second, third = submit(redis_conn, 3)
    book = ClaimBook(redis_conn)
    claim = book.start("job-a", second)
    assert isinstance(claim, Claim) and ids(claim.requests) == [second.request_id]
    assert book.take_next("job-a") == first
    assert book.take_next("job-a") == third
    assert book.take_next("job-a") is None
    assert redis_conn.llen(keys.WAITING_REQUESTS_KEY) == 0
    recorded = redis_conn.lrange(keys.claim_key("job-a"), 0, -1)
    assert [r.decode() for r in recorded] == ids([second, first, third])


def test_a_request_claimed_by_another_job_is_held_and_taken_over_only_when_allowed(
    redis_conn: redis.Redis,
) -> None:
    first, second = submit(redis_conn, 2)
    book = ClaimBook(redis_conn)
    assert isinstance(book.start("job-a", first), Claim)
    assert book.take_next("job-a") == second
    assert book.start("job-b", second) == HeldElsewhere("job-a")
    assert book.start("job-b", second, take_over_from="job-other") == HeldElsewhere("job-a")
    taken = book.start("job-b", second, take_over_from="job-a")
    assert isinstance(taken, Claim) and ids(taken.requests) == [second.request_id]
    # The first job, run again, no longer owns what was taken over.
    resumed = book.start("job-a", first)
    assert isinstance(resumed, Claim) and resumed.resumed
    assert ids(resumed.requests) == [first.request_id]
    assert ids(book.owned_requests("job-a")) == [first.request_id]


def test_a_job_run_again_resumes_its_recorded_claim_in_order(redis_conn: redis.Redis) -> None:
    requests = submit(redis_conn, 4)
    book = ClaimBook(redis_conn)
    book.start("job-a", requests[0])
    book.take_next("job-a")
    book.take_next("job-a")
    again = book.start("job-a", requests[0])
    assert isinstance(again, Claim) and again.resumed
    assert ids(again.requests) == ids(requests[:3])
    assert redis_conn.lrange(keys.WAITING_REQUESTS_KEY, 0, -1) == [requests[3].request_id.encode()]


def test_stale_ids_are_dropped_and_never_claimed(redis_conn: redis.Redis) -> None:
    requests = submit(redis_conn, 3)
    book = ClaimBook(redis_conn)
    redis_conn.delete(keys.request_payload_key(requests[0].request_id))  # expired
    redis_conn.rpush(keys.WAITING_REQUESTS_KEY, requests[2].request_id)  # pushed twice
    book.start("job-a", requests[2])
    assert book.take_next("job-a") == requests[1]
    assert book.take_next("job-a") is None  # the second copy of requests[2] is stale
    assert redis_conn.llen(keys.WAITING_REQUESTS_KEY) == 0


def test_a_job_that_claimed_before_the_bot_offered_its_request_keeps_it(
    redis_conn: redis.Redis,
) -> None:
    (request,) = submit(redis_conn, 1)
    book = ClaimBook(redis_conn)
    redis_conn.delete(keys.WAITING_REQUESTS_KEY)
    book.start("job-a", request)  # the job ran before the bot pushed the id
    claims.push_waiting(redis_conn, request.request_id)
    assert book.take_next("job-b") is None


def test_release_forgets_the_claim_and_the_payloads(redis_conn: redis.Redis) -> None:
    first, second = submit(redis_conn, 2)
    book = ClaimBook(redis_conn)
    book.start("job-a", first)
    book.take_next("job-a")
    book.release("job-a")
    assert not book.has_claim("job-a")
    for request in (first, second):
        assert redis_conn.exists(keys.claim_owner_key(request.request_id)) == 0
        assert redis_conn.exists(keys.request_payload_key(request.request_id)) == 0
    assert redis_conn.exists(keys.photo_key(first.request_id)) == 1  # kept for "how I read it"


def test_will_run_follows_the_rq_job_status(redis_conn: redis.Redis) -> None:
    submit(redis_conn, 1, chat_id=7)
    job_id = keys.recognition_job_id(7, 1)
    book = ClaimBook(redis_conn)
    assert book.will_run(job_id)  # queued
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    job = queue.fetch_job(job_id)
    assert job is not None
    job.set_status(JobStatus.STARTED)
    assert book.will_run(job_id)
    job.set_status(JobStatus.FINISHED)
    assert not book.will_run(job_id)
    assert not book.will_run("no-such-job")
