"""The web server's own settings, read from the environment once.

Operator pages are protected by HTTP basic auth with one user and password from the environment.
The password is a secret: it is kept out of `repr` and never logged. Half a configuration (a
user without a password) or a placeholder password fails fast with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from digitbot.errors import ConfigurationError

USER_VARIABLE = "DIGITBOT_WEB_USER"
PASSWORD_VARIABLE = "DIGITBOT_WEB_PASSWORD"
RATE_VARIABLE = "DIGITBOT_WEB_RATE_PER_MINUTE"
TRUSTED_PROXY_VARIABLE = "DIGITBOT_WEB_TRUSTED_PROXY"

DEFAULT_RATE_PER_MINUTE = 30
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
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE
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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebConfig:
        env = os.environ if environ is None else environ
        raw_rate = env.get(RATE_VARIABLE, "").strip() or str(DEFAULT_RATE_PER_MINUTE)
        try:
            rate = int(raw_rate)
        except ValueError:
            raise ConfigurationError(
                f"{RATE_VARIABLE} must be a whole number of uploads per minute, got {raw_rate!r}."
            ) from None
        return cls(
            operator_user=env.get(USER_VARIABLE, "").strip() or None,
            operator_password=env.get(PASSWORD_VARIABLE, "") or None,
            rate_per_minute=rate,
            trusted_proxy=env.get(TRUSTED_PROXY_VARIABLE, "").strip() or None,
        )

    @property
    def has_operator_login(self) -> bool:
        return bool(self.operator_user and self.operator_password)
