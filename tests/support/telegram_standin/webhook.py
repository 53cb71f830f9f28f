"""Webhook delivery: pending updates POSTed to the bot's webhook in order, with retries."""

from __future__ import annotations

import json

import httpx

from tests.support.telegram_standin.protocol import JSONDict
from tests.support.telegram_standin.records import Webhook
from tests.support.telegram_standin.state import StandInState

WEBHOOK_MAX_ATTEMPTS = 5
WEBHOOK_FIRST_BACKOFF_S = 0.05
WEBHOOK_TIMEOUT_S = 10.0


class WebhookDelivery(StandInState):
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
                        webhook.last_error_message = error
                    done = error is None or update.delivery_attempts >= WEBHOOK_MAX_ATTEMPTS
                    if done and self._pending and self._pending[0] is update:
                        self._pending.popleft()
                if not done:
                    backoff = WEBHOOK_FIRST_BACKOFF_S * 2 ** (update.delivery_attempts - 1)
                    self._stop_event.wait(backoff)

    @staticmethod
    def _post_update(client: httpx.Client, webhook: Webhook, payload: JSONDict) -> str | None:
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
