"""The operators' login: HTTP basic auth against one user and password from the environment.

Browsers send basic-auth credentials with every request to the site, including requests other
sites make them send (a posted form, an <img>). So operator requests must come from our own
pages: a POST whose Origin is another site is refused, and so is any request that the browser
marks as cross-site (Sec-Fetch-Site) unless it is the operator following a link. A request that
changes state through the RQ dashboard must show that it comes from this site (Sec-Fetch-Site,
else Origin, else Referer); one that shows nothing is refused, since a link followed from
another site's page can carry no Origin and a stripped Referer.

Wrong passwords from one address are counted; over the limit they are answered 429 instead of
401, but the right password is always let in: refusing it would let anyone who shares the
operators' address (behind a proxy, everyone) lock them out.
"""

from __future__ import annotations

import hmac
import logging
from urllib.parse import urlsplit

from flask import Request, Response, jsonify

from web.config import HOW_TO_CONFIGURE, WebConfig
from web.ratelimit import RateLimiter

log = logging.getLogger(__name__)

REALM = "digitbot operators"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DASHBOARD_BLUEPRINT = "rq_dashboard"
# rq-dashboard 0.9.0's routes that change state (rq_dashboard/web.py). /requeue/<queue> takes
# GET as well as POST, so the method alone does not tell.
DASHBOARD_ACTIONS = frozenset(
    f"{DASHBOARD_BLUEPRINT}.{view}"
    for view in (
        "delete_job_view", "requeue_job_view", "requeue_all", "empty_queue", "compact_queue",
    )
)  # fmt: skip
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})  # "none": typed or bookmarked


def credentials_match(config: WebConfig, username: str, password: str) -> bool:
    """Compare both fields in constant time, so timing tells nothing about either."""
    if not config.has_operator_login:
        return False
    user_ok = hmac.compare_digest(username.encode(), str(config.operator_user).encode())
    password_ok = hmac.compare_digest(password.encode(), str(config.operator_password).encode())
    return user_ok & password_ok


def refuse_unless_operator(
    request: Request, config: WebConfig, login_limiter: RateLimiter, client: str
) -> Response | None:
    """None when the request carries the operator's credentials; otherwise the refusal."""
    if not config.has_operator_login:
        return _refusal(403, "The operator pages are disabled. " + HOW_TO_CONFIGURE)
    auth = request.authorization
    username = (auth.username or "") if auth is not None else ""
    password = (auth.password or "") if auth is not None else ""
    if auth is None or auth.type != "basic" or not credentials_match(config, username, password):
        if auth is not None:
            log.warning("operator login refused for %s from %s", request.path, client)
            attempts = login_limiter.hit(client)
            if not attempts.allowed:
                response = _refusal(429, "Too many wrong passwords; try again in a minute.")
                response.headers["Retry-After"] = str(attempts.retry_after_seconds)
                return response
        response = _refusal(401, "Log in with the operator user and password.")
        response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
        return response
    if _sent_by_another_site(request) or (
        changes_dashboard_state(request) and not shows_same_origin(request)
    ):
        log.warning("cross-site %s %s refused", request.method, request.path)
        return _refusal(403, "Operator actions must come from this site's own pages.")
    return None


def changes_dashboard_state(request: Request) -> bool:
    """True for the dashboard's actions (requeue, delete, empty, compact) and any unsafe method."""
    if request.blueprint != DASHBOARD_BLUEPRINT:
        return False
    return request.endpoint in DASHBOARD_ACTIONS or request.method not in SAFE_METHODS


def shows_same_origin(request: Request) -> bool:
    """True when the request says it comes from this site: Sec-Fetch-Site, else Origin, else
    Referer, whichever it has first. False when it has none of them."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in SAME_ORIGIN_FETCH_SITES
    for header in ("Origin", "Referer"):
        value = request.headers.get(header)
        if value is not None:
            return _names_this_host(value, request)
    return False


def _names_this_host(url: str, request: Request) -> bool:
    parts = urlsplit(url)  # Origin "null" (a sandboxed or opaque origin) names no host
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def _sent_by_another_site(request: Request) -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")  # absent outside browsers (curl, scrapers)
    if fetch_site == "cross-site":
        mode = request.headers.get("Sec-Fetch-Mode")
        return not (request.method == "GET" and mode == "navigate")  # following a link is fine
    origin = request.headers.get("Origin")
    if request.method in SAFE_METHODS or origin is None:
        return False
    return urlsplit(origin).netloc != request.host


def _refusal(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response
