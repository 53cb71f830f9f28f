"""A snapshot of the whole system for operators: models, queues, workers, failures, training.

Plain data (JSON-ready dicts) read from Redis only, so /status, /api/status and /metrics all
show the same numbers. No TensorFlow, no Telegram.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.worker import Worker

from digitbot import defaults, keys
from digitbot.registry import ModelInfo, ModelRegistry
from digitbot.stats import as_text

QUEUE_NAMES = (defaults.QUEUE_RECOGNITION, defaults.QUEUE_TRAINING)
NUM_FAILED_JOBS = 10
NUM_HISTORY_EVENTS = 20
EXCEPTION_SUMMARY_CHARS = 200
worker_info_key = keys.worker_info_key  # workers publish their device (CPU/GPU) there


def collect_status(connection: redis.Redis) -> dict[str, Any]:
    """Everything the status page shows, as JSON-ready data."""
    registry = ModelRegistry(connection)
    history = registry.history(NUM_HISTORY_EVENTS)
    champion = registry.champion_version()
    return {
        "generated_at": time.time(),
        "champion": champion,
        "models": [describe_model(info, champion, history) for info in registry.versions()],
        "history": history,
        "queues": queue_depths(connection),
        "workers": describe_workers(connection),
        "failed_jobs": recent_failed_jobs(connection),
        "last_training": last_training(connection),
        "training_triggers": training_triggers(connection),
    }


def describe_model(
    info: ModelInfo, champion: str | None, history: list[dict[str, Any]]
) -> dict[str, Any]:
    """One registry version: what it is, how good, and when and why it was promoted."""
    promotion = next(
        (e for e in history if e.get("event") == "promote" and e.get("version") == info.version),
        None,
    )
    meta = info.metadata
    return {
        "version": info.version,
        "arch": info.arch,
        "test_accuracy": info.test_accuracy,
        "created_at": meta.get("created_at", meta.get("published_at")),
        "is_champion": info.version == champion,
        "promoted_at": promotion.get("at") if promotion else None,
        "promoted_because": promotion.get("reason") if promotion else None,
        "parent": meta.get("parent"),
    }


def queue_depths(connection: redis.Redis) -> list[dict[str, Any]]:
    """Per queue: jobs waiting, running, failed, scheduled and deferred."""
    depths = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=connection, serializer=JSONSerializer)
        depths.append(
            {
                "name": name,
                "queued": queue.count,
                "started": queue.started_job_registry.count,
                "failed": queue.failed_job_registry.count,
                "scheduled": queue.scheduled_job_registry.count,
                "deferred": queue.deferred_job_registry.count,
            }
        )
    return depths


def describe_workers(connection: redis.Redis) -> list[dict[str, Any]]:
    """Every live RQ worker, with the device it published (if any)."""
    workers = Worker.all(connection=connection, serializer=JSONSerializer)
    described = []
    for worker in sorted(workers, key=lambda w: w.name):
        described.append(
            {
                "name": worker.name,
                "hostname": worker.hostname,
                "pid": worker.pid,
                "state": worker.get_state(),
                "current_job": worker.get_current_job_id(),
                "queues": worker.queue_names(),
                "successful_jobs": worker.successful_job_count,
                "failed_jobs": worker.failed_job_count,
                "last_heartbeat": _timestamp(worker.last_heartbeat),
                "device": worker_device(connection, worker.name),
            }
        )
    return described


def worker_device(connection: redis.Redis, worker_name: str) -> dict[str, str] | None:
    """What a worker published about itself (device, model...), or None."""
    key = worker_info_key(worker_name)
    kind = as_text(connection.type(key))
    if kind == "hash":
        return {as_text(k): as_text(v) for k, v in connection.hgetall(key).items()}
    if kind == "string":
        raw = connection.get(key)
        try:
            value = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    return None


def recent_failed_jobs(connection: redis.Redis) -> list[dict[str, Any]]:
    """The most recent failed jobs of every queue, newest first."""
    failed: list[dict[str, Any]] = []
    for name in QUEUE_NAMES:
        registry = Queue(name, connection=connection, serializer=JSONSerializer).failed_job_registry
        job_ids = registry.get_job_ids(-NUM_FAILED_JOBS, -1)  # ordered by expiry: last is newest
        jobs = Job.fetch_many(job_ids, connection=connection, serializer=JSONSerializer)
        for job in jobs:
            if job is None:
                continue
            failed.append(
                {
                    "id": job.id,
                    "queue": name,
                    "function": job.func_name,
                    "exception": summarize_exception(_exception_text(job)),
                    "ended_at": _timestamp(job.ended_at),
                }
            )
    failed.sort(key=lambda item: item["ended_at"] or 0.0, reverse=True)
    return failed[:NUM_FAILED_JOBS]


def summarize_exception(exc_info: str | None) -> str:
    """The last line of a traceback ('ValueError: ...'), shortened."""
    if not exc_info:
        return ""
    lines = [line.strip() for line in exc_info.strip().splitlines() if line.strip()]
    summary = lines[-1] if lines else ""
    if len(summary) > EXCEPTION_SUMMARY_CHARS:
        summary = summary[: EXCEPTION_SUMMARY_CHARS - 1] + "…"
    return summary


def last_training(connection: redis.Redis) -> dict[str, Any] | None:
    """The last retraining run's outcome as the trainer stored it, or None."""
    raw = connection.get(keys.LAST_TRAINING_KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return {"unreadable": as_text(raw)[:200]}
    return value if isinstance(value, dict) else {"value": value}


def training_triggers(connection: redis.Redis) -> dict[str, Any]:
    """What leads to the next retraining: the scheduler's heartbeat, corrections waiting."""
    beat = connection.get(keys.SCHEDULER_HEARTBEAT_KEY)  # ISO time, expires after a minute
    return {
        "scheduler_heartbeat": as_text(beat) if beat is not None else None,
        "new_corrections": int(connection.get(keys.NEW_CORRECTIONS_KEY) or 0),
    }


def _exception_text(job: Job) -> str | None:
    result = job.latest_result()
    return result.exc_string if result is not None else None


def _timestamp(moment: datetime | None) -> float | None:
    """Seconds since the epoch; RQ's naive datetimes are UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
