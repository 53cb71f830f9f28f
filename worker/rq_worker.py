"""The RQ worker process: a SimpleWorker that loads the model once, before the first job.

RQ's forking Worker hangs when TensorFlow was loaded in the parent, and forking per job would
reload the model each time; a SimpleWorker runs jobs in its own process and keeps the model warm.
Run one with `python -m worker.rq_worker --name NAME --queues recognition`; `digitbot worker`
supervises several.

RQ imports and calls whatever function a job names, and anyone who can write to Redis can
queue a job: a DigitWorker runs only the functions in digitbot.job_names (AllowListedJob), and
refuses a password-less Redis off this host (DIGITBOT_ALLOW_UNAUTHENTICATED_REDIS=1 overrides).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from collections.abc import Callable
from typing import Any

import redis
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer

from digitbot import defaults, job_names, keys
from digitbot.errors import ConfigurationError
from digitbot.logs import configure_logging
from digitbot.settings import Settings
from worker.device import DeviceInfo
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

# A short maintenance interval makes RQ notice abandoned jobs of dead hosts sooner.
MAINTENANCE_INTERVAL_SECONDS = 30
WORKER_INFO_TTL_SECONDS = 7 * 24 * 3600


class ForbiddenJobError(Exception):
    """A job names a function (or callback) that digitbot workers do not run."""


class AllowListedJob(Job):
    """A Job whose function and callbacks resolve only when digitbot.job_names lists them.

    The check runs where RQ would import the function (`func`), so a refused job fails through
    RQ's own failure path, into the FailedJobRegistry with this error, without its function
    ever being imported or called.
    """

    def refusal(self) -> str | None:
        """Why this job may not run, or None when it may."""
        name = self.func_name
        if self.instance is not None:
            return f"job {self.id} calls a method {name!r} of an object; we run module functions"
        if name not in job_names.JOB_FUNCTIONS:
            return f"job {self.id} names {name!r}, which is not a digitbot job function"
        for callback in self._callback_names():
            if callback not in job_names.JOB_CALLBACKS:
                return f"job {self.id} names the callback {callback!r}, which is not a digitbot one"
        return None

    @property
    def func(self) -> Callable[..., Any]:
        refusal = self.refusal()
        if refusal is not None:
            self.retries_left = 0  # no retry can make it allowed
            raise ForbiddenJobError(refusal)
        return super().func

    # A job's func is checked first, but RQ also runs a failure callback when it cleans up an
    # abandoned job, outside any try: an unlisted callback is skipped there, not raised.
    @property
    def success_callback(self) -> Any:
        return super().success_callback if self._callback_allowed("success") else None

    @property
    def failure_callback(self) -> Any:
        return super().failure_callback if self._callback_allowed("failure") else None

    @property
    def stopped_callback(self) -> Any:
        return super().stopped_callback if self._callback_allowed("stopped") else None

    def send_webhooks(self, status: Any, *, exc_string: str | None = None) -> None:
        # We queue no webhooks; one in a job came from someone else and would post our
        # results (or errors) to their address.
        if self.webhooks:
            log.error("job %s carries webhooks; not sending them", self.id)

    def _callback_names(self) -> list[str]:
        names = (
            self._success_callback_name,
            self._failure_callback_name,
            self._stopped_callback_name,
        )
        return [name for name in names if name]

    def _callback_allowed(self, kind: str) -> bool:
        name = getattr(self, f"_{kind}_callback_name")
        if not name or name in job_names.JOB_CALLBACKS:
            return True
        log.error("job %s: not running its %s callback %r (not ours)", self.id, kind, name)
        return False


class DigitWorker(SimpleWorker):
    """SimpleWorker with JSON jobs, only our job functions, and the model loaded up front."""

    job_class = AllowListedJob

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL_SECONDS)
        job_class = kwargs.pop("job_class", AllowListedJob)
        if not (isinstance(job_class, type) and issubclass(job_class, AllowListedJob)):
            raise TypeError("a DigitWorker runs AllowListedJob (sub)classes only")
        kwargs["job_class"] = job_class
        super().__init__(*args, **kwargs)
        # Queues passed in as objects keep their own job class, which RQ's registry clean-up
        # uses to run failure callbacks: make it ours too.
        for queue in self.queues:
            queue.job_class = job_class

    def work(self, *args: Any, **kwargs: Any) -> bool:
        device = get_runtime().device
        model_version = ""
        if defaults.QUEUE_RECOGNITION in self.queue_names():
            model_version = get_runtime().model.version
        self.publish_info(device, model_version)
        log.info(
            "worker %s ready with model %s on %s",
            self.name,
            model_version or "-",
            device.describe(),
        )
        try:
            return super().work(*args, **kwargs)
        finally:
            self.connection.delete(keys.worker_info_key(self.name))

    def publish_info(self, device: DeviceInfo, model_version: str) -> None:
        """Tell the status page which device this worker uses."""
        key = keys.worker_info_key(self.name)
        self.connection.hset(key, mapping={
            "device": device.describe(), "kind": device.kind, "backend": device.backend,
            "model": model_version, "host": socket.gethostname(), "pid": os.getpid(),
        })  # fmt: skip
        self.connection.expire(key, WORKER_INFO_TTL_SECONDS)


def limit_compute_threads(threads: int) -> None:
    """Give each worker process `threads` compute threads (Settings.compute_threads: one
    unless DIGITBOT_COMPUTE_THREADS says otherwise), before TensorFlow is imported; OpenCV
    (preprocessing) gets as many.

    Recognition reads one photo at a time, so a thread pool per process only makes N
    workers fight over the same cores; scale with processes instead. Variables already set
    in the environment win.
    """
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, str(threads))
    import cv2  # its pool starts with a thread per core

    cv2.setNumThreads(threads)


def connect(url: str) -> redis.Redis:
    """A Redis client that notices a dead server quickly and reconnects by itself."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_keepalive=True, health_check_interval=10
    )


def default_worker_name(index: int = 0) -> str:
    return f"{socket.gethostname()}.{os.getpid()}.{index}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", default=None)
    parser.add_argument("--queues", default=defaults.QUEUE_RECOGNITION)
    parser.add_argument("--burst", action="store_true")
    parser.add_argument("--no-scheduler", action="store_true")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging("worker", settings=settings)
        connection = connect(settings.require_worker_redis_url())
    except ConfigurationError as exc:
        print(f"digitbot worker: {exc}", file=sys.stderr, flush=True)
        return 2
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    if defaults.QUEUE_TRAINING not in queues:  # training wants every core
        limit_compute_threads(settings.compute_threads)
    worker = DigitWorker(queues, connection=connection, name=args.name or default_worker_name())
    worker.work(burst=args.burst, with_scheduler=not args.no_scheduler, logging_level="WARNING")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
