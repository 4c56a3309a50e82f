"""`changewatch ingest` starts without pandas, and gives the same table as the library.

pyarrow imports pandas on its first ``pyarrow.array`` call; the ingest command runs in a
block where pandas cannot be imported (``features.without_pandas``), which saves about
0.3 s of CPU per run (ADR 0061). Each case runs in a fresh interpreter, since this one
has pandas loaded already.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from features import IngestOptions, ingest, without_pandas


def python(code: str) -> str:
    """Run ``code`` in a fresh interpreter; return its standard output."""
    done = subprocess.run(
        [sys.executable, "-P", "-c", code], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_ingest_command_never_loads_pandas(make: Any, tmp_path: Path) -> None:
    trail = tmp_path / "trail.json.gz"
    records = {"Records": [make(eventID="a"), make(eventID="b")]}
    trail.write_bytes(gzip.compress(json.dumps(records).encode()))
    out = tmp_path / "e.parquet"
    loaded = python(
        "import sys\n"
        "from changewatch.cli import cli\n"
        f"cli.main(['ingest', {str(trail)!r}, '--out', {str(out)!r}], standalone_mode=False)\n"
        "print('pandas' in sys.modules)\n"
    )
    assert loaded.splitlines()[-1] == "False"
    assert pq.read_table(out).num_rows == 2


def test_pandas_cannot_be_imported_inside_the_block_only() -> None:
    said = python(
        "import sys\n"
        "from features import without_pandas\n"
        "with without_pandas():\n"
        "    try:\n"
        "        import pandas\n"
        "    except ImportError as error:\n"
        "        print('refused:', error)\n"
        "import pandas\n"
        "print('after:', 'pandas' in sys.modules)\n"
    )
    assert said.splitlines() == [
        "refused: pandas is not loaded while ingesting (features.without_pandas)",
        "after: True",
    ]


def test_pyarrow_converts_pandas_again_after_the_block() -> None:
    said = python(
        "import pyarrow as pa\n"
        "from features import without_pandas\n"
        "with without_pandas():\n"
        "    pa.array(['x'])\n"
        "import pandas as pd\n"
        "frame = pd.DataFrame({'c': pd.Categorical(['a', 'b', 'a'])})\n"
        "print(pa.Table.from_pandas(frame).schema.field('c').type)\n"
        "print(pa.table({'a': [1]}).to_pandas().shape)\n"
    )
    assert said.splitlines() == [
        "dictionary<values=large_string, indices=int8, ordered=0>",
        "(1, 1)",
    ]


def test_a_process_with_pandas_loaded_keeps_it_importable() -> None:
    import pandas as loaded_already

    assert loaded_already.__name__ in sys.modules
    with without_pandas():
        import pandas

    assert pandas.__name__ == "pandas"


def test_the_command_writes_the_table_the_library_writes(data_dir: Path, tmp_path: Path) -> None:
    recordings = data_dir / "stratus"
    by_command = tmp_path / "command.parquet"
    subprocess.run(
        [sys.executable, "-m", "changewatch", "ingest", str(recordings), "--out", str(by_command)],
        capture_output=True,
        check=True,
    )
    by_library = tmp_path / "library.parquet"
    ingest([recordings], by_library, options=IngestOptions(jobs=1))
    command, library = pq.read_table(by_command), pq.read_table(by_library)
    assert command.num_rows > 0
    assert command.equals(library)
