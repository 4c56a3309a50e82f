"""Source address -> network prefix, and the optional MaxMind lookup."""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, NamedTuple

from features._exceptions import GeoIPError

__all__ = ["GeoIP", "GeoRecord", "network_of", "place_of"]

logger = logging.getLogger(__name__)

_SERVICE_SUFFIX: Final = ".amazonaws.com"


@lru_cache(maxsize=65536)
def network_of(source_ip: str | None) -> str | None:
    """Return the network a source address belongs to.

    IPv4 addresses give their ``/24``, IPv6 their ``/64``; AWS service hosts
    (``ec2.amazonaws.com``) and ``AWS Internal`` stand for themselves. Anything
    else (the anonymised ``255.090.254.5`` of public recordings, for example) has no
    network: ``None``.

    Examples
    --------
    >>> network_of("203.0.113.77")
    '203.0.113.0/24'
    >>> network_of("2001:db8:1:2:3:4:5:6")
    '2001:db8:1:2::/64'
    """
    if not source_ip:
        return None
    if source_ip.endswith(_SERVICE_SUFFIX) or source_ip == "AWS Internal":
        return source_ip
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def is_service_address(source_ip: str | None) -> bool:
    """Whether ``sourceIPAddress`` names an AWS service instead of an address."""
    return bool(source_ip) and (
        source_ip.endswith(_SERVICE_SUFFIX) or source_ip == "AWS Internal"  # type: ignore[union-attr]
    )


class GeoRecord(NamedTuple):
    """What the MaxMind database says of one address."""

    country: str | None
    asn: int | None
    as_org: str | None


_NO_GEO: Final = GeoRecord(None, None, None)


class GeoIP:
    """Country, ASN and AS organisation from a MaxMind-format database.

    Reads the fields of both the GeoLite2/GeoIP2 Country or City databases
    (``country.iso_code``) and ASN databases (``autonomous_system_number``,
    ``autonomous_system_organization``), so one merged database or the simulator's
    own serves both.

    Parameters
    ----------
    path : str or Path
        The ``.mmdb`` file.

    Raises
    ------
    GeoIPError
        When the file cannot be opened as a MaxMind database.
    """

    def __init__(self, path: str | Path) -> None:
        import maxminddb  # noqa: PLC0415 - only needed with --geoip

        self.path = str(path)
        try:
            self._reader: Any = maxminddb.open_database(self.path)
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
            raise GeoIPError(f"cannot open MaxMind database {self.path}: {error}") from error
        self.lookup = lru_cache(maxsize=65536)(self._lookup)

    def _lookup(self, source_ip: str | None) -> GeoRecord:
        if not source_ip or is_service_address(source_ip):
            return _NO_GEO
        try:
            found = self._reader.get(source_ip)
        except ValueError:  # not an address
            return _NO_GEO
        if not isinstance(found, dict):
            return _NO_GEO
        country = found.get("country")
        iso = country.get("iso_code") if isinstance(country, dict) else None
        asn = found.get("autonomous_system_number")
        org = found.get("autonomous_system_organization")
        return GeoRecord(
            iso if isinstance(iso, str) else None,
            asn if isinstance(asn, int) else None,
            org if isinstance(org, str) else None,
        )

    def close(self) -> None:
        """Close the database file."""
        self._reader.close()


def place_of(source_ip: str | None, geoip: GeoIP | None) -> dict[str, Any]:
    """Return a row's place columns for a source address: the address, its network, geo.

    The keys are the canonical columns ``source_ip``, ``network``, ``country``, ``asn``
    and ``as_org``, for a reader's :func:`~features._fields.make_row`; without a GeoIP
    database (or an address) the geo columns are ``None``.
    """
    geo = geoip.lookup(source_ip) if geoip is not None and source_ip else _NO_GEO
    return {
        "source_ip": source_ip,
        "network": network_of(source_ip),
        "country": geo.country,
        "asn": geo.asn,
        "as_org": geo.as_org,
    }
