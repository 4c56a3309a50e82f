"""Parsing CloudTrail into the canonical change-event table, identities and behavioural vectors.

Public surface::

    ingest(paths, out, options=IngestOptions(...))   files/directories/stdin -> Parquet
    records_to_table(records)                        in-memory records -> Arrow table
    read_records(data, source)                       one CloudTrail file's bytes -> raw records
    read_events(path)                                Parquet -> pandas
    Normalizer / normalize                           one raw record -> one canonical row
    CANONICAL_SCHEMA, SCHEMA_VERSION, ...            the table's columns and vocabularies
    behaviour_vectors(events, profiles, recent=...)  events -> one vector per identity and window
    build_profiles(events) / Profiles                per-identity history, saved without pickle
    FeatureState                                     the live service's profiles + recent events
    FeatureConfig, CATALOGUE, VECTOR_COLUMNS         settings and the feature catalogue
    FEATURISER_INPUT_COLUMNS                         canonical columns behaviour_vectors reads
"""

from __future__ import annotations

from features._catalogue import (
    BEHAVIOURS,
    CATALOGUE,
    FEATURE_NAMES,
    KEY_COLUMNS,
    VECTOR_COLUMNS,
    VECTOR_SCHEMA_VERSION,
    Feature,
    catalogue_markdown,
)
from features._clients import client_of
from features._config import FeatureConfig
from features._identity import IdentityKeyRule
from features._ingest import (
    IngestOptions,
    IngestReport,
    RecordsResult,
    Rejection,
    ingest,
    records_to_table,
)
from features._io import read_events, write_events
from features._network import GeoIP, network_of
from features._normalize import Normalizer, normalize
from features._profiles import PROFILE_SCHEMA_VERSION, Profiles, build_profiles, merge_profiles
from features._schema import (
    ACTIONS,
    CANONICAL_COLUMNS,
    CANONICAL_SCHEMA,
    CLIENT_FAMILIES,
    RESOURCE_TYPES,
    SCHEMA_VERSION,
)
from features._sources import NotCloudTrail, read_records
from features._state import FeatureState
from features._taxonomy import classify
from features._vectors import behaviour_vectors
from features._windows import REQUIRED_COLUMNS as FEATURISER_INPUT_COLUMNS

__all__ = [
    "ACTIONS",
    "BEHAVIOURS",
    "CANONICAL_COLUMNS",
    "CANONICAL_SCHEMA",
    "CATALOGUE",
    "CLIENT_FAMILIES",
    "FEATURE_NAMES",
    "FEATURISER_INPUT_COLUMNS",
    "KEY_COLUMNS",
    "PROFILE_SCHEMA_VERSION",
    "RESOURCE_TYPES",
    "SCHEMA_VERSION",
    "VECTOR_COLUMNS",
    "VECTOR_SCHEMA_VERSION",
    "Feature",
    "FeatureConfig",
    "FeatureState",
    "GeoIP",
    "IdentityKeyRule",
    "IngestOptions",
    "IngestReport",
    "Normalizer",
    "NotCloudTrail",
    "Profiles",
    "RecordsResult",
    "Rejection",
    "behaviour_vectors",
    "build_profiles",
    "catalogue_markdown",
    "classify",
    "client_of",
    "ingest",
    "merge_profiles",
    "network_of",
    "normalize",
    "read_events",
    "read_records",
    "records_to_table",
    "write_events",
]
