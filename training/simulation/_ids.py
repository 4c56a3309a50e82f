"""Identifiers shaped like AWS's: resource ids, principal ids, access keys, UUIDs."""

from __future__ import annotations

import base64
import random
import string
from typing import Final

__all__ = [
    "access_key",
    "account_id",
    "alnum",
    "principal_id",
    "resource_id",
    "uuid",
]

_ALNUM: Final = string.ascii_letters + string.digits


_VARIANT: Final = "89ab"


def uuid(rng: random.Random) -> str:
    """Return a random version-4 UUID string drawn from ``rng``."""
    t = f"{rng.getrandbits(128):032x}"
    return f"{t[:8]}-{t[8:12]}-4{t[13:16]}-{_VARIANT[int(t[16], 16) & 3]}{t[17:20]}-{t[20:]}"


def resource_id(prefix: str, rng: random.Random) -> str:
    """Return a long-form EC2 id, ``prefix-`` and 17 hex digits starting with ``0``."""
    return f"{prefix}-0{rng.getrandbits(64):016x}"


def account_id(rng: random.Random) -> str:
    """Return a 12-digit AWS account id."""
    return f"{rng.randrange(10**11, 10**12):012d}"


def _base32(rng: random.Random, length: int) -> str:
    """``length`` characters of A-Z and 2-7 (the alphabet of AWS key ids)."""
    raw = rng.getrandbits(length * 5).to_bytes((length * 5 + 7) // 8, "big")
    return base64.b32encode(raw).decode("ascii")[:length]


def principal_id(prefix: str, rng: random.Random) -> str:
    """Return a unique id of an IAM entity (``AIDA...`` user, ``AROA...`` role), 21 characters."""
    return prefix + _base32(rng, 17)


def access_key(prefix: str, rng: random.Random) -> str:
    """Return an access key id (``AKIA`` long-term, ``ASIA`` temporary), 20 characters."""
    return prefix + _base32(rng, 16)


def alnum(length: int, rng: random.Random) -> str:
    """Return ``length`` random letters and digits (the unique part of a log file name)."""
    bits = rng.getrandbits(6 * length)
    chars = []
    for _ in range(length):
        chars.append(_ALNUM[(bits & 63) % 62])
        bits >>= 6
    return "".join(chars)
