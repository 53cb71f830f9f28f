"""Triggering a retraining: one job id on the training queue, so triggers never train twice.

Every trigger (the schedule, `/retrain`, `digitbot retrain`, the web button, N new corrections)
goes through `request_retraining`. The job id is fixed: while a retraining is queued or running,
a second trigger is told so instead of starting another.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis
from rq import Queue
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from digitbot import defaults, keys

ACTIVE_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class TriggerOutcome(enum.StrEnum):
    QUEUED = "queued"
    ALREADY_RUNNING = "already-running"


@dataclass(frozen=True)
class Trigger:
    outcome: TriggerOutcome
    job_id: str
    status: str = ""


def training_queue(connection: redis.Redis) -> Queue:
    return Queue(defaults.QUEUE_TRAINING, connection=connection, serializer=defaults.JOB_SERIALIZER)


def request_retraining(
    connection: redis.Redis,
    *,
    requested_by: str,
    chat_id: int = 0,
    options: dict[str, Any] | None = None,
) -> Trigger:
    """Enqueue the retraining job unless one is already queued or running."""
    queue = training_queue(connection)
    existing = _existing_job(connection)
    if existing is not None:
        status = existing.get_status(refresh=True)
        if status in ACTIVE_STATES:
            return Trigger(TriggerOutcome.ALREADY_RUNNING, existing.id, _status_text(status))
        existing.delete()  # a finished or failed run keeps no claim on the id
    payload = {"requested_by": requested_by, "chat_id": chat_id, **(options or {})}
    try:
        queue.enqueue(
            keys.RETRAIN_JOB,
            payload,
            job_id=keys.RETRAIN_JOB_ID,
            unique=True,
            job_timeout=defaults.RETRAIN_JOB_TIMEOUT_SECONDS,
            result_ttl=7 * 24 * 3600,
            failure_ttl=7 * 24 * 3600,
            description=f"retrain digitnet (requested by {requested_by})",
        )
    except DuplicateJobError:  # another trigger won the race
        return Trigger(TriggerOutcome.ALREADY_RUNNING, keys.RETRAIN_JOB_ID, "queued")
    return Trigger(TriggerOutcome.QUEUED, keys.RETRAIN_JOB_ID, "queued")


def _existing_job(connection: redis.Redis) -> Job | None:
    try:
        return Job.fetch(
            keys.RETRAIN_JOB_ID, connection=connection, serializer=defaults.JOB_SERIALIZER
        )
    except NoSuchJobError:
        return None


def _status_text(status: JobStatus | str | None) -> str:
    return status.value if isinstance(status, JobStatus) else str(status)


def last_training(connection: redis.Redis) -> dict[str, Any] | None:
    """The last retraining's outcome as the training job stored it, or None."""
    raw = connection.get(keys.LAST_TRAINING_KEY)
    return json.loads(raw) if raw else None


def describe_corrections(comparison: Mapping[str, Any]) -> str:
    """One line on held-out corrections: the champion's accuracy (before) and the candidate's
    (after). `comparison` is the `corrections` entry of a retraining's outcome."""
    count = int(comparison.get("held_out") or 0)
    if count == 0:
        return "Held-out corrections: none yet, so no before/after on them."
    after = f"{_percent(comparison.get('after'))} after ({comparison.get('candidate')})"
    if comparison.get("champion") is None:
        return f"Held-out corrections ({count}): {after}; there was no champion to compare."
    before = f"{_percent(comparison.get('before'))} before ({comparison.get('champion')})"
    return f"Held-out corrections ({count}): {before} → {after}."


def _percent(value: float | None) -> str:
    return "not measured" if value is None else f"{100 * value:.1f}%"
