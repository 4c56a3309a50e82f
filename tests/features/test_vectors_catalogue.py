"""The catalogue is the single source of the vector's columns and of docs/features.md."""

from __future__ import annotations

from pathlib import Path

import features
from features import (
    BEHAVIOURS,
    CATALOGUE,
    FEATURE_NAMES,
    KEY_COLUMNS,
    VECTOR_COLUMNS,
    VECTOR_SCHEMA_VERSION,
    behaviour_vectors,
    catalogue_markdown,
)

DOC = Path(__file__).parents[2] / "docs" / "features.md"


def test_names_are_unique_and_documented() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    for feature in CATALOGUE:
        assert feature.definition
        assert feature.why
        assert feature.behaviour in BEHAVIOURS


def test_docs_features_md_is_generated_from_the_catalogue() -> None:
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown(), (
        "regenerate with: python -c 'import features; "
        'open("docs/features.md", "w").write(features.catalogue_markdown())\''
    )


def test_vectors_have_the_catalogue_columns_in_order_and_a_schema_version(events) -> None:
    table = events([{"event_time": "2024-03-04T10:00:00Z"}, {"event_time": "2024-03-04T12:30:00Z"}])
    vectors = behaviour_vectors(table)
    assert tuple(vectors.columns) == VECTOR_COLUMNS == KEY_COLUMNS + FEATURE_NAMES
    assert (vectors["schema_version"] == VECTOR_SCHEMA_VERSION).all()
    assert vectors.attrs["schema_version"] == VECTOR_SCHEMA_VERSION
    assert all(vectors[name].dtype == "float64" for name in FEATURE_NAMES)


def test_empty_input_gives_empty_vectors_with_the_columns(events) -> None:
    table = events([{"event_time": "2024-03-04T10:00:00Z"}]).iloc[:0]
    vectors = behaviour_vectors(table)
    assert len(vectors) == 0
    assert tuple(vectors.columns) == VECTOR_COLUMNS


def test_public_names_are_exported() -> None:
    for name in features.__all__:
        assert hasattr(features, name), name
    for name in (
        "behaviour_vectors",
        "build_profiles",
        "Profiles",
        "FeatureState",
        "FeatureConfig",
    ):
        assert name in features.__all__
