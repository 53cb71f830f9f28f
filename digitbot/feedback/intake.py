"""Feedback coming in: answers kept for a while, then confirmed or corrected by their sender.

A correction that contradicts a very confident champion is held for review instead of going
straight into training: that is where abuse or a slip of the thumb does the most harm, and
where the model is most often right. A web page's answer belongs to no one until the visitor
who sent it claims it (`claim_answer`); from then on it is recorded like any other.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import redis
from redis.typing import EncodableT, FieldT

from digitbot import defaults, keys, texts
from digitbot.feedback.archive import SampleArchive
from digitbot.feedback.moderation import Moderation
from digitbot.feedback.records import PENDING_PREFIX, PendingAnswer, Sample, Status
from digitbot.replies import as_bytes, as_str

# Give an answer nobody owns yet (a web page's) to the first claimant; returns the owner.
CLAIM_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local owner = redis.call('HGET', KEYS[1], 'user_hash')
if owner == false or owner == '' then
  redis.call('HSET', KEYS[1], 'user_hash', ARGV[1])
  return ARGV[1]
end
return owner
"""


def daily_limit_key(user_hash: str) -> str:
    return f"{keys.PREFIX}:feedback:limit:{user_hash}:{time.strftime('%Y%m%d')}"


def is_label(label: str) -> bool:
    """A right answer a user may give: 1 to MAX_DIGITS ASCII digits. It may have more or fewer
    digits than were read ("38" for a "3" whose 8 touched it): such a sample records that the
    marks were split wrongly, and trains no digit (training.corrections)."""
    return 0 < len(label) <= defaults.MAX_DIGITS and label.isascii() and label.isdigit()


class RecordOutcome:
    RECORDED = "recorded"
    HELD = "held"
    LIMITED = "limited"
    EXPIRED = "expired"
    INVALID = "invalid"


def outcome_message(outcome: str, label: str, *, confirmed: bool = False) -> str:
    """What to tell a user after pressing ✅ or ✏️ (the bot and the web page say the same)."""
    if outcome == RecordOutcome.RECORDED:
        return texts.RECORDED_RIGHT if confirmed else texts.RECORDED_CORRECTION.format(label=label)
    if outcome == RecordOutcome.HELD:
        return texts.HELD_CORRECTION.format(label=label)
    if outcome == RecordOutcome.LIMITED:
        return texts.FEEDBACK_LIMITED
    if outcome == RecordOutcome.INVALID:
        return texts.FEEDBACK_INVALID
    return texts.FEEDBACK_EXPIRED


class FeedbackIntake:
    """Answers waiting for feedback, and the feedback recorded as samples."""

    def __init__(
        self,
        connection: redis.Redis,
        archive: SampleArchive,
        moderation: Moderation,
        *,
        per_user_per_day: int = defaults.CORRECTIONS_PER_USER_PER_DAY,
        review_confidence: float = defaults.REVIEW_CONFIDENCE,
    ) -> None:
        self.connection = connection
        self.archive = archive
        self.moderation = moderation
        self.per_user_per_day = per_user_per_day
        self.review_confidence = review_confidence

    # -- answers waiting for feedback -------------------------------------------------------
    def remember_answer(self, answer: PendingAnswer) -> None:
        crops = np.asarray(answer.crops, dtype=np.uint8).reshape(-1, 28, 28)
        mapping: dict[FieldT, EncodableT] = {
            "text": answer.text,
            "confidences": json.dumps(answer.confidences),
            "model_version": answer.model_version,
            "user_hash": answer.user_hash,
            "crops": crops.tobytes(),
            "count": str(len(crops)),
        }
        key = PENDING_PREFIX + answer.request_id
        with self.connection.pipeline() as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, defaults.PENDING_ANSWER_TTL_SECONDS)
            pipe.execute()

    def pending(self, request_id: str) -> PendingAnswer | None:
        raw = self.connection.hgetall(PENDING_PREFIX + request_id)
        if not raw:
            return None
        count = int(raw[b"count"])
        crops = np.frombuffer(as_bytes(raw[b"crops"]), dtype=np.uint8).reshape(count, 28, 28)
        return PendingAnswer(
            request_id=request_id,
            text=as_str(raw[b"text"]),
            confidences=json.loads(raw[b"confidences"]),
            model_version=as_str(raw[b"model_version"]),
            user_hash=as_str(raw[b"user_hash"]),
            crops=crops,
        )

    def claim_answer(self, request_id: str, user_hash: str) -> bool:
        """Make an unowned answer (the web page's worker knows no user) `user_hash`'s.

        True when the answer is now theirs; False when it is gone or someone else's.
        """
        owner = self.connection.eval(CLAIM_SCRIPT, 1, PENDING_PREFIX + request_id, user_hash)
        return owner is not None and bytes(owner).decode() == user_hash

    # -- recording ---------------------------------------------------------------------------
    def record(
        self,
        request_id: str,
        label: str,
        *,
        user_hash: str,
        also_limited: Sequence[tuple[str, int]] = (),
    ) -> tuple[str, Sample | None]:
        """Record that the right reading of `request_id` is `label` (confirm or correct).

        Each correction counts against the user's daily limit and against each (hash, per-day
        limit) of `also_limited` (the web page adds its client address's).
        """
        answer = self.pending(request_id)
        if answer is None:
            return RecordOutcome.EXPIRED, None
        if not user_hash or answer.user_hash != user_hash:
            return RecordOutcome.INVALID, None  # only the sender may correct
        if not is_label(label):
            return RecordOutcome.INVALID, None
        for subject_hash, per_day in ((user_hash, self.per_user_per_day), *also_limited):
            if self._count_today(subject_hash) > per_day:
                return RecordOutcome.LIMITED, None
        kind = "confirmed" if label == answer.text else "corrected"
        status = Status.ACCEPTED
        if kind == "corrected" and self._contradicts_confident_model(answer, label):
            status = Status.HELD
        sample = Sample(
            sample_id=uuid.uuid4().hex,
            label=label,
            kind=kind,
            predicted=answer.text,
            model_version=answer.model_version,
            user_hash=user_hash,
            created_at=time.time(),
            status=status,
            crops=answer.crops,
        )
        self.archive.save(sample)
        if self.moderation.is_excluded(user_hash):
            self.moderation.exclude_sample(sample.sample_id)
            sample = replace(sample, status=Status.REJECTED)
        # One sample per answer: a second button press replaces nothing.
        self.connection.delete(PENDING_PREFIX + request_id)
        if sample.status == Status.ACCEPTED:
            self.connection.incr(keys.NEW_CORRECTIONS_KEY)
        return (RecordOutcome.HELD if status == Status.HELD else RecordOutcome.RECORDED), sample

    def _count_today(self, subject_hash: str) -> int:
        """Count one more correction today under `subject_hash`; the count so far."""
        limit_key = daily_limit_key(subject_hash)
        used = self.connection.incr(limit_key)
        self.connection.expire(limit_key, 24 * 3600)
        return int(used)

    def _contradicts_confident_model(self, answer: PendingAnswer, label: str) -> bool:
        for predicted, right, confidence in zip(
            answer.text, label, answer.confidences, strict=False
        ):
            if predicted != right and confidence >= self.review_confidence:
                return True
        return False
