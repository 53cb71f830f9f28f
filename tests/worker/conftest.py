"""Fixtures for job tests: the shipped model, the stand-in Bot API, a worker runtime using both,
and `drain`, which runs every queued recognition job with a real in-process worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from rq import Queue

from digitbot import defaults
from digitbot.settings import Settings
from reading.model import DigitModel, load_shipped_model
from tests.conftest import FAKE_TOKEN
from tests.support.telegram_standin import TelegramStandIn
from worker.rq_worker import DigitWorker
from worker.runtime import WorkerRuntime, set_runtime


@pytest.fixture(scope="module")
def shipped_model() -> DigitModel:
    return load_shipped_model()


@pytest.fixture()
def standin() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(FAKE_TOKEN) as server:
        server.open_chat(9)
        yield server


@pytest.fixture()
def runtime(
    standin: TelegramStandIn, redis_conn: redis.Redis, shipped_model: DigitModel
) -> Iterator[WorkerRuntime]:
    settings = Settings(telegram_token=FAKE_TOKEN, telegram_api_url=standin.api_url)
    runtime = WorkerRuntime(settings, connection=redis_conn, model=shipped_model)
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


def drain(connection: redis.Redis) -> None:
    """Run every queued recognition job with one DigitWorker, in this process, then return."""
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )
    DigitWorker([queue], connection=connection).work(burst=True)
