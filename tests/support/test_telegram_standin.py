"""Tests of the stand-in Telegram Bot API, driven by the real PTB client and plain httpx."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters, Update
from telegram.error import BadRequest, Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from tests.support.processes import wait_until
from tests.support.telegram_standin import SentRecord, TelegramStandIn

TOKEN = "123456:TEST-standin-token_abcdefghijklmnop"
CHAT = 4242
# Waits on the stand-in's state give up after this long: a hang guard, never a speed limit.
HANG_GUARD = 60.0
# Longer than any test here runs: a delay or long poll this long never ends during a test.
FOREVER = 3600.0


@pytest.fixture
def standin() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(TOKEN) as server:
        yield server
        assert server.internal_errors == []


def make_bot(standin: TelegramStandIn, token: str = TOKEN) -> Bot:
    return Bot(token, base_url=standin.api_url, base_file_url=standin.file_url)


def digit_jpeg(width: int = 640, height: int = 480) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(image).line(
        [(width // 2, height // 5), (width // 2, height * 4 // 5)], "black", 25
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def api(standin: TelegramStandIn, method: str, **kwargs: Any) -> httpx.Response:
    """Call a method the way the workers do: a plain httpx POST."""
    return httpx.post(f"{standin.api_url}{TOKEN}/{method}", timeout=5, **kwargs)


# --------------------------------------------------------------------------- PTB's Bot


def test_get_me_returns_the_bot_user(standin: TelegramStandIn) -> None:
    async def scenario() -> Any:
        async with make_bot(standin) as bot:
            return await bot.get_me()

    me = asyncio.run(scenario())
    assert me.id == 123456
    assert me.is_bot
    assert me.username == "digitbot_test_bot"


def test_user_photo_arrives_through_get_updates(standin: TelegramStandIn) -> None:
    photo = digit_jpeg(1280, 960)
    message_id = standin.user_sends_photo(CHAT, photo, caption="mine")

    async def scenario() -> tuple[Update, ...]:
        async with make_bot(standin) as bot:
            return await bot.get_updates(timeout=0)

    (update,) = asyncio.run(scenario())
    message = update.effective_message
    assert message is not None
    assert message.message_id == message_id
    assert message.chat.id == CHAT and message.chat.type == "private"
    assert message.from_user is not None and message.from_user.id == CHAT
    assert message.caption == "mine"
    assert 2 <= len(message.photo) <= 3
    widths = [size.width for size in message.photo]
    assert widths == sorted(widths)
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (1280, 960)
    assert largest.file_size == len(photo)
    assert standin.update_time(CHAT, message_id) <= time.monotonic()


def test_an_album_arrives_as_one_update_per_photo_sharing_a_media_group(
    standin: TelegramStandIn,
) -> None:
    photos = [digit_jpeg(640 + 10 * n, 480) for n in range(3)]
    message_ids = standin.user_sends_album(CHAT, photos)
    single = standin.user_sends_photo(CHAT, digit_jpeg())

    async def scenario() -> tuple[Update, ...]:
        async with make_bot(standin) as bot:
            return await bot.get_updates(timeout=0)

    updates = asyncio.run(scenario())
    messages = [u.effective_message for u in updates]
    assert [m.message_id for m in messages if m] == [*message_ids, single]
    groups = {m.media_group_id for m in messages[:3] if m}
    assert len(groups) == 1 and None not in groups
    assert messages[3] is not None and messages[3].media_group_id is None
    assert [m.photo[-1].width for m in messages[:3] if m] == [640, 650, 660]
    with pytest.raises(ValueError, match="2 to 10 photos"):
        standin.user_sends_album(CHAT, photos[:1])


def test_a_reply_carries_the_message_it_replies_to_with_its_buttons(
    standin: TelegramStandIn,
) -> None:
    photo_id = standin.user_sends_photo(CHAT, digit_jpeg())
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("✏️", callback_data="fix:abc")]])

    async def scenario() -> Update:
        async with make_bot(standin) as bot:
            answer = await bot.send_message(
                CHAT, "3 — 80% sure", reply_to_message_id=photo_id, reply_markup=markup
            )
            standin.user_sends_text(CHAT, "38", reply_to=answer.message_id)
            updates = await bot.get_updates(timeout=0)
            return updates[-1]

    update = asyncio.run(scenario())
    message = update.effective_message
    assert message is not None and message.text == "38"
    replied = message.reply_to_message
    assert replied is not None and replied.text == "3 — 80% sure"
    assert replied.from_user is not None and replied.from_user.is_bot
    assert replied.reply_markup is not None
    assert replied.reply_markup.inline_keyboard[0][0].callback_data == "fix:abc"
    assert replied.reply_to_message is None  # one level only, as on Telegram
    with pytest.raises(ValueError, match="to reply to"):
        standin.user_sends_text(CHAT, "1", reply_to=9999)


def test_get_file_downloads_the_exact_bytes(standin: TelegramStandIn) -> None:
    photo = digit_jpeg()
    standin.user_sends_photo(CHAT, photo)
    standin.user_sends_document(
        CHAT, b"tiny", file_name="huge.png", mime_type="image/png", declared_size=21_000_000
    )

    async def scenario() -> tuple[bytes, bytes, str]:
        async with make_bot(standin) as bot:
            photo_update, document_update = await bot.get_updates()
            assert photo_update.message and document_update.message
            small = await (await photo_update.message.photo[0].get_file()).download_as_bytearray()
            large = await (await photo_update.message.photo[-1].get_file()).download_as_bytearray()
            document = document_update.message.document
            assert document is not None and document.file_size == 21_000_000
            with pytest.raises(BadRequest, match="(?i)file is too big") as too_big:
                await document.get_file()
            return bytes(small), bytes(large), str(too_big.value)

    small, large, _ = asyncio.run(scenario())
    assert large == photo
    assert Image.open(io.BytesIO(small)).width < 640  # a real thumbnail
    assert standin.calls("download") == 2


def test_download_delay_slows_that_file_only(standin: TelegramStandIn) -> None:
    # The slow photo's delay outlasts the test: while its getFile is still being served, the
    # other file is fetched in full. Stopping the stand-in ends the delay.
    standin.user_sends_photo(CHAT, digit_jpeg(), download_delay=FOREVER)
    quick = digit_jpeg(320, 240)
    standin.user_sends_document(CHAT, quick, file_name="quick.jpg", mime_type="image/jpeg")

    async def scenario() -> bytes:
        async with make_bot(standin) as bot:
            photo_update, document_update = await bot.get_updates()
            assert photo_update.message and document_update.message
            assert document_update.message.document is not None
            slow = asyncio.create_task(
                bot.get_file(photo_update.message.photo[-1].file_id, read_timeout=FOREVER)
            )
            file = await bot.get_file(document_update.message.document.file_id)
            data = bytes(await file.download_as_bytearray())
            assert not slow.done()
            # Only the slow photo's getFile is still being served (the quick download's
            # handler may still be finishing after its answer went out).
            await until(lambda: standin.requests_in_flight() == 1)
            assert not slow.done()
            slow.cancel()
            return data

    assert asyncio.run(scenario()) == quick
    assert standin.calls("getFile") == 2
    finished = [r.method for r in standin.requests_log if r.method in ("getFile", "download")]
    assert finished == ["getFile", "download"]  # the quick file's; the slow getFile never ended
    standin.stop()  # ends the slow photo's delay; its client is gone


def test_download_delay_applies_to_get_file_and_to_the_download(standin: TelegramStandIn) -> None:
    standin.user_sends_photo(CHAT, digit_jpeg(), download_delay=0.2)

    async def scenario() -> None:
        async with make_bot(standin) as bot:
            (update,) = await bot.get_updates()
            assert update.message is not None
            await (await bot.get_file(update.message.photo[-1].file_id)).download_as_bytearray()

    asyncio.run(scenario())
    served = {
        r.method: r.duration for r in standin.requests_log if r.method in ("getFile", "download")
    }
    # A floor the stand-in's own wait sets; a loaded machine only adds to it.
    assert set(served) == {"getFile", "download"}
    assert min(served.values()) >= 0.2, served


def test_send_message_replies_are_recorded(standin: TelegramStandIn) -> None:
    photo_id = standin.user_sends_photo(CHAT, digit_jpeg())

    async def scenario() -> tuple[int, int]:
        async with make_bot(standin) as bot:
            first = await bot.send_message(CHAT, "7 — 99.3% sure", reply_to_message_id=photo_id)
            second = await bot.send_message(
                CHAT, "again", reply_parameters=ReplyParameters(message_id=photo_id)
            )
            assert first.reply_to_message and first.reply_to_message.message_id == photo_id
            assert first.reply_to_message.photo  # the replied-to message is embedded
            return first.message_id, second.message_id

    first_id, second_id = asyncio.run(scenario())
    records = standin.sent(CHAT, "sendMessage")
    assert [r.text for r in records] == ["7 — 99.3% sure", "again"]
    assert [r.reply_to_message_id for r in records] == [photo_id, photo_id]
    assert [r.message_id for r in records] == [first_id, second_id] == [photo_id + 1, photo_id + 2]
    assert records[0].t >= standin.update_time(CHAT, photo_id)  # answered after it was sent


def test_send_photo_upload_records_bytes_and_inline_keyboard(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)
    picture = digit_jpeg(280, 280)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Wrong?", callback_data="fix:1")]])

    async def scenario() -> Any:
        async with make_bot(standin) as bot:
            return await bot.send_photo(
                CHAT,
                picture,
                caption="7 — how I read it",
                reply_markup=keyboard,
            )

    message = asyncio.run(scenario())
    assert message.caption == "7 — how I read it"
    assert message.reply_markup == keyboard
    (record,) = standin.sent(CHAT, "sendPhoto")
    assert record.photo == picture
    assert record.caption == "7 — how I read it"
    assert record.reply_markup == keyboard.to_dict()


def test_injected_429_raises_retry_after(
    standin: TelegramStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns when retry_after is read as int
    standin.open_chat(CHAT)
    standin.fail_next("sendMessage", status=429, retry_after=3)

    async def scenario() -> None:
        async with make_bot(standin) as bot:
            with pytest.raises(RetryAfter) as raised:
                await bot.send_message(CHAT, "hello")
            assert raised.value.retry_after == dtm.timedelta(seconds=3)
            await bot.send_message(CHAT, "hello")  # the fault was used up

    asyncio.run(scenario())
    assert standin.calls("sendMessage") == 2
    assert [r.status for r in standin.requests_log if r.method == "sendMessage"] == [429, 200]
    body = api(standin, "getMe").json()  # and the raw envelope looks like Telegram's
    assert body["ok"] is True
    standin.fail_next("getMe", status=429, retry_after=7)
    assert api(standin, "getMe").json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


def test_server_errors_and_slow_answers(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)
    standin.fail_next("sendMessage", status=500)
    standin.fail_next("sendChatAction", status=502)

    async def scenario() -> None:
        async with make_bot(standin) as bot:
            with pytest.raises(NetworkError, match="Internal Server Error"):
                await bot.send_message(CHAT, "x")
            with pytest.raises(NetworkError, match="Bad Gateway"):
                await bot.send_chat_action(CHAT, "typing")
            hold = standin.hold_next("sendMessage")  # no answer comes until released
            with pytest.raises(TimedOut):
                await bot.send_message(CHAT, "slow", read_timeout=0.2)
            assert standin.sent(CHAT, "sendMessage") == []
            hold.release()

    asyncio.run(scenario())
    # A slow Telegram still delivers what it timed out on.
    assert standin.wait_for(lambda r: r.text == "slow", timeout=HANG_GUARD)


def test_a_held_call_takes_effect_only_once_released(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)
    standin.open_chat(CHAT + 1)
    hold = standin.hold_next("sendMessage", chat_id=CHAT)
    responses: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: responses.append(
            httpx.post(
                f"{standin.api_url}{TOKEN}/sendMessage",
                json={"chat_id": CHAT, "text": "held"},
                timeout=HANG_GUARD,
            )
        )
    )
    sender.start()
    hold.wait_until_held(timeout=HANG_GUARD)
    # Other chats are not held, and the held call has had no effect yet.
    assert api(standin, "sendMessage", json={"chat_id": CHAT + 1, "text": "free"}).is_success
    assert standin.sent(CHAT) == [] and hold.held == 1
    # The free call's handler may still be finishing after its answer went out.
    assert wait_until(lambda: standin.requests_in_flight() == 1, timeout=HANG_GUARD)
    assert not hold.abandoned()  # its client still waits
    hold.release()
    sender.join(timeout=HANG_GUARD)
    assert not sender.is_alive()
    assert responses[0].json()["result"]["text"] == "held"
    assert [r.text for r in standin.sent(CHAT)] == ["held"]
    assert api(standin, "sendMessage", json={"chat_id": CHAT, "text": "again"}).is_success
    assert (hold.caught, hold.held, hold.dropped) == (1, 0, 0)  # it caught one call only


def test_a_dropped_call_whose_client_hung_up_has_no_effect(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)
    hold = standin.hold_next("sendMessage")
    body = json.dumps({"chat_id": CHAT, "text": "lost"}).encode()
    client = socket.create_connection(("127.0.0.1", standin.port))
    client.sendall(
        f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    hold.wait_until_held(timeout=HANG_GUARD)
    client.close()  # as a killed worker's connection does
    hold.wait_until_abandoned(timeout=HANG_GUARD)
    hold.drop()
    assert wait_until(lambda: standin.requests_in_flight() == 0, timeout=HANG_GUARD)
    assert standin.sent(CHAT) == [] and hold.dropped == 1
    assert [r.status for r in standin.requests_log if r.method == "sendMessage"] == [502]


def test_wrong_token_and_unknown_method(standin: TelegramStandIn) -> None:
    async def scenario() -> None:
        async with make_bot(standin, token="999:wrong") as bot:
            await bot.get_me()

    with pytest.raises(InvalidToken):
        asyncio.run(scenario())
    response = httpx.post(f"{standin.api_url}999:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    response = api(standin, "sendTelepathy")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def until(condition: Any) -> None:
    """Wait (without blocking the event loop) until `condition()` holds; a hang guard."""
    assert await asyncio.to_thread(wait_until, condition, HANG_GUARD), (
        "the stand-in never got there"
    )


def test_long_poll_returns_when_an_update_arrives(standin: TelegramStandIn) -> None:
    async def scenario() -> tuple[Update, ...]:
        async with make_bot(standin) as bot:
            # On its own this poll would wait an hour: only the update can end it.
            poll = asyncio.create_task(bot.get_updates(timeout=int(FOREVER)))
            await until(lambda: standin.long_polls_waiting == 1)
            standin.user_sends_text(CHAT, "/start")
            return await asyncio.wait_for(poll, timeout=HANG_GUARD)

    updates = asyncio.run(scenario())
    message = updates[0].message
    assert message is not None and message.text == "/start"
    assert message.entities[0].type == "bot_command"


def test_offset_confirms_and_a_second_poller_conflicts(standin: TelegramStandIn) -> None:
    standin.user_sends_text(CHAT, "one")
    standin.user_sends_text(CHAT, "two")

    async def scenario() -> None:
        # Two Bot objects: a Bot's own connection pool holds a single connection.
        async with make_bot(standin) as bot, make_bot(standin) as other_instance:
            first, second = await bot.get_updates()
            assert (await bot.get_updates(offset=second.update_id))[0].update_id == second.update_id
            assert await bot.get_updates(offset=second.update_id + 1) == ()
            waiting = asyncio.create_task(bot.get_updates(timeout=int(FOREVER)))
            await until(lambda: standin.long_polls_waiting == 1)
            await other_instance.get_updates(timeout=0)
            with pytest.raises(Conflict, match="(?i)terminated by other getUpdates"):
                await waiting

    asyncio.run(scenario())


def test_stop_does_not_hang_on_open_long_polls() -> None:
    standin = TelegramStandIn(TOKEN).start()
    url = f"{standin.api_url}{TOKEN}/getUpdates"
    errors: list[BaseException] = []

    def poll() -> None:
        try:  # on its own, each poll would wait an hour
            httpx.post(url, json={"timeout": FOREVER}, timeout=FOREVER + 60)
        except httpx.HTTPError as exc:
            errors.append(exc)

    pollers = [threading.Thread(target=poll) for _ in range(5)]
    for poller in pollers:
        poller.start()
    # Each poll ends the one before it (409), so one stays open, as with Telegram.
    assert wait_until(
        lambda: standin.long_polls_waiting == 1 and sum(p.is_alive() for p in pollers) == 1,
        timeout=HANG_GUARD,
    )
    stopper = threading.Thread(target=standin.stop)
    stopper.start()
    stopper.join(timeout=HANG_GUARD)  # a hang guard: waiting for the polls would take an hour
    assert not stopper.is_alive(), "stop() waited for the open long polls"
    for poller in pollers:
        poller.join(timeout=HANG_GUARD)
        assert not poller.is_alive(), "a long poll was left open after stop()"


def test_webhook_delivery_with_secret_header_and_retry(standin: TelegramStandIn) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    answers = iter([500, 200, 200])

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), json.loads(body)))
            self.send_response(next(answers))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:

        async def scenario() -> int:
            async with make_bot(standin) as bot:
                url = f"http://127.0.0.1:{hook.server_address[1]}/telegram"
                await bot.set_webhook(url, secret_token="s3cret-Token_1")
                assert standin.webhook_url == url
                message_id = standin.user_sends_text(CHAT, "via webhook")
                await until(lambda: len(received) >= 2)
                with pytest.raises(Conflict):
                    await bot.get_updates()
                await until(lambda: standin.pending_update_count == 0)  # delivered: dropped
                await bot.delete_webhook()
                return message_id

        message_id = asyncio.run(scenario())
    finally:
        hook.shutdown()
        hook.server_close()
    assert len(received) == 2  # one failed attempt, one retry
    assert received[0] == received[1]
    secret, update = received[1]
    assert secret == "s3cret-Token_1"
    assert update["message"]["message_id"] == message_id
    assert Update.de_json(update, None).message.text == "via webhook"  # type: ignore[union-attr]
    assert standin.webhook_url is None


def test_edits_follow_telegram_rules(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)

    async def scenario() -> None:
        async with make_bot(standin) as bot:
            with pytest.raises(BadRequest, match="(?i)message to edit not found"):
                await bot.edit_message_text("x", chat_id=CHAT, message_id=999)
            sent = await bot.send_message(
                CHAT,
                "reading…",
                reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="a")]]),
            )
            edited = await bot.edit_message_text("7", chat_id=CHAT, message_id=sent.message_id)
            assert edited.text == "7" and edited.reply_markup is None  # keyboard dropped
            with pytest.raises(BadRequest, match="(?i)message is not modified"):
                await bot.edit_message_text("7", chat_id=CHAT, message_id=sent.message_id)
            with pytest.raises(BadRequest, match="(?i)renders no parse_mode"):
                await bot.send_message(CHAT, r"*7* — 99\.3% sure", parse_mode="MarkdownV2")
            with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
                await bot.send_message(
                    CHAT,
                    "x",
                    reply_markup=InlineKeyboardMarkup(
                        [[InlineKeyboardButton("long", callback_data="x" * 65)]]
                    ),
                )
            with pytest.raises(BadRequest, match="(?i)chat not found"):
                await bot.send_message(CHAT + 1, "nobody there")

    asyncio.run(scenario())
    assert [r.text for r in standin.edits] == ["7"]


def test_worker_style_json_and_form_posts(standin: TelegramStandIn) -> None:
    photo_id = standin.user_sends_photo(CHAT, digit_jpeg())
    as_json = api(
        standin,
        "sendMessage",
        json={"chat_id": CHAT, "text": "4", "reply_parameters": {"message_id": photo_id}},
    )
    as_form = api(
        standin,
        "sendMessage",
        data={
            "chat_id": str(CHAT),
            "text": "2",
            "reply_parameters": json.dumps({"message_id": photo_id}),
        },
    )
    as_multipart = api(
        standin,
        "sendPhoto",
        data={
            "chat_id": str(CHAT),
            "caption": "3",
            "reply_parameters": json.dumps({"message_id": photo_id}),
        },
        files={"photo": ("p.jpg", digit_jpeg(100, 100), "image/jpeg")},
    )
    for response in (as_json, as_form, as_multipart):
        assert response.status_code == 200, response.text
        assert response.json()["result"]["reply_to_message"]["message_id"] == photo_id
    records = standin.wait_for(lambda r: r.reply_to_message_id == photo_id, count=3, timeout=1)
    assert [r.body for r in records] == ["4", "2", "3"]


def test_buttons_and_commands(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)

    async def scenario() -> None:
        async with make_bot(standin) as bot:
            await bot.set_my_commands([("start", "Say hello"), ("retrain", "Rebuild the model")])
            sent = await bot.send_message(
                CHAT,
                "Was 7 right?",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("No", callback_data="no")]]
                ),
            )
            query_id = standin.user_presses_button(CHAT, sent.message_id, "no")
            (update,) = await bot.get_updates()
            query = update.callback_query
            assert query is not None and query.id == query_id and query.data == "no"
            assert query.message is not None and query.message.message_id == sent.message_id
            await bot.answer_callback_query(query_id, text="Thanks!")
            with pytest.raises(BadRequest, match="(?i)query is too old"):
                await bot.answer_callback_query(query_id)

    asyncio.run(scenario())
    assert [c["command"] for c in standin.my_commands()] == ["start", "retrain"]
    assert standin.sent(CHAT, "answerCallbackQuery")[0].text == "Thanks!"
    with pytest.raises(ValueError, match="no button"):
        standin.user_presses_button(CHAT, 1, "yes")


def test_real_application_answers_commands_and_photos(standin: TelegramStandIn) -> None:
    photo = digit_jpeg()

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text("hello")

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        file = await update.message.photo[-1].get_file()
        data = await file.download_as_bytearray()
        await update.message.reply_text(f"{len(data)} bytes", do_quote=True)

    async def scenario() -> list[SentRecord]:
        app = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(standin.api_url)
            .base_file_url(standin.file_url)
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        app.add_handler(MessageHandler(filters.PHOTO, on_photo))
        async with app:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            await app.start()
            standin.user_sends_text(CHAT, "/start")
            standin.user_sends_sticker(CHAT)  # no handler: ignored
            standin.user_sends_photo(CHAT, photo)
            records = await asyncio.to_thread(
                standin.wait_for, lambda r: r.method == "sendMessage", count=2, timeout=HANG_GUARD
            )
            await app.updater.stop()
            await app.stop()
        return records

    records = asyncio.run(scenario())
    assert sorted(r.body for r in records) == sorted(["hello", f"{len(photo)} bytes"])
    photo_answer = next(r for r in records if r.body.endswith("bytes"))
    assert photo_answer.reply_to_message_id == 3  # /start=1, sticker=2, photo=3
    assert standin.calls("deleteWebhook") == 1  # start_polling clears any webhook first


def test_wait_for_timeout_explains_what_was_sent(standin: TelegramStandIn) -> None:
    standin.open_chat(CHAT)
    api(standin, "sendMessage", json={"chat_id": CHAT, "text": "something else"})
    with pytest.raises(AssertionError, match="something else"):
        standin.wait_for(lambda r: r.text == "never", timeout=0.1)
