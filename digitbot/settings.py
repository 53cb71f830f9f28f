"""One settings object, read from the environment once.

The bot token is a secret: it is kept out of `repr`, never logged, and a missing or placeholder
value fails fast with a message that names the variable to set. So is a password in REDIS_URL:
`redis_url` stays out of `repr`, and `redis_url_for_display` shows it without the password.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from digitbot import defaults
from digitbot.errors import ConfigurationError

TOKEN_PATTERN = re.compile(r"^\d{5,12}:[A-Za-z0-9_-]{30,}$")
PLACEHOLDER_TOKENS = {"", "changeme", "change-me", "your-token", "token", "xxx", "TODO"}
ALLOW_UNAUTHENTICATED_REDIS = "DIGITBOT_ALLOW_UNAUTHENTICATED_REDIS"
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    telegram_token: str | None = field(default=None, repr=False)
    telegram_api_url: str = defaults.DEFAULT_TELEGRAM_API_URL
    telegram_file_api_url: str = defaults.DEFAULT_TELEGRAM_FILE_API_URL
    redis_url: str | None = field(default=None, repr=False)  # may hold the Redis password
    admin_ids: frozenset[int] = frozenset()
    home: Path = Path.home() / ".digitbot"
    max_queue_depth: int = 2000
    photos_per_user_per_minute: int = defaults.PHOTOS_PER_USER_PER_MINUTE
    allow_unauthenticated_redis: bool = False

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
            allow_unauthenticated_redis=parse_flag(
                ALLOW_UNAUTHENTICATED_REDIS, env.get(ALLOW_UNAUTHENTICATED_REDIS, "")
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

    def require_worker_redis_url(self) -> str:
        """REDIS_URL for a worker: refused when it is a Redis off this host without a password,
        since whoever reaches that Redis could queue jobs for the worker to run."""
        url = self.require_redis_url()
        refuse_unauthenticated_remote(url, allowed=self.allow_unauthenticated_redis)
        return url

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids


def parse_flag(name: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigurationError(f"{name} must be 1 or 0, got {raw!r}.")


def is_unauthenticated_remote(url: str) -> bool:
    """True for a password-less Redis reached over the network (not loopback, not a socket)."""
    try:
        options = redis.connection.parse_url(url)
    except ValueError as exc:
        raise ConfigurationError(f"REDIS_URL is not a Redis URL: {exc}") from None
    if options.get("password") or "path" in options:
        return False
    host = str(options.get("host") or "localhost")
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True  # a host name: not resolved here, so not trusted to be loopback


def refuse_unauthenticated_remote(url: str, *, allowed: bool) -> None:
    """Raise unless `url` has a password, is on this host, or the operator `allowed` it."""
    if allowed or not is_unauthenticated_remote(url):
        return
    host = urlsplit(url).hostname or "?"
    raise ConfigurationError(
        f"REDIS_URL points at {host}, off this host, with no password. Put one in it "
        f"(redis://:PASSWORD@host:6379/0), or set {ALLOW_UNAUTHENTICATED_REDIS}=1 if only "
        "trusted machines can reach that Redis."
    )


def redis_url_for_display(url: str) -> str:
    """The URL with its password (if any) replaced, for logs and banners."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, True)
    if parts.password is None and all(k != "password" for k, _ in query):
        return url
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    hidden = [(k, "***" if k == "password" else v) for k, v in query]
    return urlunsplit(parts._replace(query=urlencode(hidden, safe="*")))


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
