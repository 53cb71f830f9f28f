"""The bot's update journal on a real Redis: what getUpdates fetched is recorded before it is
confirmed, re-deliveries are known, handled updates leave, deferred ones wait their turn. The bot
killed in the middle, end to end: tests/e2e/test_faults.py."""

from __future__ import annotations

import json

import redis

from bot.update_journal import UpdateJournal, _fetched_updates
from digitbot import defaults, keys

BOT_ID = 1234567


def update(update_id: int, text: str = "hi") -> dict[str, object]:
    return {"update_id": update_id, "message": {"message_id": update_id % 1000, "text": text}}


def journal(connection: redis.Redis, waits: tuple[float, ...] = (5, 10)) -> UpdateJournal:
    opened = UpdateJournal(connection, retry_waits=waits)
    opened.bot_id = BOT_ID
    return opened


def test_fetched_updates_wait_in_the_journal_until_finished(redis_conn: redis.Redis) -> None:
    taken = journal(redis_conn)
    assert taken.record([update(700), update(701)]) == []
    assert [u["update_id"] for u in taken.pending()] == [700, 701]
    taken.finish(700)
    assert [u["update_id"] for u in taken.pending()] == [701]
    assert redis_conn.ttl(keys.update_journal_key(BOT_ID)) > 0
    assert 0 < redis_conn.ttl(keys.update_offset_key(BOT_ID)) <= defaults.UPDATE_JOURNAL_TTL_SECONDS


def test_a_restarted_bot_knows_what_telegram_delivers_again(redis_conn: redis.Redis) -> None:
    """The dead bot recorded 700 and 701 and finished 700; Telegram, never told, delivers both
    again with a new one. The new bot handles 701 from its journal and skips both copies."""
    before = journal(redis_conn)
    before.record([update(700), update(701)])
    before.finish(700)

    after = journal(redis_conn)
    assert [u["update_id"] for u in after.pending()] == [701]
    assert after.record([update(700), update(701), update(702)]) == [700, 701]
    assert after.is_redelivery(700) and after.is_redelivery(701)
    assert not after.is_redelivery(701)  # once: the journal's own copy is then handled
    assert not after.is_redelivery(702)
    assert [u["update_id"] for u in after.pending()] == [701, 702]


def test_the_journal_keeps_the_update_as_telegram_sent_it(redis_conn: redis.Redis) -> None:
    taken = journal(redis_conn)
    original = update(900, text="7️⃣ ünïcode")
    taken.record([original])
    assert taken.pending() == [original]
    stored = redis_conn.hget(keys.update_journal_key(BOT_ID), "900")
    assert stored is not None and json.loads(stored) == original


def test_a_deferred_update_waits_the_retry_waits_then_is_given_up(redis_conn: redis.Redis) -> None:
    taken = journal(redis_conn, waits=(5, 10))
    assert taken.take_deferral(800) is None
    assert taken.defer(800) and taken.take_deferral(800) == 5
    assert taken.defer(800) and taken.take_deferral(800) == 10
    assert not taken.defer(800)  # the waits are spent: the handler answers now
    taken.finish(800)
    assert taken.defer(800)  # a finished update's count starts afresh


def test_only_successful_get_updates_answers_are_taken_for_updates() -> None:
    body = json.dumps({"ok": True, "result": [update(1), {"no": "id"}]}).encode()
    url = "https://api.example/bot1:x/getUpdates"
    assert _fetched_updates(url, 200, body) == [update(1)]
    assert _fetched_updates(url, 502, body) == []
    assert _fetched_updates("https://api.example/bot1:x/sendMessage", 200, body) == []
    assert _fetched_updates(url, 200, b"<html>") == []
    assert _fetched_updates(url, 200, b'{"ok": true, "result": []}') == []
