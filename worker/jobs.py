"""RQ job entry points. They take plain JSON data and are enqueued by dotted path.

A recognition job reads the photo bytes the bot stored in Redis, recognises the digits and
replies to the user's photo message: one job, one photo. A photo is answered exactly once: its
answer mark in Redis is claimed before the answer is sent (worker.delivery), so a retried or
re-delivered job, or two runs of one job at once, never send a second message. An answer the Bot
API could not take goes to a delivery job of its own (`deliver_answer`, worker.redelivery), which
sends it later, for over an hour, without reading the photo again.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import redis
from rq import Retry, get_current_job
from rq.job import Job

from digitbot import defaults, job_names, keys, texts
from digitbot.buttons import answer_markup
from digitbot.errors import BadImageError, BotApiUnavailable, DeliveryError, DigitbotError
from digitbot.feedback import FeedbackStore, PendingAnswer
from digitbot.payload import RecognitionRequest
from digitbot.replies import as_bytes
from reading.explain import render_explanation
from reading.pipeline import Reading, read_photo
from reading.recognize import format_answer
from worker.delivery import AnswerInFlight, deliver, is_answered
from worker.redelivery import schedule_redelivery
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

RECOGNIZE_PHOTO = job_names.RECOGNIZE_PHOTO
EXPLAIN_PHOTO = job_names.EXPLAIN_PHOTO
DELIVER_ANSWER = job_names.DELIVER_ANSWER
ON_RECOGNITION_FAILURE = job_names.ON_RECOGNITION_FAILURE


def recognize_photo(request_data: dict[str, Any]) -> dict[str, Any] | Retry:
    """Recognise the digits in a stored photo and deliver the answer, once. While another
    attempt is sending the answer, returns an RQ Retry for when its lease lapses."""
    started = time.monotonic()
    request = RecognitionRequest.from_dict(request_data)
    connection = _current_job().connection
    if is_answered(connection, request):
        log.info("request %s already answered; skipping", request.request_id)
        return {"skipped": "already answered"}
    try:
        return _answer(connection, request, started)
    except AnswerInFlight as exc:
        log.info("%s; looking again in %d s", exc, exc.retry_in)
        return Retry(max=defaults.ANSWER_IN_FLIGHT_RETRIES, interval=exc.retry_in)


def _answer(connection: redis.Redis, request: RecognitionRequest, started: float) -> dict[str, Any]:
    """Read the request's photo and deliver its answer: its digits, or why there are none."""
    model = get_runtime().model
    photo = connection.get(request.photo_key)
    if photo is None:
        log.warning("request %s: photo %s expired or lost", request.request_id, request.photo_key)
        result: dict[str, Any] = {"text": "", "error": "photo-missing"}
        return _deliver(connection, request, texts.LOST_PHOTO, result)
    try:
        reading = read_photo(as_bytes(photo), model)
    except BadImageError as exc:
        log.info("request %s: bad image: %s", request.request_id, exc)
        result = {"text": "", "error": type(exc).__name__, "model_version": model.version}
        return _deliver(connection, request, exc.user_message, result)

    recognition = reading.recognition
    result = recognition.to_dict()
    if not request.is_telegram:
        # The web page shows what the model saw: each 28x28 input as rows of 0..255, and where
        # it lies in the image, which pairs it with the digit read from it (same box) if any.
        crops = (reading.preprocessed.crops * 255).round().astype("uint8")
        result["inputs"] = [crop.tolist() for crop in crops]
        result["input_boxes"] = [list(box) for box in reading.preprocessed.boxes]
    result["seconds"] = round(time.monotonic() - started, 4)
    log.info(
        "request %s: read %r (%.3f) with %s in %.1f ms",
        request.request_id, recognition.text, recognition.confidence, model.version,
        1000 * (time.monotonic() - started),
    )  # fmt: skip
    if recognition.text:  # web answers too: their page offers ✅ / ✏️ like the bot
        remember_for_feedback(connection, request, reading)
    markup = answer_markup(request.request_id, with_feedback=bool(recognition.text))
    return _deliver(connection, request, format_answer(recognition), result, reply_markup=markup)


def _deliver(
    connection: redis.Redis,
    request: RecognitionRequest,
    text: str,
    result: dict[str, Any],
    *,
    reply_markup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Deliver the answer (worker.delivery), or hand it to a delivery job when the Bot API
    cannot take it now; the job's result, or why nothing was sent."""
    try:
        sent = deliver(connection, request, text, result, reply_markup=reply_markup)
    except BotApiUnavailable as exc:
        log.warning("request %s: %s", request.request_id, exc)
        job_id = _hand_over(connection, request, text, result, reply_markup)
        return {**result, "delivery": job_id}
    if not sent:
        log.info("request %s answered meanwhile; not sending", request.request_id)
        return {"skipped": "already answered"}
    return result


def _hand_over(
    connection: redis.Redis,
    request: RecognitionRequest,
    text: str,
    result: dict[str, Any],
    reply_markup: dict[str, Any] | None = None,
) -> str:
    """Queue the delivery job for an answer the Bot API could not take; its id."""
    waits = get_runtime().settings.delivery_retry_seconds
    return schedule_redelivery(
        connection, request, text, result, waits=waits, reply_markup=reply_markup
    )


def deliver_answer(data: dict[str, Any]) -> dict[str, Any] | Retry:
    """Send an answer read earlier that the Bot API could not take then (worker.redelivery).
    Raises BotApiUnavailable while it still cannot, so RQ tries again after the next wait."""
    request = RecognitionRequest.from_dict(data["request"])
    result: dict[str, Any] = dict(data.get("result") or {})
    connection = _current_job().connection
    try:
        sent = deliver(
            connection,
            request,
            str(data["text"]),
            result,
            reply_markup=data.get("reply_markup"),
            attempts=defaults.DELIVERY_ATTEMPTS_PER_TRY,
        )
    except AnswerInFlight as exc:
        log.info("%s; looking again in %d s", exc, exc.retry_in)
        return Retry(max=defaults.ANSWER_IN_FLIGHT_RETRIES, interval=exc.retry_in)
    except BotApiUnavailable:
        raise
    except DeliveryError as exc:  # refused (blocked, chat gone): no later try can change that
        log.warning("request %s: answer refused, not trying again: %s", request.request_id, exc)
        return {**result, "refused": str(exc)}
    if not sent:
        log.info("request %s answered meanwhile; not sending", request.request_id)
        return {"skipped": "already answered"}
    log.info("request %s: answer delivered late", request.request_id)
    return result


def remember_for_feedback(
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
        runtime.replier.send_message(chat_id, texts.EXPLAIN_EXPIRED, reply_to_message_id=reply_to)
        return {"error": "photo-missing"}
    model = runtime.model
    reading = read_photo(as_bytes(photo), model)
    pre = reading.preprocessed
    png = render_explanation(pre.stages["gray"], pre.crops, pre.boxes, reading.recognition)
    caption = format_answer(reading.recognition).split("\n")[0]
    runtime.replier.send_photo(chat_id, png, caption=caption, reply_to_message_id=reply_to)
    return {"text": reading.recognition.text, "png_bytes": len(png)}


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
    text = exc_value.user_message if isinstance(exc_value, DigitbotError) else texts.JOB_FAILED
    result = {"text": "", "error": exc_type.__name__}
    try:
        deliver(connection, request, text, result)
    except AnswerInFlight:
        log.warning("request %s: another attempt is answering it; no apology", request.request_id)
    except BotApiUnavailable:  # the apology waits for the Bot API as an answer would
        try:
            _hand_over(connection, request, text, result)
        except Exception:
            log.exception("could not queue the apology for job %s", job.id)
    except Exception:  # the apology itself failed; the job stays in the failed registry
        log.exception("could not send the apology for job %s", job.id)


def _current_job() -> Job:
    job = get_current_job()
    if job is None:
        raise RuntimeError("recognize_photo must run inside an RQ job")
    return job
