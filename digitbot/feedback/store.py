"""`FeedbackStore`: the parts of feedback behind one handle, for the front ends that use several."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from digitbot import defaults
from digitbot.feedback.archive import SampleArchive
from digitbot.feedback.intake import FeedbackIntake
from digitbot.feedback.moderation import Moderation
from digitbot.feedback.records import PendingAnswer, Sample
from digitbot.feedback.report import summarize


class FeedbackStore:
    """Intake, archive, moderation and reporting of feedback, on one Redis connection.

    Each part is at hand on its own (`intake`, `archive`, `moderation`); the methods here are
    the ones the bot, the web page, the workers and training call.
    """

    def __init__(
        self,
        connection: redis.Redis,
        *,
        retention_days: int = defaults.FEEDBACK_RETENTION_DAYS,
        per_user_per_day: int = defaults.CORRECTIONS_PER_USER_PER_DAY,
        review_confidence: float = defaults.REVIEW_CONFIDENCE,
    ) -> None:
        self.connection = connection
        self.archive = SampleArchive(connection, retention_days=retention_days)
        self.moderation = Moderation(connection)
        self.intake = FeedbackIntake(
            connection,
            self.archive,
            self.moderation,
            per_user_per_day=per_user_per_day,
            review_confidence=review_confidence,
        )

    # -- intake -----------------------------------------------------------------------------
    def remember_answer(self, answer: PendingAnswer) -> None:
        self.intake.remember_answer(answer)

    def pending(self, request_id: str) -> PendingAnswer | None:
        return self.intake.pending(request_id)

    def claim_answer(self, request_id: str, user_hash: str) -> bool:
        return self.intake.claim_answer(request_id, user_hash)

    def record(
        self,
        request_id: str,
        label: str,
        *,
        user_hash: str,
        also_limited: Sequence[tuple[str, int]] = (),
    ) -> tuple[str, Sample | None]:
        return self.intake.record(request_id, label, user_hash=user_hash, also_limited=also_limited)

    # -- archive ----------------------------------------------------------------------------
    def samples(self, *, status: str | None = None, limit: int | None = None) -> list[Sample]:
        return self.archive.samples(status=status, limit=limit)

    def forget_user(self, user_hash: str) -> int:
        return self.archive.forget_user(user_hash)

    # -- moderation -------------------------------------------------------------------------
    def review(self, sample_id: str, *, accept: bool) -> bool:
        return self.moderation.review(sample_id, accept=accept)

    def exclude_user(self, user_hash: str) -> int:
        return self.moderation.exclude_user(user_hash)

    def include_user(self, user_hash: str) -> int:
        return self.moderation.include_user(user_hash)

    def users_matching(self, prefix: str) -> list[str]:
        return self.moderation.users_matching(prefix)

    # -- reporting --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts, and per model version the share of confirmed answers among feedback."""
        return summarize(self.archive.samples())
