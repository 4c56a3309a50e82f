"""AWS's published IP ranges (``ip-ranges.json``), to tell whether an address is AWS's.

AWS publishes every public prefix it uses at :data:`SOURCE_URL`, with a ``createDate``
and a ``syncToken`` (``docs/adr/0036-aws-ip-ranges.md``). The rules ask it one question:
is the address an instance-profile session called from inside AWS or outside?
(:func:`outside_aws`, GuardDuty's ``InstanceCredentialExfiltration.OutsideAWS``).

Snapshots are found in this order, newest ``createDate`` first (:func:`default_ranges`):
the copy ``changewatch data refresh`` keeps in the data directory
(``$CHANGEWATCH_DATA_DIR``, else ``$XDG_DATA_HOME/changewatch``, else
``~/.local/share/changewatch``), then the one packaged with changewatch
(``features/data/aws-ip-ranges.json``), so it works offline.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
import tempfile
import urllib.request
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import orjson

from features._exceptions import InputError

__all__ = [
    "AMAZON_ASNS",
    "FILE_NAME",
    "PACKAGED",
    "SOURCE_URL",
    "AwsRanges",
    "data_dir",
    "default_ranges",
    "fetch_ranges",
    "is_internal",
    "outside_aws",
    "refreshed_path",
    "write_ranges",
]

logger = logging.getLogger(__name__)

SOURCE_URL: Final = "https://ip-ranges.amazonaws.com/ip-ranges.json"
"""Where AWS publishes the ranges."""
FILE_NAME: Final = "aws-ip-ranges.json"
PACKAGED: Final = Path(__file__).with_name("data") / FILE_NAME
"""The snapshot shipped with changewatch (absent from a checkout that has not added one)."""
AMAZON_ASNS: Final = frozenset({7224, 8987, 10124, 14618, 16509, 38895, 39111})
"""Autonomous systems of Amazon: an address GeoIP places in one of them is inside AWS too."""
MAX_BYTES: Final = 64 * 1024 * 1024
"""A ranges file larger than this is refused (today's is under 2 MB)."""
_INTERNAL: Final = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)
"""Private, shared, loopback and link-local networks: calls through VPC endpoints."""


def _created(value: Any) -> datetime:
    """``2026-08-22-21-17-05`` (AWS's format) as an aware time."""
    if not isinstance(value, str):
        raise ValueError("createDate is not a string")
    return datetime.strptime(value, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)


def _intervals(spans: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Merge ``(first, last)`` address spans into sorted, disjoint integer intervals."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(spans):
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


@dataclass(frozen=True)
class AwsRanges:
    """AWS's IP prefixes, IPv4 and IPv6, as sorted intervals for lookups by bisection.

    Attributes
    ----------
    created : datetime
        The snapshot's ``createDate``.
    sync_token : str
        Its ``syncToken``.
    prefixes : int
        How many prefixes it lists (IPv4 and IPv6).
    source : str
        Where it was read from.
    """

    created: datetime
    sync_token: str
    prefixes: int
    source: str
    _v4: tuple[list[int], list[int]] = field(repr=False)
    _v6: tuple[list[int], list[int]] = field(repr=False)

    @classmethod
    def parse(cls, data: bytes, source: str) -> AwsRanges:
        """Read ``ip-ranges.json`` content.

        Raises
        ------
        InputError
            Naming ``source`` and the field, when the content is not AWS's format.
        """
        if len(data) > MAX_BYTES:
            raise InputError(f"{source}: {len(data)} bytes, more than {MAX_BYTES} allowed")
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise InputError(f"{source}: not JSON: {error}") from None
        if not isinstance(document, dict):
            raise InputError(f"{source}: expected a JSON object")
        try:
            created = _created(document.get("createDate"))
        except ValueError:
            raise InputError(
                f"{source}: createDate: expected YYYY-MM-DD-hh-mm-ss, "
                f"got {str(document.get('createDate'))[:40]!r}"
            ) from None
        token = document.get("syncToken")
        families = {"prefixes": "ip_prefix", "ipv6_prefixes": "ipv6_prefix"}
        found: dict[str, list[tuple[int, int]]] = {}
        for key, inner in families.items():
            items = document.get(key)
            if not isinstance(items, list):
                raise InputError(f"{source}: {key}: expected a list")
            spans: list[tuple[int, int]] = []
            for position, item in enumerate(items):
                value = item.get(inner) if isinstance(item, dict) else None
                try:
                    net = ipaddress.ip_network(
                        value if isinstance(value, str) else "", strict=False
                    )
                except ValueError:
                    raise InputError(
                        f"{source}: {key}[{position}].{inner}: not a CIDR prefix: "
                        f"{str(value)[:60]!r}"
                    ) from None
                spans.append((int(net.network_address), int(net.broadcast_address)))
            found[key] = spans
        if not found["prefixes"]:
            raise InputError(f"{source}: prefixes: empty")
        return cls(
            created=created,
            sync_token=str(token),
            prefixes=len(found["prefixes"]) + len(found["ipv6_prefixes"]),
            source=source,
            _v4=_intervals(found["prefixes"]),
            _v6=_intervals(found["ipv6_prefixes"]),
        )

    @classmethod
    def load(cls, path: str | Path) -> AwsRanges:
        """Read a snapshot file (raises :class:`InputError` as :meth:`parse`)."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise InputError(f"cannot read AWS IP ranges {path}: {error}") from None
        return cls.parse(data, str(path))

    def contains(self, address: str | None) -> bool | None:
        """Whether AWS lists ``address``; ``None`` when it is not an address at all."""
        try:
            parsed = ipaddress.ip_address(address or "")
        except ValueError:
            return None
        starts, ends = self._v4 if parsed.version == 4 else self._v6
        value = int(parsed)
        position = bisect_right(starts, value) - 1
        return position >= 0 and value <= ends[position]

    def describe(self) -> str:
        """Return ``AWS IP ranges of 2026-08-22 (16,826 prefixes, <source>)``, for reasons."""
        return (
            f"AWS IP ranges of {self.created:%Y-%m-%d} ({self.prefixes:,} prefixes, {self.source})"
        )


def _asn(value: Any) -> int | None:
    """Return an ASN as an int; ``None`` for missing values (``None``, NaN, pandas NA)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def outside_aws(address: str | None, asn: Any, ranges: AwsRanges | None) -> bool:
    """Whether ``address`` is a public address outside AWS, as far as can be told.

    Not outside: what is not an address (AWS service names, the anonymised
    ``253.252.51.07`` of public recordings), private, shared and link-local addresses
    (calls through VPC endpoints), AWS's published prefixes, and addresses GeoIP places
    in one of :data:`AMAZON_ASNS`. Outside: an address GeoIP places in another AS, or one
    GeoIP does not know that the ranges do not list. Without ranges and without an ASN
    nothing is judged outside.

    Parameters
    ----------
    address : str or None
        ``sourceIPAddress``.
    asn : object
        The event's ``asn`` (GeoIP); ``None``, NaN or ``NA`` when unknown.
    ranges : AwsRanges or None
        AWS's published ranges, when a snapshot is installed.
    """
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if is_internal(address) or (ranges is not None and ranges.contains(address)):
        return False
    number = _asn(asn)
    if number is not None:
        return number not in AMAZON_ASNS
    return ranges is not None


def is_internal(address: str | None) -> bool:
    """Whether ``address`` is private, shared (CGNAT), loopback or link-local."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(parsed.version == net.version and parsed in net for net in _INTERNAL)


def data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Return the directory ``changewatch data refresh`` writes to."""
    env = os.environ if environ is None else environ
    if env.get("CHANGEWATCH_DATA_DIR"):
        return Path(env["CHANGEWATCH_DATA_DIR"])
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "changewatch"


def refreshed_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return where ``changewatch data refresh`` keeps its snapshot."""
    return data_dir(environ) / FILE_NAME


def _candidates() -> list[Path]:
    return [refreshed_path(), PACKAGED]


_Seen = tuple[tuple[str, int, int, int] | None, ...]
"""Each candidate snapshot as (path, inode, size, modification ns), ``None`` when absent."""


def _seen(paths: Iterable[Path]) -> _Seen:
    found: list[tuple[str, int, int, int] | None] = []
    for path in paths:
        try:
            status = path.stat()
        except OSError:
            status = None
        if status is None or not stat.S_ISREG(status.st_mode):
            found.append(None)
        else:
            found.append((str(path), status.st_ino, status.st_size, status.st_mtime_ns))
    return tuple(found)


def default_ranges() -> AwsRanges | None:
    """Return the newest snapshot found (data directory, then packaged), or ``None``.

    A snapshot that cannot be read is skipped with a warning naming it. ``None`` when there
    is none (said at info level: a fresh install has none, and the rules still work), and
    :func:`outside_aws` judges by GeoIP's ASN alone.

    The answer is always that of the data directory the environment names *now* and of
    the files as they are now: what was read is kept by the candidates' paths and file
    identities (inode, size, modification time), never for the process's lifetime, so a
    data directory named for one call (a test, ``CliRunner(env=...)``) or a snapshot
    replaced since cannot leak into a later answer (ADR 0052).
    """
    return _newest(_seen(_candidates()))


@lru_cache(maxsize=8)
def _newest(seen: _Seen) -> AwsRanges | None:
    found: list[AwsRanges] = []
    for entry in seen:
        if entry is None:
            continue
        try:
            found.append(AwsRanges.load(Path(entry[0])))
        except InputError as error:
            logger.warning("skipping an AWS IP ranges snapshot: %s", error)
    if not found:
        logger.info(
            "no AWS IP ranges snapshot (%s): instance credentials used outside AWS are "
            "judged by GeoIP's AS alone; `changewatch data refresh` fetches one",
            ", ".join(str(p) for p in _candidates()),
        )
        return None
    return max(found, key=lambda ranges: ranges.created)


def fetch_ranges(source: str = SOURCE_URL, *, timeout: float = 30.0) -> tuple[bytes, AwsRanges]:
    """Read ``ip-ranges.json`` from a URL (``https://``, ``file://``) or a local path.

    Returns the raw bytes and their parse. At most :data:`MAX_BYTES` are read.

    Raises
    ------
    InputError
        When it cannot be read or is not AWS's format.
    """
    if "://" not in source:
        path = Path(source)
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as error:
            raise InputError(f"cannot read {source}: {error}") from None
        return data, AwsRanges.parse(data, source)
    if not source.startswith(("https://", "http://", "file://")):
        raise InputError(f"{source}: only https://, http:// and file:// URLs are read")
    try:
        with urllib.request.urlopen(source, timeout=timeout) as response:
            data = response.read(MAX_BYTES + 1)
    except (OSError, ValueError) as error:
        raise InputError(f"cannot download {source}: {error}") from None
    return data, AwsRanges.parse(data, source)


def write_ranges(data: bytes, target: Path) -> None:
    """Write a snapshot atomically (a temporary file in the same directory, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=".ip-ranges-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
