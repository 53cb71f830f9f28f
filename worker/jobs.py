"""RQ job entry points. They take plain JSON data and are enqueued by dotted path.

A recognition job reads the photo bytes the bot stored in Redis, recognises the digits and
replies to the user's photo message. When other photos are waiting, it claims and reads them too
and classifies all their crops with one model call (digitbot.claims, worker.batch). A photo is
answered exactly once: a mark in Redis records the answer, so a retried or re-delivered job, or
the job of a photo another job answered, never sends a second message.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import numpy as np
import redis
from rq import get_current_job
from rq.job import Job

from digitbot import defaults, job_names, keys, stats
from digitbot.claims import ClaimBook
from digitbot.errors import DigitbotError
from digitbot.feedback import FeedbackStore, PendingAnswer
from digitbot.payload import RecognitionRequest
from digitbot.replies import as_bytes
from digitbot.telegram_reply import PossiblyDelivered
from reading.explain import render_explanation
from reading.pipeline import Reading, read_photo
from reading.recognize import format_answer
from worker.batch import BatchItem, claim_batch, read_batch, record_batch
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

RECOGNIZE_PHOTO = job_names.RECOGNIZE_PHOTO
EXPLAIN_PHOTO = job_names.EXPLAIN_PHOTO
ON_RECOGNITION_FAILURE = job_names.ON_RECOGNITION_FAILURE
EXPLAIN_BUTTON_TEXT = "🔍 How I read it"
RIGHT_BUTTON_TEXT = "✅ right"
CORRECT_BUTTON_TEXT = "✏️ correct it"
EXPLAIN_EXPIRED_TEXT = (
    "I no longer keep that photo (photos are deleted a few hours after the answer), so I can't "
    "show how I read it. Send it again to get a fresh reading."
)

LOST_PHOTO_TEXT = "Sorry, I lost track of your photo before I could read it. Please send it again."
APOLOGY_TEXT = (
    "Sorry, I couldn't read your photo because of a problem on my side. "
    "Please send it again in a minute."
)
MARK_SENDING = "sending"
MARK_SENT = "sent"


def recognize_photo(request_data: dict[str, Any]) -> dict[str, Any]:
    """Recognise the digits in a stored photo and deliver the answer; answer other waiting
    photos in the same model call (see digitbot.claims and worker.batch)."""
    started = time.monotonic()
    request = RecognitionRequest.from_dict(request_data)
    job = _current_job()
    connection = job.connection
    book = ClaimBook(connection)
    if _is_answered(connection, request) and not book.has_claim(job.id):
        log.info("request %s already answered; skipping", request.request_id)
        return {"skipped": "already answered"}
    claim = claim_batch(book, job.id, request)
    if claim is None:
        return {"skipped": "claimed by another job"}

    runtime = get_runtime()
    model = runtime.model
    batch = read_batch(
        connection,
        [r for r in claim.requests if not _is_answered(connection, r)],
        model,
        take_next=lambda: None if claim.resumed else book.take_next(job.id),
        max_batch=max(1, runtime.device.batch_size),
        budget_seconds=defaults.BATCH_READ_BUDGET_SECONDS,
    )
    record_batch(connection, job.id, batch, resumed=claim.resumed)
    failures = [item.failure for item in batch.items if item.failure is not None]
    results = {}
    for item in batch.items:
        if item.failure is not None:
            continue
        try:
            results[item.request.request_id] = _answer(connection, item, model.version, started)
        except Exception as exc:  # one chat's delivery trouble must not hold up the others
            log.warning("request %s: answer not delivered: %r", item.request.request_id, exc)
            failures.append(exc)
    if failures:
        # RQ retries this job; the retry answers only what is still unanswered in its claim.
        raise failures[0]
    book.release(job.id)
    own = results.get(request.request_id, {"skipped": "already answered"})
    return {**own, "batch_size": len(batch.items)}


def _answer(
    connection: redis.Redis, item: BatchItem, model_version: str, started: float
) -> dict[str, Any]:
    """Deliver one request's answer: its digits, or why there are none."""
    request = item.request
    if item.photo_missing:
        log.warning("request %s: photo %s expired or lost", request.request_id, request.photo_key)
        result: dict[str, Any] = {"text": "", "error": "photo-missing"}
        _deliver(connection, request, LOST_PHOTO_TEXT, result)
        return result
    if item.bad_image is not None:
        log.info("request %s: bad image: %s", request.request_id, item.bad_image)
        result = {
            "text": "", "error": type(item.bad_image).__name__, "model_version": model_version
        }  # fmt: skip
        _deliver(connection, request, item.bad_image.user_message, result)
        return result

    assert item.reading is not None
    reading = item.reading
    recognition = reading.recognition
    result = recognition.to_dict()
    if not request.is_telegram:
        # The web page shows what the model saw: each 28x28 input as rows of 0..255.
        crops = (reading.preprocessed.crops * 255).round().astype("uint8")
        result["inputs"] = [crop.tolist() for crop in crops]
    result["seconds"] = round(time.monotonic() - started, 4)
    log.info(
        "request %s: read %r (%.3f) with %s in %.1f ms",
        request.request_id, recognition.text, recognition.confidence, model_version,
        1000 * (time.monotonic() - started),
    )  # fmt: skip
    if recognition.text:  # web answers too: their page offers ✅ / ✏️ like the bot
        _remember_for_feedback(connection, request, reading)
    markup = answer_markup(request.request_id, with_feedback=bool(recognition.text))
    _deliver(connection, request, format_answer(recognition), result, reply_markup=markup)
    return result


def _remember_for_feedback(
    connection: redis.Redis, request: RecognitionRequest, reading: Reading
) -> None:
    """Keep the crops behind this answer for a while, so the user can confirm or correct it."""
    pre = reading.preprocessed
    kept = {tuple(g.box) for g in reading.recognition.digits}
    crops = [crop for crop, box in zip(pre.crops, pre.boxes, strict=True) if tuple(box) in kept]
    FeedbackStore(connection).remember_answer(
        PendingAnswer(
            request_id=request.request_id,
            text=reading.recognition.text,
            confidences=[g.confidence for g in reading.recognition.digits],
            model_version=reading.recognition.model_version,
            user_hash=request.user_hash,
            crops=(np.asarray(crops) * 255).round().astype(np.uint8),
        )
    )


def explain_photo(data: dict[str, Any]) -> dict[str, Any]:
    """Send the "how I read it" picture for an answered photo, as a reply to the answer."""
    request_id = str(data["request_id"])
    chat_id = int(data["chat_id"])
    reply_to = int(data.get("reply_to_message_id") or 0) or None
    connection = _current_job().connection
    runtime = get_runtime()
    photo = connection.get(keys.photo_key(request_id))
    if photo is None:
        runtime.replier.send_message(chat_id, EXPLAIN_EXPIRED_TEXT, reply_to_message_id=reply_to)
        return {"error": "photo-missing"}
    model = runtime.model
    reading = read_photo(as_bytes(photo), model)
    pre = reading.preprocessed
    png = render_explanation(pre.stages["gray"], pre.crops, pre.boxes, reading.recognition)
    caption = format_answer(reading.recognition).split("\n")[0]
    runtime.replier.send_photo(chat_id, png, caption=caption, reply_to_message_id=reply_to)
    return {"text": reading.recognition.text, "png_bytes": len(png)}


def answer_markup(request_id: str, *, with_feedback: bool) -> dict[str, Any]:
    """The inline keyboard under an answer: right / correct it, and how I read it."""
    rows = []
    if with_feedback:
        rows.append([
            {"text": RIGHT_BUTTON_TEXT, "callback_data": f"ok:{request_id}"},
            {"text": CORRECT_BUTTON_TEXT, "callback_data": f"fix:{request_id}"},
        ])  # fmt: skip
    rows.append([{"text": EXPLAIN_BUTTON_TEXT, "callback_data": f"explain:{request_id}"}])
    return {"inline_keyboard": rows}


def on_recognition_failure(
    job: Job, connection: redis.Redis, exc_type: type, exc_value: BaseException, tb: Any
) -> None:
    """RQ calls this on every failed try; after the last one, the user gets an apology."""
    if job.retries_left:
        log.warning(
            "job %s failed (%s); %d tries left", job.id, exc_type.__name__, job.retries_left
        )
        return
    log.error("job %s failed for good: %s: %s", job.id, exc_type.__name__, exc_value)
    try:
        request = RecognitionRequest.from_dict(job.args[0])
    except (IndexError, TypeError, KeyError):
        return
    text = exc_value.user_message if isinstance(exc_value, DigitbotError) else APOLOGY_TEXT
    try:
        _apologize(connection, job.id, request, text, {"text": "", "error": exc_type.__name__})
    except Exception:  # the apology itself failed; the job stays in the failed registry
        log.exception("could not send the apology for job %s", job.id)


def _apologize(
    connection: redis.Redis,
    job_id: str,
    request: RecognitionRequest,
    text: str,
    result: dict[str, Any],
) -> None:
    """Tell every request still unanswered in the job's batch what went wrong, and its own
    request unless a job that RQ will still run holds it (that job answers it)."""
    book = ClaimBook(connection)
    owed = {r.request_id: r for r in book.owned_requests(job_id)}
    owner = book.owner_of(request.request_id)
    if owner is None or owner == job_id or not book.will_run(owner):
        owed.setdefault(request.request_id, request)
    for owed_request in owed.values():
        if _is_answered(connection, owed_request):
            continue
        try:
            _deliver(connection, owed_request, text, dict(result))
        except Exception:  # this chat's trouble; the others still get theirs
            log.exception("could not send the apology for request %s", owed_request.request_id)
    book.release(job_id)


def _current_job() -> Job:
    job = get_current_job()
    if job is None:
        raise RuntimeError("recognize_photo must run inside an RQ job")
    return job


def _already_answered(connection: redis.Redis, request: RecognitionRequest) -> bool:
    mark = connection.get(keys.answer_key(request.chat_id, request.message_id))
    return mark is not None and as_bytes(mark).startswith(MARK_SENT.encode())


def _is_answered(connection: redis.Redis, request: RecognitionRequest) -> bool:
    """True once the request's answer was sent (Telegram) or stored (web)."""
    if request.is_telegram:
        return _already_answered(connection, request)
    return bool(connection.exists(keys.web_result_key(request.request_id)))


def _deliver(
    connection: redis.Redis,
    request: RecognitionRequest,
    text: str,
    result: dict[str, Any],
    *,
    reply_markup: dict[str, Any] | None = None,
) -> None:
    """Send the answer to Telegram, or store it for the web page."""
    outcome = "error" if result.get("error") else ("digit" if result.get("text") else "no-digit")
    stats.count(connection, "answers", outcome)
    if not request.is_telegram:
        connection.set(
            keys.web_result_key(request.request_id),
            json.dumps({"answer": text, **result}),
            ex=defaults.RESULT_TTL_SECONDS,
        )
        return
    mark_key = keys.answer_key(request.chat_id, request.message_id)
    if _already_answered(connection, request):
        return
    connection.set(mark_key, MARK_SENDING, ex=defaults.ANSWER_MARK_TTL_SECONDS)
    try:
        message = get_runtime().replier.send_message(
            request.chat_id, text, reply_to_message_id=request.message_id, reply_markup=reply_markup
        )
    except PossiblyDelivered as exc:
        # Resending could answer twice; better one answer that may be late than two.
        log.warning("request %s: %s; not resending", request.request_id, exc)
        message = {"message_id": 0}
    _mark_sent(connection, mark_key, int(message.get("message_id", 0)))
    stats.observe_latency(connection, "photo_to_answer", time.time() - request.received_at)
    result["answer"] = text
    result["answer_message_id"] = message.get("message_id")


def _mark_sent(connection: redis.Redis, mark_key: str, message_id: int) -> None:
    """Record the answer; retried briefly so a Redis blip here does not cause a second answer."""
    for attempt in range(20):
        try:
            connection.set(
                mark_key, f"{MARK_SENT}:{message_id}", ex=defaults.ANSWER_MARK_TTL_SECONDS
            )
            return
        except redis.exceptions.ConnectionError:
            time.sleep(min(0.25 * (attempt + 1), 2.0))
    log.error("could not record the answer in %s; a retry might answer twice", mark_key)
