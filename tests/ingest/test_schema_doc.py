"""docs/schema.md documents every canonical column, in order."""

from __future__ import annotations

import re
from pathlib import Path

from features import CANONICAL_COLUMNS


def test_schema_doc_lists_the_canonical_columns_in_order() -> None:
    text = (Path(__file__).parents[2] / "docs" / "schema.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert tuple(documented) == CANONICAL_COLUMNS
