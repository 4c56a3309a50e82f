"""Parsing CloudTrail into the canonical change-event table, identities and behavioural vectors.

Public surface::

    ingest(paths, out, options=IngestOptions(...))   files/directories/stdin -> Parquet
    without_pandas()                                 a block where pyarrow does without pandas
    find_sources(paths)                              the files ingest reads, and paths it cannot
    records_to_table(records)                        in-memory records -> Arrow table
    read_records(data, source)                       one CloudTrail file's bytes -> raw records
    read_events(path)                                Parquet -> pandas
    Normalizer / normalize                           one raw record -> one canonical row
    CANONICAL_SCHEMA, SCHEMA_VERSION, ...            the table's columns and vocabularies
    behaviour_vectors(events, profiles, recent=...)  events -> one vector per identity and window
    org_first_use(events) / first_uses(...)          the organisation's first use of actions
    build_profiles(events) / Profiles                per-identity history, saved without pickle
    FeatureState                                     the live service's profiles + recent events
    EventColumns                                     events as NumPy columns (a state's open day)
    FeatureConfig, CATALOGUE, VECTOR_COLUMNS         settings and the feature catalogue
    ChangewatchError and subclasses                  the exception tree (also changewatch.errors)
    RULE_INPUTS, ATTEMPTED_CHANGE, row_flags, ...    rule inputs declared once (_predicates)
    snapshot_chains(...)                             the snapshot chain (features and rule)
    FEATURISER_INPUT_COLUMNS                         canonical columns behaviour_vectors reads
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from features._aws_ranges import PACKAGED as PACKAGED_AWS_RANGES
    from features._aws_ranges import SOURCE_URL as AWS_RANGES_URL
    from features._aws_ranges import (
        AwsRanges,
        default_ranges,
        fetch_ranges,
        outside_aws,
        refreshed_path,
        write_ranges,
    )
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
    from features._clouds import looks_like_records
    from features._columns import EventColumns
    from features._config import FeatureConfig
    from features._exceptions import (
        ChangewatchError,
        ConfigurationError,
        GeoIPError,
        InputError,
        ModelBundleError,
        RecordRejected,
        SourceError,
    )
    from features._identity import (
        IDENTITY_KEY_VERSION,
        PERSON_KEYS,
        IdentityKeyRule,
        is_person_key,
        peer_groups,
        rekey_row,
    )
    from features._identity_audit import SessionKeyedRole, never_repeating_person_keys
    from features._ingest import RecordsResult, ingest, records_to_table
    from features._io import read_events, write_events
    from features._network import GeoIP, network_of
    from features._normalize import Normalizer, normalize
    from features._predicates import (
        ACCESS_REMOVED,
        ADMIN_INGRESS,
        ATTACH,
        ATTEMPTED_CHANGE,
        CHAIN_SOURCES,
        CHAIN_STEP,
        CHAIN_STEP_DONE,
        CHANGE,
        COMPUTE_INPUTS,
        DELETION,
        DISK_ATTACH,
        DRY_RUN,
        EBS_CALL,
        EBS_DIRECT_READ,
        EBS_DIRECT_READS,
        EVERY,
        EXPORT_TASK,
        INSTANCE_CALL,
        INSTANCE_LAUNCH,
        KEY_PAIR,
        OWN_CALL,
        PASSWORD_READ,
        PERSON_CALL,
        RESTART_STEP,
        RULE_INPUTS,
        RUN_CODE,
        SERIAL_CONSOLE,
        SHARE,
        SHARE_GRANT,
        SHARED_TYPES,
        SNAPSHOT_MADE,
        SSH_KEY_PUSH,
        UNUSUAL_LAUNCH,
        UNUSUAL_TYPES,
        USER_DATA_CHANGE,
        USER_DATA_READ,
        VOLUME_MADE,
        Col,
        Expr,
        RuleInput,
        flags_of,
        row_flags,
    )
    from features._profiles import PROFILE_SCHEMA_VERSION, Profiles, build_profiles, merge_profiles
    from features._report import IngestOptions, IngestReport, Rejection
    from features._resources import ids_of_type, resource_type_of, short_id
    from features._schema import (
        ACTIONS,
        CANONICAL_COLUMNS,
        CANONICAL_SCHEMA,
        CLIENT_FAMILIES,
        RESOURCE_TYPES,
        SCHEMA_VERSION,
        SCHEMA_VERSION_KEY,
    )
    from features._sequences import (
        ATTACHED,
        SnapshotChain,
        chain_roles,
        declared_mask,
        snapshot_chains,
    )
    from features._sources import NotCloudTrail, read_records
    from features._state import FeatureState
    from features._taxonomy import classify
    from features._vectors import behaviour_vectors, org_first_use
    from features._version import PRODUCT_VERSION
    from features._walk import find_sources
    from features._windows import REQUIRED_COLUMNS as FEATURISER_INPUT_COLUMNS
    from features._windows import all_text, first_uses, to_ns
    from features._without_pandas import without_pandas

# Names are imported when first used (PEP 562), so that ``changewatch ingest`` and its
# workers do not pay for pandas and the featuriser they never touch.
_WHERE: _typing.Final[dict[str, tuple[str, str]]] = {
    "ACCESS_REMOVED": ("features._predicates", "ACCESS_REMOVED"),
    "ACTIONS": ("features._schema", "ACTIONS"),
    "ADMIN_INGRESS": ("features._predicates", "ADMIN_INGRESS"),
    "ATTACH": ("features._predicates", "ATTACH"),
    "ATTEMPTED_CHANGE": ("features._predicates", "ATTEMPTED_CHANGE"),
    "AWS_RANGES_URL": ("features._aws_ranges", "SOURCE_URL"),
    "AwsRanges": ("features._aws_ranges", "AwsRanges"),
    "BEHAVIOURS": ("features._catalogue", "BEHAVIOURS"),
    "CANONICAL_COLUMNS": ("features._schema", "CANONICAL_COLUMNS"),
    "CANONICAL_SCHEMA": ("features._schema", "CANONICAL_SCHEMA"),
    "CATALOGUE": ("features._catalogue", "CATALOGUE"),
    "CHAIN_STEP": ("features._predicates", "CHAIN_STEP"),
    "CHAIN_SOURCES": ("features._predicates", "CHAIN_SOURCES"),
    "CHAIN_STEP_DONE": ("features._predicates", "CHAIN_STEP_DONE"),
    "DISK_ATTACH": ("features._predicates", "DISK_ATTACH"),
    "INSTANCE_LAUNCH": ("features._predicates", "INSTANCE_LAUNCH"),
    "RESTART_STEP": ("features._predicates", "RESTART_STEP"),
    "RUN_CODE": ("features._predicates", "RUN_CODE"),
    "SNAPSHOT_MADE": ("features._predicates", "SNAPSHOT_MADE"),
    "VOLUME_MADE": ("features._predicates", "VOLUME_MADE"),
    "CHANGE": ("features._predicates", "CHANGE"),
    "CLIENT_FAMILIES": ("features._schema", "CLIENT_FAMILIES"),
    "COMPUTE_INPUTS": ("features._predicates", "COMPUTE_INPUTS"),
    "ChangewatchError": ("features._exceptions", "ChangewatchError"),
    "Col": ("features._predicates", "Col"),
    "ConfigurationError": ("features._exceptions", "ConfigurationError"),
    "DELETION": ("features._predicates", "DELETION"),
    "DRY_RUN": ("features._predicates", "DRY_RUN"),
    "EBS_CALL": ("features._predicates", "EBS_CALL"),
    "EBS_DIRECT_READ": ("features._predicates", "EBS_DIRECT_READ"),
    "EBS_DIRECT_READS": ("features._predicates", "EBS_DIRECT_READS"),
    "EVERY": ("features._predicates", "EVERY"),
    "EventColumns": ("features._columns", "EventColumns"),
    "EXPORT_TASK": ("features._predicates", "EXPORT_TASK"),
    "Expr": ("features._predicates", "Expr"),
    "FEATURE_NAMES": ("features._catalogue", "FEATURE_NAMES"),
    "FEATURISER_INPUT_COLUMNS": ("features._windows", "REQUIRED_COLUMNS"),
    "Feature": ("features._catalogue", "Feature"),
    "FeatureConfig": ("features._config", "FeatureConfig"),
    "FeatureState": ("features._state", "FeatureState"),
    "GeoIP": ("features._network", "GeoIP"),
    "GeoIPError": ("features._exceptions", "GeoIPError"),
    "IDENTITY_KEY_VERSION": ("features._identity", "IDENTITY_KEY_VERSION"),
    "INSTANCE_CALL": ("features._predicates", "INSTANCE_CALL"),
    "IdentityKeyRule": ("features._identity", "IdentityKeyRule"),
    "IngestOptions": ("features._report", "IngestOptions"),
    "IngestReport": ("features._report", "IngestReport"),
    "InputError": ("features._exceptions", "InputError"),
    "KEY_COLUMNS": ("features._catalogue", "KEY_COLUMNS"),
    "KEY_PAIR": ("features._predicates", "KEY_PAIR"),
    "ModelBundleError": ("features._exceptions", "ModelBundleError"),
    "Normalizer": ("features._normalize", "Normalizer"),
    "NotCloudTrail": ("features._sources", "NotCloudTrail"),
    "OWN_CALL": ("features._predicates", "OWN_CALL"),
    "PACKAGED_AWS_RANGES": ("features._aws_ranges", "PACKAGED"),
    "PASSWORD_READ": ("features._predicates", "PASSWORD_READ"),
    "PERSON_CALL": ("features._predicates", "PERSON_CALL"),
    "PRODUCT_VERSION": ("features._version", "PRODUCT_VERSION"),
    "PROFILE_SCHEMA_VERSION": ("features._profiles", "PROFILE_SCHEMA_VERSION"),
    "Profiles": ("features._profiles", "Profiles"),
    "RESOURCE_TYPES": ("features._schema", "RESOURCE_TYPES"),
    "RULE_INPUTS": ("features._predicates", "RULE_INPUTS"),
    "RecordRejected": ("features._exceptions", "RecordRejected"),
    "RecordsResult": ("features._ingest", "RecordsResult"),
    "Rejection": ("features._report", "Rejection"),
    "RuleInput": ("features._predicates", "RuleInput"),
    "SCHEMA_VERSION": ("features._schema", "SCHEMA_VERSION"),
    "SCHEMA_VERSION_KEY": ("features._schema", "SCHEMA_VERSION_KEY"),
    "SERIAL_CONSOLE": ("features._predicates", "SERIAL_CONSOLE"),
    "SHARE": ("features._predicates", "SHARE"),
    "SHARED_TYPES": ("features._predicates", "SHARED_TYPES"),
    "SHARE_GRANT": ("features._predicates", "SHARE_GRANT"),
    "SnapshotChain": ("features._sequences", "SnapshotChain"),
    "SSH_KEY_PUSH": ("features._predicates", "SSH_KEY_PUSH"),
    "SessionKeyedRole": ("features._identity_audit", "SessionKeyedRole"),
    "SourceError": ("features._exceptions", "SourceError"),
    "UNUSUAL_LAUNCH": ("features._predicates", "UNUSUAL_LAUNCH"),
    "UNUSUAL_TYPES": ("features._predicates", "UNUSUAL_TYPES"),
    "USER_DATA_CHANGE": ("features._predicates", "USER_DATA_CHANGE"),
    "USER_DATA_READ": ("features._predicates", "USER_DATA_READ"),
    "VECTOR_COLUMNS": ("features._catalogue", "VECTOR_COLUMNS"),
    "VECTOR_SCHEMA_VERSION": ("features._catalogue", "VECTOR_SCHEMA_VERSION"),
    "behaviour_vectors": ("features._vectors", "behaviour_vectors"),
    "build_profiles": ("features._profiles", "build_profiles"),
    "catalogue_markdown": ("features._catalogue", "catalogue_markdown"),
    "classify": ("features._taxonomy", "classify"),
    "client_of": ("features._clients", "client_of"),
    "first_uses": ("features._windows", "first_uses"),
    "default_ranges": ("features._aws_ranges", "default_ranges"),
    "fetch_ranges": ("features._aws_ranges", "fetch_ranges"),
    "find_sources": ("features._walk", "find_sources"),
    "looks_like_records": ("features._clouds", "looks_like_records"),
    "flags_of": ("features._predicates", "flags_of"),
    "ingest": ("features._ingest", "ingest"),
    "merge_profiles": ("features._profiles", "merge_profiles"),
    "network_of": ("features._network", "network_of"),
    "never_repeating_person_keys": ("features._identity_audit", "never_repeating_person_keys"),
    "normalize": ("features._normalize", "normalize"),
    "org_first_use": ("features._vectors", "org_first_use"),
    "outside_aws": ("features._aws_ranges", "outside_aws"),
    "peer_groups": ("features._identity", "peer_groups"),
    "is_person_key": ("features._identity", "is_person_key"),
    "PERSON_KEYS": ("features._identity", "PERSON_KEYS"),
    "read_events": ("features._io", "read_events"),
    "read_records": ("features._sources", "read_records"),
    "records_to_table": ("features._ingest", "records_to_table"),
    "refreshed_path": ("features._aws_ranges", "refreshed_path"),
    "rekey_row": ("features._identity", "rekey_row"),
    "row_flags": ("features._predicates", "row_flags"),
    "snapshot_chains": ("features._sequences", "snapshot_chains"),
    "chain_roles": ("features._sequences", "chain_roles"),
    "ATTACHED": ("features._sequences", "ATTACHED"),
    "declared_mask": ("features._sequences", "declared_mask"),
    "ids_of_type": ("features._resources", "ids_of_type"),
    "resource_type_of": ("features._resources", "resource_type_of"),
    "short_id": ("features._resources", "short_id"),
    "to_ns": ("features._windows", "to_ns"),
    "all_text": ("features._windows", "all_text"),
    "without_pandas": ("features._without_pandas", "without_pandas"),
    "write_events": ("features._io", "write_events"),
    "write_ranges": ("features._aws_ranges", "write_ranges"),
}


def __getattr__(name: str) -> _typing.Any:
    """Import a public name from the module that owns it, on first use."""
    try:
        module, attribute = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'features' has no attribute {name!r}") from None
    value = getattr(_importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own."""
    return sorted({*globals(), *__all__})


__all__ = [
    "ACCESS_REMOVED",
    "ACTIONS",
    "ADMIN_INGRESS",
    "ATTACH",
    "ATTACHED",
    "ATTEMPTED_CHANGE",
    "AWS_RANGES_URL",
    "BEHAVIOURS",
    "CANONICAL_COLUMNS",
    "CANONICAL_SCHEMA",
    "CATALOGUE",
    "CHAIN_SOURCES",
    "CHAIN_STEP",
    "CHAIN_STEP_DONE",
    "CHANGE",
    "CLIENT_FAMILIES",
    "COMPUTE_INPUTS",
    "DELETION",
    "DISK_ATTACH",
    "DRY_RUN",
    "EBS_CALL",
    "EBS_DIRECT_READ",
    "EBS_DIRECT_READS",
    "EVERY",
    "EXPORT_TASK",
    "FEATURE_NAMES",
    "FEATURISER_INPUT_COLUMNS",
    "IDENTITY_KEY_VERSION",
    "INSTANCE_CALL",
    "INSTANCE_LAUNCH",
    "KEY_COLUMNS",
    "KEY_PAIR",
    "OWN_CALL",
    "PACKAGED_AWS_RANGES",
    "PASSWORD_READ",
    "PERSON_CALL",
    "PERSON_KEYS",
    "PRODUCT_VERSION",
    "PROFILE_SCHEMA_VERSION",
    "RESOURCE_TYPES",
    "RESTART_STEP",
    "RULE_INPUTS",
    "RUN_CODE",
    "SCHEMA_VERSION",
    "SCHEMA_VERSION_KEY",
    "SERIAL_CONSOLE",
    "SHARE",
    "SHARED_TYPES",
    "SHARE_GRANT",
    "SNAPSHOT_MADE",
    "SSH_KEY_PUSH",
    "UNUSUAL_LAUNCH",
    "UNUSUAL_TYPES",
    "USER_DATA_CHANGE",
    "USER_DATA_READ",
    "VECTOR_COLUMNS",
    "VECTOR_SCHEMA_VERSION",
    "VOLUME_MADE",
    "AwsRanges",
    "ChangewatchError",
    "Col",
    "ConfigurationError",
    "EventColumns",
    "Expr",
    "Feature",
    "FeatureConfig",
    "FeatureState",
    "GeoIP",
    "GeoIPError",
    "IdentityKeyRule",
    "IngestOptions",
    "IngestReport",
    "InputError",
    "ModelBundleError",
    "Normalizer",
    "NotCloudTrail",
    "Profiles",
    "RecordRejected",
    "RecordsResult",
    "Rejection",
    "RuleInput",
    "SessionKeyedRole",
    "SnapshotChain",
    "SourceError",
    "all_text",
    "behaviour_vectors",
    "build_profiles",
    "catalogue_markdown",
    "chain_roles",
    "classify",
    "client_of",
    "declared_mask",
    "default_ranges",
    "fetch_ranges",
    "find_sources",
    "first_uses",
    "flags_of",
    "ids_of_type",
    "ingest",
    "is_person_key",
    "looks_like_records",
    "merge_profiles",
    "network_of",
    "never_repeating_person_keys",
    "normalize",
    "org_first_use",
    "outside_aws",
    "peer_groups",
    "read_events",
    "read_records",
    "records_to_table",
    "refreshed_path",
    "rekey_row",
    "resource_type_of",
    "row_flags",
    "short_id",
    "snapshot_chains",
    "to_ns",
    "without_pandas",
    "write_events",
    "write_ranges",
]
