"""Promotion gates: a candidate replaces the champion only if it is not worse on the same data.

Gates (each compares candidate and champion measured in the same run, on the same data):
  mnist        MNIST test accuracy may not drop by more than MNIST_TOLERANCE
  corrections  held-out user corrections: accuracy may not drop by more than CORRECTIONS_TOLERANCE
               (skipped while there are fewer than MIN_CORRECTIONS held-out samples)
  photos       each photo-benchmark set may not drop by more than PHOTO_TOLERANCE
  canary       the artifact loads and predicts in a fresh process, and its lean (LiteRT) form
               gives the same probabilities within 1e-4 on 1,000 test digits (training/canary.py)
The decision records every number, so "why was this promoted?" always has an answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MNIST_TOLERANCE = 0.0005  # 5 of 10,000 test digits: below this, differences are noise
CORRECTIONS_TOLERANCE = 0.01
PHOTO_TOLERANCE = 0.02  # 4 of 200 photos
MIN_CORRECTIONS = 20


@dataclass(frozen=True)
class Scores:
    """One model's numbers on the gate data."""

    mnist_accuracy: float
    corrections_accuracy: float | None = None
    corrections_count: int = 0
    photo_accuracy: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Decision:
    promote: bool
    gates: list[Gate]
    candidate: Scores
    champion: Scores | None

    @property
    def summary(self) -> str:
        failed = [g for g in self.gates if not g.passed]
        if not failed:
            return "all gates passed: " + "; ".join(g.detail for g in self.gates)
        return "refused: " + "; ".join(f"{g.name}: {g.detail}" for g in failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "summary": self.summary,
            "gates": [asdict(g) for g in self.gates],
            "candidate": asdict(self.candidate),
            "champion": asdict(self.champion) if self.champion else None,
        }


def decide(
    candidate: Scores, champion: Scores | None, *, canary_ok: bool, canary_detail: str = ""
) -> Decision:
    """Apply every gate; promote only if all pass. With no champion, only the canary counts."""
    gates = [
        Gate(
            "canary", canary_ok, canary_detail or ("loads and predicts" if canary_ok else "failed")
        )
    ]
    if champion is not None:
        gates.append(
            _not_worse("mnist", candidate.mnist_accuracy, champion.mnist_accuracy, MNIST_TOLERANCE)
        )
        if (
            candidate.corrections_accuracy is not None
            and champion.corrections_accuracy is not None
            and candidate.corrections_count >= MIN_CORRECTIONS
        ):
            gates.append(
                _not_worse(
                    "corrections",
                    candidate.corrections_accuracy,
                    champion.corrections_accuracy,
                    CORRECTIONS_TOLERANCE,
                )
            )
        for name, value in sorted(candidate.photo_accuracy.items()):
            if name in champion.photo_accuracy:
                gates.append(
                    _not_worse(
                        f"photos/{name}", value, champion.photo_accuracy[name], PHOTO_TOLERANCE
                    )
                )
    return Decision(all(g.passed for g in gates), gates, candidate, champion)


def _not_worse(name: str, candidate: float, champion: float, tolerance: float) -> Gate:
    passed = candidate >= champion - tolerance
    detail = f"{name} {100 * candidate:.2f}% vs champion {100 * champion:.2f}%"
    if not passed:
        detail += f" (more than {100 * tolerance:.2f} points worse)"
    return Gate(name, passed, detail)
