"""A job that does nothing, enqueued by dotted path: what RQ itself costs per job."""

from __future__ import annotations

from typing import Any

from digitbot import job_names

NOOP_JOB = job_names.BENCHMARK_NOOP


def noop(data: dict[str, Any]) -> dict[str, Any]:
    """Return a small result, as a recognition job does; touch nothing else."""
    return {"ok": True, "size": len(data)}
