"""Where a Telegram photo's answer mark lives: keyed by the bot and a salted hash of the chat.

An answer mark outlives everything else that names the chat (a week, defaults.
ANSWER_MARK_TTL_SECONDS), so its key holds no raw chat id: the chat is hashed with the salt of
every stored user hash (digitbot.feedback.salted_user_hash) after a "chat:" prefix, so a mark's
hash never equals the user hash of feedback records. The bot's id is in the key too: message
ids count per chat, and two bots sharing a Redis must not take each other's answers for their own.
"""

from __future__ import annotations

import redis

from digitbot import keys
from digitbot.feedback import salted_user_hash

CHAT_PREFIX = "chat:"


def chat_hash(connection: redis.Redis, chat_id: int) -> str:
    """The salted hash a chat is known by in answer marks."""
    return salted_user_hash(connection, f"{CHAT_PREFIX}{chat_id}")


def answer_mark_key(connection: redis.Redis, bot_id: int, chat_id: int, message_id: int) -> str:
    """The key of the mark that says bot `bot_id` answered (chat_id, message_id)."""
    return keys.answer_key(bot_id, chat_hash(connection, chat_id), message_id)
