"""Domain exceptions.

DigitbotError                   base; carries a user-facing message apart from the log message
├── ConfigurationError          a setting is missing or wrong (fails fast at start-up)
├── BadImageError               the upload cannot be read as a photo
│   ├── NotAnImageError         not an image format we read
│   ├── CorruptImageError       an image, but truncated or damaged
│   └── ImageTooLargeError      too many bytes or pixels (decompression bomb guard)
├── ModelError                  no usable model (missing, corrupt, wrong shape)
└── DeliveryError               the Bot API refused or never answered our reply
"""

from __future__ import annotations


class DigitbotError(Exception):
    """Base of digitbot's errors; `user_message` is safe to show to a user."""

    user_message = "Something went wrong on my side. Please try again in a minute."

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        if user_message is not None:
            self.user_message = user_message


class ConfigurationError(DigitbotError):
    pass


class BadImageError(DigitbotError):
    user_message = "I couldn't read that image. Please send a photo (JPEG or PNG) of a digit."


class NotAnImageError(BadImageError):
    user_message = (
        "That file isn't an image I can read. Please send a photo (JPEG, PNG, WebP or GIF) "
        "of a handwritten digit."
    )


class CorruptImageError(BadImageError):
    user_message = (
        "That image seems damaged or incomplete, so I couldn't read it. Please send it again."
    )


class ImageTooLargeError(BadImageError):
    user_message = (
        "That image is too large for me to read. Please send a photo under 20 MB and 50 megapixels."
    )


class ModelError(DigitbotError):
    pass


class DeliveryError(DigitbotError):
    pass
