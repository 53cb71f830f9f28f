"""Domain exceptions.

DigitbotError                   base; carries a user-facing message apart from the log message
├── ConfigurationError          a setting is missing or wrong (fails fast at start-up)
│   └── InvalidSettingError     an environment variable holds a value digitbot cannot use
├── BadImageError               the upload cannot be read as a photo
│   ├── NotAnImageError         not an image format we read
│   ├── CorruptImageError       an image, but truncated or damaged
│   └── ImageTooLargeError      too many bytes or pixels (decompression bomb guard)
├── ModelError                  no usable model (missing, corrupt, wrong shape)
└── DeliveryError               the Bot API refused or never answered our reply
    └── BotApiUnavailable       it failed or could not be reached: nothing delivered, try later
"""

from __future__ import annotations

from digitbot import texts


class DigitbotError(Exception):
    """Base of digitbot's errors; `user_message` is safe to show to a user."""

    user_message = texts.INTERNAL_ERROR

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        if user_message is not None:
            self.user_message = user_message


class ConfigurationError(DigitbotError):
    pass


class InvalidSettingError(ConfigurationError):
    """One line naming each wrong variable and what it expects; `variables` lists them."""

    def __init__(self, message: str, *, variables: tuple[str, ...]) -> None:
        super().__init__(message)
        self.variables = variables


class BadImageError(DigitbotError):
    user_message = texts.BAD_IMAGE


class NotAnImageError(BadImageError):
    user_message = texts.NOT_AN_IMAGE


class CorruptImageError(BadImageError):
    user_message = texts.CORRUPT_IMAGE


class ImageTooLargeError(BadImageError):
    user_message = texts.IMAGE_TOO_LARGE


class ModelError(DigitbotError):
    pass


class DeliveryError(DigitbotError):
    pass


class BotApiUnavailable(DeliveryError):
    """The Bot API answered 5xx or flood control, or could not be reached, on every try:
    nothing was delivered, and a later try may succeed (unlike a refusal)."""
