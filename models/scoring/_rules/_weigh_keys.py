"""What an identity key says about the actor, for the rules that weigh routines."""

from __future__ import annotations

from features import is_person_key

__all__ = ["UNATTRIBUTED", "is_person_key", "is_unattributed_key"]

UNATTRIBUTED = (
    "the records name no identity (a redacted export): the change cannot be attributed, "
    "nor weighed against anyone's routine"
)
"""Why a hit on records that name no identity is reported at low at most."""


def is_unattributed_key(identity: str) -> bool:
    """Whether an identity key stands for records that name no identity (``unknown:<account>``)."""
    return identity.startswith("unknown:")
