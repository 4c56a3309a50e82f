"""Validating OCSF objects against the official schema of the version they declare.

The ``ocsf-json-schema`` package bundles the official OCSF schemas (1.0 to 1.8); each
object is checked against its class with the profiles its metadata names, as consumers
such as Security Lake custom sources check it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import ocsf_json_schema
from ocsf_json_schema import OcsfJsonSchemaEmbedded, load_ocsf_schema_json


@cache
def official_validator(version: str, class_uid: int, profiles: tuple[str, ...]) -> Any:
    """The official JSON schema of a class with profiles, as a validator."""
    bundled = Path(ocsf_json_schema.__file__).parent / "ocsf" / f"{version}.json"
    schema = OcsfJsonSchemaEmbedded(load_ocsf_schema_json(str(bundled)))
    name = schema.lookup_class_name_from_uid(class_uid)
    return jsonschema.Draft202012Validator(schema.get_class_schema(name, list(profiles)))


def schema_errors(ocsf: dict[str, Any]) -> list[str]:
    """Every error of an OCSF object against the official schema of the version it declares."""
    metadata = ocsf["metadata"]
    validator = official_validator(
        metadata["version"], ocsf["class_uid"], tuple(metadata.get("profiles") or ())
    )
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(ocsf)]
