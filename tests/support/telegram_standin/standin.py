"""`TelegramStandIn`: the stand-in Bot API server, put together from its parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.telegram_standin.api_messages import MessagesApi
from tests.support.telegram_standin.api_updates import UpdatesApi
from tests.support.telegram_standin.inspection import Inspection
from tests.support.telegram_standin.protocol import Params
from tests.support.telegram_standin.server import HttpServing
from tests.support.telegram_standin.users import UserActions


class TelegramStandIn(HttpServing, UserActions, Inspection, UpdatesApi, MessagesApi):
    """A Bot API server for one bot token, on a free loopback port. Thread-safe.

    Serves the methods the product calls (the bot through python-telegram-bot, the workers and
    the training progress through `digitbot.telegram_reply`); any other answers 404.
    """

    def _api_handlers(self) -> dict[str, Callable[[Params], Any]]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getFile": self._get_file,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
        }
