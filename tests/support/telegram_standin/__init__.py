"""A stand-in Telegram Bot API server on loopback, for driving the real bot in tests.

Telegram itself cannot be reached from the test machines, so this is the one fake the project
allows. It speaks the Bot API over real HTTP on 127.0.0.1, so the real python-telegram-bot client
and the workers' plain httpx calls run unmodified against it::

    with TelegramStandIn("123456:TEST-token") as telegram:
        app = (
            ApplicationBuilder()
            .token(telegram.token)
            .base_url(telegram.api_url)            # == TELEGRAM_API_URL
            .base_file_url(telegram.file_url)      # == TELEGRAM_FILE_API_URL
            .build()
        )
        ...start polling...
        message_id = telegram.user_sends_photo(42, jpeg_bytes)
        (answer,) = telegram.wait_for(lambda r: r.reply_to_message_id == message_id)
        assert answer.body.startswith("7")
        latency = answer.t - telegram.update_time(42, message_id)

What it does like Telegram: the `{"ok": ..., "result" | "error_code", "description",
"parameters"}` envelope; JSON, urlencoded, multipart and query-string parameters (values arrive as
strings from form posts and are coerced per parameter, as Telegram does); long-polling getUpdates
with offset confirmation and the 409 for a second concurrent poller; webhooks with the secret
header; per-chat message ids; `reply_to_message`; inline keyboards echoed and validated
(callback_data <= 64 bytes); "message is not modified"; getFile's 20 MB limit; photos re-offered
as 2-3 PhotoSize entries, smallest first; an album as one message (and update) per photo with a
shared media_group_id and nothing marking the last; a reply carries the message it replies to.

Where it knowingly differs: it serves only the methods and parameters the product uses (plain
text, inline keyboards, reply_parameters, uploaded photos), and refuses parse_mode rather than
pretend to render it; webhooks may be plain http to loopback (Telegram requires https); the
largest PhotoSize is the very bytes the test supplied (Telegram would re-encode the JPEG and
strip EXIF); flood limits exist only when injected with `fail_next`.

Every request is recorded in `requests_log`; everything the bot sends in `sent()`. Faults are
injected per method with `fail_next` (the pseudo-method "download" covers file downloads); a
photo or document sent with `download_delay` is slow to fetch whenever it is fetched.
`hold_next` stops calls at a `Hold` until the test lets them go on or drops them, so a test can
act while a call is known to be in progress (kill its client, say) without timing anything.
`requests_in_flight` and `long_polls_waiting` tell a test what is being served now.

The parts, one module each: `protocol` (wire format), `records`, `state`, `users` (what users
do), `inspection` (what a test reads back), `holds` and `faults`, `api_updates` and
`api_messages` (the Bot API methods), `webhook`, `server` (HTTP), `images` (photo sizes).
"""

from tests.support.telegram_standin.holds import Hold
from tests.support.telegram_standin.records import RequestRecord, SentRecord
from tests.support.telegram_standin.standin import TelegramStandIn

__all__ = ["Hold", "RequestRecord", "SentRecord", "TelegramStandIn"]
