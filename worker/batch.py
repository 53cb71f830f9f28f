"""A batch of recognition requests: which job answers them, reading them with one model call.

A job first claims its own request (`claim_batch`, see digitbot.claims), then takes more from
the waiting list while its batch has room and its read budget lasts, so the batch is as large as
the load: one photo on an idle system (answered at once), up to the worker's batch size under a
queue. Each request's outcome stays apart: a missing photo, a bad image or an unexpected error
in one photo never costs the others their answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import redis

from digitbot import stats
from digitbot.claims import Claim, ClaimBook, HeldElsewhere
from digitbot.errors import BadImageError
from digitbot.payload import RecognitionRequest
from reading.pipeline import Reading, read_together
from reading.preprocess import Preprocessed, preprocess
from reading.recognize import Classifier

log = logging.getLogger(__name__)


@dataclass
class BatchItem:
    """One request of a batch and what became of it (exactly one outcome is set)."""

    request: RecognitionRequest
    reading: Reading | None = None
    bad_image: BadImageError | None = None
    failure: Exception | None = None
    photo_missing: bool = False


@dataclass
class Batch:
    items: list[BatchItem] = field(default_factory=list)
    read_seconds: float = 0.0  # fetching and preprocessing every photo
    model_seconds: float = 0.0  # the one model call

    @property
    def num_classified(self) -> int:
        """Photos that went through the model call."""
        return sum(item.reading is not None for item in self.items)


def claim_batch(book: ClaimBook, job_id: str, request: RecognitionRequest) -> Claim | None:
    """This job's claim, or None when another job that RQ will still run holds the request."""
    claim = book.start(job_id, request)
    if isinstance(claim, HeldElsewhere):
        if book.will_run(claim.owner_job_id):
            log.info("request %s: answered by job %s", request.request_id, claim.owner_job_id)
            return None
        log.warning(
            "request %s: its claiming job %s will not run again; taking it over",
            request.request_id, claim.owner_job_id,
        )  # fmt: skip
        claim = book.start(job_id, request, take_over_from=claim.owner_job_id)
        if isinstance(claim, HeldElsewhere):  # another job took it over first
            return None
    return claim


def record_batch(connection: redis.Redis, job_id: str, batch: Batch, *, resumed: bool) -> None:
    """Count the batch's size in the shared stats (`batches:<size>`) and log it."""
    if not batch.items:
        return
    stats.count(connection, "batches", str(len(batch.items)))
    log.info(
        "job %s: batch of %d photo(s)%s, %d classified in one model call; "
        "read %.1f ms, model %.1f ms",
        job_id, len(batch.items), " (resumed claim)" if resumed else "",
        batch.num_classified, 1000 * batch.read_seconds, 1000 * batch.model_seconds,
    )  # fmt: skip


def read_batch(
    connection: redis.Redis,
    requests: Sequence[RecognitionRequest],
    model: Classifier,
    *,
    take_next: Callable[[], RecognitionRequest | None],
    max_batch: int,
    budget_seconds: float,
) -> Batch:
    """Read `requests`, then requests from `take_next` while fewer than `max_batch` were read
    and reading took less than `budget_seconds`; classify every crop with one model call.

    The model call's own errors propagate (no request of the batch is answered then).
    """
    started = time.monotonic()
    batch = Batch()
    prepared: list[tuple[BatchItem, Preprocessed]] = []
    pending = list(requests)
    while True:
        if pending:
            request: RecognitionRequest | None = pending.pop(0)
        elif len(batch.items) < max_batch and time.monotonic() - started < budget_seconds:
            request = take_next()
        else:
            request = None
        if request is None:
            break
        item, pre = _prepare(connection, request)
        batch.items.append(item)
        if pre is not None:
            prepared.append((item, pre))
    batch.read_seconds = time.monotonic() - started
    readings = read_together([pre for _, pre in prepared], model)
    for (item, _), reading in zip(prepared, readings, strict=True):
        item.reading = reading
    batch.model_seconds = time.monotonic() - started - batch.read_seconds
    return batch


def _prepare(
    connection: redis.Redis, request: RecognitionRequest
) -> tuple[BatchItem, Preprocessed | None]:
    """Fetch and preprocess one photo; its failure is recorded in the item, never raised."""
    item = BatchItem(request)
    try:
        photo = connection.get(request.photo_key)
        if photo is None:
            item.photo_missing = True
            return item, None
        assert isinstance(photo, bytes)  # the connection does not decode responses
        return item, preprocess(photo)
    except BadImageError as exc:
        item.bad_image = exc
    except Exception as exc:  # one photo's surprise must not cost the others their answers
        log.exception("request %s: reading the photo failed", request.request_id)
        item.failure = exc
    return item, None
