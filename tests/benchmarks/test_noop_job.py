"""The no-op job runs on a real RQ worker and Redis, enqueued by dotted path with JSON data."""

from __future__ import annotations

import redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from benchmarks.noop import NOOP_JOB, noop


def test_noop_returns_a_small_result() -> None:
    assert noop({"a": 1, "b": 2}) == {"ok": True, "size": 2}


def test_noop_job_runs_on_a_real_worker(redis_conn: redis.Redis) -> None:
    queue = Queue("bench-noop", connection=redis_conn, serializer=JSONSerializer)
    job = queue.enqueue(NOOP_JOB, {"request_id": "abc"})
    SimpleWorker([queue], connection=redis_conn, serializer=JSONSerializer).work(
        burst=True, logging_level="WARNING"
    )
    job.refresh()
    assert job.is_finished
    assert job.return_value() == {"ok": True, "size": 1}
