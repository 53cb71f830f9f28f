"""The stand-in's state, behind one lock: chats, messages, files, queued updates, records."""

from __future__ import annotations

import copy
import json
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.support.telegram_standin.protocol import DOWNLOAD, JSONDict, Params, summarise_params
from tests.support.telegram_standin.records import (
    PendingUpdate,
    RequestRecord,
    SentRecord,
    StoredFile,
    Webhook,
)

if TYPE_CHECKING:
    from tests.support.telegram_standin.holds import Fault, Hold
    from tests.support.telegram_standin.server import Server

# Update ids and message ids live in different ranges so that code mixing them up fails.
FIRST_UPDATE_ID = 700_000_001


class StandInState:
    """Everything the stand-in knows, and the helpers that change it (the lock held or taken)."""

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
        self._server: Server | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._in_flight: Counter[str] = Counter()  # requests being served now, by method
        self._polls_waiting = 0  # getUpdates calls waiting for an update now
        self._methods = self._api_handlers()
        # Telegram method names are case-insensitive.
        self._method_names = {name.lower(): name for name in self._methods}
        self._method_names[DOWNLOAD] = DOWNLOAD
        self._next_update_id = FIRST_UPDATE_ID
        self._pending: deque[PendingUpdate] = deque()
        self._poll_generation = 0
        self._webhook: Webhook | None = None
        self._chats: dict[int, JSONDict] = {}
        self._last_message_id: Counter[int] = Counter()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callback_queries: dict[str, int] = {}  # id -> chat_id, while unanswered
        self._update_times: dict[tuple[int, int | str], float] = {}
        self._sent: list[SentRecord] = []
        self._requests: list[RequestRecord] = []
        self._calls: Counter[str] = Counter()
        self._faults: dict[str, deque[Fault]] = {}
        self._holds: list[Hold] = []
        # An outage (FaultInjection.start_outage): the methods it covers (all when empty), status.
        self._outage: tuple[frozenset[str], int] | None = None
        self._commands: dict[str, list[JSONDict]] = {}
        self._internal_errors: list[str] = []

    def _api_handlers(self) -> dict[str, Callable[[Params], Any]]:
        """The Bot API methods served, by name (`api.BotApi` has them)."""
        raise NotImplementedError

    def _outage_status(self, name: str) -> int | None:
        """The status an outage answers a call of `name` with now, if one covers it."""
        with self._cond:
            if self._outage is None:
                return None
            methods, status = self._outage
            return status if not methods or name in methods else None

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
        self._pending.append(PendingUpdate(update_id, {"update_id": update_id, **payload}, now))
        self._update_times[(chat_id, key)] = now
        self._cond.notify_all()

    def _store_file(
        self,
        data: bytes,
        folder: str,
        name: str,
        declared_size: int | None = None,
        delay: float = 0.0,
    ) -> StoredFile:
        number = len(self._files) + 1
        extension = name.rpartition(".")[2] if "." in name else "bin"
        stored = StoredFile(
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
            params=summarise_params(params),
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

    @staticmethod
    def _commands_key(scope: Any, language_code: str | None) -> str:
        scope = scope or {"type": "default"}
        return json.dumps([scope, language_code or ""], sort_keys=True)
