"""Reply delivery against the stand-in Bot API: flood control, server errors, no duplicates."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from digitbot.errors import DeliveryError
from digitbot.telegram_reply import PossiblyDelivered, TelegramReplier
from tests.conftest import FAKE_TOKEN
from tests.support.telegram_standin import TelegramStandIn


@pytest.fixture()
def standin() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(FAKE_TOKEN) as server:
        server.open_chat(5)
        yield server


def make_replier(standin: TelegramStandIn, sleeps: list[float], **kwargs: float) -> TelegramReplier:
    return TelegramReplier(FAKE_TOKEN, standin.api_url, sleep=sleeps.append, **kwargs)


def test_reply_is_sent_once_as_a_reply(standin: TelegramStandIn) -> None:
    message_id = standin.user_sends_photo(5, b"\xff\xd8fake")
    sleeps: list[float] = []
    result = make_replier(standin, sleeps).send_message(
        5, "7 — 99% sure", reply_to_message_id=message_id
    )
    records = standin.sent(chat_id=5, method="sendMessage")
    assert len(records) == 1
    assert records[0].text == "7 — 99% sure"
    assert records[0].reply_to_message_id == message_id
    assert result["message_id"] == records[0].message_id
    assert sleeps == []


def test_flood_control_waits_retry_after_then_delivers_once(standin: TelegramStandIn) -> None:
    standin.fail_next("sendMessage", status=429, retry_after=3, count=2)
    sleeps: list[float] = []
    make_replier(standin, sleeps).send_message(5, "hello")
    assert sleeps == [3.0, 3.0]
    assert len(standin.sent(chat_id=5, method="sendMessage")) == 1


def test_server_errors_are_retried_with_backoff(standin: TelegramStandIn) -> None:
    standin.fail_next("sendMessage", status=500, count=2)
    sleeps: list[float] = []
    make_replier(standin, sleeps).send_message(5, "hello")
    assert sleeps == [0.5, 1.0]
    assert len(standin.sent(chat_id=5, method="sendMessage")) == 1


# Waits on the stand-in give up after this long: a hang guard, never a speed limit.
HANG_GUARD = 60.0


def test_slow_answer_within_the_read_limit_is_delivered_once(standin: TelegramStandIn) -> None:
    hold = standin.hold_next("sendMessage")  # Telegram answers only once the test says so
    sleeps: list[float] = []
    replier = make_replier(standin, sleeps, timeout=HANG_GUARD)
    sender = threading.Thread(target=replier.send_message, args=(5, "hello"))
    sender.start()
    hold.wait_until_held(timeout=HANG_GUARD)  # the request is out, its answer not yet
    hold.release()
    sender.join(timeout=HANG_GUARD)
    assert not sender.is_alive()
    assert sleeps == []
    assert standin.calls("sendMessage") == 1
    assert len(standin.sent(chat_id=5, method="sendMessage")) == 1


def test_read_timeout_is_not_resent(standin: TelegramStandIn) -> None:
    hold = standin.hold_next("sendMessage")  # no answer comes until released: a sure timeout
    sleeps: list[float] = []
    with pytest.raises(PossiblyDelivered):
        make_replier(standin, sleeps, timeout=0.3).send_message(5, "hello")
    assert standin.calls("sendMessage") == 1  # no second request
    hold.release()  # Telegram delivers it after all
    assert len(standin.wait_for(lambda r: r.method == "sendMessage", timeout=HANG_GUARD)) == 1
    assert standin.calls("sendMessage") == 1


def test_connection_refused_is_retried_then_reported() -> None:
    from digitbot.redis_server import free_port

    sleeps: list[float] = []
    replier = TelegramReplier(
        FAKE_TOKEN, f"http://127.0.0.1:{free_port()}/bot", sleep=sleeps.append, max_attempts=3
    )
    with pytest.raises(DeliveryError) as raised:
        replier.send_message(5, "hello")
    assert not isinstance(raised.value, PossiblyDelivered)
    assert sleeps == [0.5, 1.0]
    assert FAKE_TOKEN not in str(raised.value)


def test_giving_up_raises_delivery_error_without_the_token(standin: TelegramStandIn) -> None:
    standin.fail_next("sendMessage", status=502, count=10)
    sleeps: list[float] = []
    with pytest.raises(DeliveryError) as raised:
        make_replier(standin, sleeps, max_attempts=3).send_message(5, "hello")
    assert len(sleeps) == 2
    assert FAKE_TOKEN not in str(raised.value)
    assert standin.sent(chat_id=5, method="sendMessage") == []


def test_client_errors_are_final(standin: TelegramStandIn) -> None:
    sleeps: list[float] = []
    with pytest.raises(DeliveryError, match="400"):
        make_replier(standin, sleeps).edit_message_text(5, 999, "nope")
    assert sleeps == []
    assert standin.calls("editMessageText") == 1
