"""The real stack for end-to-end tests and the load test: redis-server, `digitbot worker`,
`digitbot bot`, and the stand-in Telegram Bot API on loopback (the only fake: Telegram itself is
out of reach)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from digitbot.redis_server import EmbeddedRedis
from tests.conftest import FAKE_TOKEN
from tests.support.processes import ManagedProcess, digitbot_command
from tests.support.telegram_standin import TelegramStandIn


@dataclass
class Stack:
    standin: TelegramStandIn
    redis_server: EmbeddedRedis
    env: dict[str, str]
    log_dir: Path
    bot: ManagedProcess
    workers: ManagedProcess

    def connection(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)

    def restart_redis(self) -> None:
        self.redis_server.stop()
        self.redis_server.start()

    def pause_workers(self) -> None:
        os.killpg(self.workers.pid, signal.SIGSTOP)

    def resume_workers(self) -> None:
        os.killpg(self.workers.pid, signal.SIGCONT)


def stack_env(standin: TelegramStandIn, redis_url: str, home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": FAKE_TOKEN,
        "TELEGRAM_API_URL": standin.api_url,
        "TELEGRAM_FILE_API_URL": standin.file_url,
        "REDIS_URL": redis_url,
        "DIGITBOT_HOME": str(home),
        "DIGITBOT_ADMIN_IDS": "1001",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }


@contextlib.contextmanager
def running_stack(
    base: Path,
    *,
    bot_args: tuple[str, ...] = (),
    processes: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """Start stand-in, redis-server, `digitbot worker` and `digitbot bot`; stop them after."""
    standin = TelegramStandIn(FAKE_TOKEN)
    standin.start()
    server = EmbeddedRedis(base / "redis").start()
    env = {**stack_env(standin, server.url, base / "home"), **(extra_env or {})}
    workers = ManagedProcess(
        "workers", digitbot_command("worker", "--processes", str(processes)), env, base
    ).start()
    bot = ManagedProcess("bot", digitbot_command("bot", *bot_args), env, base).start()
    stack = Stack(standin, server, env, base, bot, workers)
    started = [bot, workers]
    try:
        bot.wait_for_log("ready", timeout=60)
        workers.wait_for_log("ready with model", timeout=120)
        yield stack
    finally:
        started += [stack.bot, stack.workers]  # a test may have restarted one
        for process in started:
            process.stop()
        server.stop()
        standin.stop()
        for process in started:
            assert FAKE_TOKEN not in process.log(), f"the token leaked into {process.name}'s log"
