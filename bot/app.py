"""The digitbot Telegram bot: receives photos, validates them and enqueues them for workers.

Run it with `digitbot bot` (needs TELEGRAM_BOT_TOKEN and REDIS_URL). It never imports TensorFlow
and starts in about a second; workers do the reading and answer the user themselves. Every update
it fetches is recorded in Redis before Telegram is told it arrived (bot.update_journal), so a bot
killed at any moment loses no photo: on start it handles what it took in and had not finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import InvalidToken
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import feedback_handlers, handlers
from bot.chat_locks import ChatLocks
from bot.context import CHAT_LOCKS, HEARTBEAT_TASK, INTAKE, SETTINGS, UPDATE_JOURNAL
from bot.update_journal import JournalledApplication, RecordingRequest, UpdateJournal, replay
from digitbot import buttons, defaults, keys
from digitbot.buttons import Action
from digitbot.errors import ConfigurationError
from digitbot.intake import PhotoIntake
from digitbot.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "what this bot does"),
    BotCommand("help", "how to photograph a digit"),
    BotCommand("stats", "which model answers, queue depth"),
    BotCommand("privacy", "what I keep, and for how long"),
    BotCommand("forget", "delete everything I kept from you"),
]
# Shown only in the chats of DIGITBOT_ADMIN_IDS (a private chat's id is the user's id).
ADMIN_COMMANDS = [
    BotCommand("retrain", "train a new model now"),
    BotCommand("feedback", "corrections, outcomes, accuracy on corrections"),
    BotCommand("review", "corrections held for review"),
    BotCommand("exclude", "keep a user's samples out of training"),
    BotCommand("include", "let an excluded user's samples back in"),
]


async def _set_command_menus(application: Application, settings: Settings) -> None:
    """Everyone's menu, and the operators' longer one in each operator's chat. Cosmetic: the
    bot works without them, so a failure is only logged."""
    menus = [(COMMANDS, None)] + [
        (COMMANDS + ADMIN_COMMANDS, BotCommandScopeChat(admin))
        for admin in sorted(settings.admin_ids)
    ]
    for commands, scope in menus:
        try:
            await application.bot.set_my_commands(commands, scope=scope)
        except Exception as exc:
            where = "everyone" if scope is None else "an operator's chat"
            log.warning("could not set the command menu for %s: %s", where, exc)


def build_application(settings: Settings) -> Application:
    """Build the Application with every handler registered; resources open in post_init."""
    token = settings.require_token()
    connection = redis.Redis.from_url(
        settings.require_redis_url(),
        socket_connect_timeout=1,
        socket_timeout=3,
        health_check_interval=10,
    )  # connects on first use
    journal = UpdateJournal(connection, retry_waits=settings.delivery_retry_seconds)

    async def post_init(application: Application) -> None:
        journal.bot_id = application.bot.id  # known from getMe by now
        application.bot_data[UPDATE_JOURNAL] = journal
        application.bot_data[SETTINGS] = settings
        application.bot_data[INTAKE] = PhotoIntake(
            connection,
            max_queue_depth=settings.max_queue_depth,
            per_user_per_minute=settings.photos_per_user_per_minute,
            bot_id=application.bot.id,  # known from getMe by now
        )
        application.bot_data[CHAT_LOCKS] = ChatLocks()
        await _set_command_menus(application, settings)
        application.bot_data[HEARTBEAT_TASK] = asyncio.create_task(_heartbeat(connection))
        await replay(application, journal)  # handled once polling starts
        log.info("bot @%s ready", application.bot.username)

    async def post_shutdown(application: Application) -> None:
        journal.cancel_waits()  # deferred updates stay in the journal for the next start
        task: asyncio.Task[None] | None = application.bot_data.get(HEARTBEAT_TASK)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        intake: PhotoIntake | None = application.bot_data.get(INTAKE)
        if intake is not None:
            intake.connection.close()

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_api_url)
        .concurrent_updates(True)
        .application_class(JournalledApplication)
        .get_updates_request(RecordingRequest(journal, connection_pool_size=1))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    add_handlers(application)
    return application


def add_handlers(application: Application) -> None:
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help_command))
    application.add_handler(CommandHandler("stats", handlers.stats))
    application.add_handler(CommandHandler("retrain", handlers.retrain))
    application.add_handler(
        CallbackQueryHandler(handlers.on_explain, pattern=buttons.matches(Action.EXPLAIN))
    )
    application.add_handler(
        CallbackQueryHandler(
            feedback_handlers.on_feedback_button,
            pattern=buttons.matches(*buttons.FEEDBACK_ACTIONS),
        )
    )
    application.add_handler(
        CallbackQueryHandler(
            feedback_handlers.on_review_button, pattern=buttons.matches(Action.REVIEW)
        )
    )
    application.add_handler(CallbackQueryHandler(handlers.on_unknown_button))
    application.add_handler(CommandHandler("forget", feedback_handlers.forget))
    application.add_handler(CommandHandler("privacy", feedback_handlers.privacy))
    application.add_handler(CommandHandler("feedback", feedback_handlers.feedback_summary))
    application.add_handler(CommandHandler("review", feedback_handlers.review))
    application.add_handler(CommandHandler("exclude", feedback_handlers.exclude))
    application.add_handler(CommandHandler("include", feedback_handlers.include))
    application.add_handler(MessageHandler(filters.PHOTO, handlers.on_photo))
    application.add_handler(MessageHandler(filters.Sticker.ALL, handlers.on_sticker))
    media = filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE | filters.ANIMATION
    application.add_handler(MessageHandler(media, handlers.on_media))
    application.add_handler(MessageHandler(filters.Document.ALL, handlers.on_document))
    application.add_handler(MessageHandler(filters.COMMAND, handlers.on_unknown_command))
    application.add_handler(MessageHandler(filters.TEXT, handlers.on_text))
    application.add_handler(MessageHandler(filters.ALL, handlers.on_other))
    application.add_error_handler(handlers.on_error)


@dataclass(frozen=True)
class WebhookOptions:
    """Webhook mode: Telegram POSTs updates to `url`, which a reverse proxy forwards to
    `listen:port`; the secret token proves a request comes from Telegram."""

    url: str
    listen: str = "127.0.0.1"
    port: int = 8443
    secret_token: str = ""

    @classmethod
    def from_args(cls, url: str, listen: str, port: int, *, secret: str | None) -> WebhookOptions:
        """`secret` is Settings.webhook_secret, which checked its characters and length."""
        secret = secret or ""
        if len(secret) < 16 or not secret.replace("_", "").replace("-", "").isalnum():
            raise ConfigurationError(
                "webhook mode needs DIGITBOT_WEBHOOK_SECRET: 16 to 256 characters of A-Z, a-z, "
                "0-9, _ and -. Telegram sends it with every update so forged ones are refused."
            )
        return cls(url=url, listen=listen, port=port, secret_token=secret)


def run(settings: Settings, webhook: WebhookOptions | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM: long polling, or a webhook server when asked."""
    application = build_application(settings)
    try:
        return _serve(application, webhook)
    except InvalidToken:
        # PTB's message contains the token itself: say what is wrong without it.
        raise ConfigurationError(
            "Telegram refused TELEGRAM_BOT_TOKEN (revoked or mistyped). Get the current token "
            "from @BotFather and set TELEGRAM_BOT_TOKEN again."
        ) from None


def _serve(application: Application, webhook: WebhookOptions | None) -> int:
    if webhook is None:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
        return 0
    path = urlsplit(webhook.url).path.lstrip("/")
    log.info("webhook mode: listening on %s:%d/%s", webhook.listen, webhook.port, path)
    application.run_webhook(
        listen=webhook.listen,
        port=webhook.port,
        url_path=path,
        webhook_url=webhook.url,
        secret_token=webhook.secret_token,
        allowed_updates=Update.ALL_TYPES,
    )
    return 0


async def _heartbeat(connection: redis.Redis) -> None:
    """Refresh a key that health checks read; Redis being down must not stop the bot."""
    key = keys.bot_heartbeat_key(socket.gethostname())
    while True:
        with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            await asyncio.to_thread(
                connection.set, key, str(os.getpid()), ex=defaults.HEARTBEAT_TTL_SECONDS
            )
        await asyncio.sleep(defaults.HEARTBEAT_SECONDS)
