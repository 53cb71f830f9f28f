"""The web page's "✅ right" / "✏️ correct it" and "forget me", recorded exactly as the bot does.

POST /api/feedback/<request_id> {"label": "42"} stores the answer's 28×28 crops with the right
label through `FeedbackStore.record`: the same fields, per-user daily limit and held-for-review
rule as a Telegram correction, with the visitor's salted hash (web.visitors) as the user.
POST /api/forget deletes everything stored for the visitor.

Both take JSON only: a page on another site cannot send that without a CORS preflight we never
grant, and the visitor cookie is SameSite=Lax besides. Feedback needs no per-minute limit of its
own: each answer takes one, and answers come from uploads, which are limited per client. The
daily limit counts the visitor (as the bot counts a user) and, since clearing cookies makes a
new visitor, the client address as well (its salted hash, never the address).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from digitbot import defaults, texts
from digitbot.feedback import FeedbackStore, RecordOutcome, outcome_message
from web import visitors
from web.recognition import REQUEST_ID_PATTERN, error_response
from web.state import client_address, web_state

log = logging.getLogger(__name__)

blueprint = Blueprint("feedback", __name__)

OUTCOME_STATUS = {
    RecordOutcome.RECORDED: 200,
    RecordOutcome.HELD: 200,
    RecordOutcome.LIMITED: 429,
    RecordOutcome.INVALID: 400,
    RecordOutcome.EXPIRED: 410,
}


@blueprint.post("/api/feedback/<request_id>")
def record_feedback(request_id: str) -> tuple[Response, int] | Response:
    """Confirm (the label the page showed) or correct (another label) one answer."""
    if not REQUEST_ID_PATTERN.match(request_id):
        return error_response(404, texts.FEEDBACK_EXPIRED)
    g.request_id = request_id
    label = _label_from_body()
    if label is None:
        return error_response(400, texts.JSON_ONLY)
    connection = web_state().connection
    visitor = visitors.visitor_id()
    owner = visitors.owner_of(connection, request_id)
    if owner is None:
        return error_response(410, texts.FEEDBACK_EXPIRED)
    if visitor is None or visitors.visitor_hash(connection, visitor) != owner:
        return error_response(403, texts.FEEDBACK_INVALID)  # only the sender may correct
    address = visitors.address_hash(connection, client_address())
    store = FeedbackStore(connection)
    store.claim_answer(request_id, owner)
    outcome, sample = store.record(
        request_id,
        label,
        user_hash=owner,
        also_limited=[(address, defaults.WEB_CORRECTIONS_PER_ADDRESS_PER_DAY)],
    )
    confirmed = sample is not None and sample.kind == "confirmed"
    log.info("request %s: feedback %s", request_id, outcome)
    body: dict[str, Any] = {
        "outcome": outcome,
        "message": outcome_message(outcome, label, confirmed=confirmed),
    }
    if sample is not None:
        body.update(label=sample.label, kind=sample.kind)
    return jsonify(body), OUTCOME_STATUS.get(outcome, 400)


@blueprint.post("/api/forget")
def forget() -> tuple[Response, int] | Response:
    """Delete every sample stored for this browser's visitor id; say how many."""
    if not request.is_json:
        return error_response(400, texts.JSON_ONLY)
    connection = web_state().connection
    visitor = visitors.visitor_id()
    removed = 0
    if visitor is not None:
        user_hash = visitors.visitor_hash(connection, visitor)
        removed = FeedbackStore(connection).forget_user(user_hash)
        visitors.forget_requests(connection, user_hash)
    return jsonify({"removed": removed, "message": texts.FORGOTTEN.format(count=removed)})


def _label_from_body() -> str | None:
    body = request.get_json(silent=True) if request.is_json else None
    label = body.get("label") if isinstance(body, dict) else None
    return label.strip() if isinstance(label, str) else None
