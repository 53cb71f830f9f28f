"""Per-chat locks: a chat's callers go in the order they asked, other chats are never held up,
and no lock outlives its last user."""

from __future__ import annotations

import asyncio

from bot.chat_locks import ChatLocks


async def _hold(locks: ChatLocks, chat_id: int, name: str, seconds: float, done: list[str]) -> None:
    async with locks.hold(chat_id):
        await asyncio.sleep(seconds)
        done.append(name)


def test_a_chats_callers_go_in_the_order_they_asked() -> None:
    async def scenario() -> list[str]:
        locks, done = ChatLocks(), []
        # The first is the slowest: without the lock the last would finish first.
        tasks = [
            asyncio.create_task(_hold(locks, 1, f"m{i}", 0.05 * (4 - i), done)) for i in range(4)
        ]
        await asyncio.gather(*tasks)
        assert len(locks) == 0
        return done

    assert asyncio.run(scenario()) == ["m0", "m1", "m2", "m3"]


def test_other_chats_are_not_held_up() -> None:
    async def scenario() -> list[str]:
        locks, done = ChatLocks(), []
        slow = asyncio.create_task(_hold(locks, 1, "slow", 0.5, done))
        quick = asyncio.create_task(_hold(locks, 2, "quick", 0.0, done))
        await asyncio.wait_for(quick, timeout=0.3)
        assert len(locks) == 1  # only the slow chat's lock is left
        await slow
        return done

    assert asyncio.run(scenario()) == ["quick", "slow"]


def test_a_cancelled_waiter_leaves_no_lock_behind() -> None:
    async def scenario() -> None:
        locks, done = ChatLocks(), []
        holder = asyncio.create_task(_hold(locks, 1, "holder", 0.1, done))
        waiter = asyncio.create_task(_hold(locks, 1, "waiter", 0.0, done))
        await asyncio.sleep(0.01)
        waiter.cancel()
        await holder
        await asyncio.gather(waiter, return_exceptions=True)
        assert done == ["holder"]
        assert len(locks) == 0

    asyncio.run(scenario())
