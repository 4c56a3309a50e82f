"""The feature catalogue as data: every column of a behavioural vector, in its fixed order.

``docs/features.md`` is generated from :data:`CATALOGUE` by :func:`catalogue_markdown`;
a test checks the document is current and that :func:`features.behaviour_vectors`
returns exactly :data:`VECTOR_COLUMNS`, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "BEHAVIOURS",
    "CATALOGUE",
    "CHANGE_ACTIONS",
    "CHANGE_RESOURCE_TYPES",
    "FEATURE_NAMES",
    "KEY_COLUMNS",
    "NOVELTY_DIMENSIONS",
    "VECTOR_COLUMNS",
    "VECTOR_SCHEMA_VERSION",
    "Feature",
    "catalogue_markdown",
]

VECTOR_SCHEMA_VERSION: Final = "1"
"""Version of the vector layout; bumped whenever a feature is added, removed or redefined."""

KEY_COLUMNS: Final = ("identity_key", "window_start", "window_end", "schema_version")
"""Columns that identify a vector; every other column is a float feature."""

BEHAVIOURS: Final = {
    "change-activity": (
        "creation, deletion or modification of instances, volumes and snapshots, "
        "to be judged against approved change windows"
    ),
    "snapshot-to-instance": (
        "rapid snapshot creation followed by mounting on new instances, and snapshots or "
        "images exposed to other accounts"
    ),
    "rare-account": "repeated infrastructure changes by rarely used or new accounts",
    "unusual-location": "activity from an unusual geolocation or network",
    "unusual-client": "activity from an unusual API client or automation script",
}
"""The behaviours of MITRE ATT&CK analytic AN0861 (Modify Cloud Compute Infrastructure)
that the features serve, by short name."""

CHANGE_ACTIONS: Final = (
    "create",
    "delete",
    "modify",
    "attach",
    "detach",
    "share",
    "copy",
    "start",
    "stop",
)
"""Actions counted separately among compute changes."""

CHANGE_RESOURCE_TYPES: Final = ("instance", "volume", "snapshot", "image", "launch_template")
"""Resource types counted separately among compute changes; the rest are ``other_resource``."""

NOVELTY_DIMENSIONS: Final = (
    ("action", "event_name"),
    ("resource_type", "resource_type"),
    ("region", "region"),
    ("network", "network"),
    ("country", "country"),
    ("asn", "asn"),
    ("client_family", "client_family"),
    ("client_version", "client_version"),
)
"""(feature stem, profile dimension) of the novelty features, in order."""


@dataclass(frozen=True, slots=True)
class Feature:
    """One column of the behavioural vector."""

    name: str
    family: str
    definition: str
    why: str
    behaviour: str


def _volume() -> list[Feature]:
    c, a = "change-activity", "snapshot-to-instance"
    out = [
        Feature(
            "n_events",
            "volume",
            "Events of the identity in the window, read-only and non-compute included.",
            "Scale of activity; the denominator of every share.",
            c,
        ),
        Feature(
            "n_changes",
            "volume",
            "Compute changes (`is_compute_change`) in the window.",
            "How much infrastructure the identity changed.",
            c,
        ),
    ]
    for action in CHANGE_ACTIONS:
        out.append(
            Feature(
                f"n_change_{action}",
                "volume",
                f"Compute changes whose action is `{action}`.",
                "Which kind of change: deletions, shares and copies weigh differently "
                "from routine starts and stops.",
                a if action in ("share", "copy") else c,
            )
        )
    for rtype in (*CHANGE_RESOURCE_TYPES, "other_resource"):
        what = (
            "any other compute resource type"
            if rtype == "other_resource"
            else f"resource type `{rtype}`"
        )
        out.append(
            Feature(
                f"n_change_{rtype}",
                "volume",
                f"Compute changes on {what}.",
                "Which part of the infrastructure changed (instances, volumes, snapshots ...).",
                a if rtype in ("snapshot", "image", "volume") else c,
            )
        )
    out += [
        Feature(
            "n_distinct_resources",
            "volume",
            "Distinct resource ids named by the window's compute changes.",
            "Breadth of a change: many resources at once is mass modification or teardown.",
            c,
        ),
        Feature(
            "n_distinct_regions",
            "volume",
            "Distinct regions of the window's events.",
            "Activity spread over regions is typical of resource hijacking and evasion.",
            "unusual-location",
        ),
        Feature(
            "n_distinct_networks",
            "volume",
            "Distinct networks (/24, /64 or service host) of the window's events.",
            "Several source networks in one window suggest shared or stolen credentials.",
            "unusual-location",
        ),
        Feature(
            "n_distinct_clients",
            "volume",
            "Distinct (client family, client version) pairs of the window's events.",
            "A person or pipeline normally uses one client; several is unusual.",
            "unusual-client",
        ),
        Feature(
            "error_ratio",
            "volume",
            "Share of the window's events with an `error_code`.",
            "Permission probing and failed changes precede and accompany misuse.",
            c,
        ),
    ]
    return out


def _identity() -> list[Feature]:
    r = "rare-account"
    return [
        Feature(
            "is_new_identity",
            "identity",
            "1 when the identity's first activity ever (profile and data) is in this window.",
            "A never-seen identity making changes is a new account or new credentials.",
            r,
        ),
        Feature(
            "days_dormant",
            "identity",
            "Days from the identity's last activity before the window to the window start; "
            "0 for a new identity.",
            "A dormant account that suddenly changes infrastructure is a classic takeover sign.",
            r,
        ),
        Feature(
            "history_days",
            "identity",
            "Days from the start of the identity's current epoch (its first activity, or its "
            "return after `forget_days` of silence) to the window start.",
            "How much baseline the other features are measured against.",
            r,
        ),
        Feature(
            "active_days",
            "identity",
            "Distinct UTC days with activity in the current epoch before the window.",
            "Rarely used identities have few active days.",
            r,
        ),
        Feature(
            "cold_start",
            "identity",
            "1 when `history_days < cold_start_days` or `active_days < cold_start_active_days`: "
            "the identity has no baseline yet and its novelty features are not comparable.",
            "Keeps new identities from being scored as if they had a history.",
            r,
        ),
    ]


def _novelty() -> list[Feature]:
    behaviour = {
        "action": "change-activity",
        "resource_type": "change-activity",
        "region": "unusual-location",
        "network": "unusual-location",
        "country": "unusual-location",
        "asn": "unusual-location",
        "client_family": "unusual-client",
        "client_version": "unusual-client",
    }
    what = {
        "action": "an action (event name)",
        "resource_type": "a resource type",
        "region": "a region",
        "network": "a network",
        "country": "a country",
        "asn": "an autonomous system",
        "client_family": "a client family",
        "client_version": "a client version (family and version)",
    }
    out = [
        Feature(
            f"novel_{stem}_share",
            "novelty",
            f"Share of the window's events with {what[stem]} the identity had not used within "
            "`forget_days` before the window start (profile plus earlier data; events with the "
            "value missing are never novel).",
            "A known identity acting from a new place, with a new tool or on new things.",
            behaviour[stem],
        )
        for stem, _ in NOVELTY_DIMENSIONS
    ]
    out.append(
        Feature(
            "rare_context_share",
            "novelty",
            "Share of the window's events where any of region, network, country, ASN, client "
            "family or client version is *unseen* or *rare* for the identity (GuardDuty-style "
            "buckets, share of the identity's events before the window below `rare_share`).",
            "Context seldom seen for the identity, not only never seen.",
            "unusual-location",
        )
    )
    return out


def _rhythm() -> list[Feature]:
    c = "change-activity"
    return [
        Feature(
            "rare_hour_share",
            "rhythm",
            "Share of the window's events in an hour of the week where the identity's earlier "
            "count is below `rare_hour_fraction` times its mean count per hour of the week.",
            "Changes at hours the identity never works are outside its usual change windows.",
            c,
        ),
        Feature(
            "hour_surprise",
            "rhythm",
            "Mean over the window's events of -log2 of the identity's smoothed earlier "
            "probability of that hour of the week, (count + 1) / (total + 168).",
            "A graded version of rare_hour_share for the forest.",
            c,
        ),
        Feature(
            "change_count_ratio",
            "rhythm",
            "(n_changes + 1) / (mean changes per earlier active window of the epoch + 1).",
            "Bursts of change well above the identity's usual volume.",
            c,
        ),
        Feature(
            "change_count_tail",
            "rhythm",
            "Share of the identity's earlier active windows (this epoch) whose change count "
            "falls in the same or a higher log2 bucket; 1 without earlier windows.",
            "Rank of this window's volume in the identity's own distribution.",
            c,
        ),
    ]


def _sequences() -> list[Feature]:
    s = "snapshot-to-instance"
    return [
        Feature(
            "seq_snapshot_volume_attach",
            "sequence",
            "Volume attachments in the window where, within `horizon` before the attachment "
            "and by the same identity, the volume was created from a snapshot and the "
            "instance was launched (EBS, Azure disks, Google Cloud disks alike: ADR 0048).",
            "Restore-a-snapshot-onto-my-own-instance is how disks are stolen.",
            s,
        ),
        Feature(
            "seq_own_snapshot_volume_attach",
            "sequence",
            "As seq_snapshot_volume_attach, and the snapshot itself was created or copied by "
            "the identity before the volume, still within `horizon` before the attachment.",
            "The full snapshot -> volume -> attach chain of AN0861.",
            s,
        ),
        Feature(
            "share_foreign",
            "sequence",
            "Snapshot or image permission changes in the window granting an account id other "
            "than the resource's own account and `org_accounts`.",
            "Sharing a disk or image out of the organisation exfiltrates it.",
            s,
        ),
        Feature(
            "share_public",
            "sequence",
            "Snapshot or image permission changes in the window granting the public (`all`).",
            "Public snapshots and images expose data to everyone.",
            s,
        ),
        Feature(
            "seq_stop_modify_start",
            "sequence",
            "Instance starts in the window where, within `horizon` before and by the same "
            "identity, the instance was stopped and then its boot code (AWS userData, Azure "
            "customData/userData, a Google startup-script) or machine type changed.",
            "Stop -> change user data -> start runs attacker code at boot.",
            "change-activity",
        ),
        Feature(
            "snapshots_in_horizon",
            "sequence",
            "Snapshots created or copied by the identity in [window end - horizon, window end).",
            "Snapshot bursts precede bulk data theft.",
            s,
        ),
    ]


def _organisation() -> list[Feature]:
    return [
        Feature(
            "org_rare_action_share",
            "organisation",
            "Share of the window's events whose action (event name) fewer than "
            "`org_rare_identities` identities of the organisation had used before the window.",
            "Calls almost nobody in the organisation makes are worth a look.",
            "change-activity",
        ),
        Feature(
            "org_action_rarity_max",
            "organisation",
            "Largest -log2((identities that used the action + 1) / (identities seen + 1)) over "
            "the window's events, counted before the window.",
            "The rarest action of the window, graded.",
            "change-activity",
        ),
    ]


CATALOGUE: Final = tuple(
    _volume() + _identity() + _novelty() + _rhythm() + _sequences() + _organisation()
)
"""Every feature, in the column order of the vectors."""

FEATURE_NAMES: Final = tuple(feature.name for feature in CATALOGUE)
"""Feature column names in order."""

VECTOR_COLUMNS: Final = KEY_COLUMNS + FEATURE_NAMES
"""All columns of a vector table, in order."""


def catalogue_markdown() -> str:
    """Return ``docs/features.md``: the catalogue as a document."""
    lines = [
        "# Feature catalogue",
        "",
        "<!-- Generated from features/_catalogue.py by features.catalogue_markdown(); "
        "do not edit by hand. -->",
        "",
        f"Vector schema version {VECTOR_SCHEMA_VERSION}. One vector per identity per window "
        "(default one hour, tumbling, aligned to the Unix epoch). Columns, in order: the keys "
        f"{', '.join(f'`{k}`' for k in KEY_COLUMNS)}, then the features below, all float64.",
        "",
        "Every feature of a window uses only the window's own events and history *before the "
        "window start* (the profile, plus earlier events of the same data); sequence features "
        "also look back `horizon` before each event. See ADR 0007 and ADR 0008.",
        "",
        "## AN0861 behaviours",
        "",
        "| behaviour | meaning |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {text} |" for name, text in BEHAVIOURS.items()]
    family = ""
    for feature in CATALOGUE:
        if feature.family != family:
            family = feature.family
            lines += [
                "",
                f"## {family.capitalize()}",
                "",
                "| name | definition | why it matters | AN0861 behaviour |",
                "| --- | --- | --- | --- |",
            ]
        lines.append(
            f"| `{feature.name}` | {feature.definition} | {feature.why} | {feature.behaviour} |"
        )
    return "\n".join(lines) + "\n"
