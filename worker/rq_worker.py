"""The RQ worker process: a SimpleWorker that loads the model once, before the first job.

RQ's forking Worker hangs when TensorFlow was loaded in the parent, and forking per job would
reload the model each time; a SimpleWorker runs jobs in its own process and keeps the model warm.
Run one with `python -m worker.rq_worker --name NAME --queues recognition`; `digitbot worker`
supervises several.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from typing import Any

import redis
from rq import SimpleWorker
from rq.serializers import JSONSerializer

from digitbot import defaults, keys
from digitbot.logs import configure_logging
from digitbot.settings import Settings
from worker.device import DeviceInfo
from worker.runtime import get_runtime

log = logging.getLogger(__name__)

# A short maintenance interval makes RQ notice abandoned jobs of dead hosts sooner.
MAINTENANCE_INTERVAL_SECONDS = 30
WORKER_INFO_TTL_SECONDS = 7 * 24 * 3600


class DigitWorker(SimpleWorker):
    """SimpleWorker with JSON jobs and the model loaded up front."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("serializer", JSONSerializer)
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL_SECONDS)
        super().__init__(*args, **kwargs)

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
            "batch_size": device.batch_size, "model": model_version,
            "host": socket.gethostname(), "pid": os.getpid(),
        })  # fmt: skip
        self.connection.expire(key, WORKER_INFO_TTL_SECONDS)


def limit_compute_threads() -> None:
    """One compute thread per worker process (DIGITBOT_COMPUTE_THREADS overrides).

    Recognition runs one small batch at a time, so a thread pool per process only makes N
    workers fight over the same cores; scale with processes instead.
    """
    threads = os.environ.get("DIGITBOT_COMPUTE_THREADS", "1")
    for name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(name, threads)


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
    configure_logging("worker")
    settings = Settings.from_env()
    connection = connect(settings.require_redis_url())
    queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    if defaults.QUEUE_TRAINING not in queues:  # training wants every core
        limit_compute_threads()
    worker = DigitWorker(queues, connection=connection, name=args.name or default_worker_name())
    worker.work(burst=args.burst, with_scheduler=not args.no_scheduler, logging_level="WARNING")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
