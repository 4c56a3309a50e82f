"""Signed bundles: an HMAC-SHA256 over ``manifest.json``, kept in ``manifest.sig``.

The manifest names every other file of a bundle with its SHA-256 and size, and
:func:`models.load_bundle` checks each file against it, so a signature over the manifest's
exact bytes covers the whole bundle. The key is a secret the operator keeps outside the
model registry and its artifact store (a file of at least 32 bytes); whoever can write
bundles there without it cannot make one a keyed service accepts (ADR 0042).

``manifest.sig`` is JSON: ``algorithm`` (``hmac-sha256``), ``key_id`` (the first 16 hex
digits of the key's SHA-256, so a refusal can say "signed with another key" without
showing the key) and ``signature`` (hex).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any, Final

from features import ConfigurationError, ModelBundleError

__all__ = [
    "SIGNATURE",
    "SIGNING_KEY_ENV",
    "read_bundle_key",
    "sign_bundle",
    "signing_key_from_env",
    "verified_manifest",
]

SIGNATURE: Final = "manifest.sig"
SIGNING_KEY_ENV: Final = "CHANGEWATCH_BUNDLE_SIGNING_KEY_FILE"
"""Environment variable naming the key file :func:`models.save_bundle` signs with."""
_ALGORITHM: Final = "hmac-sha256"
_MIN_KEY: Final = 32


def read_bundle_key(path: str | os.PathLike[str]) -> bytes:
    """Read a signing key: the file's bytes, without a final line break.

    Raises
    ------
    ConfigurationError
        When the file cannot be read or holds fewer than 32 bytes.
    """
    try:
        key = Path(path).read_bytes().rstrip(b"\r\n")
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read the bundle key: {error.strerror}") from None
    if len(key) < _MIN_KEY:
        raise ConfigurationError(
            f"{path}: a bundle key needs at least {_MIN_KEY} bytes, the file has {len(key)} "
            "(make one with: openssl rand -hex 32 > bundle.key)"
        )
    return key


def signing_key_from_env() -> bytes | None:
    """Return the key ``CHANGEWATCH_BUNDLE_SIGNING_KEY_FILE`` names, or ``None`` when unset."""
    path = os.environ.get(SIGNING_KEY_ENV)
    return read_bundle_key(path) if path else None


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _mac(key: bytes, manifest: bytes) -> str:
    return hmac.new(key, manifest, hashlib.sha256).hexdigest()


def sign_bundle(path: str | os.PathLike[str], key: bytes) -> dict[str, Any]:
    """Write ``manifest.sig`` for the bundle at ``path`` (replacing an earlier one)."""
    root = Path(path)
    manifest = (root / "manifest.json").read_bytes()
    signature = {"algorithm": _ALGORITHM, "key_id": _key_id(key), "signature": _mac(key, manifest)}
    (root / SIGNATURE).write_text(json.dumps(signature, indent=2) + "\n", encoding="utf-8")
    return signature


def verified_manifest(root: Path, key: bytes) -> bytes:
    """Return the bytes of ``manifest.json`` once ``manifest.sig`` proves ``key`` signed them.

    Raises
    ------
    ModelBundleError
        When the signature is missing, unreadable, of another algorithm, made with
        another key, or does not match the manifest.
    """
    try:
        manifest = (root / "manifest.json").read_bytes()
    except OSError as error:
        raise ModelBundleError(str(root / "manifest.json"), f"unreadable ({error})") from None
    where = str(root / SIGNATURE)
    try:
        signature = json.loads((root / SIGNATURE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelBundleError(
            where, "the bundle is not signed, and this service accepts signed bundles only"
        ) from None
    except (OSError, ValueError) as error:
        raise ModelBundleError(where, f"unreadable signature ({error})") from None
    if not isinstance(signature, dict) or signature.get("algorithm") != _ALGORITHM:
        found = signature.get("algorithm") if isinstance(signature, dict) else signature
        raise ModelBundleError(where, f"expected algorithm {_ALGORITHM!r}, got {found!r}")
    if signature.get("key_id") != _key_id(key):
        raise ModelBundleError(
            where,
            f"signed with another key (id {signature.get('key_id')!r}; "
            f"this service's key is {_key_id(key)!r})",
        )
    if not hmac.compare_digest(str(signature.get("signature", "")), _mac(key, manifest)):
        raise ModelBundleError(where, "the signature does not match manifest.json")
    return manifest
