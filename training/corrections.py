"""User corrections as a training source: accepted samples, split by user, with a weight.

Split by user (a hash of the salted user hash), so one user's handwriting never sits on both
sides: the held-out accuracy then says how the model does for people it has not learned from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import redis

from digitbot.feedback import FeedbackStore, Status

HELD_OUT_SHARE = 0.2
CORRECTION_WEIGHT = 5  # each correction is repeated this many times in the training set


@dataclass(frozen=True)
class CorrectionSet:
    x: np.ndarray  # uint8 (n, 28, 28), one row per digit
    y: np.ndarray  # uint8 (n,)
    strings: list[tuple[np.ndarray, str]]  # whole samples (crops, label) for string accuracy

    @property
    def size(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class CorrectionData:
    train: CorrectionSet
    held_out: CorrectionSet


def is_held_out(user_hash: str, share: float = HELD_OUT_SHARE) -> bool:
    bucket = int(hashlib.sha256(user_hash.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < share


def load_corrections(connection: redis.Redis) -> CorrectionData:
    """Accepted samples (confirmed and corrected), split into train and held-out by user.

    A correction with more or fewer digits than crops ("38" for one crop) says the marks were
    split wrongly: no crop has a label of its own, so it is left out here.
    """
    sides: dict[bool, list[tuple[np.ndarray, str]]] = {True: [], False: []}
    for sample in FeedbackStore(connection).samples(status=Status.ACCEPTED):
        if len(sample.crops) != len(sample.label):
            continue
        sides[is_held_out(sample.user_hash)].append((sample.crops, sample.label))
    return CorrectionData(train=_to_set(sides[False]), held_out=_to_set(sides[True]))


def _to_set(samples: list[tuple[np.ndarray, str]]) -> CorrectionSet:
    xs = [crop for crops, _ in samples for crop in crops]
    ys = [int(d) for _, label in samples for d in label]
    x = np.stack(xs).astype(np.uint8) if xs else np.zeros((0, 28, 28), np.uint8)
    return CorrectionSet(x=x, y=np.asarray(ys, dtype=np.uint8), strings=samples)


def weighted(
    x: np.ndarray, y: np.ndarray, weight: int = CORRECTION_WEIGHT
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat corrections so a few hundred of them count against 60,000 MNIST digits."""
    return np.repeat(x, weight, axis=0), np.repeat(y, weight, axis=0)
