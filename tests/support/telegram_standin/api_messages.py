"""Bot API methods that act on chats: send and edit messages, send photos and chat actions,
answer button presses, set the command menu. Only what the product calls, with the
parameters it uses (plain text, inline keyboards, reply_parameters, uploaded photos)."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from tests.support.telegram_standin import images
from tests.support.telegram_standin.protocol import (
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_PHOTO_UPLOAD_BYTES,
    MAX_TEXT_LENGTH,
    NOT_MODIFIED,
    JSONDict,
    Params,
    Upload,
    bad_request,
    opt_bool,
    opt_int,
    opt_json,
    opt_str,
)
from tests.support.telegram_standin.state import StandInState

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
BUTTON_ACTIONS = frozenset(
    {"callback_data", "url", "switch_inline_query", "web_app", "login_url"}
    | {"switch_inline_query_current_chat", "callback_game", "pay", "copy_text"}
)


def _echoed(markup: JSONDict | None) -> JSONDict | None:
    """The reply_markup a returned Message carries."""
    return {"inline_keyboard": markup["inline_keyboard"]} if markup else None


class MessagesApi(StandInState):
    # ----------------------------------------------------------------- helpers

    def _target_chat(self, params: Params) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        if chat_id not in self._chats:
            raise bad_request("chat not found")
        return chat_id

    def _reply_target(self, params: Params, chat_id: int) -> JSONDict | None:
        """The message to reply to, from reply_parameters."""
        reply_parameters = opt_json(params, "reply_parameters")
        if reply_parameters is None:
            return None
        if not isinstance(reply_parameters, dict) or "message_id" not in reply_parameters:
            raise bad_request("can't parse reply parameters JSON object")
        message_id = opt_int(reply_parameters, "message_id")
        if message_id is None:
            return None
        target = self._messages.get((chat_id, message_id))
        if target is None and not opt_bool(reply_parameters, "allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return target

    def _reply_markup(self, params: Params) -> JSONDict | None:
        """The inline keyboard sent, checked as Telegram checks it."""
        markup = opt_json(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            raise bad_request("can't parse inline keyboard markup JSON object")
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("can't parse inline keyboard markup: field must be an Array")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise bad_request(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not BUTTON_ACTIONS & button.keys():
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
        return markup

    @staticmethod
    def _plain(params: Params, name: str) -> str | None:
        """The text or caption parameter `name`; the product sends plain text, so markup that
        Telegram would render is refused rather than passed on as if it were shown."""
        if (
            opt_str(params, "parse_mode")
            or params.get("entities")
            or params.get("caption_entities")
        ):
            raise bad_request("the stand-in renders no parse_mode or entities")
        return opt_str(params, name)

    def _caption(self, params: Params) -> str | None:
        caption = self._plain(params, "caption")
        if caption is not None and len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return caption or None

    def _message_text(self, params: Params) -> str:
        text = self._plain(params, "text")
        if text is None or not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        return text

    def _post_bot_message(
        self, method: str, chat_id: int, params: Params, content: JSONDict, **fields: Any
    ) -> JSONDict:
        """Create the bot's message (reply and keyboard from params), record it, return it."""
        reply_to = self._reply_target(params, chat_id)
        markup = self._reply_markup(params)
        message = self._new_message(chat_id, self._bot_user, content)
        if reply_to is not None:
            embedded = copy.deepcopy(reply_to)
            embedded.pop("reply_to_message", None)  # Telegram nests one level only
            message["reply_to_message"] = embedded
        if echoed := _echoed(markup):
            message["reply_markup"] = echoed
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

    def _editable_message(self, params: Params) -> tuple[int, JSONDict]:
        chat_id = self._target_chat(params)
        message_id = opt_int(params, "message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self._messages.get((chat_id, message_id))
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != self._bot_user["id"]:
            raise bad_request("message can't be edited")
        return chat_id, message

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

    # ----------------------------------------------------------------- methods

    def _send_message(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id = self._target_chat(params)
            text = self._message_text(params)
            return self._post_bot_message("sendMessage", chat_id, params, {"text": text}, text=text)

    def _send_photo(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id = self._target_chat(params)
        upload = params.get("photo")
        if not isinstance(upload, Upload):  # the product uploads; it never resends a file_id
            raise bad_request("there is no photo in the request")
        data = upload.data
        if len(data) > MAX_PHOTO_UPLOAD_BYTES:
            raise bad_request("file is too big")
        variants, decoded = images.photo_variants(data)  # outside the lock: Pillow work
        if not decoded:
            raise bad_request("IMAGE_PROCESS_FAILED")
        width, height = variants[-1][1:]
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        with self._cond:
            caption = self._caption(params)
            content: JSONDict = {"photo": self._store_photo_sizes(variants)}
            if caption:
                content["caption"] = caption
            return self._post_bot_message(
                "sendPhoto", chat_id, params, content, caption=caption, photo=data
            )

    def _send_chat_action(self, params: Params) -> bool:
        with self._cond:
            chat_id = self._target_chat(params)
            if opt_str(params, "action") not in CHAT_ACTIONS:
                raise bad_request("wrong parameter action in request")
            self._record("sendChatAction", chat_id, params)
        return True

    def _edit_message_text(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id, message = self._editable_message(params)
            text = self._message_text(params)
            markup = self._reply_markup(params)
            if "text" not in message:
                raise bad_request("there is no text in the message to edit")
            if message["text"] == text and message.get("reply_markup") == _echoed(markup):
                raise bad_request(NOT_MODIFIED)
            message["text"] = text
            return self._finish_edit("editMessageText", chat_id, message, params, markup, text=text)

    def _edit_message_reply_markup(self, params: Params) -> JSONDict:
        with self._cond:
            chat_id, message = self._editable_message(params)
            markup = self._reply_markup(params)
            if message.get("reply_markup") == _echoed(markup):
                raise bad_request(NOT_MODIFIED)
            return self._finish_edit("editMessageReplyMarkup", chat_id, message, params, markup)

    def _answer_callback_query(self, params: Params) -> bool:
        query_id = opt_str(params, "callback_query_id")
        text = opt_str(params, "text")
        with self._cond:
            chat_id = self._callback_queries.pop(query_id or "", None)
            if chat_id is None:  # unknown or already answered
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
                raise bad_request("MESSAGE_TOO_LONG")
            self._record("answerCallbackQuery", chat_id, params, text=text)
        return True

    def _set_my_commands(self, params: Params) -> bool:
        commands = opt_json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command") if isinstance(command, dict) else None
            description = command.get("description") if isinstance(command, dict) else None
            if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(opt_json(params, "scope"), opt_str(params, "language_code"))
        with self._cond:
            self._commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True
