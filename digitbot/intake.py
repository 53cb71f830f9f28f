"""Accepting a photo: store its bytes in Redis and enqueue the recognition job.

The bot and the web page both take photos in through here. It runs synchronously (redis-py +
RQ); the bot calls it in a thread so its event loop never blocks on Redis.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass

import redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Callback

from digitbot import defaults, job_names, keys, stats
from digitbot.feedback import salted_user_hash
from digitbot.payload import RecognitionRequest, Source, new_request_id

log = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BUSY = "busy"
    RATE_LIMITED = "rate-limited"


@dataclass(frozen=True)
class Submission:
    outcome: Outcome
    request_id: str = ""
    job_id: str = ""


class PhotoIntake:
    """Stores photos and enqueues recognition jobs by dotted path, with JSON payloads only."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        max_queue_depth: int,
        per_user_per_minute: int = defaults.PHOTOS_PER_USER_PER_MINUTE,
        bot_id: int = 0,
    ) -> None:
        """`bot_id`: the Telegram bot whose photos this takes in (0 for the web page)."""
        self.connection = connection
        self.bot_id = bot_id
        self.queue = Queue(
            defaults.QUEUE_RECOGNITION,
            connection=connection,
            serializer=defaults.JOB_SERIALIZER,
        )
        self.max_queue_depth = max_queue_depth
        self.per_user_per_minute = per_user_per_minute

    def submit(
        self,
        data: bytes,
        *,
        source: Source,
        chat_id: int = 0,
        message_id: int = 0,
        user_id: int | None = None,
        job_id: str | None = None,
    ) -> Submission:
        """Store the photo and enqueue its job; refuse when the queue is too deep or the user
        sends faster than PHOTOS_PER_USER_PER_MINUTE."""
        stored = self.store(
            data, source=source, chat_id=chat_id, message_id=message_id, user_id=user_id
        )
        if isinstance(stored, Outcome):
            return Submission(stored)
        request = stored
        if job_id is None and chat_id and message_id:
            job_id = keys.recognition_job_id(chat_id, message_id, bot_id=self.bot_id)
        job_id = job_id or f"req-{request.request_id}"
        outcome = self._enqueue(request, job_id)
        if outcome is Outcome.DUPLICATE:
            # The same Telegram message again (a re-delivered update): answered once already.
            self.connection.delete(request.photo_key)
            return Submission(Outcome.DUPLICATE, request.request_id, job_id)
        stats.count(self.connection, "received", source)
        return Submission(Outcome.ACCEPTED, request.request_id, job_id)

    def store(
        self,
        data: bytes,
        *,
        source: Source,
        chat_id: int = 0,
        message_id: int = 0,
        user_id: int | None = None,
    ) -> RecognitionRequest | Outcome:
        """Store the photo for a job to read (`submit`, or an album's, digitbot.albums): the
        request that names it, or BUSY / RATE_LIMITED when it is refused."""
        user_hash = self.user_hash(user_id) if user_id is not None else ""
        if user_hash and self._over_user_limit(user_hash):
            return Outcome.RATE_LIMITED
        if self.queue.count >= self.max_queue_depth:
            return Outcome.BUSY
        request_id = new_request_id()
        request = RecognitionRequest(
            request_id=request_id,
            photo_key=keys.photo_key(request_id),
            source=source,
            chat_id=chat_id,
            message_id=message_id,
            bot_id=self.bot_id,
            user_hash=user_hash,
        )
        self.connection.set(request.photo_key, data, ex=defaults.PHOTO_TTL_SECONDS)
        return request

    def _enqueue(self, request: RecognitionRequest, job_id: str) -> Outcome:
        """Enqueue the recognition job; DUPLICATE when this job id was enqueued before."""
        try:
            self.queue.enqueue(
                job_names.RECOGNIZE_PHOTO,
                request.to_dict(),
                job_id=job_id,
                unique=True,
                job_timeout=defaults.RECOGNITION_JOB_TIMEOUT_SECONDS,
                result_ttl=defaults.RESULT_TTL_SECONDS,
                failure_ttl=defaults.FAILURE_TTL_SECONDS,
                retry=Retry(
                    max=len(defaults.RECOGNITION_RETRY_INTERVALS),
                    interval=list(defaults.RECOGNITION_RETRY_INTERVALS),
                ),
                on_failure=Callback(job_names.ON_RECOGNITION_FAILURE),
                description=f"recognise {request.source} {request.request_id}",
            )
        except DuplicateJobError:
            return Outcome.DUPLICATE
        return Outcome.ACCEPTED

    def request_explanation(
        self, request_id: str, *, chat_id: int, reply_to_message_id: int
    ) -> bool:
        """Enqueue the "how I read it" picture; False when one is already queued."""
        if not request_id.isalnum():
            return False
        try:
            self.queue.enqueue(
                job_names.EXPLAIN_PHOTO,
                {
                    "request_id": request_id,
                    "chat_id": chat_id,
                    "reply_to_message_id": reply_to_message_id,
                },
                job_id=f"explain-{request_id}",
                unique=True,
                job_timeout=defaults.RECOGNITION_JOB_TIMEOUT_SECONDS,
                result_ttl=60,
                failure_ttl=defaults.FAILURE_TTL_SECONDS,
                description=f"explain {request_id}",
            )
        except DuplicateJobError:
            return False
        return True

    def _over_user_limit(self, user_hash: str) -> bool:
        minute = int(time.time() // 60)
        key = keys.rate_limit_key("telegram", f"{user_hash}:{minute}")
        with self.connection.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = pipe.execute()
        return int(count) > self.per_user_per_minute

    def user_hash(self, user_id: int) -> str:
        """A salted hash of a Telegram user id; the id itself is never stored."""
        return salted_user_hash(self.connection, str(user_id))
