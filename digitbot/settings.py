"""One settings object: every environment variable digitbot reads, typed, validated, described.

`Settings.from_env()` reads them (an empty value counts as unset); `Settings(field=...)` takes
values as given and reads nothing, so tests say exactly what they set. A value digitbot cannot
use raises InvalidSettingError, one line naming the variable and what it expects, which the
command line prints as `digitbot <command>: ...` with exit status 2.

Secrets (the bot token, REDIS_URL, which may hold the Redis password, the webhook secret and the
operators' password) are kept out of `repr` and error messages and never logged; a missing or
placeholder token fails fast with a message that names the variable to set.

docs/configuration.md is this object as a table (digitbot/settings_doc.py).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from digitbot import defaults
from digitbot.errors import ConfigurationError
from digitbot.setting_fields import (
    REDIS_SCHEMES,
    CronExpression,
    HttpUrl,
    IdList,
    Level,
    Password,
    ProxyAddress,
    RedisUrl,
    SecondsList,
    describe_invalid,
    variable,
)

TOKEN_PATTERN = re.compile(r"^\d{5,12}:[A-Za-z0-9_-]{30,}$")
# Values left in from an example (compared without case, quotes or angle brackets); the last is
# the sample token in Telegram's own Bot API documentation.
PLACEHOLDER_TOKENS = frozenset(
    {"changeme", "change-me", "change_me", "replace-me", "your-token", "your-token-here",
     "your_token_here", "your-bot-token", "yourtoken", "token", "bot-token", "xxx", "todo",
     "none", "null", "123456:abc-def1234ghikl-zyx57w2v1u123ew11"}
)  # fmt: skip
ALLOW_UNAUTHENTICATED_REDIS = "DIGITBOT_ALLOW_UNAUTHENTICATED_REDIS"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, validate_by_name=True, str_strip_whitespace=True, use_attribute_docstrings=True
    )

    telegram_token: str | None = variable("TELEGRAM_BOT_TOKEN", secret=True)
    """The bot's token from @BotFather; a placeholder is refused at start."""
    telegram_api_url: HttpUrl = variable(
        "TELEGRAM_API_URL", defaults.DEFAULT_TELEGRAM_API_URL, kind="http(s) URL"
    )
    """Bot API base (python-telegram-bot's `base_url`); workers reply through it too."""
    telegram_file_api_url: HttpUrl = variable(
        "TELEGRAM_FILE_API_URL", defaults.DEFAULT_TELEGRAM_FILE_API_URL, kind="http(s) URL"
    )
    """Bot API file download base (`base_file_url`)."""
    redis_url: RedisUrl | None = variable(
        "REDIS_URL", kind="Redis URL", shown_default="— (`digitbot up` starts its own)", secret=True
    )
    """The one Redis every process shares; may hold its password."""
    allow_unauthenticated_redis: bool = variable(ALLOW_UNAUTHENTICATED_REDIS, False)
    """1 lets a worker use a Redis off this host that has no password (anyone who reaches such a
    Redis can queue jobs); without it the worker refuses to start."""
    admin_ids: IdList = variable(
        "DIGITBOT_ADMIN_IDS", frozenset(), kind="comma-separated Telegram user ids"
    )
    """Telegram users allowed to retrain, review and see feedback."""
    home: Path = variable(
        "DIGITBOT_HOME", factory=lambda: Path.home() / ".digitbot", shown_default="`~/.digitbot`"
    )
    """Datasets, models, training reports, the embedded Redis' data."""
    max_queue_depth: int = variable("DIGITBOT_MAX_QUEUE_DEPTH", defaults.MAX_QUEUE_DEPTH, ge=1)
    """Photos waiting above which the bot answers "busy, try again in a minute"."""
    photos_per_user_per_minute: int = variable(
        "DIGITBOT_PHOTOS_PER_USER_PER_MINUTE", defaults.PHOTOS_PER_USER_PER_MINUTE, ge=1
    )
    """Photos one Telegram user may send per minute before being asked to slow down."""
    album_wait_seconds: float = variable(
        "DIGITBOT_ALBUM_WAIT_SECONDS", defaults.ALBUM_WAIT_SECONDS, kind="seconds", ge=0
    )
    """Photos sent as one album get one answer once no photo of it came for this long (or at
    once when the chat sends anything else); a photo sent alone never waits."""
    webhook_secret: str | None = variable(
        "DIGITBOT_WEBHOOK_SECRET",
        kind="16 to 256 characters of A-Z, a-z, 0-9, _ and -",
        secret=True,
        pattern=r"^[A-Za-z0-9_-]{16,256}$",
    )
    """Webhook mode (`digitbot bot --webhook`, which needs it): Telegram sends it with every
    update, so forged ones are refused."""
    delivery_retry_seconds: SecondsList = variable(
        "DIGITBOT_DELIVERY_RETRY_SECONDS",
        defaults.DELIVERY_RETRY_SECONDS,
        kind="comma-separated seconds",
        shown_default="`"
        + ",".join(str(s) for s in defaults.DELIVERY_RETRY_SECONDS)
        + f"` ({sum(defaults.DELIVERY_RETRY_SECONDS) // 60} minutes in all)",
    )
    """Waits before each new try to send an answer the Bot API could not take (it was down or
    failing); the bot waits the same way to fetch again a photo whose download failed so."""
    model_path: Path | None = variable("DIGITBOT_MODEL_PATH", shown_default="the shipped model")
    """A `.keras` file workers and `digitbot predict` use instead of the shipped model."""
    compute_threads: int = variable("DIGITBOT_COMPUTE_THREADS", defaults.COMPUTE_THREADS, ge=1)
    """Compute threads of each recognition worker process (OMP_NUM_THREADS and TensorFlow's
    pools, unless those are set); scale with worker processes instead."""
    retrain_cron: CronExpression = variable(
        "DIGITBOT_RETRAIN_CRON", defaults.RETRAIN_CRON, kind="cron expression"
    )
    """When the scheduler queues a retraining, in server time: 5 fields (minute hour
    day-of-month month day-of-week, `MON` and `JAN` allowed) or `@daily`, `@weekly`, ..."""
    retrain_epochs: int = variable(
        "DIGITBOT_RETRAIN_EPOCHS", 0, shown_default="`0` (the architecture's)", ge=0
    )
    """Epochs of a retraining run; 0: the architecture's own."""
    retrain_photo_digits: int = variable(
        "DIGITBOT_RETRAIN_PHOTO_DIGITS", defaults.RETRAIN_PHOTO_DIGITS, ge=0
    )
    """Photos of MNIST training digits rendered and read back for a retraining (0: none)."""
    retrain_photo_negatives: int = variable(
        "DIGITBOT_RETRAIN_PHOTO_NEGATIVES", defaults.RETRAIN_PHOTO_NEGATIVES, ge=0
    )
    """Photos with no digit, for the "not a digit" class (0: none; the model then has 10
    classes)."""
    retrain_photo_low_resolution: int = variable(
        "DIGITBOT_RETRAIN_PHOTO_LOW_RESOLUTION", defaults.RETRAIN_PHOTO_LOW_RESOLUTION, ge=0
    )
    """More photos of digits first brought down to 8×8, so blurred or small digits read right."""
    retrain_photo_styled: int = variable(
        "DIGITBOT_RETRAIN_PHOTO_STYLED", defaults.RETRAIN_PHOTO_STYLED, ge=0
    )
    """Photos of 1s and 7s written the continental way (flag, foot, bar)."""
    retrain_placed_digits: int = variable(
        "DIGITBOT_RETRAIN_PLACED_DIGITS", defaults.RETRAIN_PLACED_DIGITS, ge=0
    )
    """Pictures of MNIST training digits placed as they are: enlarged, blurred, tilted, tiny,
    either polarity (training.placed_digits)."""
    retrain_placed_negatives: int = variable(
        "DIGITBOT_RETRAIN_PLACED_NEGATIVES", defaults.RETRAIN_PLACED_NEGATIVES, ge=0
    )
    """Pictures of non-digits and of no mark, made the same way as the placed digits."""
    gate_photos: int = variable("DIGITBOT_GATE_PHOTOS", defaults.GATE_PHOTOS_PER_SET, ge=0)
    """Photos per set the promotion gates render to compare a candidate with the champion (0:
    MNIST and corrections only)."""
    web_user: str | None = variable("DIGITBOT_WEB_USER")
    """Operators' login for `/status`, `/rq`, `/metrics` and retraining on the web page; without
    it (and the password) those pages are refused, and the server refuses a non-loopback
    address."""
    web_password: Password | None = variable("DIGITBOT_WEB_PASSWORD", secret=True)
    """The operators' password, at least 8 characters and no placeholder."""
    web_rate_per_minute: int = variable(
        "DIGITBOT_WEB_RATE_PER_MINUTE", defaults.WEB_UPLOADS_PER_MINUTE, ge=1
    )
    """Uploads per client per minute on the web page."""
    web_trusted_proxy: ProxyAddress | None = variable(
        "DIGITBOT_WEB_TRUSTED_PROXY", kind="IP address, `localhost` or `*`"
    )
    """The reverse proxy's address (`*`: any): only its X-Forwarded-For names the client, so
    rate limits count visitors, not the proxy."""
    log_level: Level = variable("DIGITBOT_LOG_LEVEL", "INFO")
    """Least severe log events written to stderr."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment only through from_env

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ` (default: this process's environment)."""
        source = EnvironmentSource(cls, os.environ if environ is None else environ)
        try:
            return cls(**source())
        except ValidationError as exc:
            raise describe_invalid(cls, exc) from None

    def require_token(self) -> str:
        """Return the bot token, or fail with a message that says how to set it."""
        token = self.telegram_token
        if not token:
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather and export "
                "TELEGRAM_BOT_TOKEN=<the token it gives you>."
            )
        if is_placeholder_token(token):
            raise ConfigurationError(
                "TELEGRAM_BOT_TOKEN is a placeholder, not a bot token. Create a bot with "
                "@BotFather and export TELEGRAM_BOT_TOKEN=<the token it gives you> (or unset it "
                "to run `digitbot up` without the bot)."
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


class EnvironmentSource(PydanticBaseSettingsSource):
    """Each setting from its variable in `environ`; a blank value counts as unset."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        name = field.alias or field_name
        value = self.environ.get(name, "")
        return (value if value.strip() else None), name, False

    def __call__(self) -> dict[str, Any]:
        found = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, name, _ = self.get_field_value(field, field_name)
            if value is not None:
                found[name] = value
        return found


def is_placeholder_token(token: str) -> bool:
    """True for an example value (PLACEHOLDER_TOKENS, `<...>`, all x's), never a real token."""
    word = token.strip().strip("'\"").lower()
    if word.startswith("<") and word.endswith(">"):
        return True
    return word in PLACEHOLDER_TOKENS or (len(word) > 0 and set(word) <= set("x*."))


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


def is_unauthenticated_remote(url: str) -> bool:
    """True for a password-less Redis reached over the network (not loopback, not a socket)."""
    # Read the way redis-py's `from_url` reads it, without importing redis: the reading library
    # imports these settings, and it stays clear of Redis (docs/architecture.md).
    try:
        parts = urlsplit(url)
        password = parts.password or dict(parse_qsl(parts.query)).get("password")
        host = parts.hostname or "localhost"
    except ValueError as exc:
        raise ConfigurationError(f"REDIS_URL is not a Redis URL: {exc}") from None
    if parts.scheme not in REDIS_SCHEMES:
        raise ConfigurationError(
            "REDIS_URL is not a Redis URL: expected redis://, rediss:// or unix://"
        )
    if password or parts.scheme == "unix" or host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a host name: not resolved here, so not trusted to be loopback


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
