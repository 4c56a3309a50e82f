"""What an identity key says about the actor, for the rules that weigh routines."""

from __future__ import annotations

__all__ = ["is_person_key"]


def is_person_key(identity: str) -> bool:
    """Whether an identity key names a person behind a role (``.../role/R/alice@corp``)."""
    _, sep, rest = identity.partition(":role/")
    return bool(sep) and "/" in rest
