"""One settings object, read from the environment once.

The bot token is a secret: it is kept out of `repr`, never logged, and a missing or placeholder
value fails fast with a message that names the variable to set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from digitbot import defaults
from digitbot.errors import ConfigurationError

TOKEN_PATTERN = re.compile(r"^\d{5,12}:[A-Za-z0-9_-]{30,}$")
PLACEHOLDER_TOKENS = {"", "changeme", "change-me", "your-token", "token", "xxx", "TODO"}


@dataclass(frozen=True)
class Settings:
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = defaults.DEFAULT_TELEGRAM_API_URL
    telegram_file_api_url: str = defaults.DEFAULT_TELEGRAM_FILE_API_URL
    redis_url: str | None = None
    admin_ids: frozenset[int] = frozenset()
    home: Path = Path.home() / ".digitbot"
    max_queue_depth: int = 2000
    photos_per_user_per_minute: int = defaults.PHOTOS_PER_USER_PER_MINUTE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        token = env.get("TELEGRAM_BOT_TOKEN", "").strip() or None
        return cls(
            telegram_token=token,
            telegram_api_url=env.get("TELEGRAM_API_URL", defaults.DEFAULT_TELEGRAM_API_URL),
            telegram_file_api_url=env.get(
                "TELEGRAM_FILE_API_URL", defaults.DEFAULT_TELEGRAM_FILE_API_URL
            ),
            redis_url=env.get("REDIS_URL", "").strip() or None,
            admin_ids=parse_admin_ids(env.get("DIGITBOT_ADMIN_IDS", "")),
            home=Path(env.get("DIGITBOT_HOME", "") or Path.home() / ".digitbot"),
            max_queue_depth=int(env.get("DIGITBOT_MAX_QUEUE_DEPTH", "2000")),
            photos_per_user_per_minute=int(
                env.get("DIGITBOT_PHOTOS_PER_USER_PER_MINUTE", defaults.PHOTOS_PER_USER_PER_MINUTE)
            ),
        )

    def require_token(self) -> str:
        """Return the bot token, or fail with a message that says how to set it."""
        token = self.telegram_token
        if token is None or token in PLACEHOLDER_TOKENS:
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather and export "
                "TELEGRAM_BOT_TOKEN=<the token it gives you>."
            )
        if not TOKEN_PATTERN.match(token):
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (expected "
                "'<digits>:<35 letters, digits, _ or ->'). Check the value @BotFather gave you."
            )
        return token

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigurationError(
                "REDIS_URL is not set. Export REDIS_URL=redis://host:6379/0, or run "
                "`digitbot up`, which starts an embedded Redis."
            )
        return self.redis_url

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids


def parse_admin_ids(raw: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ConfigurationError(
                f"DIGITBOT_ADMIN_IDS must be comma-separated Telegram user ids, got {part!r}."
            )
        ids.add(int(part))
    return frozenset(ids)
