"""An admin's say: held corrections accepted or rejected, users excluded and let back in."""

from __future__ import annotations

import redis

from digitbot import keys
from digitbot.feedback.records import (
    EXCLUDED_USERS,
    HELD_SAMPLES,
    SAMPLE_PREFIX,
    STATUS_BEFORE_EXCLUSION,
    Status,
    user_samples_key,
)
from digitbot.replies import as_str


class Moderation:
    """Review of held samples and exclusion of users. An excluded user's samples, stored and
    future, are rejected; each remembers its status, so including the user again gives it back."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def review(self, sample_id: str, *, accept: bool) -> bool:
        """Accept or reject a held sample; False when it is not (or no longer) held."""
        if not self.connection.srem(HELD_SAMPLES, sample_id):
            return False
        status = Status.ACCEPTED if accept else Status.REJECTED
        self.connection.hset(SAMPLE_PREFIX + sample_id, "status", status)
        if accept:
            self.connection.incr(keys.NEW_CORRECTIONS_KEY)
        return True

    def exclude_user(self, user_hash: str) -> int:
        """An admin excludes a user's samples from training; returns how many were excluded."""
        self.connection.sadd(EXCLUDED_USERS, user_hash)
        return sum(self.exclude_sample(i) for i in self._user_sample_ids(user_hash))

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

    def exclude_sample(self, sample_id: str) -> bool:
        """Reject one sample, remembering its status; False when gone or already excluded."""
        key = SAMPLE_PREFIX + sample_id
        status = self.connection.hget(key, "status")
        if status is None or self.connection.hexists(key, STATUS_BEFORE_EXCLUSION):
            return False
        with self.connection.pipeline() as pipe:
            pipe.hset(key, mapping={STATUS_BEFORE_EXCLUSION: status, "status": Status.REJECTED})
            pipe.srem(HELD_SAMPLES, sample_id)
            pipe.execute()
        return True

    def _user_sample_ids(self, user_hash: str) -> list[str]:
        return [as_str(i) for i in self.connection.smembers(user_samples_key(user_hash))]

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
