"""The digitbot Telegram bot: receives photos, validates them and enqueues them for workers.

Run it with `digitbot bot` (needs TELEGRAM_BOT_TOKEN and REDIS_URL). It never imports TensorFlow
and starts in about a second; workers do the reading and answer the user themselves.
"""

from __future__ import annotations

import logging

import redis
from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import handlers
from bot.intake import PhotoIntake
from digitbot.settings import Settings

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "what this bot does"),
    BotCommand("help", "how to photograph a digit"),
    BotCommand("stats", "which model answers, queue depth"),
    BotCommand("retrain", "retrain the model (operators only)"),
]


def build_application(settings: Settings) -> Application:
    """Build the Application with every handler registered; resources open in post_init."""
    token = settings.require_token()
    redis_url = settings.require_redis_url()

    async def post_init(application: Application) -> None:
        connection = redis.Redis.from_url(
            redis_url, socket_connect_timeout=1, socket_timeout=3, health_check_interval=10
        )
        application.bot_data[handlers.SETTINGS] = settings
        application.bot_data[handlers.INTAKE] = PhotoIntake(
            connection, max_queue_depth=settings.max_queue_depth
        )
        try:
            await application.bot.set_my_commands(COMMANDS)
        except Exception as exc:  # cosmetic; the bot works without a command menu
            log.warning("could not set the command menu: %s", exc)
        log.info("bot @%s ready", application.bot.username)

    async def post_shutdown(application: Application) -> None:
        intake: PhotoIntake | None = application.bot_data.get(handlers.INTAKE)
        if intake is not None:
            intake.connection.close()

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram_api_url)
        .base_file_url(settings.telegram_file_api_url)
        .concurrent_updates(True)
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
    application.add_handler(CallbackQueryHandler(handlers.on_explain, pattern=r"^explain:"))
    application.add_handler(MessageHandler(filters.PHOTO, handlers.on_photo))
    application.add_handler(MessageHandler(filters.Sticker.ALL, handlers.on_sticker))
    media = filters.VOICE | filters.AUDIO | filters.VIDEO | filters.VIDEO_NOTE | filters.ANIMATION
    application.add_handler(MessageHandler(media, handlers.on_media))
    application.add_handler(MessageHandler(filters.Document.ALL, handlers.on_document))
    application.add_handler(MessageHandler(filters.COMMAND, handlers.on_unknown_command))
    application.add_handler(MessageHandler(filters.TEXT, handlers.on_text))
    application.add_handler(MessageHandler(filters.ALL, handlers.on_other))
    application.add_error_handler(handlers.on_error)


def run(settings: Settings) -> int:
    """Run the bot with long polling until SIGINT/SIGTERM."""
    application = build_application(settings)
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
