"""`digitbot up` on a fresh machine: embedded Redis, workers and bot; Ctrl-C stops all of it."""

from __future__ import annotations

import os
import re
import signal
import socket
from pathlib import Path

import pytest

from digitbot.redis_server import free_port
from tests.e2e.conftest import stack_env
from tests.support.photos import clear_arrays, digit_photo
from tests.support.processes import ManagedProcess, digitbot_command, wait_until
from tests.support.telegram_standin import TelegramStandIn

pytestmark = pytest.mark.slow


def processes_with_home(home: Path) -> list[int]:
    """Pids of live processes whose environment names this DIGITBOT_HOME (our children)."""
    needle = f"DIGITBOT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                status = (entry / "status").read_text()
                if "State:\tZ" not in status:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_up_answers_a_photo_and_sigint_leaves_no_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with TelegramStandIn("1234567:TESTtokenTESTtokenTESTtokenTESTtoken1") as standin:
        env = stack_env(standin, "", home)
        env.pop("REDIS_URL")
        up = ManagedProcess(
            "up", digitbot_command("up", "--redis-port", str(free_port())), env, tmp_path
        ).start()
        try:
            up.wait_for_log("digitbot is up", timeout=60)
            assert "(embedded)" in up.log()
            x, y = clear_arrays()
            message_id = standin.user_sends_photo(77, digit_photo(x[3], seed=1))
            answers = standin.wait_for(
                lambda r: r.method == "sendMessage" and r.reply_to_message_id == message_id,
                timeout=120,
            )
            assert answers[0].text.startswith(f"{int(y[3])} — ")
            assert len(processes_with_home(home)) >= 4  # up, redis, worker pool, worker, bot
        finally:
            os.kill(up.pid, signal.SIGINT)
            assert up.process is not None
            up.process.wait(60)
        assert up.process.returncode == 0, up.log()[-3000:]
        assert wait_until(lambda: not processes_with_home(home), timeout=10), (
            f"left behind: {processes_with_home(home)}"
        )
        assert (home / "redis" / "appendonlydir").exists() or list((home / "redis").glob("*.aof"))


def test_up_without_token_says_how_to_set_it_and_warns_of_taken_ports(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "REDIS_URL")}
    env["DIGITBOT_HOME"] = str(tmp_path / "home")
    env.update(DIGITBOT_WEB_USER="ops", DIGITBOT_WEB_PASSWORD="a-long-enough-password")
    with socket.socket() as redis_taken, socket.socket() as web_taken:
        for taken in (redis_taken, web_taken):  # as another `digitbot up` would hold them
            taken.bind(("127.0.0.1", 0))
            taken.listen()
        redis_port, web_port = (int(s.getsockname()[1]) for s in (redis_taken, web_taken))
        command = digitbot_command(
            "up", "--redis-port", str(redis_port), "--web-port", str(web_port)
        )
        up = ManagedProcess("up", command, env, tmp_path).start()
        try:
            up.wait_for_log("Press Ctrl-C", timeout=60)
            log = up.log()
        finally:
            os.kill(up.pid, signal.SIGINT)
            assert up.process is not None
            up.process.wait(60)
    assert "export TELEGRAM_BOT_TOKEN" in log
    assert f"port {redis_port} (--redis-port) was taken, so the embedded Redis is on port " in log
    assert f"port {web_port} (--web-port) was taken, so the web page is on port " in log
    assert "(log in as ops)" in log and "set DIGITBOT_WEB_USER" not in log
    assert re.search(r"^  export REDIS_URL=redis://:\S+@127\.0\.0\.1:\d+/0$", log, re.MULTILINE)
    assert wait_until(lambda: not processes_with_home(tmp_path / "home"), timeout=10)
