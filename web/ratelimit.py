"""Per-client rate limits kept in Redis, so every web server process shares one count.

A fixed one-minute window per client address: one INCR and one EXPIRE in a transaction.
Coarser than a sliding window, but two commands per request and nothing to clean up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from digitbot import keys

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    count: int
    retry_after_seconds: int


class RateLimiter:
    """Counts hits per (scope, client) per minute; refuses them above `limit`."""

    def __init__(
        self,
        connection: redis.Redis,
        *,
        scope: str,
        limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connection = connection
        self.scope = scope
        self.limit = limit
        self.clock = clock

    def hit(self, client: str) -> RateDecision:
        """Count one hit by `client` and say whether it is allowed."""
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        key = keys.rate_limit_key(self.scope, f"{client}:{window}")
        with self.connection.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS + 1)  # the key names its window: TTL is clean-up only
            count = int(pipe.execute()[0])
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))
        return RateDecision(count <= self.limit, count, retry_after)
