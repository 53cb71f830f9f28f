"""The embedded Redis of `digitbot up` has a random password that only its REDIS_URL carries
(to the processes `up` starts, and on the one banner line meant for a second terminal), and a
worker refuses a password-less Redis off this host unless told that is fine. Real redis-server,
real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from digitbot.errors import ConfigurationError
from digitbot.redis_server import EmbeddedRedis, free_port, new_password
from digitbot.settings import (
    ALLOW_UNAUTHENTICATED_REDIS,
    Settings,
    is_unauthenticated_remote,
    redis_url_for_display,
)
from tests.support.processes import REPO_ROOT, ManagedProcess, digitbot_command, wait_until

# Nothing listens there; a worker that got past the check would hang trying to connect.
REMOTE_WITHOUT_PASSWORD = "redis://10.255.255.1:6379/0"


def no_retry_client(server: EmbeddedRedis, password: str | None) -> redis.Redis:
    # redis-py retries a refused AUTH with back-off by default; one answer is enough here.
    return redis.Redis(
        host=server.host, port=server.port, password=password, retry=Retry(NoBackoff(), 0)
    )


def raw_reply(server: EmbeddedRedis, command: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(200)


def test_embedded_redis_with_a_password_refuses_clients_without_it(tmp_path: Path) -> None:
    password = new_password()
    with EmbeddedRedis(tmp_path / "redis", password=password) as server:
        with pytest.raises(redis.exceptions.AuthenticationError):
            no_retry_client(server, None).set("k", "v")
        with pytest.raises(redis.exceptions.AuthenticationError):
            no_retry_client(server, "not-the-password").ping()
        assert raw_reply(server, b"GET k\r\n").startswith(b"-NOAUTH")
        assert redis.Redis.from_url(server.url).set("k", "v")
        assert password in server.url
        assert process_arguments(server.process) and password not in process_arguments(
            server.process
        )
        assert password not in repr(server) and password not in server.display_url
        assert password not in (tmp_path / "redis" / "redis.log").read_text()


def process_arguments(process: subprocess.Popen[bytes] | None) -> str:
    assert process is not None
    return Path(f"/proc/{process.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_new_passwords_are_random_and_url_safe() -> None:
    first, second = new_password(), new_password()
    assert first != second and len(first) >= 40
    assert redis_url_for_display(f"redis://:{first}@127.0.0.1:1/0") == "redis://:***@127.0.0.1:1/0"
    with pytest.raises(ValueError):
        EmbeddedRedis(Path("/nonexistent"), port=1, password="has space")


def processes_with_home(home: Path) -> dict[int, dict[str, str]]:
    """The environment of every live process whose environment names this DIGITBOT_HOME."""
    needle = f"DIGITBOT_HOME={home}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes().split(b"\0")
            if needle in raw and "State:\tZ" not in (entry / "status").read_text():
                pairs = (item.decode(errors="replace").partition("=") for item in raw if item)
                found[int(entry.name)] = {name: value for name, _, value in pairs}
        except OSError:
            continue
    return found


@pytest.mark.slow
def test_up_gives_its_processes_the_password_and_shows_it_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "REDIS_URL")}
    env.update(DIGITBOT_HOME=str(home), PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    command = digitbot_command(
        "up", "--redis-port", str(free_port()), "--web-port", str(free_port())
    )
    up = ManagedProcess("up", command, env, tmp_path).start()
    try:
        up.wait_for_log("Press Ctrl-C", timeout=60)
        exports = [line for line in up.log().splitlines() if "export REDIS_URL=" in line]
        assert len(exports) == 1, up.log()
        url = exports[0].split("export REDIS_URL=", 1)[1].strip()
        password = redis.connection.parse_url(url)["password"]
        assert len(password) >= 40
        connection = redis.Redis.from_url(url)
        unauthenticated = redis.Redis.from_url(
            url.replace(f":{password}@", ""), retry=Retry(NoBackoff(), 0)
        )
        with pytest.raises(redis.exceptions.AuthenticationError):
            unauthenticated.ping()
        # The processes `up` started got the URL, and work with it: the recognition and
        # training workers register in Redis (after loading the model).
        children = processes_with_home(home)
        started = [e for pid, e in children.items() if pid != up.pid and "REDIS_URL" in e]
        assert len(started) >= 4, children  # worker pools, scheduler, web (and their workers)
        assert all(e["REDIS_URL"] == url for e in started)
        assert wait_until(lambda: len(connection.smembers("rq:workers")) >= 2, timeout=180), (
            up.log()[-4000:]
        )
    finally:
        os.kill(up.pid, signal.SIGINT)
        assert up.process is not None
        up.process.wait(60)
    assert up.process.returncode == 0, up.log()[-3000:]
    output = up.log()
    assert output.count(password) == 1, "the password is shown outside the export line"
    assert "redis://:***@127.0.0.1" in output  # the banner's Redis line, without it
    assert wait_until(lambda: not processes_with_home(home), timeout=15)


def run_refused(args: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ALLOW_UNAUTHENTICATED_REDIS}
    env.update(REDIS_URL=REMOTE_WITHOUT_PASSWORD, **extra)
    return subprocess.run(args, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args",
    [
        [sys.executable, "-m", "worker.rq_worker", "--name", "refused"],
        digitbot_command("worker", "--processes", "1"),
        digitbot_command("up"),
    ],
    ids=["rq_worker", "digitbot worker", "digitbot up"],
)
def test_a_worker_refuses_a_remote_redis_without_password(args: list[str]) -> None:
    done = run_refused(args)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one clear line, no traceback
    assert ALLOW_UNAUTHENTICATED_REDIS in lines[0] and "10.255.255.1" in lines[0]


def test_the_refusal_can_be_overridden_and_spares_loopback_and_passwords() -> None:
    with pytest.raises(ConfigurationError, match=ALLOW_UNAUTHENTICATED_REDIS):
        Settings.from_env({"REDIS_URL": REMOTE_WITHOUT_PASSWORD}).require_worker_redis_url()
    allowed = Settings.from_env(
        {"REDIS_URL": REMOTE_WITHOUT_PASSWORD, ALLOW_UNAUTHENTICATED_REDIS: "1"}
    )
    assert allowed.require_worker_redis_url() == REMOTE_WITHOUT_PASSWORD
    for url in (
        "redis://127.0.0.1:6379/0",
        "redis://localhost:6379/0",
        "redis://[::1]:6379/0",
        "unix:///run/redis.sock",
        "redis://:secret@10.0.0.5:6379/0",
        "rediss://:secret@redis.example:6380/0",
    ):
        assert not is_unauthenticated_remote(url), url
        assert Settings(redis_url=url).require_worker_redis_url() == url
    for url in ("redis://10.0.0.5:6379/0", "redis://redis:6379/0", "redis://user@10.0.0.5/0"):
        assert is_unauthenticated_remote(url), url
    with pytest.raises(ConfigurationError, match=ALLOW_UNAUTHENTICATED_REDIS):
        Settings.from_env({ALLOW_UNAUTHENTICATED_REDIS: "maybe"})


def test_the_redis_password_stays_out_of_settings_repr() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://:hunter2hunter2@10.0.0.5:6379/0"})
    assert "hunter2hunter2" not in repr(settings)
