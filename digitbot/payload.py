"""The recognition job's payload: plain JSON data, never Telegram objects or pickles."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Source = Literal["telegram-photo", "telegram-document", "web-upload", "web-canvas", "cli"]


@dataclass(frozen=True)
class RecognitionRequest:
    """What a worker needs to read one photo and deliver the answer.

    For Telegram requests `chat_id` and `message_id` name the photo message the answer replies
    to and `bot_id` the bot that received it (its answer mark names it, digitbot.answer_marks);
    for web requests they are 0 and the result is stored under `web_result_key`.
    """

    request_id: str
    photo_key: str
    source: Source
    chat_id: int = 0
    message_id: int = 0
    bot_id: int = 0
    user_hash: str = ""
    received_at: float = field(default_factory=time.time)
    explain: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecognitionRequest:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @property
    def is_telegram(self) -> bool:
        return self.source.startswith("telegram")


def new_request_id() -> str:
    return uuid.uuid4().hex
