"""From preprocessed crops to an answer: digits, confidences, and the sentence the user reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from digitbot import defaults, texts


class Classifier(Protocol):
    version: str

    def probabilities(self, crops: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class DigitGuess:
    digit: int
    confidence: float
    probabilities: list[float]
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class Recognition:
    """The result of reading one photo. `text` is "" when no digit was found."""

    text: str
    confidence: float
    digits: list[DigitGuess] = field(default_factory=list)
    model_version: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def recognize(
    crops: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    model: Classifier,
    *,
    reason: str = "",
) -> Recognition:
    """Classify each crop; crops the model calls "not a digit" are dropped from the number.

    The overall confidence is the product of the kept digits' confidences: a number is only as
    sure as all of its digits together.
    """
    if len(crops) == 0:
        return Recognition("", 0.0, [], model.version, reason or "no-ink")
    probs = model.probabilities(crops)
    guesses: list[DigitGuess] = []
    for row, box in zip(probs, boxes, strict=True):
        best = int(np.argmax(row))
        if best >= defaults.NOT_A_DIGIT:
            continue
        digit_probs = row[: defaults.NOT_A_DIGIT]
        guesses.append(DigitGuess(best, float(row[best]), [float(p) for p in digit_probs], box))
    if not guesses:
        return Recognition("", 0.0, [], model.version, "not-a-digit")
    confidence = float(np.prod([g.confidence for g in guesses]))
    text = "".join(str(g.digit) for g in guesses)
    return Recognition(text, confidence, guesses, model.version, "")


def format_answer(result: Recognition) -> str:
    """The message the user reads: it starts with the digits (`7 — 99.3% sure`)."""
    if not result.text:
        return texts.NO_DIGIT
    line = texts.ANSWER.format(digits=result.text, percent=_percent(result.confidence))
    if len(result.digits) > 1:
        per_digit = ", ".join(f"{g.digit}: {_percent(g.confidence)}" for g in result.digits)
        line += f" ({per_digit})"
    if result.confidence < defaults.CONFIDENCE_UNSURE:
        line += "\n" + texts.UNSURE
    return line


def _percent(value: float) -> str:
    pct = value * 100
    if pct >= 99.95:
        return ">99.9%"
    return f"{pct:.1f}%" if pct >= 10 else f"{pct:.0f}%"
