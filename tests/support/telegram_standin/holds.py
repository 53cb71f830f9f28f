"""Faults and holds: calls answered with an error, or stopped at a gate until a test says."""

from __future__ import annotations

import select
import socket
import threading
from dataclasses import dataclass
from http import HTTPStatus

from tests.support.telegram_standin.protocol import ApiError, Params


@dataclass(frozen=True)
class Fault:
    status: int
    retry_after: int
    description: str | None


def fault_error(fault: Fault) -> ApiError:
    """The error Telegram would answer for an injected fault (502 is nginx's page instead)."""
    defaults = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict",
        429: f"Too Many Requests: retry after {fault.retry_after}",
        500: "Internal Server Error",
    }
    try:
        fallback = HTTPStatus(fault.status).phrase
    except ValueError:
        fallback = "Error"
    description = fault.description or defaults.get(fault.status, fallback)
    parameters = {"retry_after": fault.retry_after} if fault.status == 429 else None
    return ApiError(fault.status, description, parameters)


class Hold:
    """Bot API calls stopped at a gate before the stand-in handles them (see `hold_next`).

    A held call has had no effect yet. `release()` lets the held calls (and any the gate still
    catches) go on and take effect, whether or not their client still waits, as a slow Telegram
    would. `drop()` ends them without any effect, as a request lost on its way to Telegram (a
    client still listening gets nginx's 502). Tests wait on the gate's state, never on time:
    `wait_until_held` until calls are stopped here, `wait_until_abandoned` until the client of
    every held call has hung up (a killed worker, say).
    """

    def __init__(self, method: str, chat_id: int | None, count: int) -> None:
        self.method = method
        self.chat_id = chat_id
        self._cond = threading.Condition()
        self._to_catch = count  # changed under the stand-in's lock only
        self._waiting: list[socket.socket] = []  # the connections of the calls held now
        self._caught = 0
        self._outcome: str | None = None  # "release" or "drop", once opened
        self._dropped = 0

    @property
    def held(self) -> int:
        """How many calls wait at the gate now."""
        with self._cond:
            return len(self._waiting)

    @property
    def caught(self) -> int:
        """How many calls the gate caught in all."""
        with self._cond:
            return self._caught

    @property
    def dropped(self) -> int:
        """How many calls `drop()` ended without effect."""
        with self._cond:
            return self._dropped

    def wait_until_held(self, count: int = 1, *, timeout: float = 60.0) -> None:
        """Block until `count` calls wait at the gate; AssertionError after `timeout` (a hang
        guard, not a speed limit)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._waiting) >= count, timeout):
                raise AssertionError(
                    f"Telegram stand-in: {len(self._waiting)} of {count} {self.method} call(s) "
                    f"held after {timeout:.0f}s ({self._caught} caught in all)"
                )

    def abandoned(self) -> bool:
        """True when calls are held and the client of every one has hung up."""
        with self._cond:
            waiting = list(self._waiting)
        return bool(waiting) and all(_peer_hung_up(connection) for connection in waiting)

    def wait_until_abandoned(self, *, timeout: float = 60.0) -> None:
        """Block until `abandoned()`; AssertionError after `timeout` (a hang guard)."""
        with self._cond:
            self._cond.wait_for(lambda: self._waiting, timeout)
            listening = [c for c in self._waiting if not _peer_hung_up(c)]
        # Block on the sockets themselves: a client's hang-up makes its socket readable (EOF).
        while listening:
            readable, _, _ = select.select(listening, [], [], timeout)
            if not readable:
                raise AssertionError(
                    f"Telegram stand-in: the client of a held {self.method} call still "
                    f"listens after {timeout:.0f}s"
                )
            if not all(_peer_hung_up(c) for c in readable):
                raise AssertionError(
                    f"Telegram stand-in: the client of a held {self.method} call sent more "
                    "data instead of hanging up"
                )
            listening = [c for c in listening if c not in readable]
        if not self.abandoned():
            raise AssertionError(f"Telegram stand-in: no held {self.method} call to abandon")

    def release(self) -> None:
        """Let the held calls, and any the gate still catches, go on and take effect. Returns
        once the held calls have left the gate (their effect may still be on its way)."""
        self._open("release")

    def drop(self) -> None:
        """End the held calls, and any the gate still catches, without effect. Returns once
        the held calls have left the gate (`dropped` counts them then)."""
        self._open("drop")

    def _open(self, outcome: str) -> None:
        with self._cond:
            if self._outcome is None:
                self._outcome = outcome
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._waiting, timeout=60.0)

    def _catches(self, method: str, params: Params) -> bool:
        if self._to_catch <= 0 or method != self.method:
            return False
        if self.chat_id is not None and str(params.get("chat_id")) != str(self.chat_id):
            return False
        self._to_catch -= 1
        return True

    def _wait(self, connection: socket.socket) -> bool:
        """Hold the calling request until the gate opens; True when the call goes on."""
        with self._cond:
            self._caught += 1
            self._waiting.append(connection)
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._outcome is not None)
            finally:
                self._waiting.remove(connection)
                self._cond.notify_all()  # `_open` waits for the gate to empty
            if self._outcome == "drop":
                self._dropped += 1
                return False
            return True


def _peer_hung_up(connection: socket.socket) -> bool:
    """True once the client closed or reset its end of `connection` (a read would see EOF)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
