"""The public recognition page and its API: draw or upload, enqueue, poll for the answer.

POST /api/recognize validates the image here (size, format, pixel count) so a bad upload is
answered at once, then enqueues it exactly like a Telegram photo. The worker stores the result
under `web_result_key(request_id)`; GET /api/result/<id> hands it over when it is there.
The answer can then be confirmed or corrected by the same browser (web.feedback).
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Response, g, jsonify, render_template, request, url_for
from rq.job import Job

from digitbot import defaults, keys, stats, texts
from digitbot.errors import BadImageError
from digitbot.intake import Outcome
from digitbot.payload import Source
from reading.decode import probe_image
from web import visitors
from web.state import client_address, web_state

log = logging.getLogger(__name__)

blueprint = Blueprint("recognition", __name__)

# Request ids are uuid4 hex (digitbot.payload.new_request_id).
REQUEST_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
SOURCES: dict[str, Source] = {"canvas": "web-canvas", "upload": "web-upload"}
# The page polls every 150 ms, so it tells the page to give up after this long with no worker.
RESULT_WAIT_SECONDS = 30

# A job in one of these states will never store a result (retries are "scheduled", not failed).
JOB_ENDED_WITHOUT_RESULT = frozenset({"failed", "stopped", "canceled"})


@blueprint.get("/")
def page() -> str:
    """The drawing canvas, the upload box and the result panel."""
    return render_template(
        "index.html",
        max_upload_bytes=defaults.MAX_DOWNLOAD_BYTES,
        too_large_text=texts.IMAGE_TOO_LARGE,
        result_wait_seconds=RESULT_WAIT_SECONDS,
    )


@blueprint.post("/api/recognize")
def recognize() -> tuple[Response, int] | Response:
    """Validate the image, enqueue its recognition, answer 202 with the request id."""
    state = web_state()
    client = client_address()
    decision = state.upload_limiter.hit(client)
    if not decision.allowed:
        log.warning("upload refused: %s is over %d/min", client, state.upload_limiter.limit)
        stats.count(state.connection, "rejected", "rate-limited")
        response = error_response(429, texts.SLOW_DOWN)
        response.headers["Retry-After"] = str(decision.retry_after_seconds)
        return response

    source = SOURCES.get(request.values.get("source", "upload"), "web-upload")
    data = _image_bytes()
    if not data:
        stats.count(state.connection, "rejected", "empty")
        return error_response(400, texts.NO_IMAGE)
    if len(data) > defaults.MAX_DOWNLOAD_BYTES:
        stats.count(state.connection, "rejected", "too-large")
        return error_response(413, texts.IMAGE_TOO_LARGE)
    try:
        info = probe_image(data)
    except BadImageError as exc:
        log.info("upload refused (%s bytes, %s): %s", len(data), source, exc)
        stats.count(state.connection, "rejected", rejection_reason(exc))
        return error_response(400, exc.user_message)

    submission = state.intake.submit(data, source=source)
    if submission.outcome is Outcome.BUSY:
        stats.count(state.connection, "rejected", "busy")
        response = error_response(503, texts.BUSY)
        response.headers["Retry-After"] = "30"
        return response
    g.request_id = submission.request_id
    log.info(
        "request %s: %s %s %dx%d, %d bytes, enqueued as %s",
        submission.request_id, source, info.format, info.width, info.height, len(data),
        submission.job_id,
    )  # fmt: skip
    # Only this browser's visitor may confirm or correct the answer (web.feedback).
    visitor = visitors.visitor_id() or visitors.new_visitor_id()
    visitors.remember_owner(state.connection, submission.request_id, visitor)
    body = {
        "request_id": submission.request_id,
        "result_url": url_for("recognition.result", request_id=submission.request_id),
    }
    response = jsonify(body)
    visitors.keep_visitor_cookie(response, visitor)
    return response, 202


@blueprint.get("/api/result/<request_id>")
def result(request_id: str) -> tuple[Response, int] | Response:
    """200 with the worker's result, 202 while pending, 404 for an unknown id, 502 if it failed."""
    if not REQUEST_ID_PATTERN.match(request_id):
        return error_response(404, texts.UNKNOWN_REQUEST)
    g.request_id = request_id
    connection = web_state().connection
    raw = connection.get(keys.web_result_key(request_id))
    if raw is not None:
        g.log_level = logging.INFO
        response = Response(raw, mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response
    raw_status = connection.hget(Job.key_for(f"req-{request_id}"), "status")
    if raw_status is None:
        return error_response(404, texts.UNKNOWN_REQUEST)
    job_status = stats.as_text(raw_status)
    if job_status in JOB_ENDED_WITHOUT_RESULT:
        # The worker's failure callback stores an apology first; this one means it could not.
        return error_response(502, texts.JOB_FAILED)
    response = jsonify({"status": "pending", "job_status": job_status})
    response.headers["Cache-Control"] = "no-store"
    g.log_level = logging.DEBUG  # the page polls every 150 ms: one INFO line per answer is enough
    return response, 202


def rejection_reason(exc: BadImageError) -> str:
    """A metric label from the error class: NotAnImageError -> "not-an-image"."""
    name = type(exc).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _image_bytes() -> bytes:
    """The image from the multipart field `file`, or the raw request body."""
    upload = request.files.get("file")
    if upload is not None:
        # Read one byte past the limit: enough to know it is too large without reading it all.
        return upload.stream.read(defaults.MAX_DOWNLOAD_BYTES + 1)
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return b""
    return request.get_data(cache=False)


def error_response(status: int, message: str) -> Response:
    """A JSON error the page shows as is: {"error": message}."""
    response = jsonify({"error": message})
    response.status_code = status
    return response
