"""`digitbot up`: everything on one machine, stopped together with Ctrl-C.

With no REDIS_URL it starts an embedded redis-server (persistent, loopback only, with a fresh
random password that only its REDIS_URL carries), then the worker pool, then the bot when
TELEGRAM_BOT_TOKEN is set. A component that dies is restarted; SIGINT/SIGTERM stops all of it
and leaves no process behind.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from digitbot.logs import configure_logging
from digitbot.procutil import die_with_parent
from digitbot.redis_server import EmbeddedRedis, free_port, new_password, port_is_free
from digitbot.settings import Settings, redis_url_for_display
from web.config import WebConfig

log = logging.getLogger("digitbot.up")

STOP_GRACE_SECONDS = 20.0
RESTART_DELAYS = (1, 2, 5, 10, 30)


@dataclass
class Component:
    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    restart_at: float = 0.0
    started_at: float = field(default_factory=time.monotonic)

    def start(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(self.command, env=env, preexec_fn=die_with_parent)
        self.started_at = time.monotonic()


def run_up(settings: Settings, *, workers: int = 1, redis_port: int, web_port: int) -> int:
    # Refuse a setting now, before anything starts, not in every restart of a component.
    if settings.redis_url:
        settings.require_worker_redis_url()
    if settings.telegram_token:
        settings.require_token()
    WebConfig.from_settings(settings)  # half an operator login, a placeholder password
    configure_logging("up")
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    embedded: EmbeddedRedis | None = None
    redis_url = settings.redis_url
    port_warnings: list[str] = []
    if not redis_url:
        port = pick_port(redis_port)
        if port != redis_port:
            port_warnings.append(port_taken(redis_port, "--redis-port", "the embedded Redis", port))
        # Any user of this host can reach a loopback port: a password keeps them out.
        embedded = EmbeddedRedis(settings.home / "redis", port=port, password=new_password())
        embedded.start()
        redis_url = embedded.url
        log.info("embedded Redis on %s (data in %s)", embedded.display_url, embedded.data_dir)
    env = {**os.environ, "REDIS_URL": redis_url}
    cli = [sys.executable, "-m", "digitbot.cli"]
    components = [
        Component("workers", [*cli, "worker", "--processes", str(workers)]),
        Component("trainer", [*cli, "worker", "--queues", "training"]),
        Component("scheduler", [*cli, "scheduler"]),
    ]
    used_web_port = pick_port(web_port)
    if used_web_port != web_port:
        port_warnings.append(port_taken(web_port, "--web-port", "the web page", used_web_port))
    components.append(
        Component("web", [*cli, "web", "--host", "127.0.0.1", "--port", str(used_web_port)])
    )
    if settings.telegram_token:
        components.append(Component("bot", [*cli, "bot"]))
    for component in components:
        component.start(env)
    print(
        banner(
            settings,
            redis_url=redis_url,
            embedded=embedded is not None,
            workers=workers,
            web_port=used_web_port,
            warnings=port_warnings,
        ),
        flush=True,
    )

    try:
        while not stop_requested:
            for component in components:
                _keep_alive(component, env)
            time.sleep(0.5)
    finally:
        log.info("stopping…")
        _stop_all(components)
        if embedded:
            embedded.stop()
        log.info("stopped")
    return 0


def _keep_alive(component: Component, env: dict[str, str]) -> None:
    process = component.process
    if process is None:
        if time.monotonic() >= component.restart_at:
            log.info("restarting %s", component.name)
            component.start(env)
        return
    code = process.poll()
    if code is None:
        return
    delay = RESTART_DELAYS[min(component.restarts, len(RESTART_DELAYS) - 1)]
    log.warning("%s exited with %s; restarting in %d s", component.name, code, delay)
    component.restarts += 1
    component.process = None
    component.restart_at = time.monotonic() + delay


def _stop_all(components: list[Component]) -> None:
    running = [c.process for c in reversed(components) if c.process and c.process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pick_port(requested: int) -> int:
    """`requested` when nothing listens on it, else a free port."""
    return requested if port_is_free(requested) else free_port()


def port_taken(requested: int, option: str, what: str, used: int) -> str:
    return f"port {requested} ({option}) was taken, so {what} is on port {used} instead"


def banner(
    settings: Settings,
    *,
    redis_url: str,
    embedded: bool,
    workers: int,
    web_port: int,
    warnings: Sequence[str] = (),
) -> str:
    """What `up` started and where, for the person who ran it."""
    page = f"http://127.0.0.1:{web_port}/"
    if settings.web_user and settings.web_password:
        operators = f"{page}status and {page}rq (log in as {settings.web_user})"
    else:
        operators = "off: set DIGITBOT_WEB_USER and DIGITBOT_WEB_PASSWORD to open /status and /rq"
    lines = [
        "digitbot is up:",
        *(f"  warning    {warning}" for warning in warnings),
        f"  web page   {page}",
        f"  operators  {operators}",
        f"  Redis      {redis_url_for_display(redis_url)}{' (embedded)' if embedded else ''}",
        f"  workers    {workers} recognition process(es), 1 training process",
        f"  scheduler  retraining on DIGITBOT_RETRAIN_CRON ({settings.retrain_cron})",
    ]
    if settings.telegram_token:
        lines.append(f"  bot        polling {settings.telegram_api_url}<token>/getUpdates")
    else:
        lines.append("  bot        not started: export TELEGRAM_BOT_TOKEN=<token from @BotFather>")
    if embedded:
        # The one place the password is shown: the operator needs it for `digitbot models` etc.
        lines.append("In a second terminal, for `digitbot models` and `digitbot retrain`:")
        lines.append(f"  export REDIS_URL={redis_url}")
    lines.append("Press Ctrl-C to stop everything.")
    return "\n".join(lines)
