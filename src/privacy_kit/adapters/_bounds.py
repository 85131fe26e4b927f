"""Bounds that cut a time field's range into pieces of about equal size (a sweep's shards).

An adapter that can compute them in its store declares :attr:`Capability.TIME_BOUNDS` and
implements ``time_bounds(record_type, selection, field, pieces)`` (the :class:`TimeBoundsReporter`
protocol): the smallest value of each piece of ``NTILE(pieces) OVER (ORDER BY field)`` over the
selection's records whose field is not NULL. The built-in SQL adapters do, in one statement
(SQLite 3.25+, PostgreSQL, MariaDB 10.2+, MySQL 8). For any other adapter (the in-memory one, the
Django one, a host's own) :func:`time_bounds` reads that one field itself, streamed in batches:
every value while there are at most :data:`READ_SAMPLE`, then a regular sample of them (every
second, fourth, ... value, so memory stays bounded), and its result says how it was done.

Bounds are strictly increasing and each is the first value of a piece: a piece is
``bounds[i-1] <= field < bounds[i]``, the first ``field < bounds[0]``, the last
``field >= bounds[-1]``, so records with the same time always fall in the same piece (heavy ties
give fewer, larger pieces).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal, Protocol, runtime_checkable

import attrs

from .._errors import AdapterError
from ..model._datamap import RecordType
from ._base import WRITE_BATCH, Adapter, Capability
from ._selection import Selection
from ._sql import quote_identifier

__all__ = [
    "READ_SAMPLE",
    "TimeBounds",
    "TimeBoundsReporter",
    "bounds_of_pieces",
    "ntile_sql",
    "piece_starts",
    "time_bounds",
]

READ_SAMPLE = 50_000
"""Values of a field :func:`time_bounds` keeps at most while reading it itself (then it samples)."""


@runtime_checkable
class TimeBoundsReporter(Protocol):
    """An adapter that computes time bounds in its store (``Capability.TIME_BOUNDS``)."""

    def time_bounds(
        self, record_type: RecordType, selection: Selection, field: str, pieces: int
    ) -> list[dt.datetime]:
        """The smallest value of each piece of ``NTILE(pieces) OVER (ORDER BY field)`` over the
        records of ``selection`` whose ``field`` is not NULL, pieces in order (the first is the
        smallest value of all; empty: no such record)."""
        ...


@attrs.frozen
class TimeBounds:
    """Bounds of a time field, and how they were found.

    Attributes:
        bounds: strictly increasing instants (``pieces - 1`` at most; fewer with ties or few
            records): the first value of each piece after the first.
        by: ``"store"``: computed by the adapter in one statement; ``"read"``: the adapter cannot,
            so privacy_kit read the field itself (``note`` says how many values).
        note: what the reader should know (``None`` when the store computed them).

    Example:
        >>> import datetime as dt
        >>> TimeBounds((dt.datetime(2025, 1, 1, tzinfo=dt.UTC),), "store").describe()
        '1 bound(s), computed by the store'
    """

    bounds: tuple[dt.datetime, ...]
    by: Literal["store", "read"]
    note: str | None = None

    def describe(self) -> str:
        """One line: how many bounds, and how they were found."""
        how = "computed by the store" if self.by == "store" else "read by privacy_kit"
        text = f"{len(self.bounds)} bound(s), {how}"
        return f"{text}: {self.note}" if self.note else text


def piece_starts(count: int, pieces: int) -> list[int]:
    """The positions (in sorted order) where ``NTILE(pieces)`` starts each piece after the first.

    ``NTILE`` gives the first ``count % pieces`` pieces one record more than the others.

    Example:
        >>> piece_starts(10, 3), piece_starts(2, 5), piece_starts(0, 4)
        ([4, 7], [1], [])
    """
    base, extra = divmod(count, pieces)
    return [g * base + min(g, extra) for g in range(1, min(count, pieces))]


def bounds_of_pieces(firsts: Iterable[dt.datetime]) -> tuple[dt.datetime, ...]:
    """Bounds from the first (smallest) value of each piece, pieces in order: strictly
    increasing, and none equal to the first piece's (a piece of ties is merged with the one
    before).

    Example:
        >>> import datetime as dt
        >>> d = [dt.datetime(2025, 1, n, tzinfo=dt.UTC) for n in (1, 1, 3, 3, 4)]
        >>> [b.day for b in bounds_of_pieces(d)]
        [3, 4]
    """
    out: list[dt.datetime] = []
    floor: dt.datetime | None = None
    for value in firsts:
        if floor is None:
            floor = value
        elif value > (out[-1] if out else floor):
            out.append(value)
    return tuple(out)


def ntile_sql(table: str, field: str, where: str, pieces: int) -> str:
    """The one ``SELECT`` of the SQL adapters' ``time_bounds``: the first value of each piece.

    ``where`` is the selection compiled with columns qualified by ``table``; ``pieces`` is
    written as a number (an ``int``, checked), not bound.

    Example:
        >>> print(ntile_sql("users", "closed_at", "1", 4))
        SELECT MIN("v") FROM (SELECT "users"."closed_at" AS "v", NTILE(4) OVER (ORDER BY "users"."closed_at") AS "piece" FROM "users" WHERE (1) AND "users"."closed_at" IS NOT NULL) AS "pieces" GROUP BY "piece" ORDER BY "piece"
    """
    if type(pieces) is not int or pieces < 1:
        raise ValueError(f"pieces must be a positive integer, got {pieces!r}")
    column = f"{quote_identifier(table)}.{quote_identifier(field)}"
    inner = (
        f'SELECT {column} AS "v", NTILE({pieces}) OVER (ORDER BY {column}) AS "piece" '
        f"FROM {quote_identifier(table)} WHERE ({where}) AND {column} IS NOT NULL"
    )
    return f'SELECT MIN("v") FROM ({inner}) AS "pieces" GROUP BY "piece" ORDER BY "piece"'


def _bounds_of_sorted(values: Sequence[dt.datetime], pieces: int) -> tuple[dt.datetime, ...]:
    if not values:
        return ()
    return bounds_of_pieces([values[0], *(values[i] for i in piece_starts(len(values), pieces))])


def _aware(adapter: Adapter, record_type: RecordType, field: str, value: object) -> dt.datetime:
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        return value
    raise AdapterError(
        f"time bounds: {field} holds {value!r}, not a timezone-aware datetime",
        adapter=adapter.name,
        record_type=record_type.name,
        operation="time_bounds",
    )


def time_bounds(
    adapter: Adapter,
    record_type: RecordType,
    selection: Selection,
    field: str,
    pieces: int,
    *,
    batch_size: int = WRITE_BATCH,
) -> TimeBounds:
    """Bounds cutting ``field`` over ``selection`` into about ``pieces`` pieces of equal size.

    From the adapter when it declares :attr:`Capability.TIME_BOUNDS`; otherwise read here (only
    ``field``, ``batch_size`` records at a time, sampled past :data:`READ_SAMPLE` values), and
    the result's ``by`` and ``note`` say so. Records whose field is NULL are in no piece (the
    caller decides where they go).

    Raises:
        ValueError: ``pieces`` below 1.
        AdapterError: the field holds something other than aware datetimes.

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.adapters import InMemoryAdapter, where
        >>> from privacy_kit.model import RecordType
        >>> rt = RecordType(name="t", store="main", fields=[{"name": "id"},
        ...                 {"name": "at", "type": "timestamp"}])
        >>> rows = [{"id": i, "at": dt.datetime(2025, 1, 1 + i % 9, tzinfo=dt.UTC)} for i in range(18)]
        >>> found = time_bounds(InMemoryAdapter({"t": rows}), rt, where.all(), "at", 3)
        >>> [b.day for b in found.bounds], found.by
        ([4, 7], 'read')
        >>> found.note
        "adapter 'InMemoryAdapter' cannot compute time bounds in the store (capability 'time_bounds'): privacy_kit read at of 18 record(s)"
    """
    if pieces < 1:
        raise ValueError(f"pieces must be at least 1, got {pieces}")
    if pieces == 1:
        return TimeBounds((), "store" if _computes(adapter) else "read")
    if _computes(adapter):
        assert isinstance(adapter, TimeBoundsReporter)
        found = [
            _aware(adapter, record_type, field, v)
            for v in adapter.time_bounds(record_type, selection, field, pieces)
        ]
        return TimeBounds(bounds_of_pieces(found), "store")
    kept: list[dt.datetime] = []
    step, seen = 1, 0
    for batch in adapter.iter_records(
        record_type, selection, fields=[field], batch_size=batch_size
    ):
        for record in batch:
            value = record.get(field)
            if value is None:
                continue
            if seen % step == 0:
                kept.append(_aware(adapter, record_type, field, value))
                if len(kept) >= 2 * READ_SAMPLE:
                    kept, step = kept[::2], step * 2  # every other one: still a regular sample
            seen += 1
    kept.sort()
    sampled = f", sampled 1 in {step} ({len(kept)} values)" if step > 1 else ""
    note = (
        f"adapter {adapter.name!r} cannot compute time bounds in the store (capability "
        f"{Capability.TIME_BOUNDS.value!r}): privacy_kit read {field} of {seen} record(s){sampled}"
    )
    return TimeBounds(_bounds_of_sorted(kept, pieces), "read", note)


def _computes(adapter: Adapter) -> bool:
    return Capability.TIME_BOUNDS in adapter.capabilities and isinstance(
        adapter, TimeBoundsReporter
    )
