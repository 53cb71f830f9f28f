"""What every request handler of one web app shares: settings, Redis, the intake, the limits."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app, request
from prometheus_client.registry import CollectorRegistry

from digitbot.intake import PhotoIntake
from digitbot.settings import Settings
from web.config import WebConfig
from web.metrics import metrics_registry
from web.ratelimit import RateLimiter

EXTENSION_NAME = "digitbot"


@dataclass(frozen=True)
class WebState:
    settings: Settings
    config: WebConfig
    connection: redis.Redis
    intake: PhotoIntake
    upload_limiter: RateLimiter
    login_limiter: RateLimiter
    metrics: CollectorRegistry

    @classmethod
    def build(cls, settings: Settings, config: WebConfig, connection: redis.Redis) -> WebState:
        return cls(
            settings=settings,
            config=config,
            connection=connection,
            intake=PhotoIntake(connection, max_queue_depth=settings.max_queue_depth),
            upload_limiter=RateLimiter(
                connection, scope="web-upload", limit=config.rate_per_minute
            ),
            login_limiter=RateLimiter(
                connection, scope="web-login", limit=config.login_attempts_per_minute
            ),
            metrics=metrics_registry(connection),
        )


def web_state() -> WebState:
    """The state of the app handling the current request."""
    state: WebState = current_app.extensions[EXTENSION_NAME]
    return state


def client_address() -> str:
    """The address rate limits count by: the peer, or the client our trusted proxy names.

    waitress rewrites REMOTE_ADDR from X-Forwarded-For only when the request comes from the
    proxy in DIGITBOT_WEB_TRUSTED_PROXY, and drops those headers otherwise.
    """
    return request.remote_addr or "unknown"
