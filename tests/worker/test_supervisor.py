"""Rescuing jobs of dead workers and jobs stranded between dequeue and start (real Redis)."""

from __future__ import annotations

import redis
from rq import Queue, SimpleWorker
from rq.intermediate_queue import IntermediateQueue
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from worker.supervisor import requeue_job_of_dead_worker, rescue_stranded_jobs


def queue_of(connection: redis.Redis) -> Queue:
    return Queue("recognition", connection=connection, serializer=JSONSerializer)


def test_stranded_job_is_requeued_after_the_grace_period(redis_conn: redis.Redis) -> None:
    queue = queue_of(redis_conn)
    job = queue.enqueue("worker.jobs.recognize_photo", {"request_id": "x"})
    intermediate = IntermediateQueue.get_intermediate_queue_key(queue.key)
    redis_conn.lmove(queue.key, intermediate)  # a worker took it, then vanished
    seen: dict[str, float] = {}
    assert rescue_stranded_jobs(redis_conn, "recognition", seen, grace=5, now=100.0) == []
    assert rescue_stranded_jobs(redis_conn, "recognition", seen, grace=5, now=104.0) == []
    assert rescue_stranded_jobs(redis_conn, "recognition", seen, grace=5, now=105.5) == [job.id]
    assert queue.job_ids == [job.id]
    assert redis_conn.llen(intermediate) == 0
    assert seen == {}


def test_job_a_live_worker_runs_is_left_alone(redis_conn: redis.Redis) -> None:
    queue = queue_of(redis_conn)
    job = queue.enqueue("worker.jobs.recognize_photo", {"request_id": "y"})
    intermediate = IntermediateQueue.get_intermediate_queue_key(queue.key)
    redis_conn.lmove(queue.key, intermediate)
    worker = SimpleWorker([queue], connection=redis_conn, name="alive")
    worker.register_birth()
    worker.set_current_job_id(job.id)
    try:
        seen: dict[str, float] = {}
        rescue_stranded_jobs(redis_conn, "recognition", seen, grace=0, now=0.0)
        assert rescue_stranded_jobs(redis_conn, "recognition", seen, grace=0, now=50.0) == []
        assert redis_conn.llen(intermediate) == 1
    finally:
        worker.register_death()


def test_job_of_a_killed_worker_goes_back_to_the_front(redis_conn: redis.Redis) -> None:
    queue = queue_of(redis_conn)
    first = queue.enqueue("worker.jobs.recognize_photo", {"request_id": "a"})
    other = queue.enqueue("worker.jobs.recognize_photo", {"request_id": "b"})
    queue.remove(first)
    first.set_status(JobStatus.STARTED)
    worker = SimpleWorker([queue], connection=redis_conn, name="host.1.0.1")
    worker.register_birth()
    worker.set_current_job_id(first.id)
    assert requeue_job_of_dead_worker(redis_conn, "host.1.0.1") == first.id
    assert queue.job_ids == [first.id, other.id]
    assert first.get_status(refresh=True) == JobStatus.QUEUED
    assert requeue_job_of_dead_worker(redis_conn, "host.1.0.1") is None  # death registered
