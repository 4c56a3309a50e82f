"""The service's settings: one pydantic-settings class, read from ``CHANGEWATCH_*``.

:func:`get_settings` builds them once per process; tests and ``changewatch serve`` hand
their own :class:`Settings` to :func:`serving.api.create_app` instead.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from features import ConfigurationError
from serving.api.security import KeyRing, parse_keys

__all__ = ["Settings", "get_settings"]


def _keyring(value: Any) -> Any:
    """Turn ``name:scope:secret,...`` into a :class:`KeyRing` at once: only digests are kept."""
    if value is None or value == "":
        return KeyRing()
    if isinstance(value, str):
        return KeyRing(parse_keys(value))
    return value


def _origins(value: Any) -> Any:
    if isinstance(value, str):
        return [o.strip() for o in value.split(",") if o.strip()]
    return value


class Settings(BaseSettings):
    """Everything ``changewatch serve`` can be told (environment: ``CHANGEWATCH_<NAME>``)."""

    model_config = SettingsConfigDict(
        env_prefix="CHANGEWATCH_", extra="ignore", arbitrary_types_allowed=True
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    model: str = Field(default="none", description="Bundle directory, models:/NAME@alias, or none.")
    windows: Annotated[list[Path], NoDecode, BeforeValidator(_origins)] = []
    state: Path = Path("changewatch-state.db")
    api_keys: Annotated[KeyRing, NoDecode, BeforeValidator(_keyring)] = Field(
        default_factory=KeyRing, repr=False
    )
    api_keys_file: Path | None = None
    max_body_bytes: int = Field(default=16 << 20, ge=1024)
    max_batch: int = Field(default=5000, ge=1)
    retention_days: float = Field(default=35.0, gt=0)
    retention_per_identity: int = Field(default=1000, ge=1)
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_origins)] = []
    reload_poll_seconds: float = Field(default=1.0, gt=0)
    scoring_threads: int = Field(default=2, ge=1, le=64)
    queue_depth: int = Field(
        default=32, ge=0, description="Scoring requests that may wait for a thread (per process)."
    )
    queue_wait_seconds: float = Field(
        default=2.0, gt=0, description="Longest wait for a scoring thread before a 503."
    )
    max_future_seconds: float = Field(
        default=900.0, ge=0, description="Events dated further after the server clock are refused."
    )
    max_policy_objects: int = Field(
        default=5000, ge=1, description="Policy objects of one kind, at most (422 beyond)."
    )
    max_header_bytes: int = Field(
        default=64 << 10, ge=1024, description="Request line and headers, at most (431 beyond)."
    )
    bundle_key_file: Path | None = Field(
        default=None,
        description="HMAC key a model bundle must be signed with (models.sign_bundle).",
    )

    @model_validator(mode="after")
    def _read_keys_file(self) -> Self:
        if self.api_keys_file is not None:
            try:
                text = self.api_keys_file.read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigurationError(f"cannot read keys file: {error}") from None
            self.api_keys.add(parse_keys(text, source=str(self.api_keys_file)))
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings of this process, read from the environment once."""
    return Settings()
