"""Web visitors: a random id in a cookie stands where a Telegram user id stands in the bot.

The id is random (derived from nothing about the visitor) and never stored: Redis keeps only its
salted hash, made with the salt of Telegram users' hashes after a "web:" prefix, so a visitor
and a Telegram user can never share a hash. Each request remembers whose it is, so only the
visitor who sent an image may see its answer (the crops show the image) and confirm or correct it.
"""

from __future__ import annotations

import hmac
import re
import secrets

import redis
from flask import Response, request

from digitbot import defaults, keys
from digitbot.feedback import salted_user_hash

VISITOR_COOKIE = "digitbot_visitor"
VISITOR_COOKIE_MAX_AGE_SECONDS = 365 * 24 * 3600
WEB_ID_PREFIX = "web:"
ADDRESS_PREFIX = "web-address:"
VISITOR_ID_BYTES = 18  # 144 random bits, 24 characters in the cookie
VISITOR_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{24}$")


def visitor_id() -> str | None:
    """The id in this request's cookie, or None when it has none (or a malformed one)."""
    value = request.cookies.get(VISITOR_COOKIE, "")
    return value if VISITOR_ID_PATTERN.match(value) else None


def new_visitor_id() -> str:
    return secrets.token_urlsafe(VISITOR_ID_BYTES)


def visitor_hash(connection: redis.Redis, visitor: str) -> str:
    """The salted hash stored for a visitor, as `PhotoIntake.user_hash` is for Telegram users."""
    return salted_user_hash(connection, WEB_ID_PREFIX + visitor)


def address_hash(connection: redis.Redis, address: str) -> str:
    """The salted hash a client address is counted under (the address itself is not stored)."""
    return salted_user_hash(connection, ADDRESS_PREFIX + address)


def keep_visitor_cookie(response: Response, visitor: str) -> None:
    """(Re)set the cookie; JavaScript cannot read it and other sites' pages do not send it."""
    response.set_cookie(
        VISITOR_COOKIE,
        visitor,
        max_age=VISITOR_COOKIE_MAX_AGE_SECONDS,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


def remember_owner(connection: redis.Redis, request_id: str, visitor: str) -> None:
    """Note whose request this is, for as long as its answer can be corrected."""
    connection.set(
        keys.web_owner_key(request_id),
        visitor_hash(connection, visitor),
        ex=defaults.PENDING_ANSWER_TTL_SECONDS,
    )


def owner_of(connection: redis.Redis, request_id: str) -> str | None:
    """The hash of the visitor who sent `request_id`, or None once that is forgotten."""
    owner = connection.get(keys.web_owner_key(request_id))
    if isinstance(owner, bytes):
        return owner.decode()
    return owner or None


def sent_by_this_visitor(connection: redis.Redis, request_id: str) -> bool:
    """True when the current request's cookie names the visitor who sent `request_id`."""
    visitor = visitor_id()
    owner = owner_of(connection, request_id)
    if visitor is None or owner is None:
        return False
    return hmac.compare_digest(visitor_hash(connection, visitor), owner)


def forget_requests(connection: redis.Redis, user_hash: str) -> None:
    """Drop the notes of which requests a visitor sent (part of "forget me")."""
    for key in connection.scan_iter(keys.web_owner_key("*")):
        if connection.get(key) == user_hash.encode():
            connection.delete(key)
