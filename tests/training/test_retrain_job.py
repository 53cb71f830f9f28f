"""The retraining job end to end on a real RQ worker: corrections go in, the requester hears
start/progress/outcome through the stand-in Bot API, and a weak candidate is not promoted.
The corrections' accuracy before (champion) and after (candidate) is the same in decision.json,
the report file, the outcome message and the real bot's /feedback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rq import Queue

from digitbot import defaults, keys
from digitbot.feedback import FeedbackStore, PendingAnswer
from digitbot.redis_server import EmbeddedRedis
from digitbot.registry import ModelRegistry
from digitbot.retrain import request_retraining
from tests.conftest import FAKE_TOKEN
from tests.support.photos import TEST_HOME, mnist_test_digits
from tests.support.processes import ManagedProcess, digitbot_command, wait_until
from tests.support.telegram_standin import TelegramStandIn
from training.corrections import is_held_out
from training.jobs import photo_crop_recipe
from training.retrain_report import REPORT_FILE
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
    redis_conn: redis.Redis,
    redis_server: EmbeddedRedis,
    standin: TelegramStandIn,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", FAKE_TOKEN)
    monkeypatch.setenv("TELEGRAM_API_URL", standin.api_url)
    monkeypatch.setenv("DIGITBOT_HOME", str(TEST_HOME))
    registry = ModelRegistry(redis_conn)
    champion = bootstrap_registry(registry)
    seed_corrections(redis_conn, 60)
    request_retraining(
        redis_conn, requested_by="bot", chat_id=ADMIN_CHAT,
        options={
            "epochs": 2,
            "limit": 5000,
            "gate_photos": 4,
            "gate_mnist_limit": 2000,
            # MNIST alone: photo crops are tested in test_train (and with 2 epochs of 5000
            # digits, an 11th class makes the candidate too weak to reach the gates at all).
            "photo_digits": 0,
            "photo_negatives": 0,
            "photo_low_resolution": 0,
            "photo_styled": 0,
            "placed_digits": 0,
            "placed_negatives": 0,
        },
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
    held_out = sum(1 for i in range(60) if is_held_out(f"user-{i % 10}"))
    assert held_out > 0  # user-7 and user-9: their samples only score, never train
    assert candidate_meta.metadata["corrections_held_out"] == held_out
    assert candidate_meta.metadata["num_classes"] == 10
    assert decision["candidate"]["corrections_count"] == held_out
    before = decision["champion"]["corrections_accuracy"]
    after = decision["candidate"]["corrections_accuracy"]
    assert before is not None and after is not None
    texts = [r.text or "" for r in standin.sent(chat_id=ADMIN_CHAT)]
    edits = [r.text or "" for r in standin.edits if r.chat_id == ADMIN_CHAT]
    assert texts[0].startswith("Retraining started: digitnet on MNIST + ")
    assert any(t.startswith("Retraining: epoch 2/2") or t.startswith("Trained ") for t in edits)
    assert texts[-1].startswith("Retraining done.") and "not promoted" in texts[-1]
    assert registry.history()[0]["event"] == "refused"

    # Before/after on held-out corrections: decision.json, the report, the message, /feedback.
    report_dir = Path(outcome["report_dir"])
    written = json.loads((report_dir / "decision.json").read_text())
    assert written["decision"] == decision
    assert written["corrections"] == outcome["corrections"] == {
        "held_out": held_out, "before": before, "after": after,
        "champion": champion, "candidate": outcome["version"],
    }  # fmt: skip
    numbers = (
        f"Held-out corrections ({held_out}): {100 * before:.1f}% before ({champion}) → "
        f"{100 * after:.1f}% after ({outcome['version']})."
    )
    print(numbers, "| trained on", candidate_meta.metadata["corrections_train"])  # for the record
    report = (report_dir / REPORT_FILE).read_text()
    assert numbers in report, report
    assert f"| champion (before) | {champion} | {100 * before:.1f}% |" in report
    assert f"| candidate (after) | {outcome['version']} | {100 * after:.1f}% |" in report
    assert numbers in texts[-1], texts[-1]
    feedback = ask_the_bot(standin, redis_server.url, tmp_path, "/feedback")
    assert f"Last retraining ({outcome['version']}, kept): {numbers}" in feedback, feedback


def ask_the_bot(standin: TelegramStandIn, redis_url: str, base: Path, text: str) -> str:
    """Run the real bot (`digitbot bot`) with ADMIN_CHAT as admin; its answer to `text`."""
    env: dict[str, Any] = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": FAKE_TOKEN,
        "TELEGRAM_API_URL": standin.api_url,
        "TELEGRAM_FILE_API_URL": standin.file_url,
        "REDIS_URL": redis_url,
        "DIGITBOT_ADMIN_IDS": str(ADMIN_CHAT),
        "PYTHONUNBUFFERED": "1",
    }
    bot = ManagedProcess("bot", digitbot_command("bot"), env, base).start()
    try:
        bot.wait_for_log("ready", timeout=60)
        message_id = standin.user_sends_text(ADMIN_CHAT, text)

        def answer() -> list[Any]:
            return [
                r for r in standin.sent(chat_id=ADMIN_CHAT, method="sendMessage")
                if r.reply_to_message_id == message_id
            ]  # fmt: skip

        assert wait_until(answer, timeout=30), bot.log()[-3000:]
        return str(answer()[0].text)
    finally:
        bot.stop()


def test_retraining_adds_photo_crops_like_the_shipped_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DIGITBOT_RETRAIN_PHOTO_DIGITS", raising=False)
    monkeypatch.delenv("DIGITBOT_RETRAIN_PHOTO_NEGATIVES", raising=False)
    monkeypatch.delenv("DIGITBOT_RETRAIN_PHOTO_LOW_RESOLUTION", raising=False)
    monkeypatch.delenv("DIGITBOT_RETRAIN_PHOTO_STYLED", raising=False)
    monkeypatch.delenv("DIGITBOT_RETRAIN_PLACED_DIGITS", raising=False)
    monkeypatch.delenv("DIGITBOT_RETRAIN_PLACED_NEGATIVES", raising=False)
    shipped = json.loads(
        (Path(__file__).parents[2] / "digitbot" / "models" / "champion.json").read_text()
    )
    recipe = photo_crop_recipe({})
    assert recipe is not None
    shipped_recipe = shipped.get("photo_crops")
    assert shipped_recipe, "the shipped model's metadata records no photo-crop recipe"
    assert recipe.num_digit_photos == shipped_recipe["num_digit_photos"]
    assert recipe.num_negative_photos == shipped_recipe["num_negative_photos"]
    assert recipe.num_low_resolution_photos == shipped_recipe.get("num_low_resolution_photos", 0)
    assert recipe.num_styled_photos == shipped_recipe.get("num_styled_photos", 0)
    assert recipe.num_placed_photos == shipped_recipe.get("num_placed_photos", 0)
    assert recipe.num_placed_negative_photos == shipped_recipe.get("num_placed_negative_photos", 0)
    monkeypatch.setenv("DIGITBOT_RETRAIN_PHOTO_DIGITS", "300")
    monkeypatch.setenv("DIGITBOT_RETRAIN_PHOTO_NEGATIVES", "0")
    monkeypatch.setenv("DIGITBOT_RETRAIN_PHOTO_LOW_RESOLUTION", "0")
    monkeypatch.setenv("DIGITBOT_RETRAIN_PHOTO_STYLED", "0")
    from_env = photo_crop_recipe({})
    assert from_env is not None and (from_env.num_digit_photos, from_env.num_negative_photos) == (
        300,
        0,
    )
    nothing = ("photo_digits", "photo_negatives", "photo_low_resolution", "photo_styled")
    nothing += ("placed_digits", "placed_negatives")
    assert photo_crop_recipe(dict.fromkeys(nothing, 0)) is None
    request = photo_crop_recipe({"photo_digits": 5, "photo_negatives": 7, "photo_styled": 3})
    assert request is not None and request.num_negative_photos == 7
    assert request.num_styled_photos == 3
