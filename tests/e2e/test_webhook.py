"""Webhook mode: the stand-in POSTs updates to the bot's webhook server with the secret token."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from digitbot.redis_server import free_port
from tests.e2e.conftest import Stack, running_stack
from tests.e2e.test_pipeline import wait_for_answer
from tests.support.photos import clear_arrays, digit_photo

pytestmark = pytest.mark.slow

SECRET = "webhook-secret-for-tests_0123456789"


@pytest.fixture(scope="module")
def webhook_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    with running_stack(
        tmp_path_factory.mktemp("webhook"),
        bot_args=("--webhook", url, "--listen", "127.0.0.1", "--port", str(port)),
        processes=1,
        extra_env={"DIGITBOT_WEBHOOK_SECRET": SECRET},
    ) as stack:
        yield stack, url


def test_webhook_mode_answers_a_photo(webhook_stack: tuple[Stack, str]) -> None:
    stack, url = webhook_stack
    assert stack.standin.webhook_url == url
    assert stack.standin.calls("getUpdates") == 0
    x, y = clear_arrays()
    message_id = stack.standin.user_sends_photo(6100, digit_photo(x[5], seed=4))
    assert wait_for_answer(stack, 6100, message_id).startswith(f"{int(y[5])} — ")


def test_webhook_refuses_updates_without_the_secret(webhook_stack: tuple[Stack, str]) -> None:
    stack, url = webhook_stack
    forged = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": "/start",
            "chat": {"id": 6200, "type": "private"},
            "from": {"id": 6200, "is_bot": False, "first_name": "Mallory"},
        },
    }
    wrong = httpx.post(url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
    missing = httpx.post(url, json=forged)
    assert wrong.status_code == 403 and missing.status_code == 403
    assert stack.standin.sent(chat_id=6200) == []


def test_webhook_without_secret_fails_fast_naming_the_variable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": "1234567:TESTtokenTESTtokenTESTtokenTESTtoken1",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    env.pop("DIGITBOT_WEBHOOK_SECRET", None)
    done = subprocess.run(
        [sys.executable, "-m", "digitbot.cli", "bot", "--webhook", "https://example.invalid/h"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "DIGITBOT_WEBHOOK_SECRET" in done.stderr
