"""Sortable identifiers: 10 chars of millisecond time + 16 random chars (Crockford base32, ULID-like)."""

from __future__ import annotations

import secrets
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(at: datetime) -> str:
    millis = int(at.timestamp() * 1000)
    return _encode(millis, 10) + _encode(secrets.randbits(80), 16)
