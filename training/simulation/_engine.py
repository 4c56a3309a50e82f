"""The discrete-event core: a clock, the resource inventory, and the record emitter.

Everything that happens is a callback on a heap ordered by time. Callbacks emit
CloudTrail records through :meth:`Simulation.call`, which stamps ids, fills the
common fields, routes the record to its five-minute delivery bucket and counts it.
A callback at ``t`` emits events at ``t`` or later (and before ``t + HORIZON``), so
when the clock reaches ``t`` every bucket that ended :data:`HORIZON` before it is
complete and is handed to the writer.

Resources live in :class:`Zone` (one account and region). A resource is usable at
``t`` only if it was created at or before ``t`` and nothing touched it after ``t``;
this keeps lifecycles consistent even though callbacks that overlap in time run one
after the other.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from training.simulation._ids import uuid
from training.simulation._org import Account, Organisation
from training.simulation._time import iso

__all__ = ["HORIZON", "SLOT", "Caller", "Resource", "Simulation", "Zone"]

SLOT: Final = 300
"""Seconds of events per delivered log file (CloudTrail delivers about every five minutes)."""

HORIZON: Final = 3 * 3600
"""A callback at ``t`` may emit events until ``t + HORIZON``."""

_TLS: Final = "TLS_AES_128_GCM_SHA256"
_SERVICE_HOSTS: Final = {
    "ec2.amazonaws.com": "ec2",
    "ebs.amazonaws.com": "ebs",
    "autoscaling.amazonaws.com": "autoscaling",
    "sts.amazonaws.com": "sts",
    "signin.amazonaws.com": "signin",
}
_READ_VERBS: Final = ("Describe", "Get", "List", "Lookup")


@dataclass(slots=True)
class Caller:
    """Who makes a call and from where: one session of one identity.

    Parameters
    ----------
    identity : dict
        The ``userIdentity`` object.
    source_ip : str
        ``sourceIPAddress`` (an address, or the service host for service calls).
    agent : str
        ``userAgent``; ``{command}`` in it is replaced by the CLI command of the call.
    kind : str
        Identity kind for the manifest (``person``, ``automation``, ``service`` ...).
    key : str
        The identity key the ingestion rule must give this caller.
    service : bool
        Calls made by an AWS service on the identity's behalf (no TLS details).
    console : bool
        Calls from the AWS console (``sessionCredentialFromConsole``).
    label : tuple of (str, str), optional
        ``(scenario, kind)`` stamped on every event of this caller (attackers, hard negatives).
    """

    identity: dict[str, Any]
    source_ip: str
    agent: str
    kind: str
    key: str
    service: bool = False
    console: bool = False
    label: tuple[str, str] | None = None


@dataclass(slots=True)
class Resource:
    """One EC2 resource and its lifecycle state."""

    id: str
    created: int
    last: int
    state: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Zone:
    """The resources of one account in one region."""

    account: Account
    region: str
    vpc: str
    subnets: list[tuple[str, str]]
    groups: dict[str, str]
    images: dict[str, Resource]
    templates: dict[str, list[Any]]
    instances: dict[str, Resource] = field(default_factory=dict)
    volumes: dict[str, Resource] = field(default_factory=dict)
    snapshots: dict[str, Resource] = field(default_factory=dict)

    def usable(
        self, pool: dict[str, Resource], t: int, test: Callable[[Resource], bool] | None = None
    ) -> list[Resource]:
        """Resources of ``pool`` that exist at ``t``, untouched after ``t``, passing ``test``."""
        return [
            r for r in pool.values() if r.created <= t and r.last <= t and (test is None or test(r))
        ]

    def pick(
        self,
        pool: dict[str, Resource],
        t: int,
        rng: random.Random,
        test: Callable[[Resource], bool] | None = None,
    ) -> Resource | None:
        """One usable resource chosen at random, or ``None``."""
        found = self.usable(pool, t, test)
        return rng.choice(found) if found else None

    def subnet(self, rng: random.Random) -> tuple[str, str]:
        """Return a random (subnet id, availability zone)."""
        return rng.choice(self.subnets)


class Simulation:
    """The clock, inventory and emitter of one simulation run.

    Parameters
    ----------
    org : Organisation
        The organisation being simulated.
    sink : callable
        Called as ``sink(account_id, region, slot_start, records)`` with each complete
        five-minute bucket of records, in time order.
    """

    def __init__(
        self, org: Organisation, sink: Callable[[str, str, int, list[dict[str, Any]]], None]
    ) -> None:
        self.org = org
        self.sink = sink
        self.zones: dict[tuple[int, str], Zone] = {}
        self.labels: list[tuple[str, str, str, int, str, str, str]] = []
        self.kind_counts: Counter[str] = Counter()
        self.identities: dict[str, set[str]] = defaultdict(set)
        self.scenario_counts: Counter[str] = Counter()
        self.reads = 0
        self.writes = 0
        self.events = 0
        self.tickets: list[dict[str, Any]] = []
        self.freezes: list[dict[str, Any]] = []
        self.preexisting: dict[str, list[str]] = {
            "instances": [],
            "volumes": [],
            "snapshots": [],
            "images": [],
        }
        self.followups: Callable[[int, Caller, Zone, str, list[str]], None] | None = None
        self.registry: dict[str, Any] = {}
        self.actors: dict[str, dict[str, Any]] = {}
        self._ids = random.Random(f"ids:{org.seed}")
        self._heap: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._buckets: dict[tuple[str, str, int], list[tuple[int, int, dict[str, Any]]]] = {}
        self._complete_before = org.start
        self._label: tuple[str, str] | None = None
        self._now = org.start

    # scheduling -------------------------------------------------------------------------

    def at(self, t: float, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(t, *args)`` at ``t`` (ignored at or after the end)."""
        when = int(t)
        if when >= self.org.end:
            return
        self._seq += 1
        heapq.heappush(self._heap, (max(when, self._now), self._seq, callback, args))

    def run(self, progress: Callable[[int], None] | None = None) -> None:
        """Run every callback in time order, handing complete buckets to the sink."""
        heap = self._heap
        next_flush = self.org.start
        day_seen = self.org.start
        while heap:
            t, _, callback, args = heapq.heappop(heap)
            self._now = t
            if t >= next_flush:
                self._flush(t - HORIZON)
                next_flush = t + SLOT
            if progress is not None and t - day_seen >= 86400:
                progress((t - day_seen) // 86400)
                day_seen += (t - day_seen) // 86400 * 86400
            callback(t, *args)
        self._flush(None)

    def actor(self, key: str, kind: str, name: str, **facts: Any) -> None:
        """Describe the actor behind identity ``key`` for the manifest (the first description wins).

        ``facts`` are JSON values such as ``sessions`` (how its sessions are named),
        ``client`` and ``declared`` (listed in ``automation.yaml``).
        """
        self.actors.setdefault(key, {"kind": kind, "name": name, **facts})

    @contextmanager
    def labelled(self, scenario: str, kind: str) -> Iterator[None]:
        """Label every event emitted inside the block as belonging to ``scenario``."""
        previous = self._label
        self._label = (scenario, kind)
        try:
            yield
        finally:
            self._label = previous

    # emission ---------------------------------------------------------------------------

    def call(
        self,
        t: float,
        caller: Caller,
        zone: Zone,
        name: str,
        request: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        *,
        source: str = "ec2.amazonaws.com",
        error: tuple[str, str] | None = None,
        read_only: bool | None = None,
        data_event: bool = False,
        region: str | None = None,
        extra: dict[str, Any] | None = None,
        event_type: str = "AwsApiCall",
    ) -> str:
        """Emit one record; return its event id ("" when it falls outside the simulation)."""
        when = int(t)
        if when < self.org.start or when >= self.org.end:
            return ""
        if when < self._complete_before:
            raise RuntimeError(f"{name} at {iso(when)} is earlier than a delivered bucket")
        region = region or zone.region
        account = zone.account.id
        request_id = uuid(self._ids)
        event_id = uuid(self._ids)
        if read_only is None:
            read_only = name.startswith(_READ_VERBS)
        agent = caller.agent
        if "{command}" in agent:
            agent = agent.replace("{command}", _command(source, name))
        record: dict[str, Any] = {
            "eventVersion": "1.09" if not caller.service else "1.08",
            "userIdentity": caller.identity,
            "eventTime": iso(when),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": caller.source_ip,
            "userAgent": agent,
        }
        if error is not None:
            record["errorCode"], record["errorMessage"] = error
            response = None
        record["requestParameters"] = request
        if response is not None:
            if "requestId" in response:
                response["requestId"] = request_id
            else:
                inner = next(iter(response.values()), None)
                if isinstance(inner, dict) and "requestId" in inner:
                    inner["requestId"] = request_id
        record["responseElements"] = response
        if extra:
            record.update(extra)
        if source != "signin.amazonaws.com":
            record["requestID"] = request_id
        record["eventID"] = event_id
        record["readOnly"] = read_only
        record["eventType"] = event_type
        record["managementEvent"] = not data_event
        record["recipientAccountId"] = account
        record["eventCategory"] = "Data" if data_event else "Management"
        if not caller.service:
            host = _SERVICE_HOSTS.get(source, source.split(".", 1)[0])
            record["tlsDetails"] = {
                "tlsVersion": "TLSv1.3",
                "cipherSuite": _TLS,
                "clientProvidedHostHeader": f"{host}.{region}.amazonaws.com",
            }
        if caller.console:
            record["sessionCredentialFromConsole"] = "true"
        self._seq += 1
        bucket = (account, region, when - when % SLOT)
        items = self._buckets.get(bucket)
        if items is None:
            items = self._buckets[bucket] = []
        items.append((when, self._seq, record))
        self.events += 1
        self.kind_counts[caller.kind] += 1
        self.identities[caller.kind].add(caller.key)
        if read_only:
            self.reads += 1
        else:
            self.writes += 1
        label = self._label or caller.label
        if label is not None:
            scenario, kind = label
            self.labels.append((event_id, scenario, kind, when, name, account, region))
            self.scenario_counts[scenario] += 1
        elif (
            not read_only
            and error is None
            and self.followups is not None
            and source == "ec2.amazonaws.com"
        ):
            self.followups(when, caller, zone, name, _ids_of(request, response))
        return event_id

    def _flush(self, before: int | None) -> None:
        if before is not None:
            before -= before % SLOT
            if before <= self._complete_before:
                return
            self._complete_before = before
        ready = sorted(k for k in self._buckets if before is None or k[2] + SLOT <= before)
        for key in ready:
            items = self._buckets.pop(key)
            items.sort(key=lambda item: (item[0], item[1]))
            self.sink(key[0], key[1], key[2], [item[2] for item in items])


def _ids_of(request: dict[str, Any] | None, response: dict[str, Any] | None) -> list[str]:
    found: list[str] = []
    for part in (request, response):
        if isinstance(part, dict):
            for key in ("instanceId", "volumeId", "snapshotId", "groupId"):
                value = part.get(key)
                if isinstance(value, str):
                    found.append(value)
            items = part.get("instancesSet")
            if isinstance(items, dict):
                for item in items.get("items", ()):
                    if isinstance(item, dict) and isinstance(item.get("instanceId"), str):
                        found.append(item["instanceId"])
    return list(dict.fromkeys(found))


_COMMANDS: dict[tuple[str, str], str] = {}


def _command(source: str, name: str) -> str:
    """``ec2.amazonaws.com`` + ``DescribeInstances`` -> ``ec2.describe-instances``."""
    key = (source, name)
    command = _COMMANDS.get(key)
    if command is None:
        words: list[str] = []
        for char in name:
            if char.isupper() and words:
                words.append("-")
            words.append(char.lower())
        command = _COMMANDS[key] = f"{source.split('.', 1)[0]}.{''.join(words)}"
    return command
