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

from digitbot import defaults, keys, texts
from digitbot.registry import ModelRegistry
from tests.web.conftest import OPERATOR_USER, basic_auth
from web.config import WebConfig
from web.status import worker_info_key

FROZEN_NOW = 1_800_000_000.0  # the start of a rate-limit window, so no test crosses a minute
# rq-dashboard's routes that change state; /requeue/<queue> answers GET as well.
DASHBOARD_ACTIONS = [
    ("GET", "/rq/requeue/recognition"),
    ("POST", "/rq/requeue/recognition"),
    ("POST", "/rq/job/{job_id}/requeue"),
    ("POST", "/rq/job/{job_id}/delete"),
    ("POST", "/rq/queue/recognition/failed/empty"),
    ("POST", "/rq/queue/recognition/compact"),
]
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


def test_wrong_passwords_are_slowed_down_but_the_right_one_always_gets_in(
    make_app: Callable[..., Flask],
) -> None:
    config = WebConfig("operator", "correct-horse-battery", login_attempts_per_minute=20)
    app = make_app(config=config)
    app.extensions["digitbot"].login_limiter.clock = lambda: FROZEN_NOW + 15
    client = app.test_client()
    answers = [
        client.get("/status", headers=basic_auth("operator", f"guess-{attempt}"))
        for attempt in range(50)
    ]
    assert [a.status_code for a in answers[:20]] == [401] * 20
    assert [a.status_code for a in answers[20:]] == [429] * 30
    assert answers[-1].headers["Retry-After"] == "45"
    # Fifty wrong passwords from this address, and the operator still gets in at once.
    assert client.get("/status", headers=basic_auth()).status_code == 200
    assert client.get("/rq/", headers=basic_auth()).status_code == 200
    assert client.get("/status", headers=basic_auth("operator", "guess")).status_code == 429


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
    assert second.get_json()["error"] == texts.RETRAIN_ALREADY.format(status="queued")
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


def failed_recognition_job(connection: redis.Redis) -> str:
    """A job that failed on the recognition queue, as the dashboard lists it."""
    queue = Queue(defaults.QUEUE_RECOGNITION, connection=connection, serializer=JSONSerializer)
    job = queue.enqueue("math.sqrt", -1)
    SimpleWorker([queue], connection=connection, serializer=JSONSerializer).work(burst=True)
    assert job.id in queue.failed_job_registry.get_job_ids()
    return job.id


# What requests that do not come from the dashboard's own pages say (or do not say) about that.
FOREIGN_EVIDENCE = [
    {},  # a link followed from a page that strips its Referer
    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/page"},
    {"Referer": "http://localhost.evil.example/rq/"},
]
# And what the dashboard's own pages (or the address bar) send.
OWN_EVIDENCE = [
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # typed into the address bar
    {"Origin": "http://localhost"},
    {"Referer": "http://localhost/rq/0/view/jobs"},
]


@pytest.mark.parametrize(("method", "path"), DASHBOARD_ACTIONS)
def test_dashboard_actions_from_anywhere_but_this_site_are_refused(
    client: FlaskClient, redis_conn: redis.Redis, method: str, path: str
) -> None:
    job_id = failed_recognition_job(redis_conn)
    url = path.format(job_id=job_id)
    queue = Queue(defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=JSONSerializer)
    for evidence in FOREIGN_EVIDENCE:
        response = client.open(url, method=method, headers={**basic_auth(), **evidence})
        assert response.status_code == 403, (evidence, response.get_data(as_text=True)[:300])
        assert "this site's own pages" in response.get_json()["error"]
        # Nothing was requeued, deleted, emptied or compacted.
        assert queue.failed_job_registry.get_job_ids() == [job_id], evidence
        assert redis_conn.exists(f"rq:job:{job_id}"), evidence
    # The same action from the dashboard's own page goes through.
    for evidence in OWN_EVIDENCE:
        url = path.format(job_id=failed_recognition_job(redis_conn))
        queue.enqueue("math.sqrt", 4)  # so that there is a queue to compact
        response = client.open(url, method=method, headers={**basic_auth(), **evidence})
        assert response.status_code == 200, (evidence, response.get_data(as_text=True)[:300])
        assert response.get_json()["status"] == "OK", evidence


def test_the_dashboard_has_a_content_security_policy_that_allows_only_its_own_files(
    client: FlaskClient,
) -> None:
    # Following a link to a dashboard view is fine; only its actions need this site's pages.
    link = {**basic_auth(), "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    page = client.get("/rq/", headers=link)
    assert page.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    # Its inline script and underscore templates need these; no other origin is allowed.
    assert policy["script-src"] == "'self' 'unsafe-inline' 'unsafe-eval'"
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    html = page.get_data(as_text=True)
    assert '<script type="text/javascript">' in html  # the inline script that needs it
    data = client.get("/rq/0/data/queues.json", headers=basic_auth())
    assert "Content-Security-Policy" in data.headers
    # Our own pages keep the strict policy.
    assert (
        "'unsafe-inline'"
        not in client.get("/status", headers=basic_auth()).headers["Content-Security-Policy"]
    )


def test_strict_transport_security_only_over_https(client: FlaskClient) -> None:
    for path in ("/", "/healthz"):
        assert "Strict-Transport-Security" not in client.get(path).headers
        secure = client.get(path, base_url="https://localhost")
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    dashboard = client.get("/rq/", headers=basic_auth(), base_url="https://localhost")
    assert "Strict-Transport-Security" in dashboard.headers
