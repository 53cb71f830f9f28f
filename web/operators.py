"""The operators' pages: the status view, its JSON, the retrain button and /metrics.

Every route here requires the operator login (checked for the whole blueprint in web.app).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import Blueprint, Response, jsonify, render_template
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from digitbot import texts
from digitbot.retrain import TriggerOutcome, request_retraining
from web.state import web_state
from web.status import collect_status

log = logging.getLogger(__name__)

blueprint = Blueprint("operators", __name__)


@blueprint.get("/status")
def status_page() -> str:
    """The status view: champion and models, queues, workers, failures, last retraining."""
    return render_template("status.html", status=collect_status(web_state().connection))


@blueprint.get("/api/status")
def status_json() -> Response:
    """The same snapshot as /status, as JSON."""
    response = jsonify(collect_status(web_state().connection))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.post("/api/retrain")
def retrain() -> tuple[Response, int]:
    """Enqueue a retraining on the training queue; 409 when one is already pending."""
    trigger = request_retraining(web_state().connection, requested_by="web", chat_id=0)
    if trigger.outcome is TriggerOutcome.ALREADY_RUNNING:
        log.info("retraining not queued: job %s is %s", trigger.job_id, trigger.status)
        message = texts.RETRAIN_ALREADY.format(status=trigger.status)
        return jsonify({"error": message, "job_status": trigger.status}), 409
    log.info("retraining queued as job %s (requested from the web page)", trigger.job_id)
    return jsonify({"status": str(trigger.outcome), "message": texts.RETRAIN_QUEUED_ON_PAGE}), 202


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus text format, read from Redis at each scrape."""
    return Response(generate_latest(web_state().metrics), content_type=CONTENT_TYPE_LATEST)


@blueprint.app_template_filter("when")
def format_when(value: float | str | None) -> str:
    """Unix seconds or an ISO 8601 time as 'YYYY-MM-DD HH:MM:SS UTC'; a dash for None."""
    if value is None:
        return "—"
    try:
        if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
            moment = datetime.fromisoformat(value)
            moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
        else:
            moment = datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@blueprint.app_template_filter("percent")
def format_percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * float(value):.2f}%"
