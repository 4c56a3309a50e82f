"""The small expression language rule inputs are written in: columns compared with values.

``Col("action") == "delete"``, ``Col("mfa").true``, ``Col("session_name").matches(r"^i-")``,
joined with ``&``, ``|`` and ``~``. Every expression evaluates three ways: over a frame
(:meth:`Expr.mask`, NumPy), on one row as a dict (:meth:`Expr.test`) and as a Spark column
(:meth:`Expr.spark`, ``pyspark.sql.functions`` passed in). The declarations live in
:mod:`features._predicates`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BoolArray", "Col", "Columns", "Expr"]

BoolArray = npt.NDArray[np.bool_]
Columns: TypeAlias = "pd.DataFrame | Mapping[str, Any]"
"""A frame or any mapping of column name to array-like."""


def _values(columns: Columns, name: str) -> npt.NDArray[Any]:
    values: npt.NDArray[Any] = np.asarray(columns[name], dtype=object)
    return values


def _row_missing(value: Any) -> bool:
    """``None``, float NaN and pandas' ``NA``: the missing values of an object column."""
    return (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or type(value).__name__ == "NAType"
    )


def _missing(values: npt.NDArray[Any]) -> BoolArray:
    return np.fromiter((_row_missing(v) for v in values), dtype=bool, count=len(values))


def _member(values: npt.NDArray[Any], wanted: frozenset[Any]) -> BoolArray:
    """Rows whose value is in ``wanted`` (missing values never are; hashing, not sorting)."""
    return np.fromiter(
        (not _row_missing(v) and v in wanted for v in values), dtype=bool, count=len(values)
    )


def _true(value: Any) -> bool:
    return value is True or (isinstance(value, (bool, np.bool_, int)) and bool(value))


class Expr:
    """A predicate over one event's columns; combine with ``&``, ``|`` and ``~``."""

    def mask(self, columns: Columns) -> BoolArray:
        """Evaluate over every row of a frame (or a mapping of columns)."""
        raise NotImplementedError

    def test(self, row: Mapping[str, Any]) -> bool:
        """Evaluate on one row given as a dict of column values."""
        raise NotImplementedError

    def spark(self, functions: Any) -> Any:
        """Return the Spark column expression; ``functions`` is ``pyspark.sql.functions``."""
        raise NotImplementedError

    def columns(self) -> frozenset[str]:
        """Return the columns the predicate reads."""
        raise NotImplementedError

    def __and__(self, other: Expr) -> Expr:
        return _Both(self, other)

    def __or__(self, other: Expr) -> Expr:
        return _Either(self, other)

    def __invert__(self) -> Expr:
        return _Not(self)


@dataclass(frozen=True, slots=True, eq=False)
class _Both(Expr):
    left: Expr
    right: Expr

    def mask(self, columns: Columns) -> BoolArray:
        return self.left.mask(columns) & self.right.mask(columns)

    def test(self, row: Mapping[str, Any]) -> bool:
        return self.left.test(row) and self.right.test(row)

    def spark(self, functions: Any) -> Any:
        return self.left.spark(functions) & self.right.spark(functions)

    def columns(self) -> frozenset[str]:
        return self.left.columns() | self.right.columns()


@dataclass(frozen=True, slots=True, eq=False)
class _Either(Expr):
    left: Expr
    right: Expr

    def mask(self, columns: Columns) -> BoolArray:
        return self.left.mask(columns) | self.right.mask(columns)

    def test(self, row: Mapping[str, Any]) -> bool:
        return self.left.test(row) or self.right.test(row)

    def spark(self, functions: Any) -> Any:
        return self.left.spark(functions) | self.right.spark(functions)

    def columns(self) -> frozenset[str]:
        return self.left.columns() | self.right.columns()


@dataclass(frozen=True, slots=True, eq=False)
class _Not(Expr):
    inner: Expr

    def mask(self, columns: Columns) -> BoolArray:
        return ~self.inner.mask(columns)

    def test(self, row: Mapping[str, Any]) -> bool:
        return not self.inner.test(row)

    def spark(self, functions: Any) -> Any:
        return ~self.inner.spark(functions)

    def columns(self) -> frozenset[str]:
        return self.inner.columns()


@dataclass(frozen=True, slots=True, eq=False)
class _Compare(Expr):
    """``column == value``, ``column != value`` or ``column in values``; missing is never equal."""

    name: str
    op: str
    values: tuple[Any, ...]

    def mask(self, columns: Columns) -> BoolArray:
        column = _values(columns, self.name)
        if self.op == "null":
            return _missing(column)
        found = _member(column, frozenset(self.values))
        return ~found if self.op == "ne" else found

    def test(self, row: Mapping[str, Any]) -> bool:
        value = row.get(self.name)
        if self.op == "null":
            return _row_missing(value)
        found = not _row_missing(value) and value in self.values
        return not found if self.op == "ne" else found

    def spark(self, functions: Any) -> Any:
        column = functions.col(self.name)
        if self.op == "null":
            return column.isNull()
        found = column.isin(list(self.values)) & column.isNotNull()
        return ~found if self.op == "ne" else found

    def columns(self) -> frozenset[str]:
        return frozenset({self.name})


@dataclass(frozen=True, slots=True, eq=False)
class _Truthy(Expr):
    """A boolean column is true (missing counts as false)."""

    name: str

    def mask(self, columns: Columns) -> BoolArray:
        raw = np.asarray(columns[self.name])
        if raw.dtype == np.bool_:
            return raw.copy()
        column = _values(columns, self.name)
        return np.fromiter((_true(v) for v in column), dtype=bool, count=len(column))

    def test(self, row: Mapping[str, Any]) -> bool:
        return _true(row.get(self.name))

    def spark(self, functions: Any) -> Any:
        return functions.coalesce(functions.col(self.name), functions.lit(False))

    def columns(self) -> frozenset[str]:
        return frozenset({self.name})


@dataclass(frozen=True, slots=True, eq=False)
class _Match(Expr):
    """A string column matches a regular expression (``re.search``; missing never matches).

    Patterns stay within what Python's ``re`` and Java's (Spark's ``rlike``) read alike:
    anchors, classes, alternatives and counted repeats.
    """

    name: str
    pattern: str

    def mask(self, columns: Columns) -> BoolArray:
        search = re.compile(self.pattern).search
        column = _values(columns, self.name)
        return np.fromiter(
            (isinstance(v, str) and search(v) is not None for v in column),
            dtype=bool,
            count=len(column),
        )

    def test(self, row: Mapping[str, Any]) -> bool:
        value = row.get(self.name)
        return isinstance(value, str) and re.search(self.pattern, value) is not None

    def spark(self, functions: Any) -> Any:
        column = functions.col(self.name)
        return column.isNotNull() & column.rlike(self.pattern)

    def columns(self) -> frozenset[str]:
        return frozenset({self.name})


@dataclass(frozen=True, slots=True)
class Col:
    """A canonical column in a predicate: ``Col("action") == "delete"``, ``Col("mfa").true``."""

    name: str

    def __eq__(self, value: object) -> Expr:  # type: ignore[override]
        return _Compare(self.name, "eq", (value,))

    def __ne__(self, value: object) -> Expr:  # type: ignore[override]
        return _Compare(self.name, "ne", (value,))

    def __hash__(self) -> int:
        return hash(self.name)

    def isin(self, values: Collection[Any]) -> Expr:
        """Hold when the value is one of ``values`` (a missing value never is)."""
        return _Compare(self.name, "eq", tuple(sorted(values)))

    def missing(self) -> Expr:
        """Hold when the value is missing (``None``, NaN or ``NA``)."""
        return _Compare(self.name, "null", ())

    def matches(self, pattern: str) -> Expr:
        """Hold when the value is a string in which ``pattern`` is found (``re.search``)."""
        re.compile(pattern)  # a bad pattern fails where it is declared
        return _Match(self.name, pattern)

    @property
    def true(self) -> Expr:
        """A boolean column holds true."""
        return _Truthy(self.name)
