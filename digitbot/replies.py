"""Redis replies as the Python values the code needs.

digitbot's clients are made without `decode_responses`, so every string reply is bytes; redis-py
types replies as `bytes | str` (which one depends on how the client was made). These helpers
turn a reply into the one the caller needs, the same way for both kinds of client.
"""

from __future__ import annotations


def as_str(value: bytes | str) -> str:
    """A reply as text (bytes are decoded as UTF-8, strictly)."""
    return value if isinstance(value, str) else value.decode()


def as_bytes(value: bytes | str) -> bytes:
    """A reply as bytes (text is encoded as UTF-8)."""
    return value.encode() if isinstance(value, str) else bytes(value)
