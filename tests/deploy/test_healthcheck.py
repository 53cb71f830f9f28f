"""`digitbot healthcheck`: each component's check against a real Redis and a real HTTP server."""

from __future__ import annotations

import asyncio
import datetime as dt
import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
import redis
from rq import SimpleWorker
from rq.utils import utcformat
from rq.worker import WorkerStatus

from digitbot import defaults, healthcheck, keys
from digitbot.cron import CronSchedule
from digitbot.redis_server import EmbeddedRedis, free_port
from digitbot.scheduler import RetrainScheduler
from digitbot.settings import Settings

HOST = socket.gethostname()


@pytest.fixture()
def settings(redis_server: EmbeddedRedis, redis_conn: redis.Redis) -> Settings:
    return Settings(redis_url=redis_server.url)


@pytest.fixture()
def worker(redis_conn: redis.Redis) -> Iterator[SimpleWorker]:
    registered = SimpleWorker(["recognition"], connection=redis_conn)
    registered.register_birth()
    yield registered
    registered.register_death()


def closed_port() -> int:
    return free_port()  # bound, released, nobody listens


# --- Redis -------------------------------------------------------------------------------------


def test_redis_answers(settings: Settings) -> None:
    assert healthcheck.check("redis", settings) == (True, "Redis answers")


def test_redis_down_is_unhealthy_without_showing_the_password() -> None:
    url = f"redis://:s3cretpassw0rd@127.0.0.1:{closed_port()}/0"
    healthy, reason = healthcheck.check("redis", Settings(redis_url=url))
    assert not healthy
    assert "does not answer" in reason and "127.0.0.1" in reason
    assert "s3cretpassw0rd" not in reason


def test_missing_redis_url_is_unhealthy_and_names_the_variable() -> None:
    healthy, reason = healthcheck.check("worker", Settings())
    assert not healthy and "REDIS_URL" in reason


def test_unknown_component_is_unhealthy(settings: Settings) -> None:
    healthy, reason = healthcheck.check("database", settings)
    assert not healthy and "scheduler" in reason


# --- scheduler ---------------------------------------------------------------------------------


def test_scheduler_without_heartbeat_is_unhealthy(settings: Settings) -> None:
    healthy, reason = healthcheck.check("scheduler", settings)
    assert not healthy and keys.SCHEDULER_HEARTBEAT_KEY in reason


def test_scheduler_heartbeat_written_by_the_scheduler_is_healthy(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    now = dt.datetime.now()
    scheduler = RetrainScheduler(redis_conn, CronSchedule.parse("0 3 * * 0"))
    scheduler.tick(now, next_run=now + dt.timedelta(days=1))
    healthy, reason = healthcheck.check("scheduler", settings)
    assert healthy, reason
    assert now.isoformat() in reason


# --- bot ---------------------------------------------------------------------------------------


def test_the_heartbeat_the_bot_writes_makes_it_healthy(
    settings: Settings, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot import app  # the bot's own writer; importing telegram is fine in tests

    class Stopped(Exception):
        pass

    async def stop(seconds: float) -> None:  # the heartbeat's wait for its next beat
        assert seconds == defaults.HEARTBEAT_SECONDS
        raise Stopped

    assert not healthcheck.check("bot", settings, hostname=HOST)[0]
    monkeypatch.setattr(asyncio, "sleep", stop)
    with pytest.raises(Stopped):
        asyncio.run(app._heartbeat(redis_conn))  # one beat
    healthy, reason = healthcheck.check("bot", settings, hostname=HOST)
    assert healthy, reason
    assert 0 < redis_conn.ttl(keys.bot_heartbeat_key(HOST)) <= defaults.HEARTBEAT_TTL_SECONDS


def test_bot_without_heartbeat_is_unhealthy(settings: Settings) -> None:
    healthy, reason = healthcheck.check("bot", settings, hostname="bot-host")
    assert not healthy
    assert "bot-host" in reason and keys.bot_heartbeat_key("bot-host") in reason


def test_bot_with_fresh_heartbeat_is_healthy(settings: Settings, redis_conn: redis.Redis) -> None:
    redis_conn.set(keys.bot_heartbeat_key("bot-host"), "4242", ex=60)
    healthy, reason = healthcheck.check("bot", settings, hostname="bot-host")
    assert healthy, reason
    # Another host's heartbeat says nothing about this one.
    assert not healthcheck.check("bot", settings, hostname="other-host")[0]


# --- worker ------------------------------------------------------------------------------------


def test_no_worker_registered_is_unhealthy(settings: Settings) -> None:
    healthy, reason = healthcheck.check("worker", settings)
    assert not healthy and HOST in reason


def test_worker_registered_from_this_host_is_healthy(
    settings: Settings, worker: SimpleWorker
) -> None:
    healthy, reason = healthcheck.check("worker", settings)
    assert healthy, reason
    assert "1 RQ worker(s)" in reason and "recognition" in reason


def test_worker_of_another_host_does_not_count(settings: Settings, worker: SimpleWorker) -> None:
    healthy, reason = healthcheck.check("worker", settings, hostname="elsewhere")
    assert not healthy and "elsewhere" in reason


def test_idle_worker_without_recent_heartbeat_is_stale(
    settings: Settings, redis_conn: redis.Redis, worker: SimpleWorker
) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=healthcheck.WORKER_STALE_SECONDS + 5)
    redis_conn.hset(worker.key, "last_heartbeat", utcformat(old))
    healthy, reason = healthcheck.check("worker", settings)
    assert not healthy and "no heartbeat" in reason


def test_busy_worker_counts_as_alive_while_its_job_runs(
    settings: Settings, redis_conn: redis.Redis, worker: SimpleWorker
) -> None:
    # A SimpleWorker sends no heartbeat during a long (training) job.
    worker.set_state(WorkerStatus.BUSY)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    redis_conn.hset(worker.key, "last_heartbeat", utcformat(old))
    assert healthcheck.check("worker", settings)[0]


# --- web ---------------------------------------------------------------------------------------


def serve_healthz(status: int) -> tuple[http.server.HTTPServer, int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status if self.path == "/healthz" else 404
            body = b'{"status": "ok"}' if code == 200 else b'{"status": "unavailable"}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.mark.parametrize("status", [200, 503])
def test_web_healthz(status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy in the environment must not be used for loopback.
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed_port()}")
    server, port = serve_healthz(status)
    try:
        healthy, reason = healthcheck.check("web", Settings(), web_port=port)
    finally:
        server.shutdown()
        server.server_close()
    assert healthy is (status == 200), reason
    assert f"answered {status}" in reason


def test_web_not_listening_is_unhealthy() -> None:
    healthy, reason = healthcheck.check("web", Settings(), web_port=closed_port())
    assert not healthy and "not reachable" in reason


# --- the command -------------------------------------------------------------------------------


def test_main_prints_one_line_and_exits_0_when_healthy(
    redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert healthcheck.main(["redis"]) == 0
    assert capsys.readouterr().out == "redis: ok: Redis answers\n"


def test_main_exits_1_when_unhealthy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    assert healthcheck.main(["redis"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("redis: UNHEALTHY: ") and out.count("\n") == 1


def test_main_exits_1_not_2_on_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    # Docker reserves exit code 2 of a health check.
    monkeypatch.setenv("DIGITBOT_ADMIN_IDS", "not-a-number")
    assert healthcheck.main(["scheduler"]) == 1
    assert "DIGITBOT_ADMIN_IDS" in capsys.readouterr().out


def test_healthcheck_imports_neither_tensorflow_nor_telegram() -> None:
    code = (
        "import sys, digitbot.healthcheck; "
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'telegram', "
        "'keras', 'flask'}); print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
