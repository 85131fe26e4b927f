"""Partitions a delete can remove whole: the values adapters report, and a selection read as a range.

A table range-partitioned on a time field holds, in each partition, only records whose time lies
between the partition's bounds. When a delete's selection is nothing but a range on that field
(``Before``/``After`` terms, possibly in an ``And``) and a partition's bounds lie inside it, every
record the partition can hold is selected: the partition can be dropped (or truncated) instead of
deleted row by row. :func:`time_range` reads a selection as such a range, or says why it is not
one; an adapter that declares :attr:`~privacy_kit.adapters.Capability.PARTITIONS` reports what it
found as a :class:`PartitionSurvey` and what it removed as :class:`PartitionDrops` (the
SQLAlchemy adapter on PostgreSQL, :mod:`privacy_kit.adapters._pg_partitions`).

This module needs no database driver; the retention layer reads these values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal, Protocol

import attrs

from ..model._datamap import RecordType
from ._selection import After, All, And, Before, Not, Selection

__all__ = [
    "Partition",
    "PartitionDrops",
    "PartitionMode",
    "PartitionRemover",
    "PartitionSurvey",
    "TimeRange",
    "time_range",
]

PartitionMode = Literal["drop", "truncate", "off"]
"""How an adapter removes a partition a delete covers whole: ``drop`` (``DETACH`` then ``DROP
TABLE``), ``truncate`` (``TRUNCATE``: the empty partition stays attached) or ``off`` (never: every
delete runs row by row)."""


@attrs.frozen
class Partition:
    """A partition whose every record a delete's selection selects, so it goes whole.

    Attributes:
        name: the partition's table name (schema-qualified when it is not in its parent's schema).
        bounds: its bounds as the database states them (``FROM (...) TO (...)``).
        rows: the records in it, counted by the store: when planned, at planning; when removed,
            inside the transaction that removes it, under lock (exact).
        how: ``drop`` (detached and dropped) or ``truncate`` (emptied; it stays attached).

    Example:
        >>> p = Partition("events_2024_01", "FROM ('2024-01-01') TO ('2024-02-01')", 120, "drop")
        >>> p.describe()
        "events_2024_01 (120 record(s), FROM ('2024-01-01') TO ('2024-02-01'))"
        >>> p.to_dict()["how"]
        'drop'
    """

    name: str
    bounds: str
    rows: int
    how: Literal["drop", "truncate"]

    def describe(self) -> str:
        """One line: name, records, bounds."""
        return f"{self.name} ({self.rows} record(s), {self.bounds})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (plans, audit entries)."""
        return {"name": self.name, "bounds": self.bounds, "rows": self.rows, "how": self.how}


@attrs.frozen
class PartitionSurvey:
    """How a delete of a selection meets a partitioned table (read-only: nothing is changed).

    Attributes:
        table: the partitioned table's name.
        key: its partition key column (``None`` when it has none a range can use, e.g. an
            expression or several columns).
        whole: the partitions the selection covers whole, in bound order (their ``rows``
            counted when the survey was asked to count, else 0).
        reason: why no partition can go whole (the table, the selection or the adapter's mode
            rules it out), ``None`` when partitions are considered.
        kept: partitions inside the selection's range that still go row by row, and why
            (sub-partitioned, referenced by a foreign key, ...).

    Example:
        >>> s = PartitionSurvey("events", "occurred_at", (), "the selection also tests account_id")
        >>> s.describe()
        'events is partitioned by occurred_at; no partition goes whole: the selection also tests account_id'
    """

    table: str
    key: str | None
    whole: tuple[Partition, ...] = ()
    reason: str | None = None
    kept: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        """One line: what goes whole, or why nothing does."""
        head = f"{self.table} is partitioned" + (f" by {self.key}" if self.key else "")
        if self.reason is not None:
            return f"{head}; no partition goes whole: {self.reason}"
        if not self.whole:
            return f"{head}; no partition lies wholly inside the range"
        rows = sum(p.rows for p in self.whole)
        names = ", ".join(p.name for p in self.whole)
        return f"{head}; {len(self.whole)} partition(s) go whole ({rows} record(s)): {names}"


@attrs.frozen
class PartitionDrops:
    """What one ``drop_partitions`` call removed, and what it left to the row-by-row delete.

    Attributes:
        dropped: the partitions removed whole, each with its exact record count.
        kept: partitions surveyed as whole but left in place, and why (a concurrent change
            to the partition, a lock that timed out, a dependent view, ...): their records go
            by the ordinary delete that follows.

    Example:
        >>> d = PartitionDrops((Partition("e_1", "FROM (MINVALUE) TO ('2024-01-01')", 3, "drop"),))
        >>> d.rows, d.names
        (3, ('e_1',))
    """

    dropped: tuple[Partition, ...] = ()
    kept: tuple[tuple[str, str], ...] = ()

    @property
    def rows(self) -> int:
        """Records removed with the partitions."""
        return sum(p.rows for p in self.dropped)

    @property
    def names(self) -> tuple[str, ...]:
        """The removed partitions' names."""
        return tuple(p.name for p in self.dropped)


class PartitionRemover(Protocol):
    """What an adapter declaring :attr:`~privacy_kit.adapters.Capability.PARTITIONS` provides."""

    def partition_survey(
        self, record_type: RecordType, selection: Selection, *, count: bool = True
    ) -> PartitionSurvey | None:
        """The partitions a delete of ``selection`` covers whole (``None``: not partitioned)."""
        ...

    def partitioned(self, record_types: Sequence[RecordType]) -> frozenset[str]:
        """The names of those of ``record_types`` whose table is partitioned (one statement)."""
        ...

    def drop_partitions(self, record_type: RecordType, selection: Selection) -> PartitionDrops:
        """Remove those partitions; what went (with exact counts) and what stayed, why."""
        ...


@attrs.frozen
class TimeRange:
    """A selection that is nothing but bounds on one field: every term is ``Before``/``After``.

    A record is selected exactly when its ``field`` satisfies every bound (a NULL satisfies
    none; range partitions never hold a NULL key).
    """

    field: str
    bounds: tuple[Before | After, ...]
    excluded: tuple[Selection, ...] = ()
    """With ``exclusions``: the ``Not`` terms (records in the range left out, such as those under
    a legal hold); a record is then selected only if each of them is true for it too."""


def time_range(selection: Selection, *, exclusions: bool = False) -> TimeRange | str:
    """``selection`` as a :class:`TimeRange`, or why it is not one (a sentence fragment).

    ``And`` is flattened and ``All`` terms are ignored; any other term (an equality, a ``Not``,
    an ``Or``, a sub-select) means some records in the range are not selected. With
    ``exclusions``, ``Not`` terms are kept apart (``excluded``): whoever removes a partition
    whole must then check that each of them is true for every record it holds.

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.adapters import where
        >>> t = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> time_range(where.before("end_at", t, inclusive=True)).field
        'end_at'
        >>> time_range(where.before("end_at", t) & ~where.eq("host_id", 7))
        'the selection also tests host_id'
        >>> time_range(where.all())
        'the selection does not bound a time field'
    """
    bounds: list[Before | After] = []
    others: list[str] = []
    excluded: list[Selection] = []
    for term in _terms(selection):
        if isinstance(term, Before | After):
            bounds.append(term)
        elif exclusions and isinstance(term, Not):
            excluded.append(term)
        elif not isinstance(term, All):
            others.extend(term.fields())
            if not any(True for _ in term.fields()):
                others.append(type(term).__name__)
    fields = list(dict.fromkeys(b.field for b in bounds))
    if others:
        return "the selection also tests " + ", ".join(dict.fromkeys(others))
    if not fields:
        return "the selection does not bound a time field"
    if len(fields) > 1:
        return "the selection bounds several fields (" + ", ".join(fields) + ")"
    return TimeRange(fields[0], tuple(bounds), tuple(excluded))


def _terms(selection: Selection) -> Iterator[Selection]:
    if isinstance(selection, And):
        for item in selection.items:
            yield from _terms(item)
    else:
        yield selection
