"""Logging set-up shared by every process: one line per event, and never the bot token.

httpx logs every request URL at INFO, and Bot API URLs contain the token, so httpx is quietened
and a filter on every handler redacts anything that looks like a token as a last line of defence.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import traceback
from types import TracebackType

from digitbot.settings import Settings

TOKEN_RE = re.compile(r"\d{5,12}:[A-Za-z0-9_-]{30,}")
REDACTED = "<redacted-token>"
NOISY_LOGGERS = ("httpx", "httpcore", "telegram.ext.Updater", "apscheduler")


def redact(text: str, secret: str | None = None) -> str:
    """Remove the bot token (given, or anything token-shaped) from a text."""
    if secret:
        text = text.replace(secret, REDACTED)
    return TOKEN_RE.sub(REDACTED, text)


class RedactTokenFilter(logging.Filter):
    """Rewrites every record so that no token-shaped string reaches a handler."""

    def __init__(self, secret: str | None = None) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secret)
        if record.exc_info and record.exc_info[1] is not None:
            # Exceptions from HTTP clients carry the URL; format them now, redacted.
            formatted = logging.Formatter().formatException(record.exc_info)
            cleaned = f"{cleaned}\n{redact(formatted, self.secret)}"
            record.exc_info = None
            record.exc_text = None
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        return True


def configure_logging(
    component: str, *, level: str | None = None, settings: Settings | None = None
) -> None:
    """Log to stderr, one line per event, prefixed with the component name. The level (unless
    given) and the token to redact come from `settings`, by default the environment's."""
    settings = settings if settings is not None else Settings.from_env()
    level_name = (level or settings.log_level).upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(
            f"%(asctime)s %(levelname)s {component}[%(process)d] %(name)s: %(message)s"
        )
    )
    handler.addFilter(RedactTokenFilter(settings.telegram_token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level_name)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    sys.excepthook = functools.partial(redacting_excepthook, secret=settings.telegram_token)


def redacting_excepthook(
    exc_type: type[BaseException],
    exc: BaseException,
    tb: TracebackType | None,
    *,
    secret: str | None = None,
) -> None:
    """Print an uncaught exception without the token (some libraries put it in messages)."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(redact(text, secret))
