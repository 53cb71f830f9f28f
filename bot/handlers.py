"""Telegram update handlers: small async functions, one per kind of message.

The bot only receives, validates and enqueues; workers answer photos. Resources (the Redis
connection and the photo intake) live in `context.bot_data`, opened in `post_init`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from typing import Any

import redis
from rq import Queue
from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot import albums
from bot.chat_locks import ChatLocks
from bot.context import CHAT_LOCKS, INTAKE, SETTINGS
from bot.feedback_handlers import on_typed_correction
from bot.update_journal import defer
from digitbot import buttons, defaults, texts
from digitbot.albums import AlbumMember
from digitbot.errors import BadImageError
from digitbot.intake import Outcome, PhotoIntake
from digitbot.payload import Source
from digitbot.registry import ModelRegistry
from digitbot.retrain import TriggerOutcome, request_retraining
from digitbot.settings import Settings
from reading.decode import probe_image

log = logging.getLogger(__name__)

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet the user and say what to send."""
    await _reply(update, texts.START)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what to send, with an example; admins also get their commands."""
    settings: Settings = context.bot_data[SETTINGS]
    user = update.effective_user
    admin = settings.is_admin(user.id if user else None)
    await _reply(update, texts.HELP + (texts.ADMIN_HELP if admin else ""))


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell which model answers, how accurate it is, and how many photos wait."""
    intake: PhotoIntake = context.bot_data[INTAKE]
    model_line = await asyncio.to_thread(_model_summary, intake.connection)
    try:
        depth = await asyncio.to_thread(_queue_depths, intake.connection)
        queue_line = texts.STATS_QUEUES.format(photos=depth[0], training=depth[1])
    except REDIS_ERRORS:
        queue_line = texts.STATS_QUEUES_DOWN
    await _reply(update, f"{model_line}\n{queue_line}")


async def retrain(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Queue a retraining (admins only); the training job reports progress to this chat."""
    settings: Settings = context.bot_data[SETTINGS]
    user = update.effective_user
    if not settings.is_admin(user.id if user else None):
        await _reply(update, texts.RETRAIN_REFUSED)
        return
    intake: PhotoIntake = context.bot_data[INTAKE]
    chat_id = update.effective_chat.id if update.effective_chat else 0
    try:
        trigger = await asyncio.to_thread(
            request_retraining, intake.connection, requested_by="bot", chat_id=chat_id
        )
    except REDIS_ERRORS:
        await _reply(update, texts.QUEUE_DOWN)
        return
    if trigger.outcome is TriggerOutcome.QUEUED:
        await _reply(update, texts.RETRAIN_QUEUED)
    else:
        await _reply(update, texts.RETRAIN_ALREADY.format(status=trigger.status))


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take the largest size of a photo and enqueue it (or add it to its album)."""
    message = update.effective_message
    assert message is not None and message.photo
    albums.note_message(context, message)
    photo = message.photo[-1]
    await _accept(update, context, photo.file_id, photo.file_size, "telegram-photo")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Take a file sent as a document if Pillow can read it, whatever its declared type."""
    message = update.effective_message
    assert message is not None and message.document
    albums.note_message(context, message)
    document = message.document
    await _accept(update, context, document.file_id, document.file_size, "telegram-document")


async def on_sticker(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers are not handwriting."""
    albums.note_message(context, update.effective_message)
    await _reply(update, texts.STICKER)


async def on_media(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Voice, audio, video and animations cannot be read."""
    albums.note_message(context, update.effective_message)
    await _reply(update, texts.MEDIA)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Typed text: a correction (a number in reply to an answer, or asked for), else explain
    that a photo is needed."""
    albums.note_message(context, update.effective_message)
    if await on_typed_correction(update, context):
        return
    await _reply(update, texts.TEXT_INSTEAD_OF_PHOTO)


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Point to /help."""
    await _reply(update, texts.UNKNOWN_COMMAND)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Anything else (locations, contacts, polls…)."""
    albums.note_message(context, update.effective_message)
    if update.effective_message is not None:
        await _reply(update, texts.OTHER)


async def on_explain(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "how I read it" button: enqueue the explanation picture."""
    query = update.callback_query
    assert query is not None
    press = buttons.parse_callback_data(query.data)
    assert press is not None  # the handler's pattern (bot.app) passes only explain presses
    request_id = press.target
    intake: PhotoIntake = context.bot_data[INTAKE]
    message = query.message
    if message is None:  # too old for Telegram to show us: its photo is long deleted
        await query.answer(texts.EXPLAIN_EXPIRED, show_alert=True)
        return
    try:
        queued = await asyncio.to_thread(
            intake.request_explanation,
            request_id,
            chat_id=message.chat.id,
            reply_to_message_id=message.message_id,
        )
    except REDIS_ERRORS:
        await query.answer(texts.QUEUE_DOWN, show_alert=True)
        return
    await query.answer(texts.EXPLAINING if queued else texts.EXPLAIN_PENDING)


async def on_unknown_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A button whose data no handler takes (malformed, or forged): say it no longer works,
    rather than leave the user's button spinning."""
    query = update.callback_query
    if query is not None:
        await query.answer(texts.UNKNOWN_BUTTON, show_alert=True)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error (the log filter removes the token) and tell the user if we can."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        with contextlib.suppress(TelegramError):
            await _reply(update, texts.INTERNAL_ERROR)


async def _accept(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    file_id: str,
    declared_size: int | None,
    source: Source,
) -> None:
    """Enqueue a file in turn with the chat's earlier ones; reply only when it is refused (a
    worker answers the rest). A photo of an album waits for the album (bot.albums)."""
    message = update.effective_message
    assert message is not None
    if message.media_group_id:
        await albums.take_album_photo(
            update,
            context,
            lambda: _store_album_photo(update, context, file_id, declared_size, source),
        )
        return
    chat_locks: ChatLocks = context.bot_data[CHAT_LOCKS]
    # Asked for before the first await, so a chat's photos line up in the order they came.
    async with chat_locks.hold(message.chat_id):
        refusal = await _enqueue(update, context, file_id, declared_size, source)
    if refusal is not None:
        await _reply(update, refusal)


async def _enqueue(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    file_id: str,
    declared_size: int | None,
    source: Source,
) -> str | None:
    """Download, check and enqueue the file; the message for the user when it is refused."""
    message = update.effective_message
    assert message is not None
    data = await _fetch(update, context, file_id, declared_size)
    if not isinstance(data, bytes):
        return data
    intake: PhotoIntake = context.bot_data[INTAKE]
    user_id = update.effective_user.id if update.effective_user else None
    try:
        submission = await asyncio.to_thread(
            intake.submit,
            data,
            source=source,
            chat_id=message.chat_id,
            message_id=message.message_id,
            user_id=user_id,
        )
    except REDIS_ERRORS as exc:
        log.warning("Redis unreachable; message %s refused: %s", message.message_id, exc)
        return texts.QUEUE_DOWN
    if submission.outcome is Outcome.BUSY:
        return texts.BUSY
    if submission.outcome is Outcome.RATE_LIMITED:
        return texts.SLOW_DOWN
    log.info("message %s: %s as job %s", message.message_id, submission.outcome, submission.job_id)
    return None


async def _store_album_photo(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    file_id: str,
    declared_size: int | None,
    source: Source,
) -> AlbumMember | None:
    """Download, check and store a photo of an album: it or why it was refused, as a member of
    the album; None when its update was deferred."""
    message = update.effective_message
    assert message is not None
    data = await _fetch(update, context, file_id, declared_size)
    if data is None or isinstance(data, str):
        return None if data is None else AlbumMember(message.message_id, refusal=data)
    intake: PhotoIntake = context.bot_data[INTAKE]
    user_id = update.effective_user.id if update.effective_user else None
    stored = await asyncio.to_thread(
        intake.store,
        data,
        source=source,
        chat_id=message.chat_id,
        message_id=message.message_id,
        user_id=user_id,
    )
    if isinstance(stored, Outcome):
        refusal = texts.SLOW_DOWN if stored is Outcome.RATE_LIMITED else texts.BUSY
        return AlbumMember(message.message_id, refusal=refusal)
    return AlbumMember(message.message_id, request=stored)


async def _fetch(
    update: Update, context: ContextTypes.DEFAULT_TYPE, file_id: str, declared_size: int | None
) -> bytes | str | None:
    """The file's bytes once they are known to be an image; else the message for the user, or
    None when the download failed for a passing reason and the update is handled again later."""
    message = update.effective_message
    assert message is not None
    if declared_size is not None and declared_size > defaults.MAX_DOWNLOAD_BYTES:
        return texts.TELEGRAM_FILE_TOO_LARGE
    context.application.create_task(_acknowledge(context, message.chat_id))
    try:
        data = await _download(context, file_id)
    except TelegramError as exc:
        log.warning("download of message %s failed: %s", message.message_id, exc)
        if _passing(exc) and defer(context, update):  # the Bot API fails now: fetch it later
            return None
        too_big = "too big" in str(exc).lower()
        return texts.TELEGRAM_FILE_TOO_LARGE if too_big else texts.DOWNLOAD_FAILED
    try:
        probe_image(data)
    except BadImageError as exc:
        log.info("message %s: not a readable image: %s", message.message_id, exc)
        return exc.user_message
    return data


async def _download(context: ContextTypes.DEFAULT_TYPE, file_id: str) -> bytes:
    """getFile + download, retried on flood control (429) and network errors, a few times."""
    for attempt in range(1, defaults.TELEGRAM_DOWNLOAD_ATTEMPTS + 1):
        try:
            tg_file = await context.bot.get_file(file_id)
            return bytes(await tg_file.download_as_bytearray())
        except RetryAfter as exc:
            if attempt == defaults.TELEGRAM_DOWNLOAD_ATTEMPTS:
                raise
            wait = min(_seconds(exc.retry_after), defaults.TELEGRAM_MAX_RETRY_AFTER_SECONDS)
            await asyncio.sleep(wait)
        except BadRequest:  # e.g. "file is too big": final
            raise
        except NetworkError:  # includes TimedOut and 5xx answers
            if attempt == defaults.TELEGRAM_DOWNLOAD_ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def _passing(exc: TelegramError) -> bool:
    """True for a failure a later try may not meet: flood control, network errors, 5xx."""
    return isinstance(exc, RetryAfter) or (
        isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
    )


def _seconds(value: object) -> float:
    """retry_after is an int, or a timedelta with PTB_TIMEDELTA=true."""
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)  # type: ignore[arg-type]


async def _acknowledge(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> None:
    """Show "typing…" while the photo is read; a failure here must not stop anything."""
    try:
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)
    except TelegramError as exc:
        log.debug("chat action failed: %s", exc)


async def _reply(update: Update, text: str) -> Message | None:
    message = update.effective_message
    if message is None:
        return None
    return await message.reply_text(text, do_quote=True)


def _queue_depths(connection: redis.Redis) -> tuple[int, int]:
    recognition = Queue(defaults.QUEUE_RECOGNITION, connection=connection)
    training = Queue(defaults.QUEUE_TRAINING, connection=connection)
    return recognition.count, training.count


def _model_summary(connection: redis.Redis) -> str:
    """The champion that answers now: the registry's, or the shipped model before any worker
    has published it."""
    meta = _champion_metadata(connection)
    if not meta:
        return texts.STATS_NO_MODEL
    accuracy = meta.get("test_accuracy")
    acc_text = (
        texts.STATS_MODEL_ACCURACY.format(percent=100 * float(accuracy))
        if accuracy
        else texts.STATS_ACCURACY_UNKNOWN
    )
    return texts.STATS_MODEL.format(
        version=meta.get("version", "unknown"), arch=meta.get("arch", "?"), accuracy=acc_text
    )


def _champion_metadata(connection: redis.Redis) -> dict[str, Any]:
    try:
        champion = ModelRegistry(connection).champion()
    except REDIS_ERRORS:
        champion = None
    if champion is not None:
        return champion.metadata
    try:
        text = (resources.files("digitbot") / "models" / "champion.json").read_text()
    except (FileNotFoundError, OSError):
        return {}
    data = json.loads(text)
    return data if isinstance(data, dict) else {}
