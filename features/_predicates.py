"""What the rules and features ask of one event, declared once: the *rule inputs*.

"An attempted compute change", "an EBS direct read", "a step of the snapshot chain":
each is a :class:`RuleInput`, a named predicate over the columns of one canonical event
written as a small expression (:class:`Col` compared with values, joined with ``&``,
``|`` and ``~``). Every engine evaluates the same declaration its own way:

* :meth:`RuleInput.mask` over a frame (NumPy: the rules, the batch summary, the history);
* :meth:`RuleInput.test` on one row as a dict (the service classifies each event once, when
  it stores it, and keeps the bits of :func:`row_flags` beside it);
* :meth:`RuleInput.spark` as a Spark column expression (``pyspark.sql.functions`` is passed
  in, so this module never imports Spark).

``tests/features/test_predicates.py`` holds each evaluation to the others on every real
recording and on random rows.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ATTACH",
    "ATTEMPTED_CHANGE",
    "CHAIN_STEP",
    "CHAIN_STEPS",
    "CHANGE",
    "DELETION",
    "DRY_RUN",
    "EBS_CALL",
    "EBS_DIRECT_READ",
    "EBS_DIRECT_READS",
    "EVERY",
    "OWN_CALL",
    "RULE_INPUTS",
    "SHARE",
    "SHARED_TYPES",
    "SHARE_GRANT",
    "SNAPSHOT_CREATES",
    "Col",
    "Expr",
    "RuleInput",
    "flags_of",
    "row_flags",
]

BoolArray = npt.NDArray[np.bool_]
Columns: TypeAlias = "pd.DataFrame | Mapping[str, Any]"
"""A frame or any mapping of column name to array-like."""

DRY_RUN: Final = "Client.DryRunOperation"
"""The error code of a dry run: the call was only checked, nothing changed."""
EBS_SOURCE: Final = "ebs.amazonaws.com"
EC2_SOURCE: Final = "ec2.amazonaws.com"
EBS_DIRECT_READS: Final = frozenset({"GetSnapshotBlock", "ListSnapshotBlocks", "ListChangedBlocks"})
"""EBS direct API calls that read a snapshot's blocks (``ebs.amazonaws.com``)."""
SNAPSHOT_CREATES: Final = frozenset({"CreateSnapshot", "CreateSnapshots", "CopySnapshot"})
"""Calls that make a snapshot (the first step of the snapshot chain)."""
CHAIN_STEPS: Final = frozenset({*SNAPSHOT_CREATES, "CreateVolume", "AttachVolume", "RunInstances"})
"""Calls the snapshot -> volume -> attach chain follows."""
SHARED_TYPES: Final = ("snapshot", "image")
"""Resource types whose sharing the sharing rules judge."""


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

    @property
    def true(self) -> Expr:
        """A boolean column holds true."""
        return _Truthy(self.name)


@dataclass(frozen=True, slots=True)
class RuleInput:
    """A named predicate over one canonical event, and its bit in the stored row classes.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"attempted_change"``.
    bit : int
        Its bit in :func:`row_flags` (stored with each event by the service: changing a
        bit changes the state schema).
    doc : str
        What it means, in one sentence.
    expr : Expr
        The predicate.
    """

    name: str
    bit: int
    doc: str
    expr: Expr

    def mask(self, columns: Columns) -> BoolArray:
        """Rows of a frame that hold it."""
        if not len(columns[next(iter(sorted(self.expr.columns())))]):
            return np.zeros(0, dtype=bool)
        return self.expr.mask(columns)

    def test(self, row: Mapping[str, Any]) -> bool:
        """Whether one row (a dict of canonical values) holds it."""
        return self.expr.test(row)

    def spark(self, functions: Any) -> Any:
        """Return the predicate as a Spark column (``functions``: ``pyspark.sql.functions``)."""
        return self.expr.spark(functions)


def _declare(name: str, bit: int, doc: str, expr: Expr) -> RuleInput:
    return RuleInput(name, 1 << bit, doc, expr)


_NOT_DRY: Final = Col("error_code") != DRY_RUN
_OWN: Final = ~Col("by_service").true

EVERY: Final = _declare("every", 0, "Every event.", Col("event_name") != "\x00")
CHANGE: Final = _declare(
    "change",
    1,
    "A compute change (``is_compute_change``), whatever the outcome, dry runs and AWS "
    "services included.",
    Col("is_compute_change").true,
)
SHARE: Final = _declare("share", 2, "The action is ``share``.", Col("action") == "share")
EBS_CALL: Final = _declare(
    "ebs_call", 3, "A call to the EBS direct APIs' service.", Col("event_source") == EBS_SOURCE
)
CHAIN_STEP: Final = _declare(
    "chain_step",
    4,
    "A call named like a step of the snapshot -> volume -> attach chain, whatever the "
    "outcome or source.",
    Col("event_name").isin(CHAIN_STEPS),
)
OWN_CALL: Final = _declare(
    "own_call", 5, "Not made by an AWS service on the identity's behalf.", _OWN
)
ATTEMPTED_CHANGE: Final = _declare(
    "attempted_change",
    6,
    "A compute change the identity itself attempted: failed calls count, dry runs and calls "
    "AWS services make on their own (Auto Scaling launching instances) do not.",
    Col("is_compute_change").true & _NOT_DRY & _OWN,
)
DELETION: Final = _declare(
    "deletion",
    7,
    "An attempted compute change whose action is ``delete``.",
    ATTEMPTED_CHANGE.expr & (Col("action") == "delete"),
)
SHARE_GRANT: Final = _declare(
    "share_grant",
    8,
    "A snapshot or image permission grant that was not a dry run.",
    (Col("action") == "share") & Col("resource_type").isin(SHARED_TYPES) & _NOT_DRY,
)
EBS_DIRECT_READ: Final = _declare(
    "ebs_direct_read",
    9,
    "A read of a snapshot's blocks through the EBS direct APIs.",
    (Col("event_source") == EBS_SOURCE) & Col("event_name").isin(EBS_DIRECT_READS),
)
ATTACH: Final = _declare(
    "attach",
    10,
    "A successful EC2 ``AttachVolume`` (the last step of the snapshot chain).",
    (Col("event_name") == "AttachVolume")
    & Col("error_code").missing()
    & (Col("event_source") == EC2_SOURCE),
)

RULE_INPUTS: Final[tuple[RuleInput, ...]] = (
    EVERY,
    CHANGE,
    SHARE,
    EBS_CALL,
    CHAIN_STEP,
    OWN_CALL,
    ATTEMPTED_CHANGE,
    DELETION,
    SHARE_GRANT,
    EBS_DIRECT_READ,
    ATTACH,
)
"""Every declared rule input, in bit order (bits are unique)."""


def row_flags(row: Mapping[str, Any]) -> int:
    """Return the bits of every rule input one canonical row (a dict) holds."""
    flags = 0
    for one in RULE_INPUTS:
        if one.test(row):
            flags |= one.bit
    return flags


def flags_of(columns: Columns) -> npt.NDArray[np.int64]:
    """:func:`row_flags` of every row of a frame, vectorised."""
    count = len(columns["event_name"])
    flags = np.zeros(count, dtype=np.int64)
    for one in RULE_INPUTS:
        flags[one.mask(columns)] |= one.bit
    return flags
