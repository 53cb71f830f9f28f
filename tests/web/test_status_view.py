"""The status view as an operator reads it: who sees the link to it, times in words, a readable
device column, a retraining that asks first, and the way back from the RQ dashboard."""

from __future__ import annotations

import re
import time

import pytest
import redis
from flask.testing import FlaskClient
from rq import Worker
from rq.serializers import JSONSerializer

from digitbot import defaults, keys
from digitbot.registry import ModelRegistry
from tests.web.conftest import basic_auth
from web.formatting import ago, duration
from web.status import worker_info_key

STATUS_LINK = re.compile(r'<a href="/status">Status</a>')


def test_the_status_link_shows_to_operators_only(client: FlaskClient) -> None:
    assert not STATUS_LINK.search(client.get("/").get_data(as_text=True))
    wrong = basic_auth(password="not-the-password")
    assert not STATUS_LINK.search(client.get("/", headers=wrong).get_data(as_text=True))
    assert STATUS_LINK.search(client.get("/", headers=basic_auth()).get_data(as_text=True))
    assert STATUS_LINK.search(client.get("/status", headers=basic_auth()).get_data(as_text=True))


def test_times_read_as_how_long_ago(client: FlaskClient, redis_conn: redis.Redis) -> None:
    now = time.time()
    registry = ModelRegistry(redis_conn)
    registry.publish(b"m", {"version": "v1", "arch": "digitnet", "created_at": now - 300})
    redis_conn.set(keys.SCHEDULER_HEARTBEAT_KEY, "2026-11-21T06:13:11+00:00")
    html = client.get("/status", headers=basic_auth()).get_data(as_text=True)
    assert re.search(r'<time datetime="[0-9T:-]+Z" title="[^"]+ UTC">5 min ago</time>', html)
    assert "2026-11-21T06:13:11+00:00" not in html  # the heartbeat is in words too


@pytest.mark.parametrize(
    ("seconds_ago", "shown"),
    [(2, "just now"), (42, "42 s ago"), (299, "5 min ago"), (2 * 3600 + 600, "2 h 10 min ago"),
     (3 * 86400, "3 days ago"), (-600, "in 10 min"), (90 * 86400, "2026-08-20")],
)  # fmt: skip
def test_ago(seconds_ago: float, shown: str) -> None:
    now = 1_795_000_000.0  # 2026-11-18 11:06:40 UTC
    assert ago(now - seconds_ago, now=now) == shown
    assert ago(None) == "—" and ago("soon") == "soon"


def test_duration() -> None:
    assert [duration(s) for s in (45, 1274, 4440, 90000, None)] == [
        "45 s", "21 min", "1 h 14 min", "1 day 1 h", "—",
    ]  # fmt: skip


def test_the_device_column_says_what_the_worker_computes_on(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    worker = Worker(
        [defaults.QUEUE_RECOGNITION], connection=redis_conn, name="host.77.0",
        serializer=JSONSerializer,
    )  # fmt: skip
    worker.register_birth()
    redis_conn.hset(
        worker_info_key(worker.name),
        mapping={"device": "CPU x86_64 (tensorflow)", "kind": "cpu", "backend": "tensorflow",
                 "model": "20261120-b", "host": "host", "pid": "77"},
    )  # fmt: skip
    try:
        html = client.get("/status", headers=basic_auth()).get_data(as_text=True)
    finally:
        worker.register_death()
    cell = re.search(r'<td data-label="Device">(.*?)</td>', html, re.S)
    assert cell is not None
    text = re.sub(r"<[^>]+>", " ", cell[1])
    assert text.split() == ["CPU", "x86_64", "(tensorflow)", "model", "20261120-b"]


def test_retrain_now_asks_first_and_says_what_a_first_retraining_costs(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    html = client.get("/status", headers=basic_auth()).get_data(as_text=True)
    button = re.search(r'<button[^>]*id="retrain"[^>]*>', html)
    assert button is not None and "data-url" not in button[0]  # it only opens the question
    question = re.search(r'<div id="retrain-confirm"[^>]*hidden>(.*?)</div>\s*<p id', html, re.S)
    assert question is not None
    said = " ".join(re.sub(r"<[^>]+>", "", question[1]).split())
    assert "The first retraining of a deployment" in said and "an hour and a quarter" in said
    assert re.search(r'id="retrain-start"[^>]*data-url="/api/retrain"', html)
    assert redis_conn.exists(f"rq:job:{keys.RETRAIN_JOB_ID}") == 0  # showing it queues nothing


def test_the_question_says_how_long_the_last_retraining_took(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.set(
        keys.LAST_TRAINING_KEY,
        '{"outcome": "kept", "started_at": 1000.0, "finished_at": 2290.0, "train_seconds": 1200}',
    )
    html = client.get("/status", headers=basic_auth()).get_data(as_text=True)
    assert "The last one here took 22 min." in html
    assert "22 min (20 min of training)" in html


def test_the_dashboard_links_back_to_the_status_page(client: FlaskClient) -> None:
    html = client.get("/rq/", headers=basic_auth()).get_data(as_text=True)
    assert re.search(
        r'<a class="navbar-brand" href="/status"[^>]*>&larr; digitbot status</a>', html
    )
    assert 'href="/rq/0/view/jobs"' in html  # the dashboard's own navigation is still there
