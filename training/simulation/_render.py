"""The per-cloud renderer: the simulated CloudTrail of one organisation, written for each cloud.

:class:`CloudSink` stands where the CloudTrail writer stands: it receives every
five-minute bucket of simulated records and writes them in each chosen cloud's native
export layout (AWS: :class:`._writer.S3Writer`; Azure: :mod:`._render_azure`; Google
Cloud: :mod:`._render_gcp`). Records of labelled events are kept aside, and
:meth:`CloudSink.labels` turns the simulation's labels into labels of the rendered
records, with the event ids the readers give them (ADR 0054).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from features import records_to_table
from training.simulation._org import Organisation
from training.simulation._render_azure import azure_path, azure_records
from training.simulation._render_gcp import gcp_entries, gcp_path
from training.simulation._render_names import actor_of_identity, project_of, subscription_of
from training.simulation._render_ops import ABSENT, ops_of
from training.simulation._writer import S3Writer

__all__ = ["CLOUDS", "CloudSink", "LabelRow"]

CLOUDS: Final = ("aws", "azure", "gcp")
"""Clouds the simulator writes."""

LabelRow = tuple[str, str, str, int, str, str, str, str]
"""event id, scenario, kind, time (s), event name, account, region, cloud."""


class CloudSink:
    """Writes each bucket of simulated records for every chosen cloud.

    Parameters
    ----------
    out : Path
        The output directory.
    seed : int
        The simulation's seed (the AWS writer's file names).
    clouds : iterable of str
        Among :data:`CLOUDS`.
    org : Organisation
        The simulated organisation (account names, foreign accounts).
    labels : list
        The simulation's label rows, read as they grow (CloudTrail event id first).
    """

    def __init__(
        self, out: Path, seed: int, clouds: Iterable[str], org: Organisation, labels: list[Any]
    ) -> None:
        self.clouds = tuple(clouds)
        self.out = out
        self.s3 = S3Writer(out, seed) if "aws" in self.clouds else None
        self.names = {a.id: a.name for a in org.accounts}
        self.own = set(self.names)
        self.foreign = set(org.foreign_accounts) | {"all"}
        self._labels = labels
        self._seen = 0
        self._labelled: set[str] = set()
        self.kept: dict[str, list[tuple[str, dict[str, Any]]]] = {c: [] for c in self.clouds}
        self.files: dict[str, set[str]] = {c: set() for c in self.clouds}
        self.records = dict.fromkeys(self.clouds, 0)
        self.bytes = dict.fromkeys(self.clouds, 0)
        self._dirs: set[str] = set()

    def __call__(self, account: str, region: str, slot: int, records: list[dict[str, Any]]) -> None:
        """Write one bucket of simulated records in every chosen cloud."""
        if self.s3 is not None:
            self.s3(account, region, slot, records)
        if self.clouds == ("aws",):
            return
        for row in self._labels[self._seen :]:
            self._labelled.add(row[0])
        self._seen = len(self._labels)
        lines: dict[tuple[str, str], list[bytes]] = {}
        for record in records:
            ops = ops_of(record)
            if not ops:
                continue
            actor = actor_of_identity(record["userIdentity"])
            source = str(record["eventID"])
            labelled = source in self._labelled
            if "azure" in self.clouds:
                for native in azure_records(record, ops, actor, self.foreign, 0):
                    path = azure_path(subscription_of(account), str(native["time"]))
                    lines.setdefault(("azure", path), []).append(orjson.dumps(native))
                    if labelled:
                        self.kept["azure"].append((source, native))
            if "gcp" in self.clouds:
                project = project_of(account, self.names)
                for log, entry in gcp_entries(record, ops, actor, project, self.own):
                    path = gcp_path(log, str(entry["timestamp"]))
                    lines.setdefault(("gcp", path), []).append(orjson.dumps(entry))
                    if labelled:
                        self.kept["gcp"].append((source, entry))
        for (cloud, path), chunk in lines.items():
            self._append(cloud, path, chunk)

    def _append(self, cloud: str, path: str, chunk: list[bytes]) -> None:
        full = os.path.join(self.out, path)
        folder = os.path.dirname(full)
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        data = b"\n".join(chunk) + b"\n"
        with open(full, "ab") as handle:
            handle.write(data)
        self.files[cloud].add(path)
        self.records[cloud] += len(chunk)
        self.bytes[cloud] += len(data)

    def roots(self) -> dict[str, str]:
        """Return the top folder of each cloud's logs, relative to the output directory."""
        top = {
            "aws": "AWSLogs",
            "azure": "insights-activity-logs",
            "gcp": "cloudaudit.googleapis.com",
        }
        return {cloud: top[cloud] for cloud in self.clouds}

    def labels(self, rows: list[tuple[str, str, str, int, str, str, str]]) -> list[LabelRow]:
        """Return the label rows of every chosen cloud: each simulated event's rendered records.

        Event ids, names, accounts and regions are what the readers give the rendered
        records (a simulated event with no equivalent in a cloud has no label there, nor
        has a scenario that does not happen in the cloud: :data:`._render_ops.ABSENT`).
        """
        out: list[LabelRow] = []
        if "aws" in self.clouds:
            out.extend((*row, "aws") for row in rows)
        by_id = {row[0]: row for row in rows}
        for cloud in self.clouds:
            if cloud == "aws" or not self.kept[cloud]:
                continue
            sources = [source for source, _ in self.kept[cloud]]
            result = records_to_table(record for _, record in self.kept[cloud])
            if result.rejections:
                first = result.rejections[0]
                raise RuntimeError(f"the {cloud} reader rejects a rendered record: {first}")
            table = result.table.to_pydict()
            if len(table["event_id"]) != len(sources):
                raise RuntimeError(f"the {cloud} reader merged rendered records as duplicates")
            for index, event_id in enumerate(table["event_id"]):
                source = by_id[sources[index]]
                if source[1] in ABSENT.get(cloud, {}):
                    continue
                when = table["event_time"][index]
                seconds = int(when.timestamp()) if hasattr(when, "timestamp") else source[3]
                out.append(
                    (
                        event_id,
                        source[1],
                        source[2],
                        seconds,
                        table["event_name"][index],
                        table["account_id"][index] or "",
                        table["region"][index] or "",
                        cloud,
                    )
                )
        return out
