"""Ingesting in a process that never loads pandas: about 0.3 s of CPU less to start.

pyarrow imports pandas the first time ``pyarrow.array`` is called (pyarrow 25: it asks
pandas whether the argument is a Series, even for a list or an ndarray), and so do
``pyarrow.chunked_array`` and ``pyarrow.scalar``. Ingestion never hands pandas objects
to pyarrow, yet every ``changewatch ingest`` paid for importing pandas: 0.24-0.30 s of
CPU of a start-up of about 0.65 s (ADR 0053, ADR 0061).

:func:`without_pandas` makes ``import pandas`` fail inside its block, when pandas is not
loaded yet, so pyarrow concludes that pandas is missing and converts Python values
without it. Outside the block pandas imports as usual, and pyarrow's own pandas
conversions (``Table.from_pandas``, ``Table.to_pandas``) import it again when called.
What stays for the rest of the process: until one of those is called, ``pyarrow.array``
of a pandas object converts it as a plain sequence (a categorical Series becomes
strings rather than a dictionary array). Hence the block is for processes that only
ingest and then end: the ``changewatch ingest`` command uses it, ``features.ingest``
does not.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

__all__ = ["without_pandas"]


class _NoPandas(importlib.abc.MetaPathFinder):
    """A finder that refuses ``pandas`` (and only it) while installed."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """Refuse pandas; leave every other module to the finders after this one."""
        if fullname == "pandas":
            raise ImportError("pandas is not loaded while ingesting (features.without_pandas)")
        return None


@contextmanager
def without_pandas() -> Iterator[None]:
    """Run the block with ``import pandas`` failing, unless pandas is loaded already.

    For a process that only ingests and then ends (the module's doc says what stays
    afterwards). Code in the block that needs pandas gets an ``ImportError``.
    """
    if "pandas" in sys.modules:
        yield
        return
    finder = _NoPandas()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
