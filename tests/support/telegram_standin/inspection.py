"""What a test reads back: what was sent, requests answered, messages as they stand now."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from tests.support.telegram_standin.protocol import JSONDict
from tests.support.telegram_standin.records import RequestRecord, SentRecord
from tests.support.telegram_standin.state import StandInState

EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup"})


class Inspection(StandInState):
    @property
    def webhook_url(self) -> str | None:
        with self._cond:
            return self._webhook.url if self._webhook else None

    @property
    def pending_update_count(self) -> int:
        with self._cond:
            return len(self._pending)

    def requests_in_flight(self, *, excluding: tuple[str, ...] = ("getUpdates",)) -> int:
        """How many requests are being served now (held ones included), not counting the
        methods in `excluding` (by default the bot's ever-open long poll)."""
        skip = {self._canonical(name) for name in excluding}
        with self._cond:
            return sum(n for name, n in self._in_flight.items() if name not in skip)

    @property
    def long_polls_waiting(self) -> int:
        """How many getUpdates calls are waiting for an update now."""
        with self._cond:
            return self._polls_waiting

    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[SentRecord]:
        """Everything sent so far (messages, photos, chat actions, edits, callback answers)."""
        name = self._canonical(method) if method else None
        with self._cond:
            return [
                record
                for record in self._sent
                if (chat_id is None or record.chat_id == chat_id)
                and (name is None or record.method == name)
            ]

    @property
    def edits(self) -> list[SentRecord]:
        with self._cond:
            return [record for record in self._sent if record.method in EDIT_METHODS]

    def wait_for(
        self,
        predicate: Callable[[SentRecord], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[SentRecord]:
        """Block until `count` sent records match; return all matches so far, oldest first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = [r for r in self._sent if predicate is None or predicate(r)]
                if len(matches) >= count:
                    return matches
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(timeout, count, len(matches)))
                self._cond.wait(remaining)

    def update_time(self, chat_id: int, message_id: int | str) -> float:
        """time.monotonic() when the update for this user message (or callback id) was queued."""
        with self._cond:
            try:
                return self._update_times[(chat_id, message_id)]
            except KeyError:
                raise KeyError(
                    f"no user update for message {message_id} in chat {chat_id}"
                ) from None

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The message as it stands now (after edits), or None if unknown."""
        with self._cond:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found else None

    def calls(self, method: str) -> int:
        """How many requests arrived for `method` (failed and faulted ones included)."""
        name = self._canonical(method)
        with self._cond:
            return self._calls[name]

    @property
    def requests_log(self) -> list[RequestRecord]:
        with self._cond:
            return list(self._requests)

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of stand-in bugs (answered as 500); a fixture may assert this is empty."""
        with self._cond:
            return list(self._internal_errors)

    def my_commands(self, *, scope: JSONDict | None = None, language_code: str = "") -> list[Any]:
        with self._cond:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))
