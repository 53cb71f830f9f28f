"""POST /api/recognize and GET /api/result/<id>: validation, enqueueing, limits, results."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import redis
from flask import Flask
from flask.testing import FlaskClient
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from digitbot import defaults, keys, texts
from digitbot.errors import NotAnImageError
from digitbot.redis_server import free_port
from digitbot.settings import Settings
from tests.web.conftest import digit_png
from web.app import create_app
from web.config import WebConfig

FROZEN_NOW = 1_800_000_000.0  # the start of a rate-limit window, so no test crosses a minute


def recognition_queue(connection: redis.Redis) -> Queue:
    return Queue(defaults.QUEUE_RECOGNITION, connection=connection, serializer=JSONSerializer)


def post_image(client: FlaskClient, data: bytes, source: str = "canvas") -> tuple[int, dict]:
    response = client.post(
        "/api/recognize",
        data={"source": source, "file": (io.BytesIO(data), "drawing.png")},
        content_type="multipart/form-data",
    )
    return response.status_code, response.get_json()


def test_page_is_public_and_phone_ready(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="viewport"' in html
    assert 'id="pad"' in html and 'id="file"' in html
    with client.get("/static/style.css") as stylesheet:
        css = stylesheet.get_data(as_text=True)
    assert "touch-action: none" in css


def test_canvas_png_is_enqueued_with_json_payload_and_photo_in_redis(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    png = digit_png()
    status, body = post_image(client, png, source="canvas")
    assert status == 202
    request_id = body["request_id"]
    assert body["result_url"] == f"/api/result/{request_id}"

    queue = recognition_queue(redis_conn)
    assert queue.job_ids == [f"req-{request_id}"]
    job = queue.fetch_job(f"req-{request_id}")
    assert job is not None and job.func_name == "worker.jobs.recognize_photo"
    payload = job.args[0]
    assert payload["source"] == "web-canvas"
    assert payload["request_id"] == request_id
    assert payload["chat_id"] == 0 and payload["message_id"] == 0
    assert redis_conn.get(payload["photo_key"]) == png
    assert redis_conn.hget(keys.STATS_KEY, "received:web-canvas") == b"1"


def test_raw_body_upload_is_accepted_as_web_upload(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    response = client.post("/api/recognize", data=digit_png(), content_type="image/png")
    assert response.status_code == 202
    job = recognition_queue(redis_conn).fetch_job(f"req-{response.get_json()['request_id']}")
    assert job is not None and job.args[0]["source"] == "web-upload"


def test_non_image_is_refused_with_the_user_message_and_not_enqueued(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    status, body = post_image(client, b"%PDF-1.7 this is not a photo", source="upload")
    assert status == 400
    assert body == {"error": NotAnImageError.user_message}
    assert recognition_queue(redis_conn).count == 0
    assert redis_conn.keys(keys.photo_key("*")) == []
    assert redis_conn.hget(keys.STATS_KEY, "rejected:not-an-image") == b"1"


def test_request_without_image_is_refused(client: FlaskClient) -> None:
    response = client.post("/api/recognize", data={"source": "upload"})
    assert response.status_code == 400
    assert response.get_json() == {"error": texts.NO_IMAGE}


def test_oversized_upload_is_refused_with_413(client: FlaskClient, redis_conn: redis.Redis) -> None:
    too_big = b"\x89PNG" + b"\0" * defaults.MAX_DOWNLOAD_BYTES
    response = client.post("/api/recognize", data=too_big, content_type="image/png")
    assert response.status_code == 413
    assert response.get_json() == {"error": texts.IMAGE_TOO_LARGE}
    # A multipart body far over the limit is refused by its length, before it is read.
    multipart = client.post(
        "/api/recognize",
        data=too_big + b"\0" * 200_000,
        content_type="multipart/form-data; boundary=digitbot",
    )
    assert multipart.status_code == 413
    assert multipart.get_json() == {"error": texts.IMAGE_TOO_LARGE}
    assert recognition_queue(redis_conn).count == 0


def test_rate_limit_answers_429_with_retry_after(
    make_app: Callable[..., Flask], redis_conn: redis.Redis
) -> None:
    app = make_app(config=WebConfig("operator", "correct-horse-battery", rate_per_minute=3))
    app.extensions["digitbot"].upload_limiter.clock = lambda: FROZEN_NOW + 15
    client = app.test_client()
    for _ in range(3):
        assert post_image(client, digit_png())[0] == 202
    status, body = post_image(client, digit_png())
    assert status == 429
    assert body == {"error": texts.SLOW_DOWN}
    response = client.post("/api/recognize", data=digit_png(), content_type="image/png")
    assert response.headers["Retry-After"] == "45"
    assert recognition_queue(redis_conn).count == 3
    # The next minute starts afresh.
    app.extensions["digitbot"].upload_limiter.clock = lambda: FROZEN_NOW + 61
    assert post_image(client, digit_png())[0] == 202


def test_full_queue_answers_503(make_app: Callable[..., Flask]) -> None:
    client = make_app(settings=Settings(max_queue_depth=1)).test_client()
    assert post_image(client, digit_png())[0] == 202
    status, body = post_image(client, digit_png())
    assert status == 503 and body == {"error": texts.BUSY}


def test_result_is_pending_until_the_worker_stores_it(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    request_id = post_image(client, digit_png())[1]["request_id"]
    pending = client.get(f"/api/result/{request_id}")
    assert pending.status_code == 202
    assert pending.get_json()["status"] == "pending"

    # What the worker stores for a web request (worker.delivery.deliver).
    result = {
        "answer": "1 — 99.1% sure",
        "text": "1",
        "confidence": 0.991,
        "digits": [
            {"digit": 1, "confidence": 0.991, "probabilities": [0.001] * 10, "box": [1, 2, 3, 4]}
        ],
        "model_version": "v-test",
        "inputs": [[[0] * 28 for _ in range(28)]],
    }
    redis_conn.set(keys.web_result_key(request_id), json.dumps(result))
    done = client.get(f"/api/result/{request_id}")
    assert done.status_code == 200
    assert done.get_json() == result
    assert done.headers["Cache-Control"] == "no-store"


def test_result_of_unknown_or_malformed_id_is_404(client: FlaskClient) -> None:
    unknown = client.get(f"/api/result/{'a' * 32}")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": texts.UNKNOWN_REQUEST}
    for bad in ("not-an-id", "A" * 32, "a" * 31, "..%2F..%2Fetc"):
        assert client.get(f"/api/result/{bad}").status_code == 404


def test_job_status_is_reported_while_pending_and_a_dead_job_is_an_error(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    request_id = post_image(client, digit_png())[1]["request_id"]
    job = Job.fetch(f"req-{request_id}", connection=redis_conn, serializer=JSONSerializer)
    assert client.get(f"/api/result/{request_id}").get_json()["job_status"] == "queued"
    job.set_status("started")
    assert client.get(f"/api/result/{request_id}").get_json()["job_status"] == "started"
    # Failed for good, and not even the apology could be stored: say so instead of "pending".
    job.set_status("failed")
    failed = client.get(f"/api/result/{request_id}")
    assert failed.status_code == 502 and failed.get_json() == {"error": texts.JOB_FAILED}


def test_redis_down_answers_503_try_again() -> None:
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    app = create_app(Settings(), dead, config=WebConfig())
    client = app.test_client()
    response = client.post("/api/recognize", data=digit_png(), content_type="image/png")
    assert response.status_code == 503
    assert "try again shortly" in response.get_json()["error"]
    assert client.get("/healthz").status_code == 503


def test_healthz_is_public_and_ok_when_redis_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
