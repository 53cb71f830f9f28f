"""Telling the requester how a retraining goes: Telegram messages, the job's meta, the log."""

from __future__ import annotations

import logging
import time
from typing import Any

from digitbot.errors import DeliveryError
from digitbot.settings import Settings

log = logging.getLogger(__name__)

EDIT_INTERVAL_SECONDS = 10.0


class ProgressReporter:
    """Sends a start message, edits it with progress (at most every 10 s), then a final one."""

    def __init__(self, settings: Settings, *, chat_id: int, job: Any = None) -> None:
        self.chat_id = chat_id
        self.job = job
        self._replier = None
        self._message_id: int | None = None
        self._last_edit = 0.0
        if chat_id and settings.telegram_token:
            from digitbot.telegram_reply import TelegramReplier

            self._replier = TelegramReplier(settings.require_token(), settings.telegram_api_url)

    def start(self, text: str) -> None:
        log.info("%s", text)
        self._meta(text)
        if self._replier is not None:
            try:
                message = self._replier.send_message(self.chat_id, text)
                self._message_id = int(message["message_id"])
            except DeliveryError as exc:
                log.warning("could not tell chat about the retraining: %s", exc)

    def update(self, text: str, *, force: bool = True) -> None:
        log.info("%s", text)
        self._meta(text)
        now = time.monotonic()
        if self._replier is None or self._message_id is None:
            return
        if not force and now - self._last_edit < EDIT_INTERVAL_SECONDS:
            return
        self._last_edit = now
        try:
            self._replier.edit_message_text(self.chat_id, self._message_id, text)
        except DeliveryError as exc:
            log.debug("progress edit failed: %s", exc)

    def finish(self, text: str) -> None:
        log.info("%s", text)
        self._meta(text)
        if self._replier is not None:
            try:
                self._replier.send_message(self.chat_id, text, reply_to_message_id=self._message_id)
            except DeliveryError as exc:
                log.warning("could not tell chat how the retraining ended: %s", exc)

    def keras_callback(self) -> Any:
        import keras

        reporter = self

        class EpochProgress(keras.callbacks.Callback):
            def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
                self.total = int(self.params.get("epochs", 0))

            def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
                logs = logs or {}
                accuracy = logs.get("val_accuracy", logs.get("accuracy", 0.0))
                reporter.update(
                    f"Retraining: epoch {epoch + 1}/{self.total}, accuracy {100 * accuracy:.2f}%",
                    force=epoch + 1 == self.total,
                )

        return EpochProgress()

    def _meta(self, text: str) -> None:
        if self.job is not None:
            try:
                self.job.meta["progress"] = text
                self.job.save_meta()
            except Exception:  # progress is nice to have; never fail the run for it
                pass
