"""Bot commands through the stand-in Bot API: /start, /stats and the admin-only /retrain."""

from __future__ import annotations

import pytest

from digitbot import keys, texts
from digitbot.retrain import training_queue
from tests.e2e.conftest import Stack
from tests.e2e.test_pipeline import wait_for_answer

pytestmark = pytest.mark.slow

ADMIN = 1001  # DIGITBOT_ADMIN_IDS in the stack's environment


def test_start_and_stats(stack: Stack) -> None:
    chat = 5100
    assert wait_for_answer(stack, chat, stack.standin.user_sends_text(chat, "/start")) == (
        texts.START
    )
    stats = wait_for_answer(stack, chat, stack.standin.user_sends_text(chat, "/stats"))
    assert stats.startswith("Model: ")
    assert "% on the MNIST test set" in stats
    assert "Photos waiting: " in stats


def test_retrain_is_for_admins_only_and_deduplicated(stack: Stack) -> None:
    connection = stack.connection()
    training_queue(connection).empty()
    connection.delete(f"rq:job:{keys.RETRAIN_JOB_ID}")
    outsider = 5200
    refused = stack.standin.user_sends_text(outsider, "/retrain")
    assert wait_for_answer(stack, outsider, refused) == texts.RETRAIN_REFUSED
    assert training_queue(connection).count == 0

    queued = stack.standin.user_sends_text(ADMIN, "/retrain")
    assert wait_for_answer(stack, ADMIN, queued) == texts.RETRAIN_QUEUED
    job = training_queue(connection).fetch_job(keys.RETRAIN_JOB_ID)
    assert job is not None and job.args[0] == {"requested_by": "bot", "chat_id": ADMIN}

    again = stack.standin.user_sends_text(ADMIN, "/retrain")
    assert wait_for_answer(stack, ADMIN, again) == texts.RETRAIN_ALREADY.format(status="queued")
    assert training_queue(connection).count == 1
    training_queue(connection).empty()


def test_operators_see_their_commands_in_the_menu_and_nobody_else_does(stack: Stack) -> None:
    chat = 5300
    assert wait_for_answer(stack, chat, stack.standin.user_sends_text(chat, "/start"))
    everyone = [c["command"] for c in stack.standin.my_commands()]
    operator = [
        c["command"] for c in stack.standin.my_commands(scope={"type": "chat", "chat_id": ADMIN})
    ]
    operator_only = {"retrain", "feedback", "review", "exclude", "include"}
    assert {"start", "help", "stats", "privacy", "forget"} <= set(everyone)
    assert not operator_only & set(everyone)
    assert set(everyone) | operator_only == set(operator)
    assert stack.standin.my_commands(scope={"type": "chat", "chat_id": chat}) == []
