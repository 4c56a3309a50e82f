"""Output files: CloudTrail's S3 delivery tree, the labels table and the manifest.

CloudTrail delivers a gzip JSON document ``{"Records": [...]}`` about every five
minutes per account and region, to
``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`` +
``<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 chars>.json.gz``.
Files are compressed with a zero gzip mtime so that one seed gives the same bytes.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from isal import igzip

from training.simulation._engine import SLOT
from training.simulation._ids import alnum

__all__ = ["S3Writer", "write_labels"]

MAX_RECORDS_PER_FILE: Final = 2500


class S3Writer:
    """Writes buckets of records as CloudTrail log files under ``out/AWSLogs``.

    Parameters
    ----------
    out : Path
        The output directory.
    seed : int
        Seeds the random part of file names and the delivery delay.
    """

    def __init__(self, out: Path, seed: int) -> None:
        self.root = out / "AWSLogs"
        self.rng = random.Random(f"writer:{seed}")
        self.files = 0
        self.records = 0
        self.bytes = 0
        self._dirs: set[str] = set()

    def __call__(self, account: str, region: str, slot: int, records: list[dict[str, Any]]) -> None:
        """Write one five-minute bucket (split when very large)."""
        for first in range(0, len(records), MAX_RECORDS_PER_FILE):
            chunk = records[first : first + MAX_RECORDS_PER_FILE]
            delivered = datetime.fromtimestamp(slot + SLOT + self.rng.randrange(0, 240), UTC)
            folder = os.path.join(
                self.root,
                account,
                "CloudTrail",
                region,
                f"{delivered:%Y}",
                f"{delivered:%m}",
                f"{delivered:%d}",
            )
            if folder not in self._dirs:
                os.makedirs(folder, exist_ok=True)
                self._dirs.add(folder)
            stamp = f"{delivered:%Y%m%dT%H%MZ}"
            name = f"{account}_CloudTrail_{region}_{stamp}_{alnum(16, self.rng)}.json.gz"
            data = igzip.compress(orjson.dumps({"Records": chunk}), compresslevel=1, mtime=0)
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(data)
            self.files += 1
            self.records += len(chunk)
            self.bytes += len(data)


def write_labels(rows: Sequence[tuple[Any, ...]], path: Path) -> None:
    """Write ``labels.parquet``: one row per labelled event, sorted by time then id.

    Rows of eight fields carry the cloud of the event (``cloud`` column); a simulation of
    AWS alone writes seven, as before clouds were simulated.
    """
    rows = sorted(rows, key=lambda row: (row[3], row[0]))
    width = len(rows[0]) if rows else 7
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 7
    extra = {"cloud": pa.array(columns[7], pa.string())} if width == 8 else {}
    table = pa.table(
        {
            "event_id": pa.array(columns[0], pa.string()),
            "scenario": pa.array(columns[1], pa.string()),
            "kind": pa.array(columns[2], pa.string()),
            "event_time": pa.array(
                [t * 1_000_000 for t in columns[3]], pa.timestamp("us", tz="UTC")
            ),
            "event_name": pa.array(columns[4], pa.string()),
            "account_id": pa.array(columns[5], pa.string()),
            "region": pa.array(columns[6], pa.string()),
        }
        | extra
    )
    pq.write_table(table, path, compression="zstd")
