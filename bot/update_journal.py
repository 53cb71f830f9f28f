"""The bot's journal of updates: each one it fetches is in Redis before Telegram hears it arrived.

Long polling tells Telegram that updates arrived with the next getUpdates' offset, which
python-telegram-bot sends as soon as it has queued them: a bot killed between fetching a photo
and enqueueing it lost the photo, silently. So:

1. The bot's getUpdates request (`RecordingRequest`) records Telegram's answer in the journal
   before python-telegram-bot sees it: the offset that confirms an update goes out only after
   that. While Redis is unreachable the updates wait, unconfirmed, until it is back.
2. Once its handlers are done, an update leaves the journal (`JournalledApplication`).
3. On start, the updates still in the journal are handled again (`replay`). Telegram re-delivers
   those the dead bot had not confirmed yet; the journal knows them by their ids, which are
   below the next id it expects, and they are skipped.

A handler that could not finish for a passing reason (the Bot API failed the photo's download)
defers its update (`defer`): it stays in the journal and is handled again after the next of
Settings.delivery_retry_seconds.

Left: a bot killed after a handler had its effect and before the update left the journal handles
it again on start. A photo is not enqueued twice (its job id is unique, its answer mark says
sent); a command or refusal may be answered twice. That window is one Redis HDEL, about a
millisecond. Webhook updates (`digitbot bot --webhook`) are not journalled: python-telegram-bot
answers Telegram's POST before handling them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis
from telegram import Update
from telegram._utils.types import JSONDict, ODVInput
from telegram.ext import Application, ContextTypes
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.context import UPDATE_JOURNAL
from digitbot import defaults, keys

log = logging.getLogger(__name__)

# Waits between tries to record fetched updates while Redis is unreachable (seconds).
RECORD_RETRY_FIRST_SECONDS = 0.25
RECORD_RETRY_MAX_SECONDS = 2.0
# Tries to take a handled update out of the journal before leaving it for the next start.
FINISH_ATTEMPTS = 8

# KEYS: the journal (hash), the next new update id. ARGV: the TTL, then update id and JSON pairs
# in the order fetched. Records the new ones; returns the ids of those it had already.
_RECORD_SCRIPT = """
local next_id = tonumber(redis.call('GET', KEYS[2]) or '-1')
local again = {}
for i = 2, #ARGV, 2 do
  local id = tonumber(ARGV[i])
  if id < next_id then
    again[#again + 1] = ARGV[i]
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    next_id = id + 1
  end
end
if next_id >= 0 then redis.call('SET', KEYS[2], string.format('%d', next_id), 'EX', ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return again
"""


class UpdateJournal:
    """The updates one bot fetched and has not finished handling, in a Redis hash."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        retry_waits: Sequence[float] = defaults.DELIVERY_RETRY_SECONDS,
        ttl: int = defaults.UPDATE_JOURNAL_TTL_SECONDS,
    ) -> None:
        self.connection = connection
        self.bot_id = 0  # known once getMe named the bot (post_init)
        self.retry_waits = tuple(retry_waits)
        self.ttl = ttl
        self._record = connection.register_script(_RECORD_SCRIPT)
        self._redelivered: set[int] = set()
        self._deferred: dict[int, float] = {}
        self._deferrals: Counter[int] = Counter()
        self._waiting: set[asyncio.Task[None]] = set()

    @property
    def key(self) -> str:
        if not self.bot_id:
            raise RuntimeError("UpdateJournal.bot_id is unset: set it once getMe named the bot")
        return keys.update_journal_key(self.bot_id)

    def record(self, updates: Sequence[JSONDict]) -> list[int]:
        """Record fetched updates (Telegram's JSON) in one step; returns the ids of those the
        journal took in before (re-deliveries: they are skipped when handled)."""
        args: list[Any] = [self.ttl]
        for update in updates:
            args += [int(update["update_id"]), json.dumps(update, separators=(",", ":"))]
        again = [int(i) for i in self._record(keys=[self.key, self._offset_key()], args=args)]
        self._redelivered.update(again)
        return again

    def pending(self) -> list[JSONDict]:
        """The recorded updates not yet finished, oldest first."""
        entries = self.connection.hgetall(self.key)
        return [json.loads(entries[k]) for k in sorted(entries, key=int)]

    def finish(self, update_id: int) -> None:
        """Take a handled update out of the journal."""
        self.connection.hdel(self.key, str(update_id))
        self._deferrals.pop(update_id, None)

    def is_redelivery(self, update_id: int) -> bool:
        """True (once) for an update Telegram delivered again that the journal already had."""
        if update_id in self._redelivered:
            self._redelivered.discard(update_id)
            return True
        return False

    def defer(self, update_id: int) -> bool:
        """Have the update handled again after the next wait; False once the waits are spent."""
        count = self._deferrals[update_id]
        if count >= len(self.retry_waits):
            return False
        self._deferrals[update_id] = count + 1
        self._deferred[update_id] = self.retry_waits[count]
        return True

    def take_deferral(self, update_id: int) -> float | None:
        """The wait before handling the update again, if its handler deferred it."""
        return self._deferred.pop(update_id, None)

    def handle_later(
        self, update: Update, wait: float, put: Callable[[Update], Awaitable[None]]
    ) -> None:
        """After `wait` seconds, `put` the update back in the Application's queue."""

        async def later() -> None:
            await asyncio.sleep(wait)
            await put(update)

        task = asyncio.create_task(later(), name=f"update {update.update_id} again")
        self._waiting.add(task)
        task.add_done_callback(self._waiting.discard)

    def cancel_waits(self) -> None:
        """Drop the waits (at shutdown): their updates stay in the journal for the next start."""
        for task in list(self._waiting):
            task.cancel()

    def _offset_key(self) -> str:
        return keys.update_offset_key(self.bot_id)


class RecordingRequest(HTTPXRequest):
    """The bot's getUpdates request: Telegram's answer is recorded in the journal before
    python-telegram-bot sees it (and so before it confirms the updates)."""

    __slots__ = ("journal",)

    def __init__(self, journal: UpdateJournal, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal = journal

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        status, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        updates = _fetched_updates(url, status, payload)
        if updates:
            await self._record(updates)
        return status, payload

    async def _record(self, updates: list[JSONDict]) -> None:
        """Record, retrying until Redis takes it: meanwhile nothing is confirmed to Telegram."""
        wait = RECORD_RETRY_FIRST_SECONDS
        while True:
            try:
                await asyncio.to_thread(self.journal.record, updates)
                return
            except redis.exceptions.RedisError as exc:
                log.warning(
                    "cannot record %d fetched update(s) (%s); they wait for Redis, unconfirmed",
                    len(updates), exc,
                )  # fmt: skip
                await asyncio.sleep(wait)
                wait = min(2 * wait, RECORD_RETRY_MAX_SECONDS)


def _fetched_updates(url: str, status: int, payload: bytes) -> list[JSONDict]:
    """The updates in a successful getUpdates answer (none for anything else)."""
    if status != 200 or not url.endswith("/getUpdates"):
        return []
    try:
        body = json.loads(payload)
    except ValueError:
        return []  # python-telegram-bot reports it
    result = body.get("result") if isinstance(body, dict) and body.get("ok") else None
    return [u for u in result if isinstance(u, dict) and "update_id" in u] if result else []


class JournalledApplication(Application):  # type: ignore[type-arg]
    """An Application whose updates leave the journal once handled; re-deliveries the journal
    had are skipped, and a deferred update is handled again later."""

    async def process_update(self, update: object) -> None:
        journal = self.bot_data.get(UPDATE_JOURNAL)
        if not isinstance(journal, UpdateJournal) or not isinstance(update, Update):
            await super().process_update(update)
            return
        if journal.is_redelivery(update.update_id):
            log.info("update %d was taken in before a restart; skipping it", update.update_id)
            return
        try:
            await super().process_update(update)
        finally:
            wait = journal.take_deferral(update.update_id)
            if wait is not None:
                log.info("update %d: handling it again in %g s", update.update_id, wait)
                journal.handle_later(update, wait, self.update_queue.put)
            else:
                await _finish(journal, update.update_id)


async def _finish(journal: UpdateJournal, update_id: int) -> None:
    for attempt in range(FINISH_ATTEMPTS):
        try:
            await asyncio.to_thread(journal.finish, update_id)
            return
        except redis.exceptions.RedisError as exc:
            if attempt == FINISH_ATTEMPTS - 1:
                log.warning("update %d stays in the journal (%s); the next start sees it again",
                            update_id, exc)  # fmt: skip
                return
            await asyncio.sleep(min(0.25 * 2**attempt, 4.0))


async def replay(application: Application, journal: UpdateJournal) -> int:  # type: ignore[type-arg]
    """Queue the updates a previous run recorded and did not finish; how many."""
    try:
        pending = await asyncio.to_thread(journal.pending)
    except redis.exceptions.RedisError as exc:
        log.warning("cannot read the update journal (%s); its updates wait for a restart", exc)
        return 0
    for data in pending:
        update = Update.de_json(data, application.bot)
        if update is not None:
            await application.update_queue.put(update)
    if pending:
        log.info("handling %d update(s) taken in before a restart", len(pending))
    return len(pending)


def defer(context: ContextTypes.DEFAULT_TYPE, update: Update) -> bool:
    """Ask for `update` to be handled again later (its handler met a passing failure); False
    when it was deferred for as long as the waits allow, or there is no journal: the handler
    then gives its answer now."""
    journal = context.bot_data.get(UPDATE_JOURNAL)
    return isinstance(journal, UpdateJournal) and journal.defer(update.update_id)
