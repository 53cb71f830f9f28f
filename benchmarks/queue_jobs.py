"""A recognition job against a no-op job on the same in-process RQ worker and real Redis.

The no-op job measures what RQ costs per job (dequeue, bookkeeping, result); the difference to a
recognition job is what reading the photo costs inside a job. Web-upload requests are used so
no Telegram is involved; the worker stores their results in Redis.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks.noop import NOOP_JOB
from benchmarks.report import Section
from benchmarks.stats import ratio

DISTINCT_PHOTOS = 16
WARMUP_JOBS = 4


@dataclass(frozen=True)
class Counts:
    jobs: int  # timed jobs of each kind


FULL = Counts(jobs=300)
QUICK = Counts(jobs=40)


@dataclass(frozen=True)
class Drain:
    """One kind of job drained: counts, and timings from RQ's own job timestamps."""

    kind: str
    jobs: int
    finished: int
    failed: int
    enqueue_seconds: float
    span_seconds: float  # first job started -> last job ended
    median_run_ms: float  # one job's started -> ended
    drain_seconds: float  # the whole work(burst=True) call, worker start and stop included

    @property
    def jobs_per_second(self) -> float:
        return ratio(self.jobs, self.span_seconds)

    @property
    def ms_per_job(self) -> float:
        return 1000.0 * ratio(self.span_seconds, self.jobs)

    @property
    def enqueue_ms_per_job(self) -> float:
        return 1000.0 * ratio(self.enqueue_seconds, self.jobs)


def web_photos() -> list[bytes]:
    """A few phone-like 800×600 JPEGs of MNIST test digits (the bot's typical photo size)."""
    from tests.support.photos import digit_photo, mnist_test_digits

    x_test, _ = mnist_test_digits()
    return [digit_photo(x_test[i], seed=i) for i in range(DISTINCT_PHOTOS)]


def drain(connection: redis.Redis) -> None:
    """Run every queued recognition-queue job with one in-process DigitWorker, then return."""
    from digitbot import defaults
    from worker.rq_worker import DigitWorker

    worker = DigitWorker([defaults.QUEUE_RECOGNITION], connection=connection)
    worker.work(burst=True, logging_level="WARNING")


def enqueue_recognitions(
    connection: redis.Redis, photos: list[bytes], count: int
) -> tuple[list[str], float]:
    """Submit `count` web uploads the way the web page does; return job ids and seconds taken."""
    from digitbot.intake import PhotoIntake

    intake = PhotoIntake(connection, max_queue_depth=count + 1)
    started = time.perf_counter()
    ids = [intake.submit(photos[i % len(photos)], source="web-upload").job_id for i in range(count)]
    return ids, time.perf_counter() - started


def enqueue_noops(connection: redis.Redis, count: int) -> tuple[list[str], float]:
    """Enqueue `count` no-op jobs with a recognition job's payload; return ids and seconds."""
    from rq import Queue

    from digitbot import defaults, keys
    from digitbot.payload import RecognitionRequest, new_request_id

    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )
    ids = []
    started = time.perf_counter()
    for _ in range(count):
        request_id = new_request_id()
        payload: dict[str, Any] = RecognitionRequest(
            request_id=request_id, photo_key=keys.photo_key(request_id), source="web-upload"
        ).to_dict()  # the same payload a recognition job gets
        job = queue.enqueue(
            NOOP_JOB,
            payload,
            job_timeout=defaults.RECOGNITION_JOB_TIMEOUT_SECONDS,
            result_ttl=defaults.RESULT_TTL_SECONDS,
        )
        ids.append(job.id)
    return ids, time.perf_counter() - started


def measure(connection: redis.Redis, kind: str, photos: list[bytes], count: int) -> Drain:
    """Enqueue `count` jobs of one kind, drain them, and read their timestamps back."""
    from rq.job import Job, JobStatus

    from digitbot import defaults

    if kind == "recognition":
        ids, enqueue_seconds = enqueue_recognitions(connection, photos, count)
    else:
        ids, enqueue_seconds = enqueue_noops(connection, count)
    started = time.perf_counter()
    drain(connection)
    drain_seconds = time.perf_counter() - started
    jobs = [
        job
        for job in Job.fetch_many(ids, connection=connection, serializer=defaults.JOB_SERIALIZER)
        if job is not None
    ]
    # (started, ended) of every job that ran
    spans = [(j.started_at, j.ended_at) for j in jobs if j.started_at and j.ended_at]
    span = (
        (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds()
        if spans
        else float("nan")
    )
    runs = [(ended - started).total_seconds() for started, ended in spans]
    return Drain(
        kind,
        count,
        finished=sum(job.get_status() == JobStatus.FINISHED for job in jobs),
        failed=sum(job.get_status() == JobStatus.FAILED for job in jobs),
        enqueue_seconds=enqueue_seconds,
        span_seconds=span,
        median_run_ms=1000 * statistics.median(runs) if runs else float("nan"),
        drain_seconds=drain_seconds,
    )


def run(counts: Counts) -> Section:
    from digitbot.redis_server import EmbeddedRedis
    from digitbot.settings import Settings
    from worker.runtime import WorkerRuntime, set_runtime

    photos = web_photos()
    with tempfile.TemporaryDirectory(prefix="digitbot-bench-") as tmp:
        server = EmbeddedRedis(Path(tmp) / "redis").start()
        connection = redis.Redis.from_url(server.url)
        try:
            runtime = WorkerRuntime(Settings(redis_url=server.url), connection=connection)
            set_runtime(runtime)
            _ = runtime.model  # load and trace the model before any clock starts
            for kind in ("noop", "recognition"):  # first jobs pay for imports: untimed
                measure(connection, kind, photos, WARMUP_JOBS)
            noop = measure(connection, "noop", photos, counts.jobs)
            recognition = measure(connection, "recognition", photos, counts.jobs)
        finally:
            set_runtime(None)
            connection.close()
            server.stop()
    drains = (noop, recognition)
    rows = [
        [
            d.kind,
            d.jobs,
            d.finished,
            d.failed,
            d.jobs_per_second,
            d.ms_per_job,
            d.median_run_ms,
            d.enqueue_ms_per_job,
        ]
        for d in drains
    ]
    slowdown = ratio(recognition.ms_per_job, noop.ms_per_job)
    return Section(
        title="Recognition job vs no-op job",
        summary=(
            f"{counts.jobs} jobs of each kind enqueued on a real redis-server, then drained by "
            "one in-process `DigitWorker(...).work(burst=True)` with the model already loaded. "
            "Recognition jobs are web uploads of 800×600 phone-like JPEGs. Timings come from "
            "RQ's job timestamps: jobs/s and ms/job from the first job's start to the last "
            "one's end (dequeue and bookkeeping included), run ms = one job's start → end "
            "(median). The worker's own start and stop (about a second) are left out."
        ),
        headers=[
            "job",
            "jobs",
            "finished",
            "failed",
            "jobs/s",
            "ms/job",
            "run ms",
            "enqueue ms/job",
        ],
        rows=rows,
        notes=[
            f"a recognition job costs {slowdown:.1f}× a no-op job; RQ's own share is "
            f"{noop.ms_per_job:.1f} ms of {recognition.ms_per_job:.1f} ms per job",
            f"whole drains including worker start and stop: {noop.drain_seconds:.2f} s (no-op), "
            f"{recognition.drain_seconds:.2f} s (recognition)",
        ],
        data={
            "slowdown": slowdown,
            "drains": [
                {**d.__dict__, "jobs_per_second": d.jobs_per_second, "ms_per_job": d.ms_per_job}
                for d in drains
            ],
        },
    )
