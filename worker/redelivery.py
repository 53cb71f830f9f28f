"""Answers the Bot API could not take are sent later, without reading the photo again.

A recognition job tries to send its answer a few times at once (digitbot.telegram_reply). When the
Bot API still fails (down, 5xx, flood control: `BotApiUnavailable`), the job hands the answer
over, as plain JSON (the request, the text, its buttons and the reading's result), to a delivery
job of its own (`worker.jobs.deliver_answer`) and finishes. The delivery job sends it after the
first of `Settings.delivery_retry_seconds` (growing waits, 70 minutes in all by default) and,
while the Bot API keeps failing, again after each of the others: RQ's Retry, one request a try,
so no worker sleeps through an outage while photos wait. The answer mark (worker.delivery) still
lets only one attempt send. An apology for a job that failed for good is handed over the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import redis
from rq import Queue, Retry

from digitbot import defaults, job_names, keys
from digitbot.payload import RecognitionRequest

log = logging.getLogger(__name__)


def schedule_redelivery(
    connection: redis.Redis,
    request: RecognitionRequest,
    text: str,
    result: dict[str, Any],
    *,
    waits: Sequence[int],
    reply_markup: dict[str, Any] | None = None,
) -> str:
    """Queue the delivery job that sends `text` after `waits[0]` seconds, and after each further
    wait while the Bot API keeps failing; returns its id (one per request)."""
    if not waits:
        raise ValueError("waits: expected at least one number of seconds")
    first, *rest = waits
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )
    options: dict[str, Any] = {
        "job_id": keys.delivery_job_id(request.request_id),
        "job_timeout": defaults.RECOGNITION_JOB_TIMEOUT_SECONDS,
        "result_ttl": defaults.RESULT_TTL_SECONDS,
        "failure_ttl": defaults.FAILURE_TTL_SECONDS,
        "description": f"deliver the answer to {request.request_id}",
    }
    if rest:
        options["retry"] = Retry(max=len(rest), interval=list(rest))
    data = {
        "request": request.to_dict(),
        "text": text,
        "result": result,
        "reply_markup": reply_markup,
    }
    if first:
        job = queue.enqueue_in(timedelta(seconds=first), job_names.DELIVER_ANSWER, data, **options)
    else:
        job = queue.enqueue(job_names.DELIVER_ANSWER, data, **options)
    log.warning(
        "request %s: the Bot API could not take its answer; job %s sends it in %d s, then "
        "tries %d more time(s) over %d s",
        request.request_id, job.id, first, len(rest), sum(rest),
    )  # fmt: skip
    return str(job.id)
