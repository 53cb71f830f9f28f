"""The retraining job end to end on a real RQ worker: corrections go in, the requester hears
start/progress/outcome through the stand-in Bot API, and a weak candidate is not promoted."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from rq import Queue

from digitbot import defaults, keys
from digitbot.feedback import FeedbackStore, PendingAnswer
from digitbot.registry import ModelRegistry
from digitbot.retrain import request_retraining
from tests.conftest import FAKE_TOKEN
from tests.support.photos import TEST_HOME, mnist_test_digits
from tests.support.telegram_standin import TelegramStandIn
from worker.rq_worker import DigitWorker
from worker.runtime import bootstrap_registry

pytestmark = pytest.mark.slow
ADMIN_CHAT = 4242


@pytest.fixture()
def standin() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(FAKE_TOKEN) as server:
        server.open_chat(ADMIN_CHAT)
        yield server


def seed_corrections(connection: redis.Redis, count: int) -> None:
    x, y = mnist_test_digits()
    store = FeedbackStore(connection, per_user_per_day=1000)
    for index in range(count):
        crops = x[1000 + index : 1001 + index]
        label = str(int(y[1000 + index]))
        user = f"user-{index % 10}"
        store.remember_answer(PendingAnswer(f"r{index}", label, [0.6], "champ", user, crops))
        store.record(f"r{index}", label, user_hash=user)


def test_retrain_includes_corrections_reports_progress_and_keeps_a_better_champion(
    redis_conn: redis.Redis, standin: TelegramStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", standin.api_url)
    monkeypatch.setenv("DIGITBOT_HOME", str(TEST_HOME))
    registry = ModelRegistry(redis_conn)
    champion = bootstrap_registry(registry)
    seed_corrections(redis_conn, 60)
    request_retraining(
        redis_conn, requested_by="bot", chat_id=ADMIN_CHAT,
        options={"epochs": 2, "limit": 5000, "gate_photos": 4, "gate_mnist_limit": 2000},
    )  # fmt: skip
    queue = Queue(
        defaults.QUEUE_TRAINING, connection=redis_conn, serializer=defaults.JOB_SERIALIZER
    )
    DigitWorker([queue], connection=redis_conn).work(burst=True)

    outcome = json.loads(redis_conn.get(keys.LAST_TRAINING_KEY) or "{}")
    assert outcome["outcome"] == "kept", outcome  # 5000 images, 2 epochs: worse than the champion
    assert registry.champion_version() == champion
    decision = outcome["decision"]
    assert decision["promote"] is False and "mnist" in decision["summary"]
    # the corrections were used: some for training, the rest held out and scored on both models
    candidate_meta = registry.get(outcome["version"])
    assert candidate_meta is not None
    assert (
        candidate_meta.metadata["corrections_train"]
        + candidate_meta.metadata["corrections_held_out"]
        == 60
    )
    if candidate_meta.metadata["corrections_held_out"]:
        assert decision["candidate"]["corrections_accuracy"] is not None
        assert decision["champion"]["corrections_accuracy"] is not None
    texts = [r.text or "" for r in standin.sent(chat_id=ADMIN_CHAT)]
    edits = [r.text or "" for r in standin.edits if r.chat_id == ADMIN_CHAT]
    assert texts[0].startswith("Retraining started: digitnet on MNIST + ")
    assert any(t.startswith("Retraining: epoch 2/2") or t.startswith("Trained ") for t in edits)
    assert texts[-1].startswith("Retraining done.") and "not promoted" in texts[-1]
    assert registry.history()[0]["event"] == "refused"
