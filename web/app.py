"""The Flask application: the public recognition page, the operators' pages, the RQ dashboard.

`create_app(settings, connection)` builds it around one Redis connection; `web.server` serves it.
Public: /, /api/recognize, /api/result/<id>, /api/feedback/<id>, /api/forget, /healthz, /static.
Everything else needs the operator login: /status, /api/status, /api/retrain, /metrics and the
RQ dashboard under /rq.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import quote

import redis
import rq_dashboard
from flask import Flask, Response, g, jsonify, request
from rq.serializers import JSONSerializer
from werkzeug.exceptions import HTTPException

from digitbot import defaults, texts
from digitbot.settings import Settings
from web import feedback, formatting, operators, recognition
from web.auth import refuse_unless_operator
from web.config import WebConfig
from web.navigation import install_dashboard_templates, navigation
from web.state import EXTENSION_NAME, WebState, client_address, web_state

log = logging.getLogger("web.requests")

DASHBOARD_PREFIX = "/rq"
OPERATOR_BLUEPRINTS = frozenset({operators.blueprint.name, rq_dashboard.blueprint.name})
# A multipart body carries the file plus boundaries and headers; anything beyond this margin
# over the file limit is refused before it is read.
MULTIPART_MARGIN_BYTES = 64 * 1024
MAX_REQUEST_BYTES = defaults.MAX_DOWNLOAD_BYTES + MULTIPART_MARGIN_BYTES
# Our own pages load scripts and styles from /static only; the dashboard has inline scripts.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# rq-dashboard's pages run an inline <script> and style="" attributes, and its templates are
# compiled by underscore's _.template (new Function): all from its own files, nothing from
# elsewhere. Everything else is locked down as on our pages.
DASHBOARD_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
# Sent only over HTTPS (browsers ignore it over plain HTTP): behind a TLS proxy, waitress marks
# the request https from the trusted proxy's X-Forwarded-Proto.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def create_app(
    settings: Settings, connection: redis.Redis, *, config: WebConfig | None = None
) -> Flask:
    """The web app on `connection`; operator credentials come from `config` (or `settings`)."""
    config = config if config is not None else WebConfig.from_settings(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_NAME] = WebState.build(settings, config, connection)

    app.register_blueprint(recognition.blueprint)
    app.register_blueprint(feedback.blueprint)
    app.register_blueprint(operators.blueprint)
    app.context_processor(navigation)  # the "Status" link, for operators only
    install_dashboard_templates(app)  # the dashboard links back to /status
    for name in ("ago", "duration", "iso"):
        app.add_template_filter(getattr(formatting, name), name)
    _mount_dashboard(app, connection)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.register_error_handler(redis.exceptions.ConnectionError, _redis_unavailable)
    app.register_error_handler(redis.exceptions.TimeoutError, _redis_unavailable)
    app.register_error_handler(redis.exceptions.BusyLoadingError, _redis_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    return app


def healthz() -> tuple[Response, int]:
    """200 when Redis answers, 503 otherwise (compose healthchecks, load balancers)."""
    g.log_level = logging.DEBUG
    try:
        web_state().connection.ping()
    except redis.exceptions.RedisError as exc:
        log.warning("health check: Redis does not answer: %s", exc)  # details stay in the log
        return jsonify({"status": "unavailable"}), 503
    return jsonify({"status": "ok"}), 200


def redis_url_of(connection: redis.Redis) -> str:
    """A URL for the server `connection` talks to (the dashboard opens its own connections)."""
    kwargs = connection.connection_pool.connection_kwargs
    db = kwargs.get("db", 0)
    userinfo = ""
    if kwargs.get("password"):
        user = quote(str(kwargs.get("username") or ""), safe="")
        userinfo = f"{user}:{quote(str(kwargs['password']), safe='')}@"
    if kwargs.get("path"):
        return f"unix://{userinfo}{kwargs['path']}?db={db}"
    scheme = (
        "rediss"
        if "ssl" in connection.connection_pool.connection_class.__name__.lower()
        else "redis"
    )
    host = kwargs.get("host", "localhost")
    return f"{scheme}://{userinfo}{host}:{kwargs.get('port', 6379)}/{db}"


def _mount_dashboard(app: Flask, connection: redis.Redis) -> None:
    # Our jobs are JSON; the dashboard's default serializer is pickle, which cannot read them.
    rq_dashboard.web.config.serializer = JSONSerializer
    app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url_of(connection)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=DASHBOARD_PREFIX)
    rq_dashboard.web.setup_rq_connection(app)


def _start_request() -> Response | None:
    g.started = time.perf_counter()
    if request.blueprint in OPERATOR_BLUEPRINTS:
        state = web_state()
        return refuse_unless_operator(request, state.config, state.login_limiter, client_address())
    return None


def _finish_request(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.blueprint == rq_dashboard.blueprint.name:
        response.headers.setdefault("Content-Security-Policy", DASHBOARD_CONTENT_SECURITY_POLICY)
    else:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    if request.blueprint == rq_dashboard.blueprint.name and request.method == "GET":
        g.log_level = logging.DEBUG  # the dashboard polls every few seconds; its actions are POSTs
    if not (request.endpoint or "").endswith("static"):
        _log_request(response)
    return response


def _log_request(response: Response) -> None:
    """One line per request: method, path, status, time, and the recognition request id."""
    level = g.get("log_level", logging.INFO)
    if not log.isEnabledFor(level):
        return
    elapsed_ms = 1000 * (time.perf_counter() - g.get("started", time.perf_counter()))
    request_id = g.get("request_id")
    log.log(
        level, "%s %s %d %.1fms%s",
        request.method, request.path, response.status_code, elapsed_ms,
        f" request={request_id}" if request_id else "",
    )  # fmt: skip


def _redis_unavailable(exc: Exception) -> tuple[Response, int]:
    log.error("Redis unavailable during %s %s: %s", request.method, request.path, exc)
    response = jsonify({"error": texts.SERVICE_DOWN})
    response.headers["Retry-After"] = "5"
    return response, 503


def _http_error(exc: HTTPException) -> Response | HTTPException:
    """JSON errors for the API (the page shows `error`), Flask's pages elsewhere."""
    if not request.path.startswith("/api/") and exc.code != 413:
        return exc
    message = texts.IMAGE_TOO_LARGE if exc.code == 413 else (exc.description or exc.name)
    response = jsonify({"error": message})
    response.status_code = exc.code or 500
    return response
