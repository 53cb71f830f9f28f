"""Delivering an answer exactly once: the answer mark and the lease on sending it.

Each Telegram photo message has an answer mark in Redis (`answer_mark_key`). An attempt to answer
first claims it atomically: `SET mark sending:<token> NX EX ANSWER_SENDING_TTL_SECONDS`. Only the
attempt that set it sends; then the mark says `sent:<message id>` for a week. An attempt that
finds `sent:` sends nothing. One that finds another attempt's `sending:` sends nothing either and
raises `AnswerInFlight` with the seconds until that lease lapses, so its job runs again then (an
RQ Retry): by then the other attempt has marked the answer sent, or it died and the retry sends.
While an attempt sends, a thread renews its lease every third of the TTL, so a slow send (flood
control, Bot API retries) keeps it; only a dead attempt's lease lapses.

A worker killed anywhere else loses nothing and sends nothing twice: before the claim, nothing
was sent and the requeued job answers; after the claim and before its request left, the lease
lapses (ANSWER_SENDING_TTL_SECONDS) and the retry sends the one answer.

The window left: a worker killed after Telegram accepted the message and before the mark says
`sent`. The Bot API takes no idempotency key and lets no bot read back what it sent, so nothing
can tell the retry whether that send arrived: it sends again, at most one duplicate, nothing lost.
The window is Telegram's response on its way back plus one Redis SET: about a millisecond on
loopback, one network trip from Telegram (tens of ms) in production. It widens only while Redis
is unreachable (the mark is retried for about 30 s) or when a worker is frozen for longer than
the lease (SIGSTOP) and its job is run elsewhere meanwhile.
A send that timed out reading Telegram's answer (`PossiblyDelivered`) is marked sent, never
repeated: one answer that may be late is better than two. A send the Bot API could not take
(`BotApiUnavailable`: down, 5xx, flood control) gives the lease back, and the answer goes to a
delivery job that tries again for over an hour (worker.redelivery).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import redis

from digitbot import defaults, keys, stats
from digitbot.answer_marks import answer_mark_key
from digitbot.errors import DeliveryError
from digitbot.payload import RecognitionRequest
from digitbot.replies import as_bytes, as_str
from digitbot.telegram_reply import PossiblyDelivered
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

MARK_SENDING = "sending"
MARK_SENT = "sent"

# KEYS: the mark. ARGV: this attempt's value, TTL. Returns {1} when this attempt claimed the
# mark, else {0, the mark's value, its TTL in seconds}.
_CLAIM_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1]), redis.call('TTL', KEYS[1])}
"""
# KEYS: the mark. ARGV: this attempt's value, TTL. Renews the lease while it is still ours.
_RENEW_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
# KEYS: the mark. ARGV: this attempt's value. Gives the lease up while it is still ours.
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class AnswerInFlight(Exception):
    """Another attempt is sending this answer now; look again in `retry_in` seconds."""

    def __init__(self, request_id: str, retry_in: int) -> None:
        super().__init__(f"request {request_id}: another attempt is sending its answer")
        self.retry_in = retry_in


def is_answered(connection: redis.Redis, request: RecognitionRequest) -> bool:
    """True once the request's answer was sent (Telegram) or stored (web)."""
    if not request.is_telegram:
        return bool(connection.exists(keys.web_result_key(request.request_id)))
    mark = connection.get(
        answer_mark_key(connection, request.bot_id, request.chat_id, request.message_id)
    )
    return mark is not None and says_sent(mark)


def says_sent(mark: bytes | str) -> bool:
    """True for a mark that records a sent answer (not one being sent)."""
    return as_bytes(mark).startswith(f"{MARK_SENT}:".encode())


def deliver(
    connection: redis.Redis,
    request: RecognitionRequest,
    text: str,
    result: dict[str, Any],
    *,
    reply_markup: dict[str, Any] | None = None,
    attempts: int | None = None,
) -> bool:
    """Send the answer to Telegram, or store it for the web page; False when it was answered
    already. Adds the answer to `result`. Raises AnswerInFlight while another attempt sends it,
    and DeliveryError (BotApiUnavailable: try later) when nothing was sent. `attempts`: requests
    made before giving up (the replier's own number when None).
    """
    if not request.is_telegram:
        _count(connection, result)
        connection.set(
            keys.web_result_key(request.request_id),
            json.dumps({"answer": text, **result}),
            ex=defaults.RESULT_TTL_SECONDS,
        )
        _observe_latency(connection, request)
        return True
    mark_key = answer_mark_key(connection, request.bot_id, request.chat_id, request.message_id)
    lease = SendingLease(connection, mark_key)
    other = lease.claim()
    if other is not None:
        mark, ttl = other
        if says_sent(mark):
            return False
        raise AnswerInFlight(request.request_id, retry_in=max(ttl, 0) + 1)
    with lease.renewed():
        try:
            message = get_runtime().replier.send_message(
                request.chat_id,
                text,
                reply_to_message_id=request.message_id,
                reply_markup=reply_markup,
                attempts=attempts,
            )
        except PossiblyDelivered as exc:
            log.warning("request %s: %s; not resending", request.request_id, exc)
            message = {"message_id": 0}
        except DeliveryError:
            lease.release()  # nothing reached the chat: a retry may send at once
            raise
        lease.mark_sent(int(message.get("message_id", 0)))
    _count(connection, result)  # once per answer, however many tries it took
    _observe_latency(connection, request)
    result["answer"] = text
    result["answer_message_id"] = message.get("message_id")
    return True


class SendingLease:
    """One attempt's claim on sending the answer to one photo message (its answer mark)."""

    def __init__(self, connection: redis.Redis, mark_key: str) -> None:
        self.connection = connection
        self.mark_key = mark_key
        self.value = f"{MARK_SENDING}:{uuid.uuid4().hex}"
        self.ttl = defaults.ANSWER_SENDING_TTL_SECONDS
        self._claim = connection.register_script(_CLAIM_SCRIPT)
        self._renew = connection.register_script(_RENEW_SCRIPT)
        self._release = connection.register_script(_RELEASE_SCRIPT)

    def claim(self) -> tuple[str, int] | None:
        """Take the mark for this attempt: None when taken, else the mark found and its TTL."""
        reply = self._claim(keys=[self.mark_key], args=[self.value, self.ttl])
        if reply[0] == 1:
            return None
        return as_str(reply[1]), int(reply[2])

    def renew(self) -> bool:
        """Extend the lease to its full TTL; False when it is no longer this attempt's."""
        return bool(self._renew(keys=[self.mark_key], args=[self.value, self.ttl]))

    def release(self) -> None:
        """Give the lease up (nothing was sent), so another attempt may send at once."""
        self._release(keys=[self.mark_key], args=[self.value])

    def mark_sent(self, message_id: int) -> None:
        """Record the answer; retried briefly so a Redis blip here does not cause a second one."""
        for attempt in range(20):
            try:
                self.connection.set(
                    self.mark_key, f"{MARK_SENT}:{message_id}", ex=defaults.ANSWER_MARK_TTL_SECONDS
                )
                return
            except redis.exceptions.ConnectionError:
                time.sleep(min(0.25 * (attempt + 1), 2.0))
        log.error("could not record the answer in %s; a retry might answer twice", self.mark_key)

    @contextlib.contextmanager
    def renewed(self) -> Iterator[None]:
        """A context in which a thread renews the lease every third of its TTL."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.ttl / 3):
                try:
                    if not self.renew():
                        return  # marked sent, or given up
                except redis.exceptions.RedisError as exc:  # the next beat tries again
                    log.warning("could not renew the lease on %s: %s", self.mark_key, exc)

        thread = threading.Thread(target=beat, name=f"lease {self.mark_key}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _observe_latency(connection: redis.Redis, request: RecognitionRequest) -> None:
    """Photo in -> answer out (sent, or stored for the page), by source (telegram-photo...)."""
    seconds = time.time() - request.received_at
    stats.observe_latency(connection, "photo_to_answer", seconds, source=request.source)


def _count(connection: redis.Redis, result: dict[str, Any]) -> None:
    outcome = "error" if result.get("error") else ("digit" if result.get("text") else "no-digit")
    stats.count(connection, "answers", outcome)
