"""Reporting: counts of samples, and how often each model version's answers were confirmed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from digitbot.feedback.records import Sample, Status


def summarize(samples: Sequence[Sample]) -> dict[str, Any]:
    """Counts, and per model version the share of confirmed answers among feedback."""
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
        "by_kind": {k: sum(1 for x in samples if x.kind == k) for k in ("confirmed", "corrected")},
        "per_version": {
            version: {**counts, "accuracy": counts["confirmed"] / max(1, sum(counts.values()))}
            for version, counts in per_version.items()
        },
        "recent_corrections": [s.public() for s in samples if s.kind == "corrected"][:10],
    }
