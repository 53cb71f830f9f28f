"""/metrics: shared counters, queue depths, models and latency histograms, from Redis."""

from __future__ import annotations

import time

import pytest
import redis
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from rq import Queue
from rq.serializers import JSONSerializer

from digitbot import defaults, keys
from digitbot.payload import RecognitionRequest
from digitbot.registry import ModelRegistry
from digitbot.stats import latency_key, observe_latency
from tests.web.conftest import basic_auth


def scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as {(name, sorted labels): value}."""
    response = client.get("/metrics", headers=basic_auth())
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_queue_depths_are_gauges_with_the_right_values(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    recognition = Queue(
        defaults.QUEUE_RECOGNITION, connection=redis_conn, serializer=JSONSerializer
    )
    for _ in range(3):
        recognition.enqueue("math.sqrt", 4)
    samples = scrape(client)
    assert samples[("digitbot_queue_depth", (("queue", "recognition"),))] == 3
    assert samples[("digitbot_queue_depth", (("queue", "training"),))] == 0
    assert samples[("digitbot_workers", (("state", "idle"),))] == 0


def test_shared_counters_from_every_process_are_rendered(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    # What the bot and the workers add to the shared hash.
    redis_conn.hincrby(keys.STATS_KEY, "received:telegram-photo", 5)
    redis_conn.hincrby(keys.STATS_KEY, "answers:digit", 4)
    redis_conn.hincrby(keys.STATS_KEY, "answers:no-digit", 1)
    redis_conn.hincrby(keys.STATS_KEY, "retrain:promoted", 2)
    # And the web server's own: an upload it refused.
    assert client.post("/api/recognize", data=b"not an image").status_code == 400

    samples = scrape(client)
    assert samples[("digitbot_photos_received_total", (("source", "telegram-photo"),))] == 5
    assert samples[("digitbot_photos_received_total", (("source", "web-canvas"),))] == 0
    assert samples[("digitbot_answers_total", (("outcome", "digit"),))] == 4
    assert samples[("digitbot_answers_total", (("outcome", "no-digit"),))] == 1
    assert samples[("digitbot_answers_total", (("outcome", "error"),))] == 0
    assert samples[("digitbot_uploads_rejected_total", (("reason", "not-an-image"),))] == 1
    assert samples[("digitbot_retraining_runs_total", (("outcome", "promoted"),))] == 2


def test_models_and_promotions(client: FlaskClient, redis_conn: redis.Redis) -> None:
    registry = ModelRegistry(redis_conn)
    registry.publish(b"a", {"version": "v1", "arch": "lenet5", "test_accuracy": 0.987})
    registry.promote("v1", reason="first")
    registry.publish(b"b", {"version": "v2", "arch": "digitnet", "test_accuracy": 0.9963})
    registry.promote("v2", reason="better")
    registry.record({"event": "refuse", "version": "v3", "reason": "worse on photos"})

    samples = scrape(client)
    info = (("arch", "digitnet"), ("version", "v2"))
    assert samples[("digitbot_champion_model_info", info)] == 1
    assert samples[("digitbot_model_test_accuracy", (("champion", "yes"), ("version", "v2")))] == (
        0.9963
    )
    assert samples[("digitbot_models_stored", ())] == 2
    assert samples[("digitbot_model_promotions_total", ())] == 2
    assert samples[("digitbot_model_decisions_total", (("event", "refuse"),))] == 1


def test_latency_histograms_from_redis_buckets(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    redis_conn.hset(
        latency_key("answer"),
        mapping={"0.05": 3, "0.1": 5, "0.5": 1, "+Inf": 1, "sum": 1.75},
    )
    samples = scrape(client)
    bucket = "digitbot_answer_seconds_bucket"
    assert samples[(bucket, (("le", "0.05"),))] == 3
    assert samples[(bucket, (("le", "0.1"),))] == 8
    assert samples[(bucket, (("le", "0.5"),))] == 9
    assert samples[(bucket, (("le", "+Inf"),))] == 10
    assert samples[("digitbot_answer_seconds_count", ())] == 10
    assert samples[("digitbot_answer_seconds_sum", ())] == 1.75


def test_latencies_observed_by_any_process_become_a_histogram(
    client: FlaskClient, redis_conn: redis.Redis
) -> None:
    for seconds in (0.004, 0.08, 0.12, 0.3, 45.0):
        observe_latency(redis_conn, "photo_to_answer", seconds)
    samples = scrape(client)
    bucket = "digitbot_photo_to_answer_seconds_bucket"
    assert samples[(bucket, (("le", "0.01"),))] == 1
    assert samples[(bucket, (("le", "0.15"),))] == 3
    assert samples[(bucket, (("le", "0.4"),))] == 4
    assert samples[(bucket, (("le", "30.0"),))] == 4
    assert samples[(bucket, (("le", "+Inf"),))] == 5
    assert samples[("digitbot_photo_to_answer_seconds_sum", ())] == pytest.approx(45.504)


def test_latencies_are_labelled_by_source(client: FlaskClient, redis_conn: redis.Redis) -> None:
    observe_latency(redis_conn, "photo_to_answer", 0.08, source="telegram-photo")
    for seconds in (0.02, 0.3):
        observe_latency(redis_conn, "photo_to_answer", seconds, source="web-canvas")
    observe_latency(redis_conn, "photo_to_answer", 0.5)  # from a worker older than the label
    samples = scrape(client)
    bucket = "digitbot_photo_to_answer_seconds_bucket"
    assert samples[(bucket, (("le", "0.1"), ("source", "telegram-photo")))] == 1
    assert samples[(bucket, (("le", "0.025"), ("source", "web-canvas")))] == 1
    assert samples[(bucket, (("le", "+Inf"), ("source", "web-canvas")))] == 2
    assert samples[("digitbot_photo_to_answer_seconds_count", (("source", "unknown"),))] == 1
    assert samples[
        ("digitbot_photo_to_answer_seconds_sum", (("source", "web-canvas"),))
    ] == pytest.approx(0.32)


@pytest.mark.parametrize("source", ["web-canvas", "web-upload"])
def test_web_answers_are_in_the_latency_histogram(
    client: FlaskClient, redis_conn: redis.Redis, source: str
) -> None:
    from worker.delivery import deliver

    request = RecognitionRequest(
        request_id="a" * 32, photo_key="unused", source=source,  # type: ignore[arg-type]
        received_at=time.time() - 0.2,
    )  # fmt: skip
    assert deliver(redis_conn, request, "7 — 99% sure", {"text": "7"})  # stored for the page
    samples = scrape(client)
    labels = (("source", source),)
    assert samples[("digitbot_photo_to_answer_seconds_count", labels)] == 1
    assert samples[("digitbot_photo_to_answer_seconds_bucket", (("le", "0.15"), *labels))] == 0
    assert samples[("digitbot_photo_to_answer_seconds_bucket", (("le", "+Inf"), *labels))] == 1
