"""The web server's own settings, taken from digitbot.settings (which reads the environment).

Operator pages are protected by HTTP basic auth with one user and password from the environment.
The password is a secret: it is kept out of `repr` and never logged. Half a configuration (a
user without a password) or a placeholder password fails fast with a message naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from digitbot import defaults
from digitbot.errors import ConfigurationError
from digitbot.settings import Settings

USER_VARIABLE = "DIGITBOT_WEB_USER"
PASSWORD_VARIABLE = "DIGITBOT_WEB_PASSWORD"
RATE_VARIABLE = "DIGITBOT_WEB_RATE_PER_MINUTE"

# Wrong passwords allowed per client address per minute before logins are refused for a while.
DEFAULT_LOGIN_ATTEMPTS_PER_MINUTE = 20
MIN_PASSWORD_LENGTH = 8
PLACEHOLDER_PASSWORDS = frozenset(
    {"changeme", "change-me", "password", "admin", "secret", "12345678", "xxxxxxxx", "todo"}
)

HOW_TO_CONFIGURE = (
    f"Set {USER_VARIABLE} and {PASSWORD_VARIABLE} (at least {MIN_PASSWORD_LENGTH} characters) "
    "in the web server's environment to enable the operator pages."
)


@dataclass(frozen=True)
class WebConfig:
    operator_user: str | None = None
    operator_password: str | None = field(default=None, repr=False)
    rate_per_minute: int = defaults.WEB_UPLOADS_PER_MINUTE
    login_attempts_per_minute: int = DEFAULT_LOGIN_ATTEMPTS_PER_MINUTE
    # The reverse proxy's address ("*" for any): only its X-Forwarded-For names the client.
    # Without it, rate limits count by the peer address, which behind a proxy is the proxy.
    trusted_proxy: str | None = None

    def __post_init__(self) -> None:
        if bool(self.operator_user) != bool(self.operator_password):
            missing = PASSWORD_VARIABLE if self.operator_user else USER_VARIABLE
            raise ConfigurationError(
                f"{missing} is not set, but the other half of the operator login is. "
                + HOW_TO_CONFIGURE
            )
        password = self.operator_password
        if password is not None and (
            len(password) < MIN_PASSWORD_LENGTH or password.lower() in PLACEHOLDER_PASSWORDS
        ):
            raise ConfigurationError(
                f"{PASSWORD_VARIABLE} is too short or a placeholder. Choose a real password of "
                f"at least {MIN_PASSWORD_LENGTH} characters."
            )
        if self.rate_per_minute < 1:
            raise ConfigurationError(
                f"{RATE_VARIABLE} must be a positive number of uploads per minute, "
                f"got {self.rate_per_minute}."
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> WebConfig:
        return cls(
            operator_user=settings.web_user,
            operator_password=settings.web_password,
            rate_per_minute=settings.web_rate_per_minute,
            trusted_proxy=settings.web_trusted_proxy,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebConfig:
        """The web settings in `environ` (default: this process's environment)."""
        return cls.from_settings(Settings.from_env(environ))

    @property
    def has_operator_login(self) -> bool:
        return bool(self.operator_user and self.operator_password)
