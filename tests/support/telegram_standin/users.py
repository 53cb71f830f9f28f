"""What users do: open a chat, send text, photos, documents and stickers, press buttons.

Each action queues an update, as Telegram would, for the bot's next getUpdates (or webhook).
"""

from __future__ import annotations

import copy
import secrets

from tests.support.telegram_standin import images
from tests.support.telegram_standin.protocol import JSONDict, utf16_length
from tests.support.telegram_standin.state import StandInState

MAX_ALBUM_PHOTOS = 10  # Telegram's limit for one media group


class UserActions(StandInState):
    def open_chat(self, chat_id: int, *, user_id: int | None = None) -> None:
        """Make a chat known, as if the user had pressed Start, without sending an update."""
        with self._cond:
            self._ensure_chat(chat_id, self._sender_id(chat_id, user_id))

    def user_sends_text(
        self, chat_id: int, text: str, *, user_id: int | None = None, reply_to: int | None = None
    ) -> int:
        """Queue a text message; a leading "/word" gets a bot_command entity. Returns its id.

        With `reply_to`, it replies to that message of the chat (the user swiped it and typed),
        which the update then carries as `reply_to_message`, buttons and all, as Telegram does.
        """
        content: JSONDict = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_length(command)}
            ]
        with self._cond:
            if reply_to is not None:
                content["reply_to_message"] = self._replied(chat_id, reply_to)
            return self._user_message(chat_id, user_id, content)

    def user_sends_album(
        self, chat_id: int, photos: list[bytes], *, user_id: int | None = None
    ) -> list[int]:
        """Queue photos sent together as one album: one message (and update) per photo, all
        with the same media_group_id and no sign of which is the last, as Telegram sends them.
        Returns their ids, in order."""
        if not 2 <= len(photos) <= MAX_ALBUM_PHOTOS:
            raise ValueError(f"an album holds 2 to {MAX_ALBUM_PHOTOS} photos, got {len(photos)}")
        variants = [images.photo_variants(photo)[0] for photo in photos]  # outside the lock
        group = str(secrets.randbits(60))
        with self._cond:
            return [
                self._user_message(
                    chat_id,
                    user_id,
                    {"photo": self._store_photo_sizes(sizes), "media_group_id": group},
                )
                for sizes in variants
            ]

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
        variants, _ = images.photo_variants(image_bytes)  # outside the lock: Pillow work
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
            stored = self._store_file(images.sticker_webp(), "stickers", "sticker.webp")
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

    def _replied(self, chat_id: int, message_id: int) -> JSONDict:
        target = self._messages.get((chat_id, message_id))
        if target is None:
            raise ValueError(f"no message {message_id} in chat {chat_id} to reply to")
        replied = copy.deepcopy(target)
        replied.pop("reply_to_message", None)  # Telegram nests one level only
        return replied

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
