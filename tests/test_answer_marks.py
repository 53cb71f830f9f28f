"""Answer marks and duplicate checks: no raw chat id in the mark, and the bot's id in both."""

from __future__ import annotations

import redis
from rq import Queue

from digitbot import defaults, keys
from digitbot.answer_marks import answer_mark_key, chat_hash
from digitbot.feedback import salted_user_hash
from digitbot.intake import Outcome, PhotoIntake

CHAT_ID = 987_654_321
BOT_A = 1_111_111
BOT_B = 2_222_222


def test_an_answer_mark_names_the_bot_and_a_salted_hash_of_the_chat(
    redis_conn: redis.Redis,
) -> None:
    key = answer_mark_key(redis_conn, BOT_A, CHAT_ID, 42)
    assert str(CHAT_ID) not in key
    assert key == keys.answer_key(BOT_A, chat_hash(redis_conn, CHAT_ID), 42)
    assert key.startswith(f"{keys.PREFIX}:answered:{BOT_A}:") and key.endswith(":42")
    assert answer_mark_key(redis_conn, BOT_A, CHAT_ID, 42) == key  # the same every time
    assert answer_mark_key(redis_conn, BOT_B, CHAT_ID, 42) != key
    assert answer_mark_key(redis_conn, BOT_A, CHAT_ID + 1, 42) != key
    # A private chat's id is its user's id; the mark's hash still differs from the user hash.
    assert chat_hash(redis_conn, CHAT_ID) != salted_user_hash(redis_conn, str(CHAT_ID))
    # Salted: another deployment (another salt) gives the same chat another hash.
    first = chat_hash(redis_conn, CHAT_ID)
    redis_conn.delete(keys.USER_SALT_KEY)
    assert chat_hash(redis_conn, CHAT_ID) != first


def test_two_bots_on_one_redis_each_get_their_photo_with_the_same_ids_read(
    redis_conn: redis.Redis,
) -> None:
    first_bot = PhotoIntake(redis_conn, max_queue_depth=10, bot_id=BOT_A)
    second_bot = PhotoIntake(redis_conn, max_queue_depth=10, bot_id=BOT_B)
    first = first_bot.submit(b"a", source="telegram-photo", chat_id=CHAT_ID, message_id=7)
    second = second_bot.submit(b"b", source="telegram-photo", chat_id=CHAT_ID, message_id=7)
    assert first.outcome is Outcome.ACCEPTED
    assert second.outcome is Outcome.ACCEPTED, "the other bot's photo was taken for a duplicate"
    assert first.job_id == keys.recognition_job_id(CHAT_ID, 7, bot_id=BOT_A) != second.job_id
    # The same update again for one bot is still a duplicate.
    again = first_bot.submit(b"a", source="telegram-photo", chat_id=CHAT_ID, message_id=7)
    assert again.outcome is Outcome.DUPLICATE
    # The worker keys the answer mark by the bot named in the job.
    job = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    ).fetch_job(second.job_id)
    assert job is not None and job.args[0]["bot_id"] == BOT_B
