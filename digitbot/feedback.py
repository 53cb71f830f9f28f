"""Users' confirmations and corrections, stored for training — and nothing more.

What is kept per sample: the preprocessed 28×28 crops the model saw (uint8), the right label,
whether the user confirmed or corrected, the model version that answered, a salted hash of the
user id and a timestamp. Never the photo, never a name or a user id. Samples expire after the
retention period; `/forget` deletes a user's samples at once.

A correction that contradicts a very confident champion is held for review (an admin accepts or
rejects it) instead of going straight into training: that is where abuse or a slip of the thumb
does the most harm, and where the model is most often right.

An admin can exclude a user: their samples, stored and future, are rejected (each remembers its
status, so including the user again gives it back). A web page's answer belongs to no one until
the visitor who sent it claims it (`claim_answer`); from then on it is recorded like any other.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np
import redis
from redis.typing import EncodableT, FieldT

from digitbot import defaults, keys
from digitbot.replies import as_bytes, as_str

SAMPLE_PREFIX = f"{keys.PREFIX}:feedback:sample:"
ALL_SAMPLES = f"{keys.PREFIX}:feedback:samples"  # sorted set: sample id -> created_at
HELD_SAMPLES = f"{keys.PREFIX}:feedback:held"
EXCLUDED_USERS = f"{keys.PREFIX}:feedback:excluded-users"
PENDING_PREFIX = f"{keys.PREFIX}:feedback:pending:"
# An excluded sample keeps the status it had, so lifting the exclusion can give it back.
STATUS_BEFORE_EXCLUSION = "status_before_exclusion"
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


def user_samples_key(user_hash: str) -> str:
    return f"{keys.PREFIX}:feedback:user:{user_hash}"


# The salt, made on first use: one round trip for "set it unless it exists, then read it".
SALT_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""


def salted_user_hash(connection: redis.Redis, subject: str) -> str:
    """A salted hash of a user id (the same salt and formula as `PhotoIntake.user_hash`).

    Telegram ids are plain numbers; other front ends prefix theirs ("web:...") so two kinds of
    id can never hash alike.
    """
    salt = connection.eval(SALT_SCRIPT, 1, keys.USER_SALT_KEY, secrets.token_hex(16)) or b""
    if isinstance(salt, str):
        salt = salt.encode()
    return hashlib.sha256(salt + subject.encode()).hexdigest()[:32]


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
        if not label.isdigit() or len(label) != len(answer.crops):
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
        self._save(sample)
        if self.connection.sismember(EXCLUDED_USERS, user_hash):
            self._exclude_sample(sample.sample_id)
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

    def _save(self, sample: Sample) -> None:
        key = SAMPLE_PREFIX + sample.sample_id
        mapping: dict[FieldT, EncodableT] = {
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
        text = {as_str(k): v for k, v in raw.items()}
        count = int(text["count"])
        return Sample(
            sample_id=sample_id,
            label=as_str(text["label"]),
            kind=as_str(text["kind"]),
            predicted=as_str(text["predicted"]),
            model_version=as_str(text["model_version"]),
            user_hash=as_str(text["user_hash"]),
            created_at=float(text["created_at"]),
            status=as_str(text["status"]),
            crops=np.frombuffer(as_bytes(text["crops"]), dtype=np.uint8).reshape(count, 28, 28),
        )

    def samples(self, *, status: str | None = None, limit: int | None = None) -> list[Sample]:
        """Stored samples, newest first; expired ones are dropped from the index on the way."""
        self.expire_old()
        # Without `withscores` ZREVRANGE answers the members alone.
        members = cast("list[bytes | str]", self.connection.zrevrange(ALL_SAMPLES, 0, -1))
        ids = [as_str(i) for i in members]
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
        ids = [as_str(i) for i in self.connection.smembers(user_samples_key(user_hash))]
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
        """An admin excludes a user's samples from training; returns how many were excluded."""
        self.connection.sadd(EXCLUDED_USERS, user_hash)
        return sum(self._exclude_sample(i) for i in self._user_sample_ids(user_hash))

    def include_user(self, user_hash: str) -> int:
        """Lift an exclusion: samples get their status back; returns how many were restored."""
        self.connection.srem(EXCLUDED_USERS, user_hash)
        return sum(self._restore_sample(i) for i in self._user_sample_ids(user_hash))

    def is_excluded(self, user_hash: str) -> bool:
        return bool(self.connection.sismember(EXCLUDED_USERS, user_hash))

    def users_matching(self, prefix: str) -> list[str]:
        """User hashes (with samples, or excluded) that start with `prefix` (hex digits only)."""
        if not prefix or not all(c in "0123456789abcdef" for c in prefix):
            return []
        found = {
            key.decode().rsplit(":", 1)[1]
            for key in self.connection.scan_iter(user_samples_key(prefix) + "*")
        }
        found.update(
            member.decode()
            for member in self.connection.sscan_iter(EXCLUDED_USERS, match=prefix + "*")
        )
        return sorted(found)

    def review(self, sample_id: str, *, accept: bool) -> bool:
        if not self.connection.srem(HELD_SAMPLES, sample_id):
            return False
        status = Status.ACCEPTED if accept else Status.REJECTED
        self.connection.hset(SAMPLE_PREFIX + sample_id, "status", status)
        if accept:
            self.connection.incr(keys.NEW_CORRECTIONS_KEY)
        return True

    def _user_sample_ids(self, user_hash: str) -> list[str]:
        return [as_str(i) for i in self.connection.smembers(user_samples_key(user_hash))]

    def _exclude_sample(self, sample_id: str) -> bool:
        key = SAMPLE_PREFIX + sample_id
        status = self.connection.hget(key, "status")
        if status is None or self.connection.hexists(key, STATUS_BEFORE_EXCLUSION):
            return False
        with self.connection.pipeline() as pipe:
            pipe.hset(key, mapping={STATUS_BEFORE_EXCLUSION: status, "status": Status.REJECTED})
            pipe.srem(HELD_SAMPLES, sample_id)
            pipe.execute()
        return True

    def _restore_sample(self, sample_id: str) -> bool:
        key = SAMPLE_PREFIX + sample_id
        before = self.connection.hget(key, STATUS_BEFORE_EXCLUSION)
        if before is None:
            return False
        status = as_str(before)
        with self.connection.pipeline() as pipe:
            pipe.hset(key, "status", status)
            pipe.hdel(key, STATUS_BEFORE_EXCLUSION)
            if status == Status.HELD:
                pipe.sadd(HELD_SAMPLES, sample_id)
            if status == Status.ACCEPTED:
                pipe.incr(keys.NEW_CORRECTIONS_KEY)
            pipe.execute()
        return True

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
