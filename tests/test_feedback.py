"""The feedback store: what is kept (and what never is), limits, review, forgetting."""

from __future__ import annotations

import numpy as np
import redis

from digitbot import defaults, keys
from digitbot.feedback import (
    FeedbackStore,
    PendingAnswer,
    RecordOutcome,
    Status,
)
from training.corrections import load_corrections


def answer(request_id: str, text: str, confidences: list[float], user: str = "u1") -> PendingAnswer:
    crops = np.random.default_rng(0).integers(0, 255, size=(len(text), 28, 28), dtype=np.uint8)
    return PendingAnswer(request_id, text, confidences, "m-1", user, crops)


def test_correction_is_stored_with_crops_label_version_and_hash_only(
    redis_conn: redis.Redis,
) -> None:
    store = FeedbackStore(redis_conn)
    pending = answer("r1", "17", [0.7, 0.6])
    store.remember_answer(pending)
    outcome, sample = store.record("r1", "12", user_hash="u1")
    assert outcome == RecordOutcome.RECORDED and sample is not None
    stored = store.archive.get(sample.sample_id)
    assert stored is not None
    assert stored.label == "12" and stored.kind == "corrected" and stored.predicted == "17"
    assert stored.model_version == "m-1" and stored.status == Status.ACCEPTED
    np.testing.assert_array_equal(stored.crops, pending.crops)
    fields = {k.decode() for k in redis_conn.hkeys(f"digitbot:feedback:sample:{sample.sample_id}")}
    assert fields == {
        "sample_id",
        "label",
        "kind",
        "predicted",
        "model_version",
        "user_hash",
        "created_at",
        "status",
        "crops",
        "count",
    }
    assert int(redis_conn.get(keys.NEW_CORRECTIONS_KEY) or 0) == 1
    # the answer can be used once
    assert store.record("r1", "12", user_hash="u1")[0] == RecordOutcome.EXPIRED


def test_confirmation_and_invalid_labels(redis_conn: redis.Redis) -> None:
    store = FeedbackStore(redis_conn)
    store.remember_answer(answer("r2", "5", [0.9]))
    too_long = "1" * (defaults.MAX_DIGITS + 1)
    for label in ("x", "", too_long, "\N{SUPERSCRIPT TWO}", "5 5", "-5"):
        assert store.record("r2", label, user_hash="u1")[0] == RecordOutcome.INVALID, label
    assert store.record("r2", "5", user_hash="someone-else")[0] == RecordOutcome.INVALID
    outcome, sample = store.record("r2", "5", user_hash="u1")
    assert outcome == RecordOutcome.RECORDED and sample is not None and sample.kind == "confirmed"


def test_a_correction_may_have_more_or_fewer_digits_than_were_read(
    redis_conn: redis.Redis,
) -> None:
    # "38" written with touching digits, read as one mark "3"; and "7" read as "71".
    store = FeedbackStore(redis_conn)
    store.remember_answer(answer("long", "3", [0.6]))
    store.remember_answer(answer("short", "71", [0.6, 0.5], user="u2"))
    outcome, longer = store.record("long", "38", user_hash="u1")
    assert outcome == RecordOutcome.RECORDED and longer is not None
    assert (longer.label, longer.predicted, longer.kind, len(longer.crops)) == (
        "38",
        "3",
        "corrected",
        1,
    )
    outcome, shorter = store.record("short", "7", user_hash="u2")
    assert outcome == RecordOutcome.RECORDED and shorter is not None
    assert (shorter.label, len(shorter.crops)) == ("7", 2)
    # Kept (they say the marks were split wrongly), but no crop has a label of its own to train.
    store.remember_answer(answer("same", "42", [0.6, 0.6], user="u3"))
    store.record("same", "47", user_hash="u3")
    data = load_corrections(redis_conn)
    labels = [label for part in (data.train, data.held_out) for _, label in part.strings]
    assert labels == ["47"]
    assert data.train.size + data.held_out.size == 2  # one row per digit of "47"


def test_contradicting_a_confident_champion_is_held_for_review(redis_conn: redis.Redis) -> None:
    store = FeedbackStore(redis_conn, review_confidence=0.98)
    store.remember_answer(answer("r3", "7", [0.995]))
    outcome, sample = store.record("r3", "1", user_hash="u1")
    assert outcome == RecordOutcome.HELD and sample is not None
    assert [s.sample_id for s in store.samples(status=Status.ACCEPTED)] == []
    assert int(redis_conn.get(keys.NEW_CORRECTIONS_KEY) or 0) == 0
    assert store.review(sample.sample_id, accept=True)
    assert [s.sample_id for s in store.samples(status=Status.ACCEPTED)] == [sample.sample_id]
    assert not store.review(sample.sample_id, accept=True)  # reviewed once


def test_per_user_daily_limit(redis_conn: redis.Redis) -> None:
    store = FeedbackStore(redis_conn, per_user_per_day=2)
    for index in range(3):
        store.remember_answer(answer(f"q{index}", "3", [0.5]))
    assert store.record("q0", "3", user_hash="u1")[0] == RecordOutcome.RECORDED
    assert store.record("q1", "8", user_hash="u1")[0] == RecordOutcome.RECORDED
    assert store.record("q2", "8", user_hash="u1")[0] == RecordOutcome.LIMITED


def test_forget_removes_every_sample_and_pending_answer_of_the_user(
    redis_conn: redis.Redis,
) -> None:
    store = FeedbackStore(redis_conn)
    for index in range(3):
        store.remember_answer(answer(f"a{index}", "4", [0.5], user="alice"))
        store.record(f"a{index}", "9", user_hash="alice")
    store.remember_answer(answer("b0", "4", [0.5], user="bob"))
    store.record("b0", "4", user_hash="bob")
    store.remember_answer(answer("a-pending", "4", [0.5], user="alice"))
    assert store.forget_user("alice") == 3
    assert {s.user_hash for s in store.samples()} == {"bob"}
    assert store.pending("a-pending") is None
    assert not list(redis_conn.scan_iter("digitbot:feedback:user:alice"))


def test_excluded_user_samples_are_not_used(redis_conn: redis.Redis) -> None:
    store = FeedbackStore(redis_conn)
    store.remember_answer(answer("e0", "2", [0.5], user="spammer"))
    store.record("e0", "3", user_hash="spammer")
    assert store.exclude_user("spammer") == 1
    store.remember_answer(answer("e1", "2", [0.5], user="spammer"))
    store.record("e1", "3", user_hash="spammer")
    assert store.samples(status=Status.ACCEPTED) == []
    assert len(store.samples(status=Status.REJECTED)) == 2


def test_summary_gives_per_version_accuracy(redis_conn: redis.Redis) -> None:
    store = FeedbackStore(redis_conn)
    for index, label in enumerate(["6", "6", "6", "0"]):
        store.remember_answer(answer(f"s{index}", "6", [0.5]))
        store.record(f"s{index}", label, user_hash="u1")
    summary = store.summary()
    assert summary["total"] == 4
    assert summary["per_version"]["m-1"]["accuracy"] == 0.75
    assert summary["recent_corrections"][0]["label"] == "0"
    assert "crops" not in summary["recent_corrections"][0]


def test_an_unowned_answer_is_claimed_once_and_never_recorded_without_a_user(
    redis_conn: redis.Redis,
) -> None:
    store = FeedbackStore(redis_conn)
    store.remember_answer(
        answer("w1", "4", [0.5], user="")
    )  # a web answer: the worker knows no one
    assert store.record("w1", "4", user_hash="")[0] == RecordOutcome.INVALID
    assert store.claim_answer("w1", "visitor-a")
    assert not store.claim_answer("w1", "visitor-b")  # someone else's now
    assert store.claim_answer("w1", "visitor-a")  # claiming again is harmless
    assert store.record("w1", "4", user_hash="visitor-b")[0] == RecordOutcome.INVALID
    outcome, sample = store.record("w1", "4", user_hash="visitor-a")
    assert outcome == RecordOutcome.RECORDED and sample is not None
    assert sample.user_hash == "visitor-a"
    assert not store.claim_answer("w1", "visitor-a")  # used: gone
    assert not store.claim_answer("never-was", "visitor-a")
    assert not redis_conn.exists("digitbot:feedback:pending:never-was")


def test_including_an_excluded_user_gives_each_sample_its_status_back(
    redis_conn: redis.Redis,
) -> None:
    store = FeedbackStore(redis_conn, review_confidence=0.98)
    store.remember_answer(answer("x0", "2", [0.5], user="abc123"))
    store.record("x0", "3", user_hash="abc123")  # accepted
    store.remember_answer(answer("x1", "2", [0.999], user="abc123"))
    store.record("x1", "3", user_hash="abc123")  # held
    assert store.exclude_user("abc123") == 2
    assert store.exclude_user("abc123") == 0  # already excluded
    assert store.samples(status=Status.HELD) == []
    store.remember_answer(answer("x2", "2", [0.5], user="abc123"))
    assert store.record("x2", "5", user_hash="abc123")[1].status == Status.REJECTED  # type: ignore[union-attr]
    assert {s.status for s in store.samples()} == {Status.REJECTED}
    before = int(redis_conn.get(keys.NEW_CORRECTIONS_KEY) or 0)

    assert store.include_user("abc123") == 3
    statuses = sorted(s.status for s in store.samples())
    assert statuses == [Status.ACCEPTED, Status.ACCEPTED, Status.HELD]
    assert len(store.samples(status=Status.HELD)) == 1  # back in the review queue
    assert int(redis_conn.get(keys.NEW_CORRECTIONS_KEY) or 0) == before + 2
    assert not store.moderation.is_excluded("abc123")
    assert store.include_user("abc123") == 0


def test_users_are_found_by_the_start_of_their_hash(redis_conn: redis.Redis) -> None:
    store = FeedbackStore(redis_conn)
    for user in ("aa11", "aa22", "bb33"):
        store.remember_answer(answer(f"p-{user}", "1", [0.5], user=user))
        store.record(f"p-{user}", "1", user_hash=user)
    store.exclude_user("cc44")  # excluded before sending anything
    assert store.users_matching("aa") == ["aa11", "aa22"]
    assert store.users_matching("bb3") == ["bb33"]
    assert store.users_matching("cc") == ["cc44"]
    assert store.users_matching("*") == [] and store.users_matching("") == []


def test_salted_hashes_match_the_bots_and_web_ids_never_collide_with_telegram_ids(
    redis_conn: redis.Redis,
) -> None:
    import hashlib

    from digitbot.feedback import salted_user_hash
    from digitbot.intake import PhotoIntake

    intake = PhotoIntake(redis_conn, max_queue_depth=1)
    submission = intake.submit(b"x", source="telegram-photo", chat_id=1, message_id=2, user_id=7)
    # The owner a Telegram request carries is the shared hash of the plain id, so feedback,
    # /forget and the web page all find the same user.
    job = intake.queue.fetch_job(submission.job_id)
    assert job is not None
    payload = job.args[0]
    assert payload["user_hash"] == salted_user_hash(redis_conn, "7")
    assert intake.user_hash(7) == salted_user_hash(redis_conn, "7")
    assert salted_user_hash(redis_conn, "web:7") != intake.user_hash(7)
    # Salted with the one salt in Redis: not the bare hash of the id.
    assert redis_conn.exists(keys.USER_SALT_KEY)
    assert intake.user_hash(7) != hashlib.sha256(b"7").hexdigest()[:32]
    # A fresh Redis: whoever hashes first makes the salt, the other uses it (the bot keeps no
    # salt of its own that could go stale).
    redis_conn.flushall()
    web_first = salted_user_hash(redis_conn, "42")
    assert intake.user_hash(42) == web_first
