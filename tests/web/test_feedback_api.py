"""POST /api/feedback/<id> and /api/forget: the page's ✅ / ✏️ recorded exactly like the bot's.

Images go through the real path: POST /api/recognize, a real RQ worker (burst) with the shipped
model on the test Redis, GET /api/result/<id>; then the page's feedback calls.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import redis
from flask.testing import FlaskClient
from rq import Queue

from digitbot import defaults, keys, texts
from digitbot.feedback import FeedbackStore, PendingAnswer, Status, daily_limit_key
from digitbot.intake import PhotoIntake
from digitbot.settings import Settings
from reading.model import load_shipped_model
from tests.support.photos import clear_digits, digit_photo, number_photo
from tests.web.conftest import digit_png
from web.visitors import VISITOR_COOKIE, address_hash, visitor_hash
from worker.rq_worker import DigitWorker
from worker.runtime import WorkerRuntime, set_runtime

# The fields a Telegram correction stores (tests/e2e/test_feedback_flow.py): the same here.
SAMPLE_FIELDS = {
    b"sample_id", b"label", b"kind", b"predicted", b"model_version", b"user_hash",
    b"created_at", b"status", b"crops", b"count",
}  # fmt: skip


@pytest.fixture(scope="module")
def shipped_model():  # type: ignore[no-untyped-def]
    return load_shipped_model()


@pytest.fixture()
def runtime(redis_conn: redis.Redis, shipped_model) -> Iterator[WorkerRuntime]:  # type: ignore[no-untyped-def]
    runtime = WorkerRuntime(Settings(), connection=redis_conn, model=shipped_model)
    set_runtime(runtime)
    yield runtime
    set_runtime(None)


def read(client: FlaskClient, connection: redis.Redis, photo: bytes) -> tuple[str, dict[str, Any]]:
    """Send a photo as the page does, let a real worker read it; (request id, result)."""
    response = client.post(
        "/api/recognize",
        data={"source": "upload", "file": (io.BytesIO(photo), "photo.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 202, response.get_json()
    request_id = response.get_json()["request_id"]
    queue = Queue(
        defaults.QUEUE_RECOGNITION, connection=connection, serializer=defaults.JOB_SERIALIZER
    )
    DigitWorker([queue], connection=connection).work(burst=True)
    result = client.get(f"/api/result/{request_id}")
    assert result.status_code == 200
    return request_id, result.get_json()


def send_feedback(client: FlaskClient, request_id: str, label: str) -> tuple[int, dict[str, Any]]:
    response = client.post(f"/api/feedback/{request_id}", json={"label": label})
    return response.status_code, response.get_json()


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(VISITOR_COOKIE)
    assert cookie is not None, "the page's upload should set the visitor cookie"
    return cookie.value


def test_the_upload_gives_the_browser_one_random_id_in_a_cookie_scripts_cannot_read(
    client: FlaskClient,
) -> None:
    first = client.post("/api/recognize", data=digit_png(), content_type="image/png")
    header = first.headers["Set-Cookie"]
    assert header.startswith(f"{VISITOR_COOKIE}=")
    assert "HttpOnly" in header and "SameSite=Lax" in header
    visitor = cookie_of(client)
    second = client.post("/api/recognize", data=digit_png(), content_type="image/png")
    assert second.status_code == 202 and cookie_of(client) == visitor


def test_confirming_an_answer_stores_what_the_bot_stores_and_nothing_else(
    client: FlaskClient, redis_conn: redis.Redis, runtime: WorkerRuntime
) -> None:
    (image, label), *_ = clear_digits(1, offset=3)
    photo = digit_photo(image, seed=5)
    request_id, result = read(client, redis_conn, photo)
    assert result["text"] == str(label)

    status, body = send_feedback(client, request_id, result["text"])
    assert (status, body["outcome"], body["message"]) == (200, "recorded", texts.RECORDED_RIGHT)
    samples = FeedbackStore(redis_conn).samples()
    assert len(samples) == 1
    sample = samples[0]
    assert (sample.label, sample.kind, sample.status) == (str(label), "confirmed", Status.ACCEPTED)
    assert sample.predicted == result["text"]
    assert sample.model_version == result["model_version"]
    # the 28×28 crops the model read (the page showed them as `inputs`)
    np.testing.assert_array_equal(sample.crops, np.asarray(result["inputs"], dtype=np.uint8))
    # privacy: the visitor is a salted hash of "web:<cookie>"; the cookie itself is stored nowhere
    visitor = cookie_of(client)
    assert sample.user_hash == visitor_hash(redis_conn, visitor)
    stored = redis_conn.hgetall(f"digitbot:feedback:sample:{sample.sample_id}")
    assert set(stored) == SAMPLE_FIELDS
    assert photo not in stored[b"crops"] and len(stored[b"crops"]) == 28 * 28
    assert not any(visitor.encode() in value for value in _every_value(redis_conn))
    # one sample per answer
    assert send_feedback(client, request_id, result["text"])[0] == 410


def test_correcting_a_number_per_position_follows_the_held_for_review_rule(
    client: FlaskClient, redis_conn: redis.Redis, runtime: WorkerRuntime
) -> None:
    digits = clear_digits(2, offset=10)
    request_id, result = read(client, redis_conn, number_photo([d for d, _ in digits], seed=3))
    read_text = result["text"]
    assert read_text == "".join(str(label) for _, label in digits)
    corrected = read_text[0] + str((int(read_text[1]) + 1) % 10)  # the second digit fixed

    status, body = send_feedback(client, request_id, corrected)
    # the rule: a change to a digit the champion was at least REVIEW_CONFIDENCE sure of waits
    sure = result["digits"][1]["confidence"] >= defaults.REVIEW_CONFIDENCE
    assert status == 200
    assert body["outcome"] == ("held" if sure else "recorded")
    expected = texts.HELD_CORRECTION if sure else texts.RECORDED_CORRECTION
    assert body["message"] == expected.format(label=corrected)
    sample = FeedbackStore(redis_conn).samples()[0]
    assert (sample.label, sample.predicted, sample.kind) == (corrected, read_text, "corrected")
    assert sample.status == (Status.HELD if sure else Status.ACCEPTED)
    assert sample.crops.shape == (2, 28, 28)


def test_only_the_browser_that_sent_the_image_may_correct_it(
    app: Any, client: FlaskClient, redis_conn: redis.Redis, runtime: WorkerRuntime
) -> None:
    (image, _), *_ = clear_digits(1, offset=20)
    request_id, result = read(client, redis_conn, digit_photo(image, seed=1))
    wrong = str((int(result["text"]) + 1) % 10)

    stranger = app.test_client()
    assert send_feedback(stranger, request_id, wrong)[0] == 403  # no cookie at all
    stranger.set_cookie(VISITOR_COOKIE, "A" * 24)
    status, body = send_feedback(stranger, request_id, wrong)
    assert (status, body["error"]) == (403, texts.FEEDBACK_INVALID)
    assert send_feedback(client, "f" * 32, wrong)[0] == 410  # unknown or expired request
    assert send_feedback(client, "not-an-id", wrong)[0] == 404
    assert client.post(f"/api/feedback/{request_id}", data={"label": wrong}).status_code == 400
    too_many = "7" * (defaults.MAX_DIGITS + 1)
    status, body = send_feedback(client, request_id, too_many)
    assert (status, body["message"]) == (400, texts.FEEDBACK_INVALID)
    assert FeedbackStore(redis_conn).samples() == []
    assert send_feedback(client, request_id, wrong)[0] == 200  # the sender still can


def test_the_per_user_daily_limit_counts_the_visitor(
    client: FlaskClient, redis_conn: redis.Redis, runtime: WorkerRuntime
) -> None:
    first, second = clear_digits(2, offset=30)
    request_id, result = read(client, redis_conn, digit_photo(first[0], seed=2))
    assert send_feedback(client, request_id, result["text"])[0] == 200
    user_hash = visitor_hash(redis_conn, cookie_of(client))
    assert int(redis_conn.get(daily_limit_key(user_hash)) or 0) == 1
    # the visitor has used up today's corrections (the same counter the bot's users have)
    redis_conn.set(daily_limit_key(user_hash), defaults.CORRECTIONS_PER_USER_PER_DAY)
    request_id, result = read(client, redis_conn, digit_photo(second[0], seed=2))
    status, body = send_feedback(client, request_id, result["text"])
    assert (status, body["outcome"], body["message"]) == (
        429, "limited", texts.FEEDBACK_LIMITED,
    )  # fmt: skip
    assert len(FeedbackStore(redis_conn).samples()) == 1


def test_clearing_cookies_does_not_reset_the_daily_limit_of_the_address(
    client: FlaskClient, redis_conn: redis.Redis, runtime: WorkerRuntime
) -> None:
    first, second, third = clear_digits(3, offset=50)
    request_id, result = read(client, redis_conn, digit_photo(first[0], seed=5))
    assert send_feedback(client, request_id, result["text"])[0] == 200
    address_key = daily_limit_key(address_hash(redis_conn, "127.0.0.1"))
    assert int(redis_conn.get(address_key) or 0) == 1  # counted under a hash, not the address
    limit_keys = redis_conn.keys(daily_limit_key("*"))
    assert len(limit_keys) == 2 and not any(b"127.0.0.1" in key for key in limit_keys)
    # Today this address has sent as many corrections as it may.
    redis_conn.set(address_key, defaults.WEB_CORRECTIONS_PER_ADDRESS_PER_DAY)
    old_visitor = cookie_of(client)
    client.delete_cookie(VISITOR_COOKIE)
    request_id, result = read(client, redis_conn, digit_photo(second[0], seed=5))
    assert cookie_of(client) != old_visitor  # a new visitor, with a fresh count of its own
    status, body = send_feedback(client, request_id, result["text"])
    assert (status, body["outcome"], body["message"]) == (
        429, "limited", texts.FEEDBACK_LIMITED,
    )  # fmt: skip
    assert len(FeedbackStore(redis_conn).samples()) == 1
    # Another address is not held back by this one.
    request_id, result = read(client, redis_conn, digit_photo(third[0], seed=5))
    response = client.post(
        f"/api/feedback/{request_id}",
        json={"label": result["text"]},
        environ_overrides={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert response.status_code == 200, response.get_json()
    assert len(FeedbackStore(redis_conn).samples()) == 2


def test_forget_deletes_the_visitors_samples_only(
    client: FlaskClient, redis_conn: redis.Redis, runtime: WorkerRuntime
) -> None:
    (image, _), *_ = clear_digits(1, offset=40)
    request_id, result = read(client, redis_conn, digit_photo(image, seed=4))
    assert send_feedback(client, request_id, result["text"])[0] == 200
    # someone on Telegram whose sample must stay
    telegram_hash = PhotoIntake(redis_conn, max_queue_depth=10).user_hash(77)
    store = FeedbackStore(redis_conn)
    assert telegram_hash != visitor_hash(redis_conn, cookie_of(client))
    store.remember_answer(
        PendingAnswer("tg1", "3", [0.5], "m", telegram_hash, np.zeros((1, 28, 28), np.uint8))
    )
    store.record("tg1", "3", user_hash=telegram_hash)

    assert client.post("/api/forget").status_code == 400  # JSON only
    response = client.post("/api/forget", json={})
    assert response.get_json() == {"removed": 1, "message": texts.FORGOTTEN.format(count=1)}
    assert [s.user_hash for s in store.samples()] == [telegram_hash]
    assert not list(redis_conn.scan_iter(keys.web_owner_key("*")))


def _every_value(connection: redis.Redis) -> Iterator[bytes]:
    for key in connection.scan_iter("*"):
        kind = connection.type(key)
        if kind == b"string":
            yield connection.get(key) or b""
        elif kind == b"hash":
            yield from connection.hgetall(key).values()
        elif kind in (b"set", b"zset"):
            yield from (
                connection.smembers(key) if kind == b"set" else connection.zrange(key, 0, -1)
            )
