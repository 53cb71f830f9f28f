"""Workers run only our job functions: a job naming anything else (here `os.getenv` with the bot
token's name, the reported attack) fails without its function being imported or called, and
our own jobs still run. Real RQ worker, real redis-server."""

from __future__ import annotations

import ast
import base64
import binascii
import contextlib
import os
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
from rq import Queue, Retry
from rq.job import Callback, Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.utils import import_attribute
from rq.webhook import Webhook

from digitbot import defaults, job_names
from digitbot.intake import PhotoIntake
from digitbot.redis_server import free_port
from tests.conftest import repo_root
from tests.support.photos import clear_arrays, digit_photo
from tests.support.telegram_standin import TelegramStandIn
from tests.worker.conftest import drain
from worker.rq_worker import AllowListedJob, DigitWorker
from worker.runtime import WorkerRuntime

# Token-shaped, and unlike the token the worker runtime is given, so any copy of it in Redis
# can only have come from the environment.
ENV_TOKEN = "7777777:EnvOnlyTokenEnvOnlyTokenEnvOnlyToken77"
CANARY = "tests.worker.canary_job"
PRODUCT_PACKAGES = ("bot", "web", "worker", "training", "digitbot", "benchmarks")


@pytest.fixture()
def token_in_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The token in the environment, and every os.getenv call asking for it."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", ENV_TOKEN)
    asked: list[str] = []
    real_getenv = os.getenv

    def spying_getenv(key: str, default: str | None = None) -> str | None:
        if key == "TELEGRAM_BOT_TOKEN":
            asked.append(key)
        return real_getenv(key, default)

    monkeypatch.setattr(os, "getenv", spying_getenv)
    monkeypatch.delitem(sys.modules, CANARY, raising=False)
    yield asked


def recognition_queue(connection: redis.Redis) -> Queue:
    return Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )


def readings(value: bytes) -> list[bytes]:
    """A stored value as it is and as RQ may have encoded it (base64 results, zlib data)."""
    forms = [value]
    with contextlib.suppress(binascii.Error, ValueError):
        forms.append(base64.b64decode(value, validate=True))
    for form in list(forms):
        with contextlib.suppress(zlib.error):
            forms.append(zlib.decompress(form))
    return forms


def everything_in(connection: redis.Redis) -> bytes:
    """Every key and value in Redis, decoded as RQ encodes them, concatenated (for "is this
    secret anywhere?")."""
    values: list[bytes] = []
    for key in connection.scan_iter(count=1000):
        values.append(key)
        kind = connection.type(key).decode()
        if kind == "string":
            values.append(connection.get(key) or b"")
        elif kind == "hash":
            for field, value in connection.hgetall(key).items():
                values += [field, value]
        elif kind == "list":
            values += connection.lrange(key, 0, -1)
        elif kind == "set":
            values += connection.smembers(key)
        elif kind == "zset":
            values += connection.zrange(key, 0, -1)
        elif kind == "stream":
            for _, entry in connection.xrange(key):
                for field, value in entry.items():
                    values += [field, value]
        else:
            raise AssertionError(f"unexpected Redis type {kind} of {key!r}")
    return b"\n".join(form for value in values for form in readings(value))


def failure_text(job: Job) -> str:
    result = job.latest_result()
    assert result is not None and result.exc_string
    return result.exc_string


def test_a_job_naming_os_getenv_fails_and_never_reads_the_token(
    runtime: WorkerRuntime, redis_conn: redis.Redis, token_in_env: list[str]
) -> None:
    queue = recognition_queue(redis_conn)
    job = queue.enqueue(
        "os.getenv", "TELEGRAM_BOT_TOKEN", retry=Retry(max=3), result_ttl=-1, failure_ttl=3600
    )
    drain(redis_conn)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=queue)
    assert len(job.results()) == 1  # failed for good, not retried: no retry makes it allowed
    assert job.return_value() is None
    text = failure_text(job)
    assert "ForbiddenJobError" in text and "'os.getenv'" in text
    assert token_in_env == []  # never called
    assert ENV_TOKEN.encode() not in everything_in(redis_conn)
    assert ENV_TOKEN.split(":")[1].encode() not in everything_in(redis_conn)


def test_an_unlisted_function_is_never_imported(
    runtime: WorkerRuntime, redis_conn: redis.Redis, token_in_env: list[str]
) -> None:
    job = recognition_queue(redis_conn).enqueue(f"{CANARY}.steal", "TELEGRAM_BOT_TOKEN")
    drain(redis_conn)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert f"'{CANARY}.steal', which is not a digitbot job function" in failure_text(job)
    assert CANARY not in sys.modules
    assert ENV_TOKEN.encode() not in everything_in(redis_conn)


@pytest.mark.parametrize("hook", ["on_success", "on_failure", "on_stopped"])
def test_an_unlisted_callback_refuses_the_whole_job(
    runtime: WorkerRuntime, redis_conn: redis.Redis, token_in_env: list[str], hook: str
) -> None:
    queue = recognition_queue(redis_conn)
    callback = Callback(f"{CANARY}.steal")
    job = queue.enqueue(job_names.BENCHMARK_NOOP, {"request_id": "x"}, **{hook: callback})
    drain(redis_conn)
    job.refresh()
    assert job.get_status() == JobStatus.FAILED
    assert job.return_value() is None  # the allowed function did not run either
    assert f"the callback '{CANARY}.steal'" in failure_text(job)
    assert CANARY not in sys.modules


def test_an_unlisted_failure_callback_is_skipped_in_registry_clean_up(
    redis_conn: redis.Redis, token_in_env: list[str]
) -> None:
    # RQ runs the failure callback of an abandoned job outside any try; it must neither import
    # the callback nor raise (which would stop the worker).
    queue = recognition_queue(redis_conn)
    job = queue.enqueue(job_names.BENCHMARK_NOOP, {}, on_failure=Callback(f"{CANARY}.steal"))
    worker = DigitWorker([queue], connection=redis_conn)
    assert worker.queues[0].job_class is AllowListedJob  # what the registry clean-up uses
    fetched = AllowListedJob.fetch(job.id, connection=redis_conn, serializer=queue.serializer)
    assert fetched.failure_callback is None
    fetched.execute_failure_callback(worker.death_penalty_class, None, None, None)
    assert CANARY not in sys.modules


def test_a_digit_worker_only_takes_allow_listed_job_classes(redis_conn: redis.Redis) -> None:
    with pytest.raises(TypeError):
        DigitWorker([defaults.QUEUE_RECOGNITION], connection=redis_conn, job_class=Job)


def test_our_recognition_job_still_runs(
    runtime: WorkerRuntime, redis_conn: redis.Redis, standin: TelegramStandIn
) -> None:
    x, y = clear_arrays()
    photo = digit_photo(x[4], seed=3)
    message_id = standin.user_sends_photo(9, photo)
    submission = PhotoIntake(redis_conn, max_queue_depth=10).submit(
        photo, source="telegram-photo", chat_id=9, message_id=message_id
    )  # with its failure callback, on_recognition_failure
    drain(redis_conn)
    job = recognition_queue(redis_conn).fetch_job(submission.job_id)
    assert job is not None and job.get_status() == JobStatus.FINISHED
    sent = standin.sent(chat_id=9, method="sendMessage")
    assert len(sent) == 1 and sent[0].text.startswith(f"{int(y[4])} — ")


def test_the_benchmark_noop_job_still_runs(runtime: WorkerRuntime, redis_conn: redis.Redis) -> None:
    job = recognition_queue(redis_conn).enqueue(job_names.BENCHMARK_NOOP, {"a": 1})
    drain(redis_conn)
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == {"ok": True, "size": 1}


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_webhooks_in_a_job_are_not_sent(runtime: WorkerRuntime, redis_conn: redis.Redis) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Recorder.hits.clear()
    try:
        url = f"http://127.0.0.1:{server.server_port}/steal"
        job = recognition_queue(redis_conn).enqueue(
            job_names.BENCHMARK_NOOP,
            {"a": 1},
            webhooks=[Webhook(url, "finished", method="POST")],
        )
        drain(redis_conn)
    finally:
        server.shutdown()
        server.server_close()
    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert _Recorder.hits == []


def test_every_allowed_name_is_a_function() -> None:
    for name in sorted(job_names.JOB_FUNCTIONS | job_names.JOB_CALLBACKS):
        assert callable(import_attribute(name)), name


def _product_files() -> Iterator[Path]:
    root = repo_root()
    for package in PRODUCT_PACKAGES:
        yield from (root / package).rglob("*.py")


def test_the_product_enqueues_only_allowed_names() -> None:
    """A string the product enqueues (or names as a callback) is on the allow-list, so a new
    job function cannot be forgotten there and refused in production."""
    enqueuing = {"enqueue", "enqueue_call", "enqueue_at", "enqueue_in", "prepare_data", "create"}
    found: list[tuple[str, str, str]] = []
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            called = node.func.attr if isinstance(node.func, ast.Attribute) else None
            named = node.func.id if isinstance(node.func, ast.Name) else None
            if called in enqueuing and "." in first.value:
                found.append(("function", first.value, str(path)))
            elif named == "Callback":
                found.append(("callback", first.value, str(path)))
    for kind, name, where in found:
        allowed = job_names.JOB_FUNCTIONS if kind == "function" else job_names.JOB_CALLBACKS
        assert name in allowed, f"{where} enqueues {kind} {name!r}, not in digitbot.job_names"
