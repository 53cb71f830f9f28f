"""Confidence calibration by temperature scaling.

digitnet trains with label smoothing, which keeps its softmax below ~0.91 even for an obvious
digit. Users read that number ("92% sure") and the review rule compares against it, so it must
mean what it says. Temperature scaling fits one number T on held-out digits so that
softmax(log p / T) minimises the negative log-likelihood; the ranking of classes (and so the
accuracy) is unchanged.
"""

from __future__ import annotations

import numpy as np

TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(3.0), 200))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale softmax outputs as if their logits were divided by `temperature`."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature with the lowest negative log-likelihood on (probabilities, labels)."""
    rows = np.arange(len(labels))

    def nll(temperature: float) -> float:
        scaled = apply_temperature(probabilities, temperature)
        return float(-np.log(np.clip(scaled[rows, labels], 1e-12, 1.0)).mean())

    return float(min(TEMPERATURES, key=nll))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 15
) -> float:
    """Mean |accuracy - confidence| over confidence bins, weighted by bin size."""
    confidence = probabilities.max(axis=1)
    right = probabilities.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(right[inside].mean() - confidence[inside].mean())
    return float(error)
