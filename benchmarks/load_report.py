"""Load-test results: one run's counts and timings, the table, JSON and the Markdown section."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.report import fmt, markdown_table
from benchmarks.stats import LatencySummary, ratio

DEFAULT_RATE = 20.0
DEFAULT_DURATION_SECONDS = 30.0
DEFAULT_USERS = 10
DEFAULT_WORKERS = (1, 2, 4)
DEFAULT_DRAIN_TIMEOUT_SECONDS = 30.0
# The product's bar, defined for 2 workers on 2 cores at 20 photos/s.
BAR_P50_MS = 150.0
BAR_P95_MS = 400.0
BAR_RATE = 20.0
BAR_WORKERS = 2


@dataclass(frozen=True)
class LoadPlan:
    """How much load: total photos per second, for how long, from how many users."""

    rate: float = DEFAULT_RATE
    duration: float = DEFAULT_DURATION_SECONDS
    users: int = DEFAULT_USERS
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_SECONDS

    @property
    def num_photos(self) -> int:
        return max(1, round(self.rate * self.duration))

    def offsets(self) -> list[float]:
        """Seconds after the start at which each photo is sent: an even, fixed rate."""
        return [index / self.rate for index in range(self.num_photos)]


@dataclass
class RunResult:
    """One worker count's run: counts of photos, latency, throughput and resources used."""

    workers: int
    sent: int
    answered: int
    duplicated: int
    lost: int
    read_right: int
    no_digit_or_error: int
    latency: LatencySummary
    answers_per_second: float
    max_send_lag_ms: float
    window_seconds: float = float("nan")
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    # Seconds the processes were ready to run but had no CPU: high means a crowded machine.
    cpu_wait_seconds: dict[str, float] = field(default_factory=dict)
    worker_peak_rss_mib: float = float("nan")
    bot_peak_rss_mib: float = float("nan")
    worker_pids_changed: bool = False
    # Latency split by stage ("bot", "queue", "worker"), each a LatencySummary.as_dict().
    stages: dict[str, dict[str, float]] = field(default_factory=dict)

    def meets_bars(self) -> bool:
        return (
            self.lost == 0
            and self.duplicated == 0
            and self.latency.p50_ms <= BAR_P50_MS
            and self.latency.p95_ms <= BAR_P95_MS
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency"] = self.latency.as_dict()
        data["meets_bars"] = self.meets_bars()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["latency"] = LatencySummary(**data["latency"])
        return cls(**known)


TABLE_HEADERS = [
    "workers",
    "sent",
    "answered",
    "dup",
    "lost",
    "read right",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "max ms",
    "answers/s",
    "worker CPU s",
    "worker CPU %",
    "bot CPU s",
    "worker peak MiB",
    "bars met",
]


def table_rows(results: Sequence[RunResult]) -> list[list[Any]]:
    rows = []
    for r in results:
        worker_cpu = r.cpu_seconds.get("workers", float("nan"))
        rows.append(
            [
                r.workers,
                r.sent,
                r.answered,
                r.duplicated,
                r.lost,
                r.read_right,
                whole(r.latency.p50_ms),
                whole(r.latency.p95_ms),
                whole(r.latency.p99_ms),
                whole(r.latency.max_ms),
                r.answers_per_second,
                worker_cpu,
                whole(100 * ratio(worker_cpu, r.window_seconds)),
                r.cpu_seconds.get("bot", float("nan")),
                whole(r.worker_peak_rss_mib),
                "yes" if r.meets_bars() else "no",
            ]
        )
    return rows


def results_table(results: Sequence[RunResult]) -> str:
    return markdown_table(TABLE_HEADERS, table_rows(results))


def stages_table(results: Sequence[RunResult]) -> str:
    """Where the time went: p50 / p95 ms of each stage, per worker count."""
    stages = ("bot", "queue", "worker")
    headers = ["workers"] + [f"{stage} {q}" for stage in stages for q in ("p50 ms", "p95 ms")]
    rows: list[list[Any]] = []
    for r in results:
        cells = [
            r.stages.get(stage, {}).get(key, float("nan"))
            for stage in stages
            for key in ("p50_ms", "p95_ms")
        ]
        rows.append([r.workers, *(whole(cell) for cell in cells)])
    return markdown_table(headers, rows)


def whole(value: float) -> int | None:
    """Rounded to an integer for a table cell; None (shown as "–") for NaN."""
    return None if math.isnan(value) else round(value)


def report_document(plan: LoadPlan, results: Sequence[RunResult]) -> dict[str, Any]:
    """What --json writes: the machine, the plan and one entry per worker count."""
    from benchmarks.machine import describe_machine

    return {
        "machine": describe_machine().as_dict(),
        "plan": asdict(plan),
        "runs": [r.as_dict() for r in results],
    }


def markdown_section(document: dict[str, Any]) -> str:
    """The load-test section of BENCHMARKS.md, from a --json document."""
    plan = LoadPlan(**document["plan"])
    results = [RunResult.from_dict(run) for run in document["runs"]]
    machine = document.get("machine", {})
    lines = [
        "## Load test: photo in → answer out through bot + Redis + workers",
        "",
        f"Run {machine.get('date', '?')}: `python -m benchmarks.loadtest --rate {plan.rate:g} "
        f"--duration {plan.duration:g} --users {plan.users} "
        f"--workers {','.join(str(r.workers) for r in results)}`. "
        f"{plan.num_photos} photos (800×600 JPEGs of MNIST test digits) sent open-loop through "
        "the stand-in Bot API to the real `digitbot bot` and `digitbot worker --processes N`, "
        "a fresh stack per N. Latency: update queued → answer received. CPU: seconds used "
        "between the first photo and the last answer (worker CPU % is of one core). "
        f"Bars (2 workers, 20 photos/s): 0 lost, 0 duplicated, p50 ≤ {BAR_P50_MS:.0f} ms, "
        f"p95 ≤ {BAR_P95_MS:.0f} ms.",
        "",
        results_table(results),
        "",
        "Where the time went: bot = update queued → job enqueued (long poll, getFile, download, "
        "probe, enqueue); queue = enqueued → a worker starts it; worker = started → answer "
        "received by the Bot API.",
        "",
        stages_table(results),
        "",
    ]
    for r in results:
        cpu = ", ".join(
            f"{role} {seconds:.1f} s ({1000 * ratio(seconds, r.answered):.0f} ms/photo)"
            for role, seconds in r.cpu_seconds.items()
        )
        waited = ", ".join(
            f"{role} {seconds:.1f} s" for role, seconds in r.cpu_wait_seconds.items()
        )
        lines.append(
            f"- {r.workers} worker(s): CPU over {r.window_seconds:.1f} s — {cpu}; "
            f"ready but waiting for a CPU — {waited or 'not measured'}; "
            f"bot peak RSS {fmt(r.bot_peak_rss_mib, 0)} MiB; "
            f"worst send lag {r.max_send_lag_ms:.0f} ms; "
            f"{r.no_digit_or_error} answer(s) said no digit or gave an error"
            + ("; worker processes changed during the run" if r.worker_pids_changed else "")
        )
    verdicts = [r for r in results if r.workers == BAR_WORKERS and plan.rate == BAR_RATE]
    if verdicts:
        met = verdicts[0].meets_bars()
        lines.append(
            f"- bar at {BAR_WORKERS} workers, {BAR_RATE:g} photos/s: "
            + ("met" if met else "NOT met")
        )
    return "\n".join(lines) + "\n"
