"""Retraining triggers are deduplicated: two triggers never train twice at once."""

import datetime as dt
import threading

import redis
from rq.job import Job

from digitbot import defaults, keys
from digitbot.cron import CronSchedule
from digitbot.retrain import TriggerOutcome, request_retraining, training_queue
from digitbot.scheduler import RetrainScheduler


def test_second_trigger_while_queued_is_refused(redis_conn: redis.Redis) -> None:
    first = request_retraining(redis_conn, requested_by="cli")
    second = request_retraining(redis_conn, requested_by="bot", chat_id=5)
    assert first.outcome is TriggerOutcome.QUEUED
    assert second.outcome is TriggerOutcome.ALREADY_RUNNING
    queue = training_queue(redis_conn)
    assert queue.count == 1
    job = queue.fetch_job(keys.RETRAIN_JOB_ID)
    assert job is not None and job.args[0]["requested_by"] == "cli"


def test_concurrent_triggers_enqueue_exactly_one(redis_conn: redis.Redis) -> None:
    outcomes: list[TriggerOutcome] = []
    lock = threading.Lock()

    def trigger(name: str) -> None:
        result = request_retraining(
            redis.Redis(connection_pool=redis_conn.connection_pool), requested_by=name
        )
        with lock:
            outcomes.append(result.outcome)

    threads = [threading.Thread(target=trigger, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(TriggerOutcome.QUEUED) == 1
    assert training_queue(redis_conn).count == 1


def test_finished_run_does_not_block_the_next_trigger(redis_conn: redis.Redis) -> None:
    request_retraining(redis_conn, requested_by="cli")
    job = Job.fetch(keys.RETRAIN_JOB_ID, connection=redis_conn, serializer=defaults.JOB_SERIALIZER)
    training_queue(redis_conn).remove(job)
    job.set_status("finished")
    again = request_retraining(redis_conn, requested_by="schedule")
    assert again.outcome is TriggerOutcome.QUEUED
    assert training_queue(redis_conn).count == 1


def test_scheduler_fires_when_due_and_after_enough_corrections(redis_conn: redis.Redis) -> None:
    scheduler = RetrainScheduler(redis_conn, CronSchedule.parse("0 3 * * *"), after_corrections=3)
    now = dt.datetime(2026, 11, 21, 2, 59)
    next_run = scheduler.tick(now, dt.datetime(2026, 11, 21, 3, 0))
    assert training_queue(redis_conn).count == 0
    next_run = scheduler.tick(dt.datetime(2026, 11, 21, 3, 0), next_run)
    assert next_run == dt.datetime(2026, 11, 22, 3, 0)
    assert training_queue(redis_conn).count == 1
    # Corrections arrive while a run is queued: no second run, and the count is kept.
    redis_conn.set(keys.NEW_CORRECTIONS_KEY, 5)
    scheduler.tick(dt.datetime(2026, 11, 21, 3, 1), next_run)
    assert training_queue(redis_conn).count == 1
    assert int(redis_conn.get(keys.NEW_CORRECTIONS_KEY) or 0) == 5
