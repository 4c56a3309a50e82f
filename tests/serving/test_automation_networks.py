"""Automation calling from a new address of a provider it always used is not unexpected.

Hosted CI runners (GitHub Actions, GitLab SaaS) and NAT pools draw every job a fresh address
from their provider's ranges: a new ``/24`` of an autonomous system the identity called from
before is what its baseline looks like. A network of another system is not. CIDRs declared
in the allow-list are judged as written.
"""

from __future__ import annotations

import pytest

from models.scoring import AutomationSpec, unexpected_network

LEARNED = AutomationSpec(name="deploy", identities=("arn:aws:iam::*:role/deploy",))
DECLARED = AutomationSpec(
    name="runner", identities=("arn:aws:iam::*:role/runner",), networks=("10.20.0.0/16",)
)
KNOWN = frozenset({"198.18.114.0/24", "198.18.115.0/24"})
AZURE = frozenset({8075})


@pytest.mark.parametrize(
    ("entry", "address", "network", "asn", "unexpected"),
    [
        (LEARNED, "198.18.114.9", "198.18.114.0/24", 8075, False),  # a known network
        (LEARNED, "198.18.125.9", "198.18.125.0/24", 8075, False),  # new /24, known provider
        (LEARNED, "198.18.194.9", "198.18.194.0/24", 49505, True),  # new provider
        (LEARNED, "198.18.194.9", "198.18.194.0/24", None, True),  # without GeoIP: the network
        (LEARNED, "198.18.125.9", "198.18.125.0/24", float("nan"), True),
        (DECLARED, "10.20.3.4", "10.20.3.0/24", 64512, False),  # inside the declared CIDRs
        (DECLARED, "198.18.114.9", "198.18.114.0/24", 8075, True),  # declared: as written
    ],
    ids=[
        "known network",
        "new network of a known AS",
        "other AS",
        "no AS known",
        "AS missing (NaN)",
        "declared CIDR",
        "outside declared CIDRs",
    ],
)
def test_unexpected_network(
    entry: AutomationSpec, address: str, network: str, asn: object, unexpected: bool
) -> None:
    assert unexpected_network(entry, address, network, KNOWN, asn, AZURE) is unexpected


def test_an_identity_without_history_is_not_judged_on_learned_networks() -> None:
    assert not unexpected_network(LEARNED, "198.18.194.9", "198.18.194.0/24", None, 49505)
