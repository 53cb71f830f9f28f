"""The operators' pages: login, status view and JSON, retrain button, RQ dashboard."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from rq.serializers import JSONSerializer
from rq.worker import Worker

from digitbot import defaults, keys
from digitbot.registry import ModelRegistry
from tests.web.conftest import OPERATOR_USER, basic_auth
from web.config import WebConfig
from web.operators import ALREADY_PENDING_TEXT
from web.status import worker_info_key

OPERATOR_ROUTES = [
    ("GET", "/status"),
    ("GET", "/api/status"),
    ("GET", "/rq/"),
    ("GET", "/rq/0/data/queues.json"),
    ("GET", "/metrics"),
    ("POST", "/api/retrain"),
]


@pytest.mark.parametrize(("method", "path"), OPERATOR_ROUTES)
def test_operator_routes_need_the_login(client: FlaskClient, method: str, path: str) -> None:
    anonymous = client.open(path, method=method)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = client.open(path, method=method, headers=basic_auth(OPERATOR_USER, "wrong-password"))
    assert wrong.status_code == 401
    allowed = client.open(path, method=method, headers=basic_auth())
    assert allowed.status_code in (200, 202), allowed.get_data(as_text=True)[:500]


def test_without_configured_login_operator_pages_are_refused_with_how_to(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(config=WebConfig()).test_client()
    for method, path in OPERATOR_ROUTES:
        response = client.open(path, method=method, headers=basic_auth())
        assert response.status_code == 403
        message = response.get_json()["error"]
        assert "DIGITBOT_WEB_USER" in message and "DIGITBOT_WEB_PASSWORD" in message
    assert client.get("/").status_code == 200  # the page itself stays public


def test_repeated_wrong_passwords_are_slowed_down(make_app: Callable[..., Flask]) -> None:
    config = WebConfig("operator", "correct-horse-battery", login_attempts_per_minute=3)
    client = make_app(config=config).test_client()
    for _ in range(3):
        assert client.get("/status", headers=basic_auth("operator", "guess")).status_code == 401
    # Now even the right password waits for the window to pass.
    refused = client.get("/status", headers=basic_auth())
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_retrain_enqueues_one_job_and_refuses_a_second(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    first = client.post("/api/retrain", headers=basic_auth())
    assert first.status_code == 202
    queue = Queue(defaults.QUEUE_TRAINING, connection=redis_conn, serializer=JSONSerializer)
    assert queue.job_ids == [keys.RETRAIN_JOB_ID]
    job = queue.fetch_job(keys.RETRAIN_JOB_ID)
    assert job is not None
    assert job.func_name == keys.RETRAIN_JOB
    assert job.args == [{"requested_by": "web", "chat_id": 0}]
    assert job.timeout == defaults.RETRAIN_JOB_TIMEOUT_SECONDS

    second = client.post("/api/retrain", headers=basic_auth())
    assert second.status_code == 409
    assert second.get_json()["error"] == ALREADY_PENDING_TEXT
    assert queue.count == 1

    # Once that run has ended, a new one can be asked for.
    queue.remove(job)
    job.set_status(JobStatus.FINISHED)
    assert client.post("/api/retrain", headers=basic_auth()).status_code == 202
    assert queue.job_ids == [keys.RETRAIN_JOB_ID]


def test_retrain_from_another_site_is_refused(client: FlaskClient, redis_conn: redis.Redis) -> None:
    headers = {**basic_auth(), "Origin": "https://evil.example"}
    response = client.post("/api/retrain", headers=headers)
    assert response.status_code == 403
    assert Queue(defaults.QUEUE_TRAINING, connection=redis_conn).count == 0
    # Requests another site's page makes the browser send (an <img>, a fetch) are refused too;
    # following a link to the status page is fine.
    embedded = {**basic_auth(), "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    assert client.get("/rq/requeue/recognition", headers=embedded).status_code == 403
    link = {**basic_auth(), "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/status", headers=link).status_code == 200
    same_site = {**basic_auth(), "Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/retrain", headers=same_site).status_code == 202


def test_status_shows_models_queues_workers_failures_and_last_training(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    registry = ModelRegistry(redis_conn)
    registry.publish(b"old", {"version": "20260101-a", "arch": "lenet5", "test_accuracy": 0.9871})
    registry.promote("20260101-a", reason="first model")
    registry.publish(b"new", {"version": "20260102-b", "arch": "digitnet", "test_accuracy": 0.9962})
    registry.promote("20260102-b", reason="beats champion by 0.91 points on MNIST test")

    recognition = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=JSONSerializer
    )
    failing = recognition.enqueue("math.sqrt", -1)
    SimpleWorker([recognition], connection=redis_conn, serializer=JSONSerializer).work(burst=True)
    for _ in range(2):
        recognition.enqueue("math.sqrt", 4)

    worker = Worker(
        [defaults.QUEUE_RECOGNITION], connection=redis_conn, name="gpu-host.1234.0",
        serializer=JSONSerializer,
    )  # fmt: skip
    worker.register_birth()
    redis_conn.hset(worker_info_key(worker.name), mapping={"device": "GPU:0 NVIDIA H100"})
    redis_conn.set(
        keys.LAST_TRAINING_KEY,
        json.dumps({"outcome": "kept champion", "candidate": "20260103-c", "finished_at": 1.8e9}),
    )

    redis_conn.set(keys.NEW_CORRECTIONS_KEY, 17)

    status = client.get("/api/status", headers=basic_auth()).get_json()
    assert status["champion"] == "20260102-b"
    models = {m["version"]: m for m in status["models"]}
    assert models["20260102-b"]["is_champion"] and not models["20260101-a"]["is_champion"]
    assert models["20260102-b"]["test_accuracy"] == pytest.approx(0.9962)
    assert models["20260102-b"]["promoted_because"].startswith("beats champion")
    queues = {q["name"]: q for q in status["queues"]}
    assert queues["recognition"]["queued"] == 2 and queues["recognition"]["failed"] == 1
    assert queues["training"]["queued"] == 0
    (described,) = status["workers"]
    assert described["name"] == "gpu-host.1234.0"
    assert described["queues"] == ["recognition"]
    assert described["device"] == {"device": "GPU:0 NVIDIA H100"}
    (failure,) = status["failed_jobs"]
    assert failure["id"] == failing.id
    assert failure["exception"].startswith("ValueError")
    assert failure["ended_at"] is not None
    assert status["last_training"]["candidate"] == "20260103-c"
    assert status["training_triggers"] == {"scheduler_heartbeat": None, "new_corrections": 17}

    html = client.get("/status", headers=basic_auth()).get_data(as_text=True)
    for expected in (
        "20260102-b", "20260101-a", "digitnet", "99.62%", "beats champion by 0.91 points",
        "gpu-host.1234.0", "GPU:0 NVIDIA H100", "ValueError", "kept champion", "Retrain now",
    ):  # fmt: skip
        assert expected in html, expected
    worker.register_death()


def test_dashboard_reads_our_json_jobs(client: FlaskClient, redis_conn: redis.Redis) -> None:
    queue = Queue(defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=JSONSerializer)
    job = queue.enqueue("worker.jobs.recognize_photo", {"request_id": "x"}, job_id="req-x")
    overview = client.get("/rq/0/data/queues.json", headers=basic_auth()).get_json()
    counts = {q["name"]: q["count"] for q in overview["queues"]}
    assert counts[defaults.QUEUE_RECOGNITION] == 1
    detail = client.get(f"/rq/0/data/job/{job.id}.json", headers=basic_auth())
    assert detail.status_code == 200
    assert "recognize_photo" in detail.get_json()["description"]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1_800_000_000, "2027-01-15 08:00:00 UTC"),
        ("2026-11-21T06:13:11+00:00", "2026-11-21 06:13:11 UTC"),
        ("2026-11-21T08:13:11+02:00", "2026-11-21 06:13:11 UTC"),
        (None, "—"),
        ("yesterday", "yesterday"),
    ],
)
def test_times_on_the_status_page_read_the_same_way(value: object, shown: str) -> None:
    from web.operators import format_when

    assert format_when(value) == shown  # type: ignore[arg-type]
