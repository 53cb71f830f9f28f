"""What feedback stores in Redis, and under which keys: answers waiting for feedback, samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitbot import keys

SAMPLE_PREFIX = f"{keys.PREFIX}:feedback:sample:"
ALL_SAMPLES = f"{keys.PREFIX}:feedback:samples"  # sorted set: sample id -> created_at
HELD_SAMPLES = f"{keys.PREFIX}:feedback:held"
EXCLUDED_USERS = f"{keys.PREFIX}:feedback:excluded-users"
PENDING_PREFIX = f"{keys.PREFIX}:feedback:pending:"
# An excluded sample keeps the status it had, so lifting the exclusion can give it back.
STATUS_BEFORE_EXCLUSION = "status_before_exclusion"


def user_samples_key(user_hash: str) -> str:
    return f"{keys.PREFIX}:feedback:user:{user_hash}"


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
