"""Fault injection: the next calls of a method answered with an error, or held at a gate, or
every call failing until the outage ends."""

from __future__ import annotations

from collections import deque

from tests.support.telegram_standin.holds import Fault, Hold
from tests.support.telegram_standin.protocol import Params
from tests.support.telegram_standin.state import StandInState


class FaultInjection(StandInState):
    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` with an error instead of handling them.

        429 carries parameters.retry_after; 502 is nginx's HTML page, as Telegram's edge sends.
        """
        name = self._canonical(method)
        with self._cond:
            faults = self._faults.setdefault(name, deque())
            faults.extend(Fault(status, retry_after, description) for _ in range(count))

    def start_outage(self, *methods: str, status: int = 502) -> None:
        """Answer every call of `methods` (every method and download when none is named) with
        `status` until `end_outage()`, as a Bot API that is down (502: nginx's page). Long polls
        waiting now end with the same error."""
        names = frozenset(self._canonical(method) for method in methods)
        with self._cond:
            self._outage = (names, status)
            self._cond.notify_all()

    def end_outage(self) -> None:
        """The Bot API is back: calls are handled again."""
        with self._cond:
            self._outage = None
            self._cond.notify_all()

    def hold_next(self, method: str, *, chat_id: int | None = None, count: int = 1) -> Hold:
        """Stop the next `count` calls of `method` (for `chat_id` only, when given; downloads
        have no chat) before they are handled, until the returned `Hold` is released or
        dropped. Injected faults come first."""
        hold = Hold(self._canonical(method), chat_id, count)
        with self._cond:
            self._holds.append(hold)
        return hold

    def _take_fault(self, name: str) -> Fault | None:
        """Count a call of `name`; the fault injected for it, if any."""
        with self._cond:
            self._calls[name] += 1
            status = self._outage_status(name)
            if status is not None:
                return Fault(status, 1, None)
            faults = self._faults.get(name)
            return faults.popleft() if faults else None

    def _take_hold(self, name: str, params: Params) -> Hold | None:
        with self._cond:
            for hold in self._holds:
                if hold._catches(name, params):
                    return hold
        return None
