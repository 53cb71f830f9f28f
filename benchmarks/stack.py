"""The real digitbot stack for the load test: redis-server, `digitbot worker --processes N`,
`digitbot bot`, and the stand-in Telegram Bot API, all on loopback in a temporary directory."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import procfs
from digitbot.redis_server import EmbeddedRedis

# Shaped like a bot token so settings accept it ("<digits>:" + 35 characters), but not one.
from tests.conftest import FAKE_TOKEN  # noqa: E402  (the token stack_env gives the processes)
from tests.support.processes import ManagedProcess, digitbot_command
from tests.support.stack import stack_env as e2e_stack_env
from tests.support.telegram_standin import TelegramStandIn
from tests.support.telegram_standin import images as standin_images

BOT_READY = "ready"
WORKER_READY = "ready with model"
BOT_START_TIMEOUT_SECONDS = 60.0
WORKER_START_TIMEOUT_SECONDS = 180.0


class StackError(RuntimeError):
    """A process of the stack failed to start; the message ends with its log."""


@dataclass
class LoadStack:
    standin: TelegramStandIn
    redis_server: EmbeddedRedis
    bot: ManagedProcess
    workers: ManagedProcess  # the supervisor; the worker processes are its children
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)  # every process's environment

    def worker_pids(self) -> list[int]:
        """The `worker.rq_worker` processes the supervisor runs now."""
        return procfs.child_pids(self.workers.pid)

    def pause_workers(self) -> None:
        """Stop the supervisor and its workers (SIGSTOP): photos wait in the queue."""
        os.killpg(self.workers.pid, signal.SIGSTOP)

    def resume_workers(self) -> None:
        os.killpg(self.workers.pid, signal.SIGCONT)

    def restart_bot(self, name: str) -> None:
        """Start a new `digitbot bot` in place of one that died (it logs to `name`.log)."""
        self.bot = ManagedProcess(name, digitbot_command("bot"), self.env, self.log_dir).start()

    def process_groups(self) -> dict[str, list[int]]:
        """Processes to account CPU to, by role (a worker's own children count as the worker)."""
        workers = self.worker_pids()
        tree = procfs.process_tree()
        assert self.redis_server.process is not None
        return {
            "workers": [p for w in workers for p in procfs.descendants(w, tree, include_self=True)],
            "supervisor": [self.workers.pid],
            "bot": [self.bot.pid],
            "redis": [self.redis_server.process.pid],
            "load generator": [os.getpid()],
        }


def stack_env(standin: TelegramStandIn, redis_url: str, home: Path) -> dict[str, str]:
    """The e2e tests' environment; a few simulated users send far more than a real user
    would, so the per-user limit is lifted."""
    return {
        **e2e_stack_env(standin, redis_url, home),
        "DIGITBOT_PHOTOS_PER_USER_PER_MINUTE": "1000000",
    }


def wait_for_lines(process: ManagedProcess, needle: str, count: int, timeout: float) -> None:
    """Wait until `needle` appears `count` times in the process's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.log().count(needle) >= count:
            return
        if process.process is not None and process.process.poll() is not None:
            raise StackError(f"{process.name} exited at start:\n{process.log()[-4000:]}")
        time.sleep(0.1)
    raise StackError(
        f"{process.name}: {needle!r} logged fewer than {count} times in {timeout:.0f} s:\n"
        f"{process.log()[-4000:]}"
    )


@contextmanager
def precomputed_photo_sizes(photos: Sequence[bytes]) -> Iterator[None]:
    """Make the stand-in's thumbnails of these photos now, before any clock starts.

    Telegram makes a photo's smaller sizes on its own servers; the stand-in makes them in the
    load generator, on the machine being measured (about 8 ms of CPU a photo). Same bytes in,
    same sizes out: only when they are made changes.
    """
    original = standin_images.photo_variants
    made = {data: original(data) for data in photos}

    def photo_variants(data: bytes) -> tuple[list[tuple[bytes, int, int]], bool]:
        found = made.get(data)
        if found is None:
            return original(data)
        return list(found[0]), found[1]

    standin_images.photo_variants = photo_variants
    try:
        yield
    finally:
        standin_images.photo_variants = original


@contextmanager
def running_stack(
    num_workers: int, *, keep_logs: Path | None = None, extra_env: dict[str, str] | None = None
) -> Iterator[LoadStack]:
    """Start everything, wait until the bot and all workers are ready; stop everything after.
    `extra_env` is added to every process's environment (e.g. worker settings)."""
    with tempfile.TemporaryDirectory(prefix="digitbot-load-") as tmp:
        base = Path(tmp)
        log_dir = keep_logs or base
        log_dir.mkdir(parents=True, exist_ok=True)
        standin = TelegramStandIn(FAKE_TOKEN).start()
        server = EmbeddedRedis(base / "redis").start()
        env = {**stack_env(standin, server.url, base / "home"), **(extra_env or {})}
        workers = ManagedProcess(
            f"workers-{num_workers}",
            digitbot_command("worker", "--processes", str(num_workers)),
            env,
            log_dir,
        ).start()
        bot = ManagedProcess(f"bot-{num_workers}", digitbot_command("bot"), env, log_dir).start()
        stack = LoadStack(standin, server, bot, workers, log_dir, env)
        try:
            wait_for_lines(bot, BOT_READY, 1, BOT_START_TIMEOUT_SECONDS)
            wait_for_lines(workers, WORKER_READY, num_workers, WORKER_START_TIMEOUT_SECONDS)
            yield stack
        finally:
            bot.stop()
            stack.bot.stop()  # the one running now, when a fault restarted it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(workers.pid, signal.SIGCONT)  # a stopped worker cannot stop cleanly
            workers.stop()
            server.stop()
            standin.stop()
