"""Bot API methods that bring updates and files to the bot: getMe, getUpdates, the webhook,
getFile (the download itself is served by `server`)."""

from __future__ import annotations

import copy
import re
import time

from tests.support.telegram_standin.protocol import (
    MAX_DOWNLOAD_BYTES,
    MAX_UPDATES_PER_POLL,
    ApiError,
    JSONDict,
    Params,
    bad_request,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
)
from tests.support.telegram_standin.records import Webhook
from tests.support.telegram_standin.state import StandInState


class UpdatesApi(StandInState):
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
        offset = opt_int(params, "offset")
        limit = min(max(opt_int(params, "limit") or MAX_UPDATES_PER_POLL, 1), 100)
        timeout = max(opt_float(params, "timeout") or 0.0, 0.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook is not None:
                raise ApiError(
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
                status = self._outage_status("getUpdates")
                if status is not None:  # the Bot API went down under this poll
                    raise ApiError(status, "Bad Gateway")
                if generation != self._poll_generation:
                    raise ApiError(
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
        url = opt_str(params, "url") or ""
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):  # Telegram: https only
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = opt_str(params, "secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        with self._cond:
            if opt_bool(params, "drop_pending_updates"):
                self._pending.clear()
            self._webhook = Webhook(url, secret)
            self._cond.notify_all()
        return True

    def _delete_webhook(self, params: Params) -> bool:
        with self._cond:
            self._webhook = None
            if opt_bool(params, "drop_pending_updates"):
                self._pending.clear()
            self._cond.notify_all()
        return True

    def _get_file(self, params: Params) -> JSONDict:
        file_id = opt_str(params, "file_id")
        if not file_id:
            raise bad_request("file_id not specified")
        with self._cond:
            stored = self._files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.delay:
            self._stop_event.wait(stored.delay)  # outside the lock: other requests go on
        if stored.file_size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.as_file()
