"""Parsing CloudTrail into the canonical change-event table, identities and (later) behavioural vectors.

Public surface::

    ingest(paths, out, options=IngestOptions(...))   files/directories/stdin -> Parquet
    records_to_table(records)                        in-memory records -> Arrow table
    read_events(path)                                Parquet -> pandas
    Normalizer / normalize                           one raw record -> one canonical row
    CANONICAL_SCHEMA, SCHEMA_VERSION, ...            the table's columns and vocabularies
"""

from __future__ import annotations

from features._clients import client_of
from features._identity import IdentityKeyRule
from features._ingest import (
    IngestOptions,
    IngestReport,
    RecordsResult,
    Rejection,
    ingest,
    records_to_table,
)
from features._io import read_events
from features._network import GeoIP, network_of
from features._normalize import Normalizer, normalize
from features._schema import (
    ACTIONS,
    CANONICAL_COLUMNS,
    CANONICAL_SCHEMA,
    CLIENT_FAMILIES,
    RESOURCE_TYPES,
    SCHEMA_VERSION,
)
from features._taxonomy import classify

__all__ = [
    "ACTIONS",
    "CANONICAL_COLUMNS",
    "CANONICAL_SCHEMA",
    "CLIENT_FAMILIES",
    "RESOURCE_TYPES",
    "SCHEMA_VERSION",
    "GeoIP",
    "IdentityKeyRule",
    "IngestOptions",
    "IngestReport",
    "Normalizer",
    "RecordsResult",
    "Rejection",
    "classify",
    "client_of",
    "ingest",
    "network_of",
    "normalize",
    "read_events",
    "records_to_table",
]
