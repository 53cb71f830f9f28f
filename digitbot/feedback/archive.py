"""Stored samples and how long they stay: saved, read back, expired, forgotten on request."""

from __future__ import annotations

import time
from typing import cast

import numpy as np
import redis
from redis.typing import EncodableT, FieldT

from digitbot import defaults
from digitbot.feedback.records import (
    ALL_SAMPLES,
    HELD_SAMPLES,
    PENDING_PREFIX,
    SAMPLE_PREFIX,
    Sample,
    Status,
    user_samples_key,
)
from digitbot.replies import as_bytes, as_str


class SampleArchive:
    """The samples kept for training, each for the retention period at most."""

    def __init__(
        self, connection: redis.Redis, *, retention_days: int = defaults.FEEDBACK_RETENTION_DAYS
    ) -> None:
        self.connection = connection
        self.retention_seconds = retention_days * 24 * 3600

    def save(self, sample: Sample) -> None:
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

    def forget_user(self, user_hash: str) -> int:
        """Delete everything stored for a user (samples and answers still waiting for feedback);
        return how many samples were removed."""
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
