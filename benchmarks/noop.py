"""A job that does nothing, enqueued by dotted path: what RQ itself costs per job."""

from __future__ import annotations

from typing import Any

NOOP_JOB = "benchmarks.noop.noop"


def noop(data: dict[str, Any]) -> dict[str, Any]:
    """Return a small result, as a recognition job does; touch nothing else."""
    return {"ok": True, "size": len(data)}
