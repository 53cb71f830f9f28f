"""Shared counters and latency histograms in Redis, summed over every process.

Counters live in one hash (digitbot.keys.STATS_KEY) whose fields are `<kind>:<label>`:
`received:<source>` (photos accepted, by source), `answers:<outcome>` (digit / no-digit /
error), `rejected:<reason>` (uploads refused before enqueueing), `retrain:<outcome>`.
Latencies live in one hash per name and source, `digitbot:latency:<name>` or, observed with a
source, `digitbot:latency:<name>:source=<source>`: a field per bucket upper bound in seconds
("0.05", ..., "+Inf") counting the observations in that bucket only, plus "sum". /metrics shows
the sources of one name as one histogram with a `source` label.
The bot, workers and trainer write them (this module imports only redis); /metrics renders them.
"""

from __future__ import annotations

import logging

import redis

from digitbot import keys

log = logging.getLogger(__name__)

LATENCY_PREFIX = f"{keys.PREFIX}:latency:"
# Upper bounds (seconds) around the product's bars: p50 <= 150 ms, p95 <= 400 ms.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0, 2.5, 5.0, 10.0, 30.0)


SOURCE_LABEL = ":source="


def latency_key(name: str, source: str | None = None) -> str:
    return f"{LATENCY_PREFIX}{name}" + (f"{SOURCE_LABEL}{source}" if source else "")


def parse_latency_key(key: str) -> tuple[str, str | None]:
    """(name, source or None) of a latency key."""
    rest = key.removeprefix(LATENCY_PREFIX)
    name, found, source = rest.partition(SOURCE_LABEL)
    return name, (source if found else None)


def count(connection: redis.Redis, kind: str, label: str, amount: int = 1) -> None:
    """Add to the shared counter `<kind>:<label>`; a Redis hiccup never fails the caller."""
    try:
        connection.hincrby(keys.STATS_KEY, f"{kind}:{label}", amount)
    except redis.exceptions.RedisError as exc:
        log.warning("could not count %s:%s: %s", kind, label, exc)


def observe_latency(
    connection: redis.Redis, name: str, seconds: float, *, source: str | None = None
) -> None:
    """Record one duration in the shared histogram `name` (for `source`: telegram-photo,
    web-canvas, ...); never fails the caller."""
    bound = next((b for b in LATENCY_BUCKETS if seconds <= b), None)
    field = "+Inf" if bound is None else repr(bound)
    key = latency_key(name, source)
    try:
        with connection.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, field, 1)
            pipe.hincrbyfloat(key, "sum", max(0.0, seconds))
            pipe.execute()
    except redis.exceptions.RedisError as exc:
        log.warning("could not record latency %s: %s", name, exc)


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (clients made without decode_responses return bytes)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def read_counters(connection: redis.Redis) -> dict[str, int]:
    """Every shared counter, field -> value (fields that are not whole numbers are skipped)."""
    counters: dict[str, int] = {}
    for field, value in connection.hgetall(keys.STATS_KEY).items():
        try:
            counters[as_text(field)] = int(value)
        except ValueError:
            continue
    return counters
