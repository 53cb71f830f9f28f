"""Sending answers through the Telegram Bot API from a worker.

Workers reply themselves (the bot only receives), over plain HTTP to the same `TELEGRAM_API_URL`
the bot uses, so a self-hosted Bot API server or the tests' stand-in works end to end.
Flood control (429) is honoured with its `retry_after`; 5xx answers and connection failures are
retried a few times with backoff, then reported as `BotApiUnavailable` (nothing delivered: the
caller may try again later, worker.redelivery); other 4xx answers are final. A read timeout is
different: the request reached Telegram, which may have delivered the message, and a resend
would answer twice. So reads get a generous limit, and a read timeout is reported as
`PossiblyDelivered`, never retried. Errors never carry the URL (it holds the token).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from digitbot import defaults
from digitbot.errors import BotApiUnavailable, DeliveryError


class PossiblyDelivered(DeliveryError):
    """The request was sent but no answer came back in time; it may have been delivered."""


log = logging.getLogger(__name__)


class TelegramReplier:
    """A small synchronous Bot API client for the few methods a worker needs."""

    def __init__(
        self,
        token: str,
        api_url: str = defaults.DEFAULT_TELEGRAM_API_URL,
        *,
        timeout: float = defaults.TELEGRAM_READ_TIMEOUT_SECONDS,
        max_attempts: int = defaults.TELEGRAM_MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base = f"{api_url}{token}/"
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=defaults.TELEGRAM_CONNECT_TIMEOUT_SECONDS)
        )

    def close(self) -> None:
        self._client.close()

    def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        reply_markup: dict[str, Any] | None = None,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """Send a text message (a reply when `reply_to_message_id` is given); return the Message.
        `attempts` overrides the client's number of tries."""
        params: dict[str, Any] = {"chat_id": chat_id, "text": text}
        self._add_reply(params, reply_to_message_id, reply_markup)
        return self.call("sendMessage", params, attempts=attempts)

    def send_photo(
        self,
        chat_id: int,
        png: bytes,
        *,
        caption: str = "",
        reply_to_message_id: int | None = None,
        reply_markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": chat_id, "caption": caption}
        self._add_reply(params, reply_to_message_id, reply_markup)
        return self.call("sendPhoto", params, files={"photo": ("reading.png", png, "image/png")})

    def edit_message_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        reply_markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id, "text": text}
        if reply_markup is not None:
            params["reply_markup"] = reply_markup
        return self.call("editMessageText", params)

    @staticmethod
    def _add_reply(
        params: dict[str, Any], reply_to: int | None, reply_markup: dict[str, Any] | None
    ) -> None:
        if reply_to:
            # Still answer if the user deleted the photo meanwhile.
            params["reply_parameters"] = {
                "message_id": reply_to,
                "allow_sending_without_reply": True,
            }
        if reply_markup is not None:
            params["reply_markup"] = reply_markup

    def call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        attempts: int | None = None,
    ) -> Any:
        """Call a Bot API method with retries; return its `result`, or raise DeliveryError
        (BotApiUnavailable when every try failed for a passing reason)."""
        max_attempts = attempts or self._max_attempts
        last_problem = "no attempt made"
        for attempt in range(1, max_attempts + 1):
            try:
                response = self._post(method, params, files)
            except (httpx.ReadTimeout, httpx.RemoteProtocolError) as exc:
                raise PossiblyDelivered(
                    f"{method}: sent, but no answer ({type(exc).__name__})"
                ) from None
            except httpx.TransportError as exc:  # connect/write failures: nothing was delivered
                last_problem = f"{method} failed: {type(exc).__name__}"
            else:
                body = _json_body(response)
                if response.status_code == 200 and body.get("ok"):
                    return body.get("result")
                description = str(body.get("description", response.reason_phrase))
                if response.status_code == 429:
                    retry_after = float(body.get("parameters", {}).get("retry_after", 1))
                    wait = min(retry_after, defaults.TELEGRAM_MAX_RETRY_AFTER_SECONDS)
                    last_problem = f"{method}: flood control (retry after {retry_after:g} s)"
                    if attempt < max_attempts:
                        log.warning("%s: flood control, retrying in %.1f s", method, wait)
                        self._sleep(wait)
                    continue
                if response.status_code < 500:
                    raise DeliveryError(f"{method} refused ({response.status_code}): {description}")
                last_problem = f"{method} answered {response.status_code}: {description}"
            if attempt < max_attempts:
                backoff = defaults.TELEGRAM_BACKOFF_SECONDS
                wait = backoff[min(attempt - 1, len(backoff) - 1)]
                log.warning("%s; retry %d in %.1f s", last_problem, attempt, wait)
                self._sleep(wait)
        raise BotApiUnavailable(f"{last_problem} after {max_attempts} attempt(s)")

    def _post(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, tuple[str, bytes, str]] | None,
    ) -> httpx.Response:
        url = self._base + method
        if files:
            # Multipart: nested values travel JSON-encoded, as the Bot API expects.
            form = {
                k: (json.dumps(v) if isinstance(v, dict | list) else str(v))
                for k, v in params.items()
            }
            return self._client.post(url, data=form, files=files)
        return self._client.post(url, json=params)


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
