"""Users' confirmations and corrections, stored for training — and nothing more.

What is kept per sample: the preprocessed 28×28 crops the model saw (uint8), the right label,
whether the user confirmed or corrected, the model version that answered, a salted hash of the
user id and a timestamp. Never the photo, never a name or a user id. Samples expire after the
retention period; `/forget` deletes a user's samples at once.

A correction that contradicts a very confident champion is held for review (an admin accepts or
rejects it) instead of going straight into training: that is where abuse or a slip of the thumb
does the most harm, and where the model is most often right.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import redis

from digitbot import defaults, keys

SAMPLE_PREFIX = f"{keys.PREFIX}:feedback:sample:"
ALL_SAMPLES = f"{keys.PREFIX}:feedback:samples"  # sorted set: sample id -> created_at
HELD_SAMPLES = f"{keys.PREFIX}:feedback:held"
EXCLUDED_USERS = f"{keys.PREFIX}:feedback:excluded-users"
PENDING_PREFIX = f"{keys.PREFIX}:feedback:pending:"


def user_samples_key(user_hash: str) -> str:
    return f"{keys.PREFIX}:feedback:user:{user_hash}"


def daily_limit_key(user_hash: str) -> str:
    return f"{keys.PREFIX}:feedback:limit:{user_hash}:{time.strftime('%Y%m%d')}"


class Status:
    ACCEPTED = "accepted"
    HELD = "held"
    REJECTED = "rejected"


@dataclass(frozen=True)
class PendingAnswer:
    """An answer that may still be confirmed or corrected (kept for a limited time)."""

    request_id: str
    text: str
    confidences: list[float]
    model_version: str
    user_hash: str
    crops: np.ndarray  # uint8 (n, 28, 28)


@dataclass(frozen=True)
class Sample:
    sample_id: str
    label: str
    kind: str  # "confirmed" | "corrected"
    predicted: str
    model_version: str
    user_hash: str
    created_at: float
    status: str
    crops: np.ndarray  # uint8 (n, 28, 28)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "crops"}


class RecordOutcome:
    RECORDED = "recorded"
    HELD = "held"
    LIMITED = "limited"
    EXPIRED = "expired"
    INVALID = "invalid"


class FeedbackStore:
    def __init__(
        self,
        connection: redis.Redis,
        *,
        retention_days: int = defaults.FEEDBACK_RETENTION_DAYS,
        per_user_per_day: int = defaults.CORRECTIONS_PER_USER_PER_DAY,
        review_confidence: float = defaults.REVIEW_CONFIDENCE,
    ) -> None:
        self.connection = connection
        self.retention_seconds = retention_days * 24 * 3600
        self.per_user_per_day = per_user_per_day
        self.review_confidence = review_confidence

    # -- answers waiting for feedback -------------------------------------------------------
    def remember_answer(self, answer: PendingAnswer) -> None:
        crops = np.asarray(answer.crops, dtype=np.uint8).reshape(-1, 28, 28)
        mapping = {
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
        crops = np.frombuffer(raw[b"crops"], dtype=np.uint8).reshape(count, 28, 28)
        return PendingAnswer(
            request_id=request_id,
            text=raw[b"text"].decode(),
            confidences=json.loads(raw[b"confidences"]),
            model_version=raw[b"model_version"].decode(),
            user_hash=raw[b"user_hash"].decode(),
            crops=crops,
        )

    # -- recording ---------------------------------------------------------------------------
    def record(self, request_id: str, label: str, *, user_hash: str) -> tuple[str, Sample | None]:
        """Record that the right reading of `request_id` is `label` (confirm or correct)."""
        answer = self.pending(request_id)
        if answer is None:
            return RecordOutcome.EXPIRED, None
        if answer.user_hash != user_hash:
            return RecordOutcome.INVALID, None  # only the sender may correct
        if not label.isdigit() or len(label) != len(answer.crops):
            return RecordOutcome.INVALID, None
        limit_key = daily_limit_key(user_hash)
        used = self.connection.incr(limit_key)
        self.connection.expire(limit_key, 24 * 3600)
        if used > self.per_user_per_day:
            return RecordOutcome.LIMITED, None
        kind = "confirmed" if label == answer.text else "corrected"
        status = Status.ACCEPTED
        if kind == "corrected" and self._contradicts_confident_model(answer, label):
            status = Status.HELD
        if self.connection.sismember(EXCLUDED_USERS, user_hash):
            status = Status.REJECTED
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
        self._save(sample)
        # One sample per answer: a second button press replaces nothing.
        self.connection.delete(PENDING_PREFIX + request_id)
        if status == Status.ACCEPTED:
            self.connection.incr(keys.NEW_CORRECTIONS_KEY)
        return (RecordOutcome.HELD if status == Status.HELD else RecordOutcome.RECORDED), sample

    def _contradicts_confident_model(self, answer: PendingAnswer, label: str) -> bool:
        for predicted, right, confidence in zip(
            answer.text, label, answer.confidences, strict=False
        ):
            if predicted != right and confidence >= self.review_confidence:
                return True
        return False

    def _save(self, sample: Sample) -> None:
        key = SAMPLE_PREFIX + sample.sample_id
        mapping = {
            **{k: str(v) for k, v in sample.public().items()},
            "crops": sample.crops.astype(np.uint8).tobytes(),
            "count": str(len(sample.crops)),
        }
        with self.connection.pipeline() as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.expire(key, self.retention_seconds)
            pipe.zadd(ALL_SAMPLES, {sample.sample_id: sample.created_at})
            pipe.sadd(user_samples_key(sample.user_hash), sample.sample_id)
            pipe.expire(user_samples_key(sample.user_hash), self.retention_seconds)
            if sample.status == Status.HELD:
                pipe.sadd(HELD_SAMPLES, sample.sample_id)
            pipe.execute()

    # -- reading ----------------------------------------------------------------------------
    def get(self, sample_id: str) -> Sample | None:
        raw = self.connection.hgetall(SAMPLE_PREFIX + sample_id)
        if not raw:
            return None
        text = {k.decode(): v for k, v in raw.items()}
        count = int(text["count"])
        return Sample(
            sample_id=sample_id,
            label=text["label"].decode(),
            kind=text["kind"].decode(),
            predicted=text["predicted"].decode(),
            model_version=text["model_version"].decode(),
            user_hash=text["user_hash"].decode(),
            created_at=float(text["created_at"]),
            status=text["status"].decode(),
            crops=np.frombuffer(text["crops"], dtype=np.uint8).reshape(count, 28, 28),
        )

    def samples(self, *, status: str | None = None, limit: int | None = None) -> list[Sample]:
        """Stored samples, newest first; expired ones are dropped from the index on the way."""
        self.expire_old()
        ids = [i.decode() for i in self.connection.zrevrange(ALL_SAMPLES, 0, -1)]
        found: list[Sample] = []
        for sample_id in ids:
            sample = self.get(sample_id)
            if sample is None:
                self.connection.zrem(ALL_SAMPLES, sample_id)
                continue
            if status is None or sample.status == status:
                found.append(sample)
            if limit is not None and len(found) >= limit:
                break
        return found

    def expire_old(self) -> int:
        return int(
            self.connection.zremrangebyscore(ALL_SAMPLES, 0, time.time() - self.retention_seconds)
        )

    # -- privacy and moderation --------------------------------------------------------------
    def forget_user(self, user_hash: str) -> int:
        """Delete everything stored for a user; return how many samples were removed."""
        ids = [i.decode() for i in self.connection.smembers(user_samples_key(user_hash))]
        removed = 0
        with self.connection.pipeline() as pipe:
            for sample_id in ids:
                pipe.delete(SAMPLE_PREFIX + sample_id)
                pipe.zrem(ALL_SAMPLES, sample_id)
                pipe.srem(HELD_SAMPLES, sample_id)
            pipe.delete(user_samples_key(user_hash))
            results = pipe.execute()
        removed = sum(1 for r in results[0 : 3 * len(ids) : 3] if r)
        for key in self.connection.scan_iter(PENDING_PREFIX + "*"):
            if self.connection.hget(key, "user_hash") == user_hash.encode():
                self.connection.delete(key)
        return removed

    def exclude_user(self, user_hash: str) -> int:
        """An admin excludes a user's samples from training; returns how many were affected."""
        self.connection.sadd(EXCLUDED_USERS, user_hash)
        return self._set_status_for_user(user_hash, Status.REJECTED)

    def review(self, sample_id: str, *, accept: bool) -> bool:
        if not self.connection.srem(HELD_SAMPLES, sample_id):
            return False
        status = Status.ACCEPTED if accept else Status.REJECTED
        self.connection.hset(SAMPLE_PREFIX + sample_id, "status", status)
        if accept:
            self.connection.incr(keys.NEW_CORRECTIONS_KEY)
        return True

    def _set_status_for_user(self, user_hash: str, status: str) -> int:
        ids = [i.decode() for i in self.connection.smembers(user_samples_key(user_hash))]
        for sample_id in ids:
            self.connection.hset(SAMPLE_PREFIX + sample_id, "status", status)
            self.connection.srem(HELD_SAMPLES, sample_id)
        return len(ids)

    def summary(self) -> dict[str, Any]:
        """Counts, and per model version the share of confirmed answers among feedback."""
        samples = self.samples()
        per_version: dict[str, dict[str, int]] = {}
        for sample in samples:
            entry = per_version.setdefault(sample.model_version, {"confirmed": 0, "corrected": 0})
            entry[sample.kind] += 1
        return {
            "total": len(samples),
            "by_status": {
                s: sum(1 for x in samples if x.status == s)
                for s in (Status.ACCEPTED, Status.HELD, Status.REJECTED)
            },
            "by_kind": {
                k: sum(1 for x in samples if x.kind == k) for k in ("confirmed", "corrected")
            },
            "per_version": {
                version: {**counts, "accuracy": counts["confirmed"] / max(1, sum(counts.values()))}
                for version, counts in per_version.items()
            },
            "recent_corrections": [s.public() for s in samples if s.kind == "corrected"][:10],
        }
