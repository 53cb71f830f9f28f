"""`digitbot worker --processes N`: keep N worker processes running on this host.

A worker that dies in the middle of a job (killed, out of memory) leaves its job in RQ's started
registry until the job's timeout passes. The supervisor knows at once, so it puts that job back
at the front of its queue and starts a fresh worker: the photo is answered seconds later, and
the answer mark in Redis keeps it from being answered twice.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer
from rq.worker import Worker

from digitbot.procutil import die_with_parent
from digitbot.replies import as_str
from digitbot.settings import Settings, refuse_unauthenticated_remote

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 15.0
# A job still in RQ's intermediate list this long after we first saw it, and run by no worker,
# was dropped between dequeue and start (a worker died, or Redis restarted under it).
STRANDED_GRACE_SECONDS = 5.0
RESCUE_INTERVAL_SECONDS = 2.0
RESTART_BACKOFF_SECONDS = (0.5, 1, 2, 5, 10, 30)
POLL_SECONDS = 0.2


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    name: str = ""
    generation: int = 0
    failures: int = 0
    restart_at: float = 0.0
    started_at: float = field(default_factory=time.monotonic)


class WorkerPool:
    """Starts, watches and restarts worker processes; stops them cleanly on SIGTERM/SIGINT."""

    def __init__(self, redis_url: str, queues: list[str], processes: int) -> None:
        # Refused here, once, rather than by each worker it would start and restart.
        allowed = Settings.from_env().allow_unauthenticated_redis
        refuse_unauthenticated_remote(redis_url, allowed=allowed)
        self.redis_url = redis_url
        self.queues = queues
        self.slots = [Slot(index=i) for i in range(processes)]
        self.stopping = False
        self.host = socket.gethostname()
        # One client for the pool's own bookkeeping; redis-py reconnects it after an outage.
        self.connection = redis.Redis.from_url(redis_url, socket_connect_timeout=2)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        for slot in self.slots:
            self._start(slot)
        seen: dict[str, float] = {}
        next_rescue = time.monotonic()
        while not self.stopping:
            for slot in self.slots:
                self._check(slot)
            if time.monotonic() >= next_rescue:
                self._rescue_stranded(seen)
                next_rescue = time.monotonic() + RESCUE_INTERVAL_SECONDS
            time.sleep(POLL_SECONDS)
        self._stop_all()
        return 0

    def _request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start(self, slot: Slot) -> None:
        slot.generation += 1
        slot.name = f"{self.host}.{os.getpid()}.{slot.index}.{slot.generation}"
        command = [
            sys.executable, "-m", "worker.rq_worker",
            "--name", slot.name, "--queues", ",".join(self.queues),
        ]  # fmt: skip
        env = {**os.environ, "REDIS_URL": self.redis_url}
        slot.process = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)
        slot.started_at = time.monotonic()
        log.info("started worker %s (pid %d)", slot.name, slot.process.pid)

    def _check(self, slot: Slot) -> None:
        if slot.process is None:
            if time.monotonic() >= slot.restart_at:
                self._start(slot)
            return
        code = slot.process.poll()
        if code is None:
            if time.monotonic() - slot.started_at > 60:
                slot.failures = 0
            return
        log.warning("worker %s exited with %s", slot.name, code)
        self._rescue_job(slot.name)
        slot.process = None
        delay = RESTART_BACKOFF_SECONDS[min(slot.failures, len(RESTART_BACKOFF_SECONDS) - 1)]
        slot.failures += 1
        slot.restart_at = time.monotonic() + delay

    def _rescue_job(self, worker_name: str) -> None:
        try:
            job_id = requeue_job_of_dead_worker(self.connection, worker_name)
            if job_id:
                log.warning("requeued job %s of dead worker %s", job_id, worker_name)
        except redis.exceptions.RedisError as exc:
            # RQ's own registry clean-up requeues it after the job timeout instead.
            log.warning("could not rescue the job of %s now: %s", worker_name, exc)

    def _rescue_stranded(self, seen: dict[str, float]) -> None:
        try:
            for name in self.queues:
                for job_id in rescue_stranded_jobs(self.connection, name, seen):
                    log.warning("requeued job %s stranded between dequeue and start", job_id)
        except redis.exceptions.RedisError:
            pass  # Redis is down; nothing can be rescued until it is back

    def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process and s.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)  # RQ's warm shutdown: finish the current job
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def requeue_job_of_dead_worker(connection: redis.Redis, worker_name: str) -> str | None:
    """Put the job a dead worker was running back at the front of its queue; return its id."""
    worker = Worker.find_by_key(
        Worker.redis_worker_namespace_prefix + worker_name,
        connection=connection,
        serializer=JSONSerializer,
    )
    if worker is None:
        return None
    job_id = worker.get_current_job_id()
    worker.register_death()
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None
    if job.get_status() != JobStatus.STARTED:
        return None
    queue = Queue(job.origin, connection=connection, serializer=JSONSerializer)
    StartedJobRegistry(job.origin, connection=connection).remove_executions(job)
    queue.enqueue_job(job, at_front=True)
    return job_id


def rescue_stranded_jobs(
    connection: redis.Redis,
    queue_name: str,
    seen: dict[str, float],
    *,
    grace: float = STRANDED_GRACE_SECONDS,
    now: float | None = None,
) -> list[str]:
    """Requeue jobs left in RQ's intermediate list that no worker is running.

    RQ moves a job to an intermediate list when a worker takes it, and to the started registry
    when the worker begins. A worker that dies in between leaves it there; RQ's own clean-up
    waits a minute or more. `seen` remembers when each job was first noticed (per caller).
    Several hosts may call this at once: LREM decides which one requeues.
    """
    now = time.monotonic() if now is None else now
    queue = Queue(queue_name, connection=connection, serializer=JSONSerializer)
    key = IntermediateQueue.get_intermediate_queue_key(queue.key)
    waiting = [as_str(j) for j in connection.lrange(key, 0, -1)]
    for stale in set(seen) - set(waiting):
        del seen[stale]
    if not waiting:
        return []
    started = set(StartedJobRegistry(queue_name, connection=connection).get_job_ids(cleanup=False))
    running = {w.get_current_job_id() for w in Worker.all(queue=queue)}
    rescued = []
    for job_id in waiting:
        if job_id in started or job_id in running:
            continue
        first = seen.setdefault(job_id, now)
        if now - first < grace:
            continue
        if connection.lrem(key, 1, job_id):
            queue.push_job_id(job_id, at_front=True)
            rescued.append(job_id)
        seen.pop(job_id, None)
    return rescued
