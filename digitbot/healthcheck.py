"""`digitbot healthcheck COMPONENT`: exit 0 when this container's component is healthy, else 1.

Docker runs it inside the container (compose.yaml, the Dockerfile's HEALTHCHECK) every 30 s, so
it stays cheap: a few Redis calls or one HTTP request on loopback. It imports neither TensorFlow
nor telegram (the web image has neither) and prints one line that says why.

Docker reads exit code 2 as "reserved", so every failure, a configuration error included, is 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import redis
from rq.defaults import DEFAULT_WORKER_TTL
from rq.worker import BaseWorker, Worker, WorkerStatus

from digitbot import keys
from digitbot.errors import ConfigurationError
from digitbot.settings import Settings

COMPONENTS = ("bot", "worker", "web", "scheduler", "redis")

REDIS_TIMEOUT_SECONDS = 3.0
HTTP_TIMEOUT_SECONDS = 3.0
# The port `digitbot web` listens on inside its container (compose.yaml, Dockerfile).
DEFAULT_WEB_PORT = 8080
# An idle RQ worker refreshes its heartbeat every DEFAULT_WORKER_TTL - 15 s; one quiet for longer
# than this is gone even if its key has not expired yet. A busy SimpleWorker sends none until
# its job ends, so a busy worker counts as alive while its key lives (job timeout + 60 s).
WORKER_STALE_SECONDS = DEFAULT_WORKER_TTL + 60

Result = tuple[bool, str]


def check(
    component: str,
    settings: Settings,
    *,
    hostname: str | None = None,
    web_port: int = DEFAULT_WEB_PORT,
) -> Result:
    """Return (healthy, one-line reason) for `component` running on this host."""
    if component == "web":
        return check_web(web_port)
    checks: dict[str, Callable[[redis.Redis, str], Result]] = {
        "redis": lambda connection, host: (True, "Redis answers"),
        "bot": check_bot,
        "worker": check_worker,
        "scheduler": check_scheduler,
    }
    if component not in checks:
        return False, f"unknown component {component!r}; expected one of {', '.join(COMPONENTS)}"
    try:
        url = settings.require_redis_url()
    except ConfigurationError as exc:
        return False, str(exc)
    connection = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        connection.ping()
        return checks[component](connection, hostname or socket.gethostname())
    except redis.exceptions.RedisError as exc:
        return False, f"Redis at {redacted(url)} does not answer: {exc}"
    finally:
        connection.close()


def check_bot(connection: redis.Redis, hostname: str) -> Result:
    key = keys.bot_heartbeat_key(hostname)
    ttl = connection.ttl(key)
    if ttl == -2:  # no such key
        return False, f"no heartbeat from the bot on {hostname} in the last minute (key {key})"
    return True, f"bot on {hostname} is alive (heartbeat expires in {ttl} s)"


def check_worker(connection: redis.Redis, hostname: str) -> Result:
    workers = [w for w in Worker.all(connection=connection) if w.hostname == hostname]
    if not workers:
        return False, f"no RQ worker registered from host {hostname}"
    now = dt.datetime.now(dt.UTC)
    alive = [w for w in workers if not is_stale(w, now)]
    if not alive:
        return False, (
            f"{len(workers)} RQ worker(s) of host {hostname} sent no heartbeat "
            f"for over {WORKER_STALE_SECONDS} s"
        )
    queues = sorted({name for w in alive for name in w.queue_names()})
    return True, f"{len(alive)} RQ worker(s) alive on {hostname} (queues: {', '.join(queues)})"


def is_stale(worker: BaseWorker, now: dt.datetime) -> bool:
    if worker.get_state() == WorkerStatus.BUSY:
        return False
    beat = worker.last_heartbeat
    if beat is None:
        return True
    if beat.tzinfo is None:  # RQ stores UTC without an offset
        beat = beat.replace(tzinfo=dt.UTC)
    return (now - beat).total_seconds() > WORKER_STALE_SECONDS


def check_scheduler(connection: redis.Redis, hostname: str) -> Result:
    beat = connection.get(keys.SCHEDULER_HEARTBEAT_KEY)
    if beat is None:
        return False, (
            f"no scheduler heartbeat in the last minute (key {keys.SCHEDULER_HEARTBEAT_KEY})"
        )
    tick = beat.decode(errors="replace") if isinstance(beat, bytes) else str(beat)
    return True, f"scheduler alive (last tick {tick})"


def check_web(port: int) -> Result:
    url = f"http://127.0.0.1:{port}/healthz"
    # No proxy: an HTTP(S)_PROXY in the container's environment must not catch loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        body = exc.read(200).decode(errors="replace").strip()
        return False, f"{url} answered {exc.code}: {body}"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return False, f"{url} is not reachable: {reason}"
    if status != 200:
        return False, f"{url} answered {status}"
    return True, f"{url} answered 200"


def redacted(url: str) -> str:
    """`url` without its user and password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The healthcheck's arguments, shared by `digitbot healthcheck` and `python -m`."""
    parser.add_argument("component", choices=COMPONENTS)
    parser.add_argument(
        "--port", type=int, default=DEFAULT_WEB_PORT, help="web: the port `digitbot web` uses"
    )


def run(args: argparse.Namespace) -> int:
    """Check, print one line, return 0 (healthy) or 1 (unhealthy)."""
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        healthy, reason = False, str(exc)
    else:
        healthy, reason = check(args.component, settings, web_port=args.port)
    print(f"{args.component}: {'ok' if healthy else 'UNHEALTHY'}: {reason}", flush=True)
    return 0 if healthy else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="digitbot healthcheck", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
