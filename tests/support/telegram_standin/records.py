"""What the stand-in keeps: what was sent and asked of it, stored files, queued updates."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.telegram_standin.protocol import JSONDict, Params


@dataclass(frozen=True)
class SentRecord:
    """One thing the bot (or a worker) did to a chat through the API."""

    method: str
    chat_id: int | None
    t: float  # time.monotonic() when the request was handled
    message_id: int | None = None  # the created or edited message
    text: str | None = None
    caption: str | None = None
    reply_to_message_id: int | None = None
    reply_markup: JSONDict | None = None  # as sent
    photo: bytes | None = None
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
class StoredFile:
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


@dataclass
class PendingUpdate:
    update_id: int
    payload: JSONDict
    created: float
    delivery_attempts: int = 0


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    last_error_message: str | None = None  # shown in wait_for's timeout report
