"""The album job: read every photo of an album and answer them in one message.

The bot enqueues it once the album's photos are in (bot.albums, digitbot.albums). The answer
replies to the album's first photo with a line per photo in the order they were sent
(`Photo 2: 42 — 99.1% sure`), and a row of buttons per photo, numbered alike: ✅ and ✏️ for a
photo with digits, 🔍 for each. It is delivered exactly once, as a photo's answer is: under the
answer mark of the first photo (worker.delivery).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from rq import Retry, get_current_job
from rq.job import Job

from digitbot import defaults, texts
from digitbot.albums import AlbumMember, album_line
from digitbot.buttons import album_markup
from digitbot.errors import BadImageError, BotApiUnavailable
from digitbot.payload import RecognitionRequest
from digitbot.replies import as_bytes
from reading.pipeline import read_photo
from reading.recognize import format_answer
from worker.delivery import AnswerInFlight, deliver, is_answered
from worker.jobs import remember_for_feedback
from worker.redelivery import schedule_redelivery
from worker.runtime import get_runtime

log = logging.getLogger(__name__)


def recognize_album(data: dict[str, Any]) -> dict[str, Any] | Retry:
    """Read the album's photos and deliver the one answer. While another attempt is sending
    it, returns an RQ Retry for when its lease lapses."""
    members = [AlbumMember.from_dict(member) for member in data["members"]]
    reply_to = answered_request(members)
    connection = _current_job().connection
    if is_answered(connection, reply_to):
        log.info("album of request %s already answered; skipping", reply_to.request_id)
        return {"skipped": "already answered"}
    lines, photos, results = [], [], []
    for number, member in enumerate(members, start=1):
        line, result = read_member(connection, member)
        lines.append(album_line(number, line))
        results.append(result)
        if member.request is not None and "error" not in result:
            photos.append((number, member.request.request_id, bool(result.get("text"))))
    if any(r.get("text") and r["confidence"] < defaults.CONFIDENCE_UNSURE for r in results):
        lines.append(texts.UNSURE)
    text = "\n".join(lines)
    markup = album_markup(photos)
    result = {"text": " ".join(str(r.get("text", "")) for r in results), "photos": results}
    try:
        sent = deliver(connection, reply_to, text, result, reply_markup=markup)
    except AnswerInFlight as exc:
        log.info("%s; looking again in %d s", exc, exc.retry_in)
        return Retry(max=defaults.ANSWER_IN_FLIGHT_RETRIES, interval=exc.retry_in)
    except BotApiUnavailable as exc:
        log.warning("album of request %s: %s", reply_to.request_id, exc)
        waits = get_runtime().settings.delivery_retry_seconds
        job_id = schedule_redelivery(
            connection, reply_to, text, result, waits=waits, reply_markup=markup
        )
        return {**result, "delivery": job_id}
    if not sent:
        return {"skipped": "already answered"}
    return result


def answered_request(members: list[AlbumMember]) -> RecognitionRequest:
    """The request the album's answer goes under: the first photo that was taken in."""
    for member in members:
        if member.request is not None:
            return member.request
    raise ValueError("an album job needs at least one photo that was taken in")


def read_member(connection: redis.Redis, member: AlbumMember) -> tuple[str, dict[str, Any]]:
    """One photo's line of the answer (after its number) and its result."""
    request = member.request
    if request is None:
        return member.refusal, {"text": "", "error": "refused"}
    started = time.monotonic()
    model = get_runtime().model
    photo = connection.get(request.photo_key)
    if photo is None:
        log.warning("request %s: photo %s expired or lost", request.request_id, request.photo_key)
        return texts.ALBUM_LOST_PHOTO, {"text": "", "error": "photo-missing"}
    try:
        reading = read_photo(as_bytes(photo), model)
    except BadImageError as exc:
        log.info("request %s: bad image: %s", request.request_id, exc)
        return exc.user_message, {"text": "", "error": type(exc).__name__}
    recognition = reading.recognition
    if recognition.text:
        remember_for_feedback(connection, request, reading)
    log.info(
        "request %s (album): read %r (%.3f) with %s in %.1f ms",
        request.request_id, recognition.text, recognition.confidence, model.version,
        1000 * (time.monotonic() - started),
    )  # fmt: skip
    result = {**recognition.to_dict(), "request_id": request.request_id}
    if not recognition.text:
        return texts.ALBUM_NO_DIGIT, result
    return format_answer(recognition).split("\n")[0], result


def on_album_failure(
    job: Job, connection: redis.Redis, exc_type: type, exc_value: BaseException, tb: Any
) -> None:
    """RQ calls this on every failed try; after the last one, the album gets one apology."""
    if job.retries_left:
        log.warning(
            "job %s failed (%s); %d tries left", job.id, exc_type.__name__, job.retries_left
        )
        return
    log.error("job %s failed for good: %s: %s", job.id, exc_type.__name__, exc_value)
    try:
        members = [AlbumMember.from_dict(m) for m in job.args[0]["members"]]
        request = answered_request(members)
    except (IndexError, KeyError, TypeError, ValueError):
        return
    try:
        deliver(connection, request, texts.JOB_FAILED, {"text": "", "error": exc_type.__name__})
    except Exception:  # the apology itself failed; the job stays in the failed registry
        log.exception("could not send the apology for job %s", job.id)


def _current_job() -> Job:
    job = get_current_job()
    if job is None:
        raise RuntimeError("recognize_album must run inside an RQ job")
    return job
