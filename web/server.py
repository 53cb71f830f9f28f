"""`digitbot web`: serve the web page, the operators' pages and the RQ dashboard with waitress.

Without operator credentials the server only starts on a loopback address: on any other address
the operator pages would be reachable by others, so it refuses and says how to configure them.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys

import redis
import waitress
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from digitbot.errors import ConfigurationError
from digitbot.logs import configure_logging
from digitbot.settings import Settings
from web.app import MAX_REQUEST_BYTES, create_app
from web.config import HOW_TO_CONFIGURE, WebConfig

log = logging.getLogger("web.server")

# Each poll for a result holds a thread for a millisecond; a few threads serve many pages.
NUM_THREADS = 8
REDIS_CONNECT_TIMEOUT_SECONDS = 2.0
REDIS_SOCKET_TIMEOUT_SECONDS = 5.0
REDIS_RETRIES = 2
EXIT_CONFIGURATION_ERROR = 2
EXIT_CANNOT_LISTEN = 1


def run_web(settings: Settings, *, host: str, port: int) -> int:
    """Serve until interrupted; 2 when the configuration is refused, 1 when the port is taken."""
    configure_logging("web")
    try:
        config = WebConfig.from_settings(settings)
        redis_url = settings.require_redis_url()
        refuse_open_without_login(config, host)
    except ConfigurationError as exc:
        print(f"digitbot web: {exc}", file=sys.stderr, flush=True)
        return EXIT_CONFIGURATION_ERROR
    connection = redis.Redis.from_url(
        redis_url,
        socket_connect_timeout=REDIS_CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        health_check_interval=10,
        # A page waits for an answer: when Redis is down, say so within seconds, not minutes.
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), REDIS_RETRIES),
    )
    app = create_app(settings, connection, config=config)
    shown_host = f"[{host}]" if ":" in host else host
    log.info(
        "web page on http://%s:%d/ (operator pages %s)", shown_host, port,
        "need the login" if config.has_operator_login else "disabled: no login configured",
    )  # fmt: skip
    signal.signal(signal.SIGTERM, _exit_cleanly)  # `digitbot up`, compose and systemd stop with it
    try:
        waitress.serve(app, host=host, port=port, **server_options(config))
    except OSError as exc:
        print(f"digitbot web: cannot listen on {host}:{port}: {exc}", file=sys.stderr, flush=True)
        return EXIT_CANNOT_LISTEN
    except KeyboardInterrupt:
        pass
    finally:
        connection.close()
    return 0


def server_options(config: WebConfig) -> dict[str, object]:
    """waitress settings; X-Forwarded-* headers count only when they come from our proxy."""
    options: dict[str, object] = {
        "threads": NUM_THREADS,
        "ident": "digitbot",
        "max_request_body_size": MAX_REQUEST_BYTES,
        "clear_untrusted_proxy_headers": True,
    }
    if config.trusted_proxy:
        options.update(
            trusted_proxy=config.trusted_proxy,
            trusted_proxy_count=1,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
        )
    return options


def _exit_cleanly(signum: int, frame: object) -> None:
    log.info("stopping (signal %d)", signum)
    raise SystemExit(0)


def refuse_open_without_login(config: WebConfig, host: str) -> None:
    """Raise unless the operator login is configured or `host` is a loopback address."""
    if config.has_operator_login or is_loopback(host):
        return
    raise ConfigurationError(
        f"refusing to serve on {host!r} without an operator login: anyone who can reach it "
        f"could see the status pages. {HOW_TO_CONFIGURE} Or listen on 127.0.0.1 only."
    )


def is_loopback(host: str) -> bool:
    """True for 'localhost' and loopback IP addresses; any other name counts as open."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
