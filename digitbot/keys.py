"""Redis key names, in one place so every process agrees on them."""

from __future__ import annotations

from digitbot import job_names

PREFIX = "digitbot"


def photo_key(request_id: str) -> str:
    """Where the bytes of an uploaded photo wait for a worker."""
    return f"{PREFIX}:photo:{request_id}"


def answer_key(bot_id: int, chat_hash: str, message_id: int) -> str:
    """Marks that bot `bot_id` answered photo message `message_id` in the chat whose salted
    hash is `chat_hash` (digitbot.answer_marks makes it: the raw chat id is not kept here)."""
    return f"{PREFIX}:answered:{bot_id}:{chat_hash}:{message_id}"


def recognition_job_id(chat_id: int, message_id: int, *, bot_id: int) -> str:
    """One job per Telegram photo message, so a re-delivered update is never enqueued twice.
    Message ids count per chat and chat ids are shared by every bot, so the bot's id is part of
    it: two bots on one Redis never take each other's photos for duplicates."""
    return f"tg-{bot_id}-{chat_id}-{message_id}"


def album_key(bot_id: int, media_group_id: str) -> str:
    """The photos of one album (Telegram's media_group_id) stored so far, by message id."""
    return f"{PREFIX}:album:{bot_id}:{media_group_id}"


def album_job_id(chat_id: int, first_message_id: int, *, bot_id: int) -> str:
    """One job per album, named by its first photo message, as recognition_job_id names one."""
    return f"tg-album-{bot_id}-{chat_id}-{first_message_id}"


def delivery_job_id(request_id: str) -> str:
    """The one job that sends a request's answer later, when the Bot API could not take it."""
    return f"deliver-{request_id}"


def update_journal_key(bot_id: int) -> str:
    """The bot's journal: each update it fetched and has not finished, by update id (JSON)."""
    return f"{PREFIX}:updates:{bot_id}:pending"


def update_offset_key(bot_id: int) -> str:
    """The id after the last update the bot's journal took in: lower ids are re-deliveries."""
    return f"{PREFIX}:updates:{bot_id}:next-id"


def web_result_key(request_id: str) -> str:
    """Where the worker leaves the result of a web-page request."""
    return f"{PREFIX}:web-result:{request_id}"


def web_owner_key(request_id: str) -> str:
    """The salted hash of the web visitor who sent a request: only they may correct it."""
    return f"{PREFIX}:web-owner:{request_id}"


# The salt of every stored user hash, Telegram and web alike (digitbot.feedback.salted_user_hash).
USER_SALT_KEY = f"{PREFIX}:user-salt"


CHAMPION_KEY = f"{PREFIX}:models:champion"
MODEL_INDEX_KEY = f"{PREFIX}:models:index"


def model_meta_key(version: str) -> str:
    return f"{PREFIX}:models:meta:{version}"


def model_blob_key(version: str) -> str:
    return f"{PREFIX}:models:blob:{version}"


def model_lean_key(version: str) -> str:
    """The version's lean form (a LiteRT `.tflite` file) beside its `.keras` artifact."""
    return f"{PREFIX}:models:lean:{version}"


STATS_KEY = f"{PREFIX}:stats"

# Retraining: the last run's outcome (JSON) and the fixed job id that deduplicates triggers.
LAST_TRAINING_KEY = f"{PREFIX}:training:last"
RETRAIN_JOB_ID = "retrain-digitnet"
RETRAIN_JOB = job_names.RETRAIN


def rate_limit_key(scope: str, client: str) -> str:
    return f"{PREFIX}:rate:{scope}:{client}"


NEW_CORRECTIONS_KEY = f"{PREFIX}:corrections:new-since-training"
SCHEDULER_HEARTBEAT_KEY = f"{PREFIX}:scheduler:heartbeat"


def bot_heartbeat_key(hostname: str) -> str:
    """The key the bot on `hostname` refreshes while it runs (defaults.HEARTBEAT_*)."""
    return f"{PREFIX}:heartbeat:bot:{hostname}"


def worker_info_key(worker_name: str) -> str:
    """Where a worker publishes its device (CPU/GPU) and model version."""
    return f"{PREFIX}:worker-info:{worker_name}"
