"""The SQLAlchemy adapter's statement plans for deletes, and its one-scan counts (one table's,
or several tables' side by side in one statement).

Called without a ``batch_size``, a delete runs the plan measured best for the database:

- **PostgreSQL**: block ranges. The table's blocks are cut into ranges of about
  :data:`PG_ROWS_PER_BATCH` rows (from ``pg_class`` statistics), and each range is one
  ``DELETE ... WHERE ctid >= '(b,0)' AND ctid < '(b+k,0)' AND <selection>`` (a TID range scan),
  committed on its own; the last range is open-ended, so rows added to new blocks meanwhile are
  covered too. Measured on a million rows (half deleted): 1.03 times one hand-written ``DELETE``
  at about 124,000 rows per range, against 1.8 to 2.2 for batches of keys or row addresses.
- **MariaDB/MySQL**: one ``DELETE ... WHERE <selection>`` (the retention benchmark measured it
  the fastest form at 10,000 and 100,000 rows, see :mod:`._mariadb_write`), unless the selection
  reads another table or binds a long ``IN`` list (a ``JSON_TABLE``, which MariaDB would re-run for
  every row): then batches of :data:`~privacy_kit.adapters.WRITE_BATCH` keys read and locked first.
- **elsewhere** (SQLite through SQLAlchemy): one ``DELETE ... WHERE <selection>``.

Given a ``batch_size``, every database runs one statement per batch of at most that many records
(the adapter's batched forms), each its own transaction (inside ``atomic()``, the block's); on MariaDB/MySQL ranges of that many rows
in primary-key order (:func:`~privacy_kit.adapters._mariadb_write.delete_by_key_ranges`), or
locked keys for the selections above.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlalchemy as sa

from ..model._datamap import RecordType
from ._base import WRITE_BATCH
from ._blocks import BlockRange, block_range_of
from ._mariadb_write import delete_by_key_ranges
from ._selection import And, In, Not, Or, Related, Selection
from ._sql import COUNTS_PER_STATEMENT, JSON_IN_THRESHOLD, factor_common
from ._sqlalchemy_in import recheck_condition


class SQLAlchemyLike(Protocol):
    """What these plans use of :class:`~privacy_kit.adapters.SQLAlchemyAdapter`."""

    engine: sa.Engine

    def _connect(self) -> AbstractContextManager[sa.Connection]: ...

    def _begin(self) -> AbstractContextManager[sa.Connection]: ...

    def table(self, record_type: RecordType) -> sa.Table: ...

    def _where(self, table: sa.Table, selection: Selection) -> sa.ColumnElement[bool]: ...

    def _column(self, table: sa.Table, field: str) -> sa.Column[Any]: ...

    def _in(
        self, column: sa.Column[Any], listed: Sequence[Any], *, plain: bool = False
    ) -> sa.ColumnElement[bool]: ...


__all__ = [
    "PG_ROWS_PER_BATCH",
    "SQLAlchemyLike",
    "count_by_type",
    "count_many",
    "delete_selection",
    "needs_locked_keys",
]

PG_ROWS_PER_BATCH = 125_000
"""Rows (of the table, deleted or not) per block range of a PostgreSQL delete without a
``batch_size``: the retention benchmark measured 1.22 times one ``DELETE`` at about 10,000 rows per
range and 1.03 at about 124,000."""

_GUESSED_ROWS_PER_BLOCK = 50
"""Rows per 8 KiB block assumed for a table PostgreSQL has never analysed."""


def count_many(
    adapter: SQLAlchemyLike, record_type: RecordType, selections: Sequence[Selection]
) -> list[int]:
    """``counts``: one ``SELECT COUNT(CASE WHEN ... THEN 1 END), ...`` per 64 selections."""
    out: list[int] = []
    table = adapter.table(record_type)
    with adapter._connect() as conn:
        for start in range(0, len(selections), COUNTS_PER_STATEMENT):
            columns, where = _counted(
                adapter, table, selections[start : start + COUNTS_PER_STATEMENT]
            )
            row = conn.execute(sa.select(*columns).select_from(table).where(where)).one()
            out.extend(int(n) for n in row)
    return out


def _counted(
    adapter: SQLAlchemyLike, table: sa.Table, selections: Sequence[Selection]
) -> tuple[list[Any], sa.ColumnElement[bool]]:
    """The ``COUNT(CASE WHEN <rest> THEN 1 END)`` columns and the ``WHERE`` of one table's counts
    (:func:`~._sql.factor_common`). When the selections share nothing, the ``WHERE`` is the ``OR``
    of the rests: their expressions are reused, not built a second time."""
    common, rests = factor_common(selections)
    tests = [adapter._where(table, rest) for rest in rests]
    columns: list[Any] = [sa.func.count(sa.case((test, 1))) for test in tests]
    items = common.items if isinstance(common, Or) else ()
    if len(items) == len(rests) and all(a is b for a, b in zip(items, rests, strict=True)):
        return columns, sa.or_(sa.false(), *tests)
    return columns, adapter._where(table, common)


def count_by_type(
    adapter: SQLAlchemyLike, requests: Sequence[tuple[RecordType, Sequence[Selection]]]
) -> list[list[int]]:
    """``counts_by_type``: the counts of several record types in one ``SELECT``.

    Each record type's counts are one aggregate row (``SELECT <n>, COUNT(CASE ...), ... FROM t
    WHERE <common>``, as :func:`count_many`), tagged with the request's number and padded with
    zeros to the widest; the rows are one ``UNION ALL``: one round trip and one compiled
    statement for a plan's counts, each table still scanned once. (Joined side by side instead,
    the rows made PostgreSQL plan a join of every table: 8.6 ms of planning for the example's
    ten aggregates, against 0.5 ms for the union.)
    """
    if not requests:
        return []
    width = max(len(selections) for _rt, selections in requests)
    parts = []
    for n, (rt, selections) in enumerate(requests):
        table = adapter.table(rt)
        columns, where = _counted(adapter, table, selections)
        # Padded with 0, not NULL: PostgreSQL types a column of NULLs in the first rows as text,
        # which a later row's count (bigint) cannot join. The padding is never read.
        columns.extend(sa.literal_column("0") for _ in range(width - len(columns)))
        labelled: list[Any] = [sa.literal_column(str(n)).label("n")]
        labelled.extend(column.label(f"c{i}") for i, column in enumerate(columns))
        parts.append(sa.select(*labelled).select_from(table).where(where))
    query: Any = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    with adapter._connect() as conn:
        rows = {int(row[0]): list(row[1:]) for row in conn.execute(query)}
    if sorted(rows) != list(range(len(requests))):
        raise LookupError(
            f"the counts of {len(requests)} record type(s) came back as {len(rows)} row(s)"
        )
    return [
        [int(value) for value in rows[n][: len(selections)]]
        for n, (_rt, selections) in enumerate(requests)
    ]


def delete_selection(
    adapter: SQLAlchemyLike,
    record_type: RecordType,
    selection: Selection,
    batch_size: int | None,
) -> int:
    """Delete what ``selection`` selects by the plan described in the module docstring."""
    table = adapter.table(record_type)
    condition = adapter._where(table, selection)
    dialect = adapter.engine.dialect.name
    if dialect in {"mysql", "mariadb"}:
        if not needs_locked_keys(selection):
            if batch_size is None:
                return _one_statement(adapter, sa.delete(table).where(condition))
            pk = adapter._column(table, record_type.primary_key)
            return delete_by_key_ranges(adapter, table, pk, condition, batch_size)
        return _locked_key_batches(
            adapter, record_type, selection, (table, condition), batch_size or WRITE_BATCH
        )
    if batch_size is None:
        if dialect == "postgresql":
            return _block_ranges(adapter, table, condition, block_range_of(selection))
        return _one_statement(adapter, sa.delete(table).where(condition))
    if dialect == "postgresql":
        # Rows by physical address (a TID scan) instead of one primary-key probe per row. The
        # condition is checked again, so a row changed since the batch was read is never
        # deleted unless it still matches.
        ctid: sa.ColumnClause[Any] = sa.literal_column("ctid")
        tids = sa.select(ctid).select_from(table).where(condition).limit(batch_size)
        statement = sa.delete(table).where(
            ctid == sa.any_(sa.func.array(tids.scalar_subquery())), condition
        )
    else:
        pk = adapter._column(table, record_type.primary_key)
        keys = sa.select(pk).where(condition).limit(batch_size)
        statement = sa.delete(table).where(pk.in_(keys.scalar_subquery()))
    total = 0
    while True:
        with adapter._begin() as conn:
            deleted = conn.execute(statement).rowcount
        total += deleted
        if deleted < batch_size:
            return total


def _one_statement(adapter: SQLAlchemyLike, statement: sa.Delete) -> int:
    with adapter._begin() as conn:
        return int(conn.execute(statement).rowcount)


def _block_ranges(
    adapter: SQLAlchemyLike, table: sa.Table, condition: Any, within: BlockRange | None
) -> int:
    """PostgreSQL: one ``DELETE`` per range of blocks, the last range open-ended; ``within``: the
    blocks the selection is confined to (a shard's), so only they are walked (the condition
    keeps its own bounds on ``ctid`` too)."""
    name = adapter.engine.dialect.identifier_preparer.format_table(table)
    with adapter._connect() as conn:
        blocks, tuples, pages = conn.execute(
            sa.text(
                "SELECT pg_relation_size(c.oid) / current_setting('block_size')::bigint, "
                "c.reltuples, c.relpages FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
            ),
            {"t": name},
        ).one()
    per_block = tuples / pages if pages > 0 and tuples > 0 else _GUESSED_ROWS_PER_BLOCK
    step = max(1, math.ceil(PG_ROWS_PER_BATCH / max(per_block, 1.0)))
    ctid: sa.ColumnClause[Any] = sa.literal_column("ctid")
    total = 0
    start = 0 if within is None else within.start
    stop = None if within is None else within.end
    while True:
        end = start + step
        # The last range is open-ended (rows written to new blocks meanwhile), unless the
        # selection is confined to blocks ending before: then it ends there.
        last = end >= (blocks if stop is None else stop)
        if last and stop is not None:
            end = stop
        in_range = [ctid >= sa.literal_column(f"'({start},0)'::tid")]
        if not last or stop is not None:
            in_range.append(ctid < sa.literal_column(f"'({end},0)'::tid"))
        total += _one_statement(adapter, sa.delete(table).where(*in_range, condition))
        if last:
            return total
        start = end


def _locked_key_batches(
    adapter: SQLAlchemyLike,
    record_type: RecordType,
    selection: Selection,
    compiled: tuple[sa.Table, Any],
    batch_size: int,
) -> int:
    """MariaDB/MySQL: read and lock a batch of keys, delete them by key; repeat."""
    table, condition = compiled
    pk = adapter._column(table, record_type.primary_key)
    query = sa.select(pk).where(condition).order_by(pk).limit(batch_size)
    total = 0
    while True:
        with adapter._begin() as conn:
            locked = list(conn.scalars(query.with_for_update()))
            if locked:
                by_key = sa.delete(table).where(
                    adapter._in(pk, locked, plain=True),
                    *recheck_condition(selection, condition),
                )
                total += conn.execute(by_key).rowcount
        if len(locked) < batch_size:
            return total


def needs_locked_keys(selection: Selection) -> bool:
    """Whether MariaDB should delete by locked keys: the selection reads another table, or
    binds an ``IN`` list long enough to become a ``JSON_TABLE``."""
    if isinstance(selection, Related):
        return True
    if isinstance(selection, In):
        return len(selection.values) > JSON_IN_THRESHOLD
    if isinstance(selection, And | Or):
        return any(needs_locked_keys(item) for item in selection.items)
    if isinstance(selection, Not):
        return needs_locked_keys(selection.item)
    return False
