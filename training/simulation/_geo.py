"""The simulated networks and the MaxMind-format database that describes them.

Every address the simulator writes comes from one of :data:`NETWORKS` or from a
per-account NAT network made by :func:`nat_network`. All of them sit in ranges
reserved for documentation (RFC 5737 ``192.0.2.0/24``, ``198.51.100.0/24``,
``203.0.113.0/24``, RFC 3849 ``2001:db8::/32``) or benchmarking (RFC 2544
``198.18.0.0/15``), so no real host is ever named; :func:`write_mmdb` maps them to
the countries, ASNs and organisations the simulation pretends they have.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from mmdb_writer import MMDBWriter
from netaddr import IPSet

__all__ = ["NETWORKS", "Network", "nat_network", "write_mmdb"]

COUNTRY_NAMES: Final = {
    "BR": "Brazil",
    "CN": "China",
    "DE": "Germany",
    "GB": "United Kingdom",
    "IE": "Ireland",
    "NL": "Netherlands",
    "RU": "Russia",
    "SG": "Singapore",
    "US": "United States",
    "JP": "Japan",
    "IN": "India",
    "AU": "Australia",
    "FR": "France",
    "SE": "Sweden",
    "CA": "Canada",
}


@dataclass(frozen=True, slots=True)
class Network:
    """One simulated network: a prefix and who the database says owns it.

    Parameters
    ----------
    name : str
        Short handle used by the organisation model (``office-berlin``).
    cidr : str
        The prefix (IPv4 or IPv6).
    country : str
        ISO 3166 alpha-2 code.
    asn : int
        Autonomous system number.
    org : str
        Autonomous system organisation.
    kind : str
        ``office``, ``home``, ``mobile``, ``cloud``, ``vendor`` or ``attacker``.
    """

    name: str
    cidr: str
    country: str
    asn: int
    org: str
    kind: str

    def host(self, rng: random.Random) -> str:
        """Return one address inside the network (never the network or broadcast address)."""
        net = ipaddress.ip_network(self.cidr)
        span = min(net.num_addresses - 2, 1 << 24)
        return str(net.network_address + 1 + rng.randrange(span))


NETWORKS: Final = {
    n.name: n
    for n in (
        # offices
        Network("office-berlin", "198.51.100.0/24", "DE", 3320, "Deutsche Telekom AG", "office"),
        Network("office-newyork", "203.0.113.0/24", "US", 174, "Cogent Communications", "office"),
        Network("office-london", "192.0.2.0/24", "GB", 5089, "Virgin Media Limited", "office"),
        # residential and mobile
        Network("home-de-telekom", "198.18.0.0/20", "DE", 3320, "Deutsche Telekom AG", "home"),
        Network("home-de-vodafone", "198.18.16.0/20", "DE", 3209, "Vodafone GmbH", "home"),
        Network(
            "home-gb-bt", "198.18.32.0/20", "GB", 2856, "British Telecommunications PLC", "home"
        ),
        Network(
            "home-us-comcast",
            "198.18.48.0/20",
            "US",
            7922,
            "Comcast Cable Communications, LLC",
            "home",
        ),
        Network("home-us-verizon", "198.18.64.0/20", "US", 701, "Verizon Business", "home"),
        Network("home-de-v6", "2001:db8:100::/48", "DE", 3320, "Deutsche Telekom AG", "home"),
        Network(
            "mobile-de", "198.18.96.0/20", "DE", 6805, "Telefonica Germany GmbH & Co.OHG", "mobile"
        ),
        # the organisation's CI runners and vendors, in AWS
        Network("ci-runners", "198.19.200.0/24", "DE", 16509, "AMAZON-02", "cloud"),
        Network("vendor-monitoring", "198.19.144.0/24", "US", 14618, "AMAZON-AES", "vendor"),
        # hosted CI: GitHub-hosted runners (Azure), GitLab.com SaaS runners (Google Cloud)
        Network(
            "github-actions", "198.18.112.0/20", "US", 8075, "MICROSOFT-CORP-MSN-AS-BLOCK", "cloud"
        ),
        Network("gitlab-saas", "198.18.128.0/20", "US", 396982, "GOOGLE-CLOUD-PLATFORM", "cloud"),
        # attackers: VPN exits, hosting and residential proxies
        Network("attacker-vpn-nl", "198.18.192.0/24", "NL", 9009, "M247 Europe SRL", "attacker"),
        Network(
            "attacker-hosting-ru",
            "198.18.193.0/24",
            "RU",
            49505,
            "JSC Selectel",
            "attacker",
        ),
        Network(
            "attacker-hosting-us", "198.18.194.0/24", "US", 14061, "DigitalOcean, LLC", "attacker"
        ),
        Network(
            "attacker-hosting-sg",
            "198.18.195.0/24",
            "SG",
            20473,
            "The Constant Company, LLC",
            "attacker",
        ),
        Network(
            "attacker-proxy-br",
            "198.18.196.0/24",
            "BR",
            28573,
            "Claro NXT Telecomunicacoes Ltda",
            "attacker",
        ),
        Network(
            "attacker-hosting-cn", "198.18.197.0/24", "CN", 4134, "CHINANET-BACKBONE", "attacker"
        ),
    )
}
"""The fixed networks of the simulation, by name."""

_REGION_COUNTRY: Final = {
    "eu-central-1": "DE",
    "eu-central-2": "CH",
    "eu-west-1": "IE",
    "eu-west-2": "GB",
    "eu-west-3": "FR",
    "eu-north-1": "SE",
    "us-east-1": "US",
    "us-east-2": "US",
    "us-west-1": "US",
    "us-west-2": "US",
    "ca-central-1": "CA",
    "ap-southeast-1": "SG",
    "ap-southeast-2": "AU",
    "ap-northeast-1": "JP",
    "ap-south-1": "IN",
}


def nat_network(account_index: int, region_index: int, region: str) -> Network:
    """Return the NAT gateway network of one account and region (``198.19.A.0/24``).

    Workloads inside the VPC (instance profiles, Karpenter, node agents) reach the AWS
    APIs through it, so their calls come from an Amazon address of that region.
    """
    third = (account_index * 16 + region_index) % 128
    country = _REGION_COUNTRY.get(region, "US")
    org = "AMAZON-AES" if region == "us-east-1" else "AMAZON-02"
    asn = 14618 if region == "us-east-1" else 16509
    return Network(
        f"nat-{account_index}-{region}", f"198.19.{third}.0/24", country, asn, org, "cloud"
    )


def write_mmdb(networks: list[Network], path: str | Path, *, build_epoch: int) -> None:
    """Write a MaxMind-format database (IPv6 tree, IPv4 mapped) of ``networks``.

    Each network carries ``country.iso_code``, ``country.names.en``,
    ``autonomous_system_number`` and ``autonomous_system_organization``: the fields of
    GeoLite2 Country and ASN at once. ``build_epoch`` is fixed by the caller so that
    the same simulation writes the same bytes.
    """

    class _Writer(MMDBWriter):
        def _build_meta(self) -> dict[str, Any]:
            meta: dict[str, Any] = super()._build_meta()
            meta["build_epoch"] = build_epoch
            return meta

    writer = _Writer(
        ip_version=6,
        database_type="changewatch-simulated-GeoIP2-Country-ASN",
        languages=["en"],
        description={"en": "changewatch simulator networks (documentation/benchmark ranges)"},
        ipv4_compatible=True,
    )
    for network in sorted(networks, key=lambda n: n.cidr):
        writer.insert_network(
            IPSet([network.cidr]),
            {
                "country": {
                    "iso_code": network.country,
                    "names": {"en": COUNTRY_NAMES.get(network.country, network.country)},
                },
                "autonomous_system_number": network.asn,
                "autonomous_system_organization": network.org,
            },
        )
    writer.to_db_file(str(path))
