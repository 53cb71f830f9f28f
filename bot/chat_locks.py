"""One asyncio lock per chat, so that a chat's photos are enqueued in the order they were sent.

The bot handles updates concurrently, and a photo is downloaded before it is enqueued: without a
lock, a quick download overtakes a slow one and the chat's answers come back in another order.
PTB starts the handler tasks in update order and an asyncio.Lock wakes its waiters first in,
first out, so a handler that asks for its chat's lock before its first await gets it in turn.
Other chats are never held up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator


class ChatLocks:
    """Locks by chat id, made on first use and dropped once nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()  # holders and waiters, per chat

    @contextlib.asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        """Hold the chat's lock for the body; callers get it in the order they asked."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._users[chat_id] += 1
        try:
            async with lock:
                yield
        finally:
            # Also reached when a waiter is cancelled: it no longer needs the lock either.
            self._users[chat_id] -= 1
            if not self._users[chat_id]:
                del self._users[chat_id]
                del self._locks[chat_id]

    def __len__(self) -> int:
        """How many chats have a lock now (held or waited for)."""
        return len(self._locks)
