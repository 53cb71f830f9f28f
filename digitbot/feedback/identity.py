"""Who gave feedback, as a salted hash: never a user id or a name."""

from __future__ import annotations

import hashlib
import secrets

import redis

from digitbot import keys

# The salt, made on first use: one round trip for "set it unless it exists, then read it".
SALT_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
"""


def salted_user_hash(connection: redis.Redis, subject: str) -> str:
    """A salted hash of a user id (the same salt and formula as `PhotoIntake.user_hash`).

    Telegram ids are plain numbers; other front ends prefix theirs ("web:...") so two kinds of
    id can never hash alike.
    """
    salt = connection.eval(SALT_SCRIPT, 1, keys.USER_SALT_KEY, secrets.token_hex(16)) or b""
    if isinstance(salt, str):
        salt = salt.encode()
    return hashlib.sha256(salt + subject.encode()).hexdigest()[:32]
