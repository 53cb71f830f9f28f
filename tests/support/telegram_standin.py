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
(callback_data <= 64 bytes); parse_mode HTML / MarkdownV2 / Markdown checked and stripped (the
famous "Character '.' is reserved" error included); "message is not modified"; getFile's 20 MB
limit; photos re-offered as 2-3 PhotoSize entries, smallest first.

Where it knowingly differs: webhooks may be plain http to loopback (Telegram requires https);
the largest PhotoSize is the very bytes the test supplied (Telegram would re-encode the JPEG and
strip EXIF); flood limits exist only when injected with `fail_next`.

Every request is recorded in `requests_log`; everything the bot sends in `sent()`. Faults are
injected per method with `fail_next` / `delay_next` (the pseudo-method "download" covers file
downloads); a photo or document sent with `download_delay` is slow to fetch whenever it is
fetched. `hold_next` stops calls at a `Hold` until the test lets them go on or drops them, so
a test can act while a call is known to be in progress (kill its client, say) without timing
anything. `requests_in_flight` and `long_polls_waiting` tell a test what is being served now.
"""

from __future__ import annotations

import copy
import email.parser
import email.utils
import functools
import io
import json
import logging
import mimetypes
import re
import secrets
import select
import socket
import sys
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import httpx
from PIL import Image

__all__ = ["Hold", "RequestRecord", "SentRecord", "TelegramStandIn"]

logger = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Params = dict[str, Any]

# Limits of the real Bot API (https://core.telegram.org/bots/api).
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_PHOTO_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPDATES_PER_POLL = 100

# Update ids and message ids live in different ranges so that code mixing them up fails.
FIRST_UPDATE_ID = 700_000_001
THUMBNAIL_SIDES = (90, 320)  # Telegram's "s" and "m" photo sizes
MAX_THUMBNAIL_PIXELS = 40_000_000  # bigger images get duplicate entries instead of thumbnails
WEBHOOK_MAX_ATTEMPTS = 5
WEBHOOK_FIRST_BACKOFF_S = 0.05
WEBHOOK_TIMEOUT_S = 10.0

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
EDIT_METHODS = frozenset({"editMessageText", "editMessageCaption", "editMessageReplyMarkup"})
DOWNLOAD = "download"  # pseudo-method name for file downloads in logs, counters and faults

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class SentRecord:
    """One thing the bot (or a worker) did to a chat through the API."""

    method: str
    chat_id: int | None
    t: float  # time.monotonic() when the request was handled
    message_id: int | None = None  # the created, edited or deleted message
    text: str | None = None  # as the user sees it: parse_mode markup already stripped
    caption: str | None = None
    reply_to_message_id: int | None = None
    reply_markup: JSONDict | None = None  # as sent, any keyboard type
    photo: bytes | None = None
    document: bytes | None = None
    document_name: str | None = None
    params: Params = field(default_factory=dict)  # all parameters, uploads replaced by a summary

    @property
    def body(self) -> str:
        """The text or caption, or "" when there is neither."""
        return self.text or self.caption or ""

    def summary(self) -> str:
        """One line for assertion messages."""
        parts = [f"t={self.t:.3f}", self.method, f"chat={self.chat_id}"]
        if self.message_id is not None:
            parts.append(f"msg={self.message_id}")
        if self.reply_to_message_id is not None:
            parts.append(f"reply_to={self.reply_to_message_id}")
        if self.photo is not None:
            parts.append(f"photo={len(self.photo)}B")
        if self.body:
            parts.append(f"body={self.body[:80]!r}")
        return " ".join(parts)


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request the stand-in answered."""

    method: str  # canonical Bot API method name, "download", or the raw unknown name
    t: float  # time.monotonic() at arrival
    status: int
    duration: float


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_size: int  # declared size; may differ from len(data) on purpose
    delay: float = 0.0  # seconds getFile and the download each wait for this file

    def as_file(self) -> JSONDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.file_size,
            "file_path": self.file_path,
        }


@dataclass(frozen=True)
class _Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class _PendingUpdate:
    update_id: int
    payload: JSONDict
    created: float
    delivery_attempts: int = 0


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int
    description: str | None


class Hold:
    """Bot API calls stopped at a gate before the stand-in handles them (see `hold_next`).

    A held call has had no effect yet. `release()` lets the held calls (and any the gate still
    catches) go on and take effect, whether or not their client still waits, as a slow Telegram
    would. `drop()` ends them without any effect, as a request lost on its way to Telegram (a
    client still listening gets nginx's 502). Tests wait on the gate's state, never on time:
    `wait_until_held` until calls are stopped here, `wait_until_abandoned` until the client of
    every held call has hung up (a killed worker, say).
    """

    def __init__(self, method: str, chat_id: int | None, count: int) -> None:
        self.method = method
        self.chat_id = chat_id
        self._cond = threading.Condition()
        self._to_catch = count  # changed under the stand-in's lock only
        self._waiting: list[socket.socket] = []  # the connections of the calls held now
        self._caught = 0
        self._outcome: str | None = None  # "release" or "drop", once opened
        self._dropped = 0

    @property
    def held(self) -> int:
        """How many calls wait at the gate now."""
        with self._cond:
            return len(self._waiting)

    @property
    def caught(self) -> int:
        """How many calls the gate caught in all."""
        with self._cond:
            return self._caught

    @property
    def dropped(self) -> int:
        """How many calls `drop()` ended without effect."""
        with self._cond:
            return self._dropped

    def wait_until_held(self, count: int = 1, *, timeout: float = 60.0) -> None:
        """Block until `count` calls wait at the gate; AssertionError after `timeout` (a hang
        guard, not a speed limit)."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._waiting) >= count, timeout):
                raise AssertionError(
                    f"Telegram stand-in: {len(self._waiting)} of {count} {self.method} call(s) "
                    f"held after {timeout:.0f}s ({self._caught} caught in all)"
                )

    def abandoned(self) -> bool:
        """True when calls are held and the client of every one has hung up."""
        with self._cond:
            waiting = list(self._waiting)
        return bool(waiting) and all(_peer_hung_up(connection) for connection in waiting)

    def wait_until_abandoned(self, *, timeout: float = 60.0) -> None:
        """Block until `abandoned()`; AssertionError after `timeout` (a hang guard)."""
        with self._cond:
            self._cond.wait_for(lambda: self._waiting, timeout)
            listening = [c for c in self._waiting if not _peer_hung_up(c)]
        # Block on the sockets themselves: a client's hang-up makes its socket readable (EOF).
        while listening:
            readable, _, _ = select.select(listening, [], [], timeout)
            if not readable:
                raise AssertionError(
                    f"Telegram stand-in: the client of a held {self.method} call still "
                    f"listens after {timeout:.0f}s"
                )
            if not all(_peer_hung_up(c) for c in readable):
                raise AssertionError(
                    f"Telegram stand-in: the client of a held {self.method} call sent more "
                    "data instead of hanging up"
                )
            listening = [c for c in listening if c not in readable]
        if not self.abandoned():
            raise AssertionError(f"Telegram stand-in: no held {self.method} call to abandon")

    def release(self) -> None:
        """Let the held calls, and any the gate still catches, go on and take effect. Returns
        once the held calls have left the gate (their effect may still be on its way)."""
        self._open("release")

    def drop(self) -> None:
        """End the held calls, and any the gate still catches, without effect. Returns once
        the held calls have left the gate (`dropped` counts them then)."""
        self._open("drop")

    def _open(self, outcome: str) -> None:
        with self._cond:
            if self._outcome is None:
                self._outcome = outcome
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._waiting, timeout=60.0)

    def _catches(self, method: str, params: Params) -> bool:
        if self._to_catch <= 0 or method != self.method:
            return False
        if self.chat_id is not None and str(params.get("chat_id")) != str(self.chat_id):
            return False
        self._to_catch -= 1
        return True

    def _wait(self, connection: socket.socket) -> bool:
        """Hold the calling request until the gate opens; True when the call goes on."""
        with self._cond:
            self._caught += 1
            self._waiting.append(connection)
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: self._outcome is not None)
            finally:
                self._waiting.remove(connection)
                self._cond.notify_all()  # `_open` waits for the gate to empty
            if self._outcome == "drop":
                self._dropped += 1
                return False
            return True


def _peer_hung_up(connection: socket.socket) -> bool:
    """True once the client closed or reset its end of `connection` (a read would see EOF)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


class _ApiError(Exception):
    """An error answer in Telegram's envelope."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


# --------------------------------------------------------------------------- parameters


def _parse_params(query: str, content_type: str, boundary: str | None, body: bytes) -> Params:
    """Merge query-string and body parameters the way the Bot API accepts them."""
    params: Params = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return params
    if content_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError as exc:
            raise _bad_request("can't parse JSON body") from exc
        if not isinstance(decoded, dict):
            raise _bad_request("JSON body must be an object")
        params.update(decoded)
    elif content_type == "multipart/form-data":
        params.update(_parse_multipart(body, boundary))
    else:  # Telegram treats anything else as urlencoded
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _parse_multipart(body: bytes, boundary: str | None) -> Params:
    if not boundary:
        raise _bad_request("multipart body without boundary")
    params: Params = {}
    header_parser = email.parser.BytesHeaderParser()
    # The CRLF before each delimiter belongs to the delimiter, so split on it too.
    for part in (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        head, separator, data = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            continue
        headers = header_parser.parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not name:
            continue
        name = email.utils.collapse_rfc2231_value(name)
        filename = headers.get_filename()
        if filename is not None:
            params[name] = _Upload(filename, headers.get("content-type"), data)
        else:
            params[name] = data.decode("utf-8", "replace")
    return params


def _opt_str(params: Params, name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, _Upload):
        return None
    return value if isinstance(value, str) else json.dumps(value)


def _opt_int(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with suppress(ValueError):
            return int(value.strip())
    raise _bad_request(f"invalid {name} specified")


def _opt_float(params: Params, name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise _bad_request(f"invalid {name} specified") from exc


def _opt_bool(params: Params, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _opt_json(params: Params, name: str) -> Any:
    """Form posts carry objects JSON-encoded inside a string; JSON posts carry them as is."""
    value = params.get(name)
    if not isinstance(value, str):
        return value
    if value == "":
        return None
    try:
        return json.loads(value)
    except ValueError as exc:
        raise _bad_request(f"can't parse {name} JSON object") from exc


def _echoed(markup: JSONDict | None) -> JSONDict | None:
    """The reply_markup a returned Message carries: inline keyboards only."""
    if markup and "inline_keyboard" in markup:
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None


def _summarise_params(params: Params) -> Params:
    return {
        key: f"<upload {value.filename!r}, {len(value.data)} bytes>"
        if isinstance(value, _Upload)
        else value
        for key, value in params.items()
    }


# --------------------------------------------------------------------------- parse_mode


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _entity_error(detail: str) -> _ApiError:
    return _bad_request(f"can't parse entities: {detail}")


def _render_text(text: str, parse_mode: str | None) -> str:
    """Return what the user sees, or raise the 400 Telegram gives for malformed markup."""
    if not parse_mode:
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return _render_html(text)
    if mode == "markdownv2":
        return _render_markdown_v2(text)
    if mode == "markdown":
        return _render_markdown(text)
    raise _bad_request(f"unsupported parse_mode {parse_mode!r}")


_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji"}
)
_HTML_BAD_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);)")
_HTML_BAD_LESS_THAN = re.compile(r"<(?![/a-zA-Z])")


class _TelegramHtml(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = text
        self.parts: list[str] = []
        self.open_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{tag}"')
        if tag == "span" and ("class", "tg-spoiler") not in attrs:
            raise _entity_error('Tag "span" must have class "tg-spoiler"')
        self.open_tags.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raise _entity_error(f'Unsupported start tag "{tag}"')

    def handle_endtag(self, tag: str) -> None:
        if not self.open_tags or self.open_tags[-1] != tag:
            raise _entity_error(f'Unmatched end tag "{tag}"')
        self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        raise _entity_error("Unsupported comment")

    def handle_decl(self, decl: str) -> None:
        raise _entity_error("Unsupported declaration")


def _render_html(text: str) -> str:
    if match := _HTML_BAD_AMPERSAND.search(text):
        offset = _byte_offset(text, match.start())
        raise _entity_error(f"Can't find end of the entity starting at byte offset {offset}")
    if match := _HTML_BAD_LESS_THAN.search(text):
        offset = _byte_offset(text, match.start())
        raise _entity_error(f"Unexpected end of name token at byte offset {offset}")
    parser = _TelegramHtml(text)
    parser.feed(text)
    parser.close()
    if parser.open_tags:
        raise _entity_error(
            f'Can\'t find end tag corresponding to start tag "{parser.open_tags[-1]}"'
        )
    return "".join(parser.parts)


_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough"}
_MDV2_NAMES |= {"||": "Spoiler", "[": "TextUrl"}


def _render_markdown_v2(text: str) -> str:
    out: list[str] = []
    open_marks: list[tuple[str, int]] = []  # (mark, index where it opened)
    i, length = 0, len(text)

    def toggle(mark: str) -> None:
        if open_marks and open_marks[-1][0] == mark:
            open_marks.pop()
        elif any(open_mark == mark for open_mark, _ in open_marks):
            raise _entity_error(f"Can't find end of {_MDV2_NAMES[mark]} entity")
        else:
            open_marks.append((mark, i))

    while i < length:
        char = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if char == "\\":
            if i + 1 >= length:
                offset = _byte_offset(text, i)
                raise _entity_error(f"Unexpected end of text at byte offset {offset}")
            out.append(text[i + 1])
            i += 2
        elif char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            content, i = _markdown_v2_code(text, i, fence)
            out.append(content)
        elif char in "*~":
            toggle(char)
            i += 1
        elif char == "_":
            underline = text.startswith("__", i) and not (open_marks and open_marks[-1][0] == "_")
            mark = "__" if underline else "_"
            toggle(mark)
            i += len(mark)
        elif char == "|" and text.startswith("||", i):
            toggle("||")
            i += 2
        elif char == "[" or (char == "!" and text.startswith("![", i)):
            i += 1 if char == "[" else 2
            open_marks.append(("[", i))
        elif char == "]" and open_marks and open_marks[-1][0] == "[":
            open_marks.pop()
            i = _markdown_v2_skip_url(text, i + 1)
        elif char == ">" and at_line_start:
            i += 1  # block quote marker
        elif char in _MDV2_RESERVED:
            raise _entity_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            out.append(char)
            i += 1
    if open_marks:
        mark, index = open_marks[-1]
        name = _MDV2_NAMES[mark]
        raise _entity_error(
            f"Can't find end of {name} entity at byte offset {_byte_offset(text, index)}"
        )
    return "".join(out)


def _markdown_v2_code(text: str, start: int, fence: str) -> tuple[str, int]:
    """Return the unescaped code content and the index after the closing fence."""
    i = start + len(fence)
    content: list[str] = []
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            content.append(text[i + 1])
            i += 2
        elif text.startswith(fence, i):
            code = "".join(content)
            if fence == "```" and "\n" in code:
                first_line, _, rest = code.partition("\n")
                if not first_line or " " not in first_line:
                    code = rest  # the first line names the language
            return code, i + len(fence)
        else:
            content.append(text[i])
            i += 1
    name = "Pre" if fence == "```" else "Code"
    offset = _byte_offset(text, start)
    raise _entity_error(f"Can't find end of {name} entity at byte offset {offset}")


def _markdown_v2_skip_url(text: str, i: int) -> int:
    if not text.startswith("(", i):
        raise _entity_error("Character ']' is reserved and must be escaped with the preceding '\\'")
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
        elif text[i] == ")":
            return i + 1
        else:
            i += 1
    offset = _byte_offset(text, i)
    raise _entity_error(f"Can't find end of a URL at byte offset {offset}")


_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")


def _render_markdown(text: str) -> str:
    """Legacy Markdown: *bold*, _italic_, `code`, [text](url); entities do not nest."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if char in "*_`":
            fence = "```" if text.startswith("```", i) else char
            end = text.find(fence, i + len(fence))
            if end < 0:
                offset = _byte_offset(text, i)
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {offset}"
                )
            out.append(text[i + len(fence) : end])
            i = end + len(fence)
            continue
        if char == "[":
            match = _MARKDOWN_LINK.match(text, i)
            if match is None:
                offset = _byte_offset(text, i)
                raise _entity_error(
                    f"Can't find end of the entity starting at byte offset {offset}"
                )
            out.append(match.group(1))
            i = match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- images


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as Telegram would report them, or None when Pillow cannot read it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb warnings: tests send bombs
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except Exception:
        return None
    # Telegram applies the EXIF rotation when it re-encodes; report the upright size.
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _jpeg_thumbnail(data: bytes, side: int) -> tuple[bytes, int, int] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (side, side))  # JPEG: decode at reduced scale, much cheaper
                thumbnail = image.convert("RGB")
                thumbnail.thumbnail((side, side))
                buffer = io.BytesIO()
                thumbnail.save(buffer, "JPEG", quality=80)
                return buffer.getvalue(), thumbnail.width, thumbnail.height
    except Exception:
        return None


def _photo_variants(data: bytes) -> tuple[list[tuple[bytes, int, int]], bool]:
    """The PhotoSize contents, smallest first (the last is `data`), and whether it decoded."""
    size = _image_size(data)
    if size is None:
        return [(data, 320, 240), (data, 1280, 960)], False
    width, height = size
    variants: list[tuple[bytes, int, int]] = []
    if width * height <= MAX_THUMBNAIL_PIXELS:
        for side in THUMBNAIL_SIDES:
            if max(width, height) > side and (thumbnail := _jpeg_thumbnail(data, side)):
                variants.append(thumbnail)
    if not variants:  # tiny or huge: Telegram still sends more than one size
        variants.append((data, width, height))
    variants.append((data, width, height))
    return variants, True


@functools.cache
def _sticker_webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (512, 512), (255, 200, 0, 255)).save(buffer, "WEBP")
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops SYNs under load and adds 1 s retries

    def __init__(self, address: tuple[str, int], standin: TelegramStandIn) -> None:
        self.standin = standin
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (cancelled long polls, timeouts) are routine, not errors.
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.exception("telegram stand-in: unexpected error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle + delayed ACK can add 40 ms to a response on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.standin._track_connection(self.connection, open_=True)

    def finish(self) -> None:
        try:
            with suppress(OSError):
                super().finish()
        finally:
            self.server.standin._track_connection(self.connection, open_=False)

    def do_GET(self) -> None:
        self.server.standin._handle_request(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests_log keeps this; stderr lines would bury test output

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_payload(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        head = [
            f"HTTP/1.1 {status} {reason}",
            "Server: telegram-standin",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(payload)}",
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
        ]
        # One write: header and body in a single segment.
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        except OSError:
            self.close_connection = True


def _envelope(result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode("utf-8")


def _error_envelope(error: _ApiError) -> bytes:
    body: JSONDict = {"ok": False, "error_code": error.status, "description": error.description}
    if error.parameters:
        body["parameters"] = error.parameters
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _fault_error(fault: _Fault) -> _ApiError:
    defaults = {
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict",
        429: f"Too Many Requests: retry after {fault.retry_after}",
        500: "Internal Server Error",
    }
    try:
        fallback = HTTPStatus(fault.status).phrase
    except ValueError:
        fallback = "Error"
    description = fault.description or defaults.get(fault.status, fallback)
    parameters = {"retry_after": fault.retry_after} if fault.status == 429 else None
    return _ApiError(fault.status, description, parameters)


# --------------------------------------------------------------------------- the stand-in


class TelegramStandIn:
    """A Bot API server for one bot token, on a free loopback port. Thread-safe."""

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "digitbot_test_bot",
        bot_first_name: str = "DigitBot",
    ) -> None:
        if not token or "/" in token:
            raise ValueError(f"token must be non-empty and contain no '/', got {token!r}")
        self.token = token
        self._host = host
        self._requested_port = port
        bot_id_text = token.partition(":")[0]
        self._bot_user: JSONDict = {
            "id": int(bot_id_text) if bot_id_text.isdigit() else 100_000,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        # One lock for all state; the condition wakes long polls, wait_for and webhook delivery.
        self._cond = threading.Condition(threading.RLock())
        self._stop_event = threading.Event()
        self._stopping = False
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._in_flight: Counter[str] = Counter()  # requests being served now, by method
        self._polls_waiting = 0  # getUpdates calls waiting for an update now
        self._methods: dict[str, Callable[[Params], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getFile": self._get_file,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "close": self._close,
            "logOut": self._close,
        }
        # Telegram method names are case-insensitive.
        self._method_names = {name.lower(): name for name in self._methods}
        self._method_names[DOWNLOAD] = DOWNLOAD
        self._reset_state()

    def _reset_state(self) -> None:
        self._next_update_id = FIRST_UPDATE_ID
        self._pending: deque[_PendingUpdate] = deque()
        self._poll_generation = 0
        self._webhook: _Webhook | None = None
        self._chats: dict[int, JSONDict] = {}
        self._last_message_id: Counter[int] = Counter()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._callback_queries: dict[str, int] = {}  # id -> chat_id, while unanswered
        self._update_times: dict[tuple[int, int | str], float] = {}
        self._sent: list[SentRecord] = []
        self._requests: list[RequestRecord] = []
        self._calls: Counter[str] = Counter()
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, deque[float]] = {}
        self._holds: list[Hold] = []
        self._commands: dict[str, list[JSONDict]] = {}
        self._internal_errors: list[str] = []

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> TelegramStandIn:
        """Bind a port and serve in background threads."""
        if self._server is not None:
            raise RuntimeError("TelegramStandIn is already running; call stop() first")
        self._stopping = False
        self._stop_event.clear()
        self._server = _Server((self._host, self._requested_port), self)
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="telegram-standin-http",
                daemon=True,
            ),
            threading.Thread(
                target=self._deliver_webhooks, name="telegram-standin-webhook", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open long polls are released, not waited for."""
        server = self._server
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            holds = list(self._holds)
        for hold in holds:  # held calls end without effect
            hold.drop()
        self._stop_event.set()
        server.shutdown()
        with self._cond:
            connections = list(self._connections)
        for connection in connections:  # unblock keep-alive readers
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> TelegramStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every chat, message, file, update, record, fault and the webhook."""
        with self._cond:
            holds = list(self._holds)
            self._reset_state()
            self._cond.notify_all()
        for hold in holds:
            hold.drop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("TelegramStandIn is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        """PTB's base_url and the workers' TELEGRAM_API_URL."""
        return f"http://{self._host}:{self.port}/bot"

    @property
    def file_url(self) -> str:
        """PTB's base_file_url and TELEGRAM_FILE_API_URL."""
        return f"http://{self._host}:{self.port}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        return dict(self._bot_user)

    @property
    def webhook_url(self) -> str | None:
        with self._cond:
            return self._webhook.url if self._webhook else None

    @property
    def pending_update_count(self) -> int:
        with self._cond:
            return len(self._pending)

    def requests_in_flight(self, *, excluding: tuple[str, ...] = ("getUpdates",)) -> int:
        """How many requests are being served now (held ones included), not counting the
        methods in `excluding` (by default the bot's ever-open long poll)."""
        skip = {self._canonical(name) for name in excluding}
        with self._cond:
            return sum(n for name, n in self._in_flight.items() if name not in skip)

    @property
    def long_polls_waiting(self) -> int:
        """How many getUpdates calls are waiting for an update now."""
        with self._cond:
            return self._polls_waiting

    # ----------------------------------------------------------------- users acting

    def open_chat(self, chat_id: int, *, user_id: int | None = None) -> None:
        """Make a chat known, as if the user had pressed Start, without sending an update."""
        with self._cond:
            self._ensure_chat(chat_id, self._sender_id(chat_id, user_id))

    def user_sends_text(self, chat_id: int, text: str, *, user_id: int | None = None) -> int:
        """Queue a text message; a leading "/word" gets a bot_command entity. Returns its id."""
        content: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_length(command)}
            ]
        return self._user_message(chat_id, user_id, content)

    def user_sends_photo(
        self,
        chat_id: int,
        image_bytes: bytes,
        *,
        user_id: int | None = None,
        caption: str | None = None,
        download_delay: float = 0.0,
    ) -> int:
        """Queue a photo message (2-3 PhotoSize, largest = `image_bytes`). Returns its id.

        With `download_delay`, getFile and the download of each size each take that many
        seconds longer, however many photos are fetched at once.
        """
        variants, _ = _photo_variants(image_bytes)  # outside the lock: Pillow work
        with self._cond:
            content: JSONDict = {"photo": self._store_photo_sizes(variants, download_delay)}
            if caption is not None:
                content["caption"] = caption
            return self._user_message(chat_id, user_id, content)

    def user_sends_document(
        self,
        chat_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        user_id: int | None = None,
        declared_size: int | None = None,
        caption: str | None = None,
        download_delay: float = 0.0,
    ) -> int:
        """Queue a document; `declared_size` overrides the file_size Telegram reports, and
        `download_delay` slows getFile and the download of it as for `user_sends_photo`."""
        with self._cond:
            stored = self._store_file(data, "documents", file_name, declared_size, download_delay)
            document = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": stored.file_size,
            }
            content: JSONDict = {"document": document}
            if caption is not None:
                content["caption"] = caption
            return self._user_message(chat_id, user_id, content)

    def user_sends_sticker(
        self, chat_id: int, *, user_id: int | None = None, emoji: str = "\N{THUMBS UP SIGN}"
    ) -> int:
        """Queue a regular 512x512 webp sticker message. Returns its id."""
        with self._cond:
            stored = self._store_file(_sticker_webp(), "stickers", "sticker.webp")
            sticker = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
                "set_name": "StandInStickers",
                "file_size": stored.file_size,
            }
            return self._user_message(chat_id, user_id, {"sticker": sticker})

    def user_sends_voice(
        self,
        chat_id: int,
        data: bytes = b"OggS\x00\x02" + bytes(58),
        *,
        duration: int = 1,
        user_id: int | None = None,
    ) -> int:
        """Queue a voice message (audio/ogg). Returns its id."""
        with self._cond:
            stored = self._store_file(data, "voice", "voice.oga")
            voice = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "duration": duration,
                "mime_type": "audio/ogg",
                "file_size": stored.file_size,
            }
            return self._user_message(chat_id, user_id, {"voice": voice})

    def user_presses_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        check_button: bool = True,
    ) -> str:
        """Queue a callback_query for an inline button. Returns the callback query id.

        With check_button, the message must currently show a button with this callback_data,
        since a real user can only press what is on screen.
        """
        with self._cond:
            message = self._messages.get((chat_id, message_id))
            if message is None:
                raise ValueError(f"no message {message_id} in chat {chat_id} to press a button on")
            buttons = [
                button.get("callback_data")
                for row in message.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
            ]
            if check_button and data not in buttons:
                raise ValueError(
                    f"message {message_id} in chat {chat_id} shows no button with callback_data "
                    f"{data!r}; it shows {buttons}"
                )
            sender_id = self._sender_id(chat_id, user_id)
            query_id = str(secrets.randbits(62))
            self._callback_queries[query_id] = chat_id
            query = {
                "id": query_id,
                "from": self._user_json(sender_id),
                "message": copy.deepcopy(message),
                "chat_instance": str(abs(hash((self.token, chat_id)))),
                "data": data,
            }
            self._enqueue({"callback_query": query}, chat_id, query_id)
            return query_id

    # ----------------------------------------------------------------- inspecting

    def sent(self, chat_id: int | None = None, method: str | None = None) -> list[SentRecord]:
        """Everything sent so far (messages, photos, chat actions, edits, deletions, answers)."""
        name = self._canonical(method) if method else None
        with self._cond:
            return [
                record
                for record in self._sent
                if (chat_id is None or record.chat_id == chat_id)
                and (name is None or record.method == name)
            ]

    @property
    def edits(self) -> list[SentRecord]:
        with self._cond:
            return [record for record in self._sent if record.method in EDIT_METHODS]

    def wait_for(
        self,
        predicate: Callable[[SentRecord], bool] | None = None,
        *,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[SentRecord]:
        """Block until `count` sent records match; return all matches so far, oldest first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                matches = [r for r in self._sent if predicate is None or predicate(r)]
                if len(matches) >= count:
                    return matches
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(timeout, count, len(matches)))
                self._cond.wait(remaining)

    def update_time(self, chat_id: int, message_id: int | str) -> float:
        """time.monotonic() when the update for this user message (or callback id) was queued."""
        with self._cond:
            try:
                return self._update_times[(chat_id, message_id)]
            except KeyError:
                raise KeyError(
                    f"no user update for message {message_id} in chat {chat_id}"
                ) from None

    def message(self, chat_id: int, message_id: int) -> JSONDict | None:
        """The message as it stands now (after edits), or None if unknown or deleted."""
        with self._cond:
            found = self._messages.get((chat_id, message_id))
            return copy.deepcopy(found) if found else None

    def file_bytes(self, file_id: str) -> bytes:
        with self._cond:
            return self._files[file_id].data

    def calls(self, method: str) -> int:
        """How many requests arrived for `method` (failed and faulted ones included)."""
        name = self._canonical(method)
        with self._cond:
            return self._calls[name]

    @property
    def requests_log(self) -> list[RequestRecord]:
        with self._cond:
            return list(self._requests)

    @property
    def internal_errors(self) -> list[str]:
        """Tracebacks of stand-in bugs (answered as 500); a fixture may assert this is empty."""
        with self._cond:
            return list(self._internal_errors)

    def my_commands(self, *, scope: JSONDict | None = None, language_code: str = "") -> list[Any]:
        with self._cond:
            return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    # ----------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `count` calls of `method` with an error instead of handling them.

        429 carries parameters.retry_after; 502 is nginx's HTML page, as Telegram's edge sends.
        """
        name = self._canonical(method)
        with self._cond:
            faults = self._faults.setdefault(name, deque())
            faults.extend(_Fault(status, retry_after, description) for _ in range(count))

    def delay_next(self, method: str, seconds: float, *, count: int = 1) -> None:
        """Sleep before handling the next `count` calls; the call still takes effect."""
        name = self._canonical(method)
        with self._cond:
            self._delays.setdefault(name, deque()).extend([seconds] * count)

    def hold_next(self, method: str, *, chat_id: int | None = None, count: int = 1) -> Hold:
        """Stop the next `count` calls of `method` (for `chat_id` only, when given; downloads
        have no chat) before they are handled, until the returned `Hold` is released or
        dropped. Injected faults and delays come first."""
        hold = Hold(self._canonical(method), chat_id, count)
        with self._cond:
            self._holds.append(hold)
        return hold

    # ----------------------------------------------------------------- internals: state

    def _canonical(self, method: str) -> str:
        try:
            return self._method_names[method.lower()]
        except KeyError:
            known = ", ".join(sorted(self._method_names.values()))
            raise ValueError(f"unknown method {method!r}; the stand-in knows: {known}") from None

    def _track_connection(self, connection: socket.socket, *, open_: bool) -> None:
        with self._cond:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    @staticmethod
    def _sender_id(chat_id: int, user_id: int | None) -> int:
        if user_id is not None:
            return user_id
        if chat_id > 0:
            return chat_id  # private chat: chat id == user id
        raise ValueError(f"chat {chat_id} is a group; say which user acts with user_id=")

    @staticmethod
    def _user_json(user_id: int) -> JSONDict:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"User{user_id}",
            "username": f"user{user_id}",
            "language_code": "en",
        }

    def _ensure_chat(self, chat_id: int, user_id: int) -> JSONDict:
        if chat_id not in self._chats:
            if chat_id > 0:
                user = self._user_json(user_id)
                chat = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
                chat["username"] = user["username"]
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                chat = {"id": chat_id, "type": kind, "title": f"Group {chat_id}"}
            self._chats[chat_id] = chat
        return self._chats[chat_id]

    def _new_message(self, chat_id: int, sender: JSONDict, content: JSONDict) -> JSONDict:
        self._last_message_id[chat_id] += 1
        message = {
            "message_id": self._last_message_id[chat_id],
            "from": dict(sender),
            "chat": dict(self._chats[chat_id]),
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return message

    def _user_message(self, chat_id: int, user_id: int | None, content: JSONDict) -> int:
        sender_id = self._sender_id(chat_id, user_id)
        with self._cond:
            self._ensure_chat(chat_id, sender_id)
            message = self._new_message(chat_id, self._user_json(sender_id), content)
            self._enqueue({"message": copy.deepcopy(message)}, chat_id, message["message_id"])
            return int(message["message_id"])

    def _enqueue(self, payload: JSONDict, chat_id: int, key: int | str) -> None:
        now = time.monotonic()
        update_id = self._next_update_id
        self._next_update_id += 1
        self._pending.append(_PendingUpdate(update_id, {"update_id": update_id, **payload}, now))
        self._update_times[(chat_id, key)] = now
        self._cond.notify_all()

    def _store_file(
        self,
        data: bytes,
        folder: str,
        name: str,
        declared_size: int | None = None,
        delay: float = 0.0,
    ) -> _StoredFile:
        number = len(self._files) + 1
        extension = name.rpartition(".")[2] if "." in name else "bin"
        stored = _StoredFile(
            file_id=f"{folder[:2].upper()}AC{secrets.token_urlsafe(30)}",
            file_unique_id=f"AQAD{secrets.token_urlsafe(9)}",
            file_path=f"{folder}/file_{number}.{extension}",
            data=data,
            file_size=len(data) if declared_size is None else declared_size,
            delay=delay,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo_sizes(
        self, variants: list[tuple[bytes, int, int]], delay: float = 0.0
    ) -> list[JSONDict]:
        sizes = []
        for data, width, height in variants:
            stored = self._store_file(data, "photos", "photo.jpg", delay=delay)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": stored.file_size,
                }
            )
        return sizes

    def _record(self, method: str, chat_id: int | None, params: Params, **fields: Any) -> None:
        record = SentRecord(
            method=method,
            chat_id=chat_id,
            t=time.monotonic(),
            params=_summarise_params(params),
            **fields,
        )
        with self._cond:
            self._sent.append(record)
            self._cond.notify_all()

    def _timeout_report(self, timeout: float, count: int, matched: int) -> str:
        lines = [
            f"Telegram stand-in: waited {timeout:.1f}s for {count} matching sent record(s), "
            f"{matched} matched. Sent so far ({len(self._sent)}):"
        ]
        lines += [f"  {record.summary()}" for record in self._sent[-30:]] or ["  (nothing)"]
        lines.append(f"Last requests ({len(self._requests)} in all):")
        lines += [
            f"  t={r.t:.3f} {r.method} -> {r.status} in {r.duration * 1000:.0f} ms"
            for r in self._requests[-20:]
        ]
        lines.append(f"Pending updates: {len(self._pending)}; webhook: {self._webhook}")
        return "\n".join(lines)

    # ----------------------------------------------------------------- internals: HTTP

    def _handle_request(self, handler: _Handler) -> None:
        arrived = time.monotonic()
        url = urlsplit(handler.path)
        path = unquote(url.path)
        if path.startswith("/file/bot"):
            name = DOWNLOAD
        else:
            name = self._method_names.get(path.rpartition("/")[2].lower(), "?")
        with self._cond:
            self._in_flight[name] += 1
        try:
            self._serve_request(handler, url, path, arrived)
        finally:
            with self._cond:
                self._in_flight[name] -= 1

    def _serve_request(
        self, handler: _Handler, url: SplitResult, path: str, arrived: float
    ) -> None:
        body = handler.read_body()
        content_type = "application/json"
        if path.startswith("/file/bot"):
            method, status, payload, content_type = self._serve_download(
                path[len("/file/bot") :], handler
            )
        elif path.startswith("/bot"):
            method, status, payload = self._serve_api(path[len("/bot") :], url.query, handler, body)
            if status == 502 and payload == NGINX_502:
                content_type = "text/html"
        else:
            method, status = "?", 404
            payload = _error_envelope(_ApiError(404, "Not Found"))
        with self._cond:
            self._requests.append(
                RequestRecord(method, arrived, status, time.monotonic() - arrived)
            )
        handler.send_payload(status, payload, content_type)

    def _take_fault(self, name: str) -> _Fault | None:
        with self._cond:
            self._calls[name] += 1
            delays = self._delays.get(name)
            delay = delays.popleft() if delays else 0.0
            faults = self._faults.get(name)
            fault = faults.popleft() if faults else None
        if delay:
            self._stop_event.wait(delay)
        return fault

    def _take_hold(self, name: str, params: Params) -> Hold | None:
        with self._cond:
            for hold in self._holds:
                if hold._catches(name, params):
                    return hold
        return None

    def _serve_api(
        self, rest: str, query: str, handler: _Handler, body: bytes
    ) -> tuple[str, int, bytes]:
        token, _, method = rest.partition("/")
        method = method.strip("/")
        if token != self.token:
            return method or "?", 401, _error_envelope(_ApiError(401, "Unauthorized"))
        name = self._method_names.get(method.lower())
        if name is None or name == DOWNLOAD:
            return method or "?", 404, _error_envelope(_ApiError(404, "Not Found"))
        fault = self._take_fault(name)
        if fault is not None:
            if fault.status == 502:
                return name, 502, NGINX_502
            error = _fault_error(fault)
            return name, error.status, _error_envelope(error)
        try:
            boundary = handler.headers.get_param("boundary")
            params = _parse_params(
                query,
                handler.headers.get_content_type(),
                boundary if isinstance(boundary, str) else None,
                body,
            )
            hold = self._take_hold(name, params)
            if hold is not None and not hold._wait(handler.connection):
                return name, 502, NGINX_502
            result = self._methods[name](params)
        except _ApiError as error:
            return name, error.status, _error_envelope(error)
        except Exception:
            logger.exception("telegram stand-in: bug while handling %s", name)
            with self._cond:
                self._internal_errors.append(f"{name}: {sys.exc_info()[1]!r}")
            return name, 500, _error_envelope(_ApiError(500, "Internal Server Error"))
        return name, 200, _envelope(result)

    def _serve_download(self, rest: str, handler: _Handler) -> tuple[str, int, bytes, str]:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return (
                DOWNLOAD,
                401,
                _error_envelope(_ApiError(401, "Unauthorized")),
                "application/json",
            )
        fault = self._take_fault(DOWNLOAD)
        if fault is not None:
            if fault.status == 502:
                return DOWNLOAD, 502, NGINX_502, "text/html"
            error = _fault_error(fault)
            return DOWNLOAD, error.status, _error_envelope(error), "application/json"
        with self._cond:
            stored = self._files_by_path.get(file_path)
        if stored is None:
            return DOWNLOAD, 404, _error_envelope(_ApiError(404, "Not Found")), "application/json"
        hold = self._take_hold(DOWNLOAD, {})
        if hold is not None and not hold._wait(handler.connection):
            return DOWNLOAD, 502, NGINX_502, "text/html"
        if stored.delay:
            self._stop_event.wait(stored.delay)
        content_type = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return DOWNLOAD, 200, stored.data, content_type

    # ----------------------------------------------------------------- internals: webhook

    def _deliver_webhooks(self) -> None:
        """POST pending updates to the webhook one at a time, in order, with retries."""
        with httpx.Client(timeout=WEBHOOK_TIMEOUT_S) as client:
            while True:
                with self._cond:
                    while not self._stopping and not (self._webhook and self._pending):
                        self._cond.wait()
                    if self._stopping:
                        return
                    assert self._webhook is not None
                    webhook, update = self._webhook, self._pending[0]
                    update.delivery_attempts += 1
                error = self._post_update(client, webhook, update.payload)
                with self._cond:
                    if error is not None:
                        webhook.last_error_date = int(time.time())
                        webhook.last_error_message = error
                    done = error is None or update.delivery_attempts >= WEBHOOK_MAX_ATTEMPTS
                    if done and self._pending and self._pending[0] is update:
                        self._pending.popleft()
                if not done:
                    backoff = WEBHOOK_FIRST_BACKOFF_S * 2 ** (update.delivery_attempts - 1)
                    self._stop_event.wait(backoff)

    @staticmethod
    def _post_update(client: httpx.Client, webhook: _Webhook, payload: JSONDict) -> str | None:
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            response = client.post(webhook.url, content=json.dumps(payload), headers=headers)
        except httpx.HTTPError as exc:
            return f"Connection failed: {exc!r}"
        if not response.is_success:
            return f"Wrong response from the webhook: {response.status_code}"
        return None

    # ----------------------------------------------------------------- API: helpers

    def _target_chat(self, params: Params) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad_request("chat not found") from None
        if chat_id not in self._chats:
            raise _bad_request("chat not found")
        return chat_id

    def _required_message_id(self, params: Params) -> int:
        message_id = _opt_int(params, "message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        return message_id

    def _reply_target(self, params: Params, chat_id: int) -> JSONDict | None:
        """The message to reply to, from reply_parameters or the older reply_to_message_id."""
        reply_parameters = _opt_json(params, "reply_parameters")
        allow_missing = _opt_bool(params, "allow_sending_without_reply")
        if reply_parameters is not None:
            if not isinstance(reply_parameters, dict) or "message_id" not in reply_parameters:
                raise _bad_request("can't parse reply parameters JSON object")
            message_id = _opt_int(reply_parameters, "message_id")
            allow_missing = _opt_bool(reply_parameters, "allow_sending_without_reply")
        else:
            message_id = _opt_int(params, "reply_to_message_id")
        if message_id is None:
            return None
        target = self._messages.get((chat_id, message_id))
        if target is None and not allow_missing:
            raise _bad_request("message to be replied not found")
        return target

    def _reply_markup(self, params: Params, *, inline_only: bool = False) -> JSONDict | None:
        markup = _opt_json(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            self._check_inline_keyboard(markup["inline_keyboard"])
        elif inline_only:
            raise _bad_request("inline keyboard expected")
        elif not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return markup

    @staticmethod
    def _check_inline_keyboard(rows: Any) -> None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad_request("can't parse inline keyboard markup: field must be an Array")
        actions = {"callback_data", "url", "switch_inline_query", "web_app", "login_url"}
        actions |= {"switch_inline_query_current_chat", "callback_game", "pay", "copy_text"}
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not actions & button.keys():
                    raise _bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad_request("BUTTON_DATA_INVALID")

    @staticmethod
    def _rendered(params: Params, name: str, entities_name: str) -> str | None:
        text = _opt_str(params, name)
        if text is None or params.get(entities_name):
            return text  # explicit entities win over parse_mode, as in the Bot API
        return _render_text(text, _opt_str(params, "parse_mode"))

    def _caption(self, params: Params) -> str | None:
        caption = self._rendered(params, "caption", "caption_entities")
        if caption is not None and len(caption) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        return caption or None

    def _message_text(self, params: Params) -> str:
        text = self._rendered(params, "text", "entities")
        if text is None or not text.strip():
            raise _bad_request("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise _bad_request("message is too long")
        return text

    def _input_file(self, params: Params, name: str) -> tuple[bytes, str | None, bool]:
        """Bytes of an uploaded, attach://, or file_id parameter; the filename; uploaded?"""
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, _Upload):
            return value.data, value.filename, True
        if not isinstance(value, str) or not value:
            raise _bad_request(f"there is no {name} in the request")
        if value.startswith(("http://", "https://")):
            raise _bad_request("failed to get HTTP URL content")  # Telegram can't see loopback
        with self._cond:
            stored = self._files.get(value)
        if stored is None:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        return stored.data, stored.file_path.rpartition("/")[2], False

    def _bot_message(
        self,
        chat_id: int,
        content: JSONDict,
        reply_to: JSONDict | None,
        markup: JSONDict | None,
    ) -> JSONDict:
        message = self._new_message(chat_id, self._bot_user, content)
        if reply_to is not None:
            embedded = copy.deepcopy(reply_to)
            embedded.pop("reply_to_message", None)  # Telegram nests one level only
            message["reply_to_message"] = embedded
        if echoed := _echoed(markup):
            message["reply_markup"] = echoed
        return message

    def _editable_message(self, params: Params) -> tuple[int, JSONDict]:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")  # the stand-in has no inline messages
        chat_id = self._target_chat(params)
        message = self._messages.get((chat_id, self._required_message_id(params)))
        if message is None:
            raise _bad_request("message to edit not found")
        if message["from"]["id"] != self._bot_user["id"]:
            raise _bad_request("message can't be edited")
        return chat_id, message

    # ----------------------------------------------------------------- API: methods

    def _get_me(self, params: Params) -> JSONDict:
        return {
            **self._bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _get_updates(self, params: Params) -> list[JSONDict]:
        offset = _opt_int(params, "offset")
        limit = min(max(_opt_int(params, "limit") or MAX_UPDATES_PER_POLL, 1), 100)
        timeout = max(_opt_float(params, "timeout") or 0.0, 0.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook is not None:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use "
                    "deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # an older poll still waiting is now terminated
            if offset is not None and offset < 0:
                while len(self._pending) > -offset:
                    self._pending.popleft()
            elif offset is not None:
                while self._pending and self._pending[0].update_id < offset:
                    self._pending.popleft()  # confirmed
            while True:
                if self._stopping:
                    return []
                if generation != self._poll_generation:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that only "
                        "one bot instance is running",
                    )
                if self._pending:
                    return [copy.deepcopy(u.payload) for u in list(self._pending)[:limit]]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._polls_waiting += 1
                try:
                    self._cond.wait(remaining)
                finally:
                    self._polls_waiting -= 1

    def _set_webhook(self, params: Params) -> bool:
        url = _opt_str(params, "url") or ""
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):  # Telegram: https only
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _opt_str(params, "secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad_request("secret token contains unallowed characters")
        with self._cond:
            if _opt_bool(params, "drop_pending_updates"):
                self._pending.clear()
            max_connections = _opt_int(params, "max_connections") or 40
            self._webhook = _Webhook(url, secret, max_connections)
            self._cond.notify_all()
        return True

    def _delete_webhook(self, params: Params) -> bool:
        with self._cond:
            self._webhook = None
            if _opt_bool(params, "drop_pending_updates"):
                self._pending.clear()
            self._cond.notify_all()
        return True

    def _get_webhook_info(self, params: Params) -> JSONDict:
        with self._cond:
            info: JSONDict = {
                "url": self._webhook.url if self._webhook else "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
            if self._webhook:
                info["max_connections"] = self._webhook.max_connections
                if self._webhook.last_error_date is not None:
                    info["last_error_date"] = self._webhook.last_error_date
                    info["last_error_message"] = self._webhook.last_error_message
            return info

    def _get_file(self, params: Params) -> JSONDict:
        file_id = _opt_str(params, "file_id")
        if not file_id:
            raise _bad_request("file_id not specified")
        with self._cond:
            stored = self._files.get(file_id)
        if stored is None:
            raise _bad_request("invalid file_id")
        if stored.delay:
            self._stop_event.wait(stored.delay)  # outside the lock: other requests go on
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise _bad_request("file is too big")
        return stored.as_file()

    def _send_message(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id = self._target_chat(params)
            text = self._message_text(params)
            return self._post_bot_message("sendMessage", chat_id, params, {"text": text}, text=text)

    def _send_photo(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id = self._target_chat(params)
        data, _, uploaded = self._input_file(params, "photo")
        if uploaded and len(data) > MAX_PHOTO_UPLOAD_BYTES:
            raise _bad_request("file is too big")
        variants, decoded = _photo_variants(data)  # outside the lock: Pillow work
        if not decoded:
            raise _bad_request("IMAGE_PROCESS_FAILED")
        width, height = variants[-1][1:]
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise _bad_request("PHOTO_INVALID_DIMENSIONS")
        with self._cond:
            caption = self._caption(params)
            content: JSONDict = {"photo": self._store_photo_sizes(variants)}
            if caption:
                content["caption"] = caption
            return self._post_bot_message(
                "sendPhoto", chat_id, params, content, caption=caption, photo=data
            )

    def _send_document(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id = self._target_chat(params)
            data, filename, _ = self._input_file(params, "document")
            filename = filename or "document"
            caption = self._caption(params)
            stored = self._store_file(data, "documents", filename)
            document = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": filename,
                "mime_type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
                "file_size": stored.file_size,
            }
            content: JSONDict = {"document": document}
            if caption:
                content["caption"] = caption
            return self._post_bot_message(
                "sendDocument",
                chat_id,
                params,
                content,
                caption=caption,
                document=data,
                document_name=filename,
            )

    def _post_bot_message(
        self, method: str, chat_id: int, params: Params, content: JSONDict, **fields: Any
    ) -> JSONDict:
        """Create the bot's message (reply and keyboard from params), record it, return it."""
        reply_to = self._reply_target(params, chat_id)
        markup = self._reply_markup(params)
        message = self._bot_message(chat_id, content, reply_to, markup)
        self._record(
            method,
            chat_id,
            params,
            message_id=message["message_id"],
            reply_to_message_id=reply_to["message_id"] if reply_to else None,
            reply_markup=markup,
            **fields,
        )
        return copy.deepcopy(message)

    def _send_chat_action(self, params: Params) -> bool:
        with self._cond:
            chat_id = self._target_chat(params)
            if _opt_str(params, "action") not in CHAT_ACTIONS:
                raise _bad_request("wrong parameter action in request")
            self._record("sendChatAction", chat_id, params)
        return True

    def _edit_message_text(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id, message = self._editable_message(params)
            text = self._message_text(params)
            markup = self._reply_markup(params, inline_only=True)
            if "text" not in message:
                raise _bad_request("there is no text in the message to edit")
            if message["text"] == text and message.get("reply_markup") == _echoed(markup):
                raise _bad_request(NOT_MODIFIED)
            message["text"] = text
            return self._finish_edit("editMessageText", chat_id, message, params, markup, text=text)

    def _edit_message_caption(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id, message = self._editable_message(params)
            caption = self._caption(params)
            markup = self._reply_markup(params, inline_only=True)
            if not {"photo", "document", "video", "audio", "animation"} & message.keys():
                raise _bad_request("there is no caption in the message to edit")
            if message.get("caption") == caption and message.get("reply_markup") == _echoed(markup):
                raise _bad_request(NOT_MODIFIED)
            if caption:
                message["caption"] = caption
            else:
                message.pop("caption", None)
            return self._finish_edit(
                "editMessageCaption", chat_id, message, params, markup, caption=caption
            )

    def _edit_message_reply_markup(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id, message = self._editable_message(params)
            markup = self._reply_markup(params, inline_only=True)
            if message.get("reply_markup") == _echoed(markup):
                raise _bad_request(NOT_MODIFIED)
            return self._finish_edit("editMessageReplyMarkup", chat_id, message, params, markup)

    def _finish_edit(
        self,
        method: str,
        chat_id: int,
        message: JSONDict,
        params: Params,
        markup: JSONDict | None,
        **fields: Any,
    ) -> JSONDict:
        # An edit without reply_markup removes the inline keyboard, as on Telegram.
        if echoed := _echoed(markup):
            message["reply_markup"] = echoed
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        self._record(
            method, chat_id, params, message_id=message["message_id"], reply_markup=markup, **fields
        )
        return copy.deepcopy(message)

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = _opt_str(params, "callback_query_id")
        text = _opt_str(params, "text")
        with self._cond:
            chat_id = self._callback_queries.pop(query_id or "", None)
            if chat_id is None:  # unknown or already answered
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
                raise _bad_request("MESSAGE_TOO_LONG")
            self._record("answerCallbackQuery", chat_id, params, text=text)
        return True

    def _delete_message(self, params: Params) -> bool:
        with self._cond:
            chat_id = self._target_chat(params)
            message_id = self._required_message_id(params)
            if self._messages.pop((chat_id, message_id), None) is None:
                raise _bad_request("message to delete not found")
            self._record("deleteMessage", chat_id, params, message_id=message_id)
        return True

    @staticmethod
    def _commands_key(scope: Any, language_code: str | None) -> str:
        scope = scope or {"type": "default"}
        return json.dumps([scope, language_code or ""], sort_keys=True)

    def _set_my_commands(self, params: Params) -> bool:
        commands = _opt_json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(_opt_json(params, "scope"), _opt_str(params, "language_code"))
        with self._cond:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def _get_my_commands(self, params: Params) -> list[JSONDict]:
        key = self._commands_key(_opt_json(params, "scope"), _opt_str(params, "language_code"))
        with self._cond:
            return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, params: Params) -> bool:
        key = self._commands_key(_opt_json(params, "scope"), _opt_str(params, "language_code"))
        with self._cond:
            self._commands.pop(key, None)
        return True

    def _close(self, params: Params) -> bool:
        return True
