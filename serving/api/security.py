"""API keys: parsed from ``name:scope:secret`` entries, held only as HMAC digests.

Secrets are long random strings, so a keyed hash is enough: each is kept as
HMAC-SHA256 under a salt drawn fresh for every process, and a presented key is
compared against every stored digest in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from features import ConfigurationError

__all__ = ["ApiKey", "KeyRing", "Scope", "is_loopback", "parse_keys"]

_MIN_SECRET: Final = 16


class Scope(StrEnum):
    """What a key may do.

    ``score`` the scoring routes and the model's description, ``triage`` also the findings
    and their verdicts, ``metrics`` the full ``/metrics`` and ``/readyz`` (a Prometheus
    scraper's bearer token), ``admin`` everything.
    """

    SCORE = "score"
    TRIAGE = "triage"
    METRICS = "metrics"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        """Whether a key of this scope may call a route that needs ``needed``."""
        return (
            self is Scope.ADMIN
            or needed is self
            or (self is Scope.TRIAGE and needed is Scope.SCORE)
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as held after loading: its name, its scope and the digest of its secret."""

    name: str
    scope: Scope
    digest: bytes


class KeyRing:
    """The configured keys; :meth:`match` finds the key a presented secret belongs to."""

    def __init__(self, entries: Iterable[tuple[str, Scope, str]] = ()) -> None:
        self._salt = secrets.token_bytes(32)
        self._keys: tuple[ApiKey, ...] = ()
        self.add(entries)

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._salt, secret.encode(), hashlib.sha256).digest()

    def add(self, entries: Iterable[tuple[str, Scope, str]]) -> None:
        """Hash and keep more keys; names must stay unique."""
        keys = list(self._keys)
        for name, scope, secret in entries:
            if any(k.name == name for k in keys):
                raise ConfigurationError(f"API key {name!r} is configured twice")
            keys.append(ApiKey(name, scope, self._digest(secret)))
        self._keys = tuple(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"KeyRing({', '.join(f'{k.name}:{k.scope}' for k in self._keys)})"

    @property
    def names(self) -> list[str]:
        """Names and nothing else, for logs and the documentation."""
        return [k.name for k in self._keys]

    def match(self, secret: str) -> ApiKey | None:
        """Return the key whose secret this is; every digest is compared, in constant time."""
        digest = self._digest(secret)
        found = None
        for key in self._keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found


def parse_keys(text: str, *, source: str = "CHANGEWATCH_API_KEYS") -> list[tuple[str, Scope, str]]:
    """Read ``name:scope:secret`` entries separated by commas or new lines (``#`` comments).

    Raises
    ------
    ConfigurationError
        Naming the entry (never its secret) and what is wrong with it.
    """
    entries: list[tuple[str, Scope, str]] = []
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    items = [item.strip() for line in lines for item in line.split(",")]
    for position, item in enumerate((i for i in items if i), 1):
        name, _, rest = item.partition(":")
        scope, _, secret = rest.partition(":")
        where = f"{source}: entry {position} ({name.strip() or '?'})"
        if not name.strip() or not secret:
            raise ConfigurationError(f"{where}: expected 'name:scope:secret'")
        try:
            parsed = Scope(scope.strip())
        except ValueError:
            raise ConfigurationError(
                f"{where}: scope must be 'score', 'metrics' or 'admin', got {scope.strip()!r}"
            ) from None
        if len(secret) < _MIN_SECRET:
            raise ConfigurationError(
                f"{where}: secret must have at least {_MIN_SECRET} characters, got {len(secret)}"
            )
        if not all(" " < c < "\x7f" for c in secret):
            raise ConfigurationError(
                f"{where}: secret must be printable ASCII without spaces: HTTP clients send "
                "header values as bytes the service cannot read back as any other text, "
                "so such a key would never match"
            )
        entries.append((name.strip(), parsed, secret))
    return entries


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on the loopback interface."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
