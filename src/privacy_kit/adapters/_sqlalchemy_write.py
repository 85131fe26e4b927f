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
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..model._datamap import RecordType
from ._base import WRITE_BATCH
from ._blocks import BlockRange, block_range_of
from ._mariadb_write import delete_by_key_ranges
from ._selection import And, In, Not, Or, Related, Selection
from ._sql import COUNTS_PER_STATEMENT, JSON_IN_THRESHOLD, factor_common
from ._sqlalchemy_in import Binder, recheck_condition
from ._sqlalchemy_like import SQLAlchemyLike
from ._sqlalchemy_where import cached, shape_of, where_clause

__all__ = [
    "PG_ROWS_PER_BATCH",
    "SQLAlchemyLike",
    "count_by_type",
    "count_many",
    "count_selection",
    "delete_selection",
    "needs_locked_keys",
    "page_query",
    "update_selection",
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
            counted = _Counted(adapter, table, selections[start : start + COUNTS_PER_STATEMENT])
            values: list[Any] = []
            key = ("counts", counted.shape(values))

            def build(binder: Binder, counted: _Counted = counted) -> Any:
                columns, where = counted.build(binder)
                return sa.select(*columns).select_from(counted.table).where(where)

            query, params = cached(key, values, build)
            row = conn.execute(query, params).one()
            out.extend(int(n) for n in row)
    return out


class _Counted:
    """One table's counts: the ``COUNT(CASE WHEN <rest> THEN 1 END)`` columns and the ``WHERE``
    (:func:`~._sql.factor_common`). When the selections share nothing, the ``WHERE`` is the
    ``OR`` of the rests: their expressions are reused, not built a second time."""

    def __init__(
        self, adapter: SQLAlchemyLike, table: sa.Table, selections: Sequence[Selection]
    ) -> None:
        self.adapter = adapter
        self.table = table
        self.common, self.rests = factor_common(selections)
        items = self.common.items if isinstance(self.common, Or) else ()
        self.reuse = len(items) == len(self.rests) and all(
            a is b for a, b in zip(items, self.rests, strict=True)
        )

    def shape(self, values: list[Any]) -> Hashable:
        """The counts' shape, their values appended to ``values`` in build order."""
        rests = tuple(shape_of(self.adapter, self.table, r, values) for r in self.rests)
        common = None if self.reuse else shape_of(self.adapter, self.table, self.common, values)
        return (rests, common)

    def build(self, binder: Binder) -> tuple[list[Any], sa.ColumnElement[bool]]:
        """The columns and the ``WHERE``, values bound by ``binder``."""
        tests = [where_clause(self.adapter, self.table, r, binder) for r in self.rests]
        columns: list[Any] = [sa.func.count(sa.case((test, 1))) for test in tests]
        if self.reuse:
            return columns, sa.or_(sa.false(), *tests)
        return columns, where_clause(self.adapter, self.table, self.common, binder)


def count_by_type(
    adapter: SQLAlchemyLike, requests: Sequence[tuple[RecordType, Sequence[Selection]]]
) -> list[list[int]]:
    """``counts_by_type``: the counts of several record types in one ``SELECT``.

    Each record type's counts are one aggregate row (``SELECT <n>, COUNT(CASE ...), ... FROM t
    WHERE <common>``, as :func:`count_many`), tagged with the request's number and padded with
    zeros to the widest; the rows are one ``UNION ALL``: one round trip and one compiled
    statement for a plan's counts, each table still scanned once. (Joined side by side instead,
    the rows made PostgreSQL plan a join of every table: 8.6 ms of planning for the example's
    ten aggregates, against 0.5 ms for the union.) The statement is built once per shape of the
    requests (:mod:`._sqlalchemy_where`).
    """
    if not requests:
        return []
    width = max(len(selections) for _rt, selections in requests)
    counted = [_Counted(adapter, adapter.table(rt), selections) for rt, selections in requests]
    values: list[Any] = []
    key = ("counts_by_type", width, tuple(c.shape(values) for c in counted))

    def build(binder: Binder) -> Any:
        parts = []
        for n, one in enumerate(counted):
            columns, where = one.build(binder)
            # Padded with 0, not NULL: PostgreSQL types a column of NULLs in the first rows as
            # text, which a later row's count (bigint) cannot join. The padding is never read.
            columns.extend(sa.literal_column("0") for _ in range(width - len(columns)))
            labelled: list[Any] = [sa.literal_column(str(n)).label("n")]
            labelled.extend(column.label(f"c{i}") for i, column in enumerate(columns))
            parts.append(sa.select(*labelled).select_from(one.table).where(where))
        return parts[0] if len(parts) == 1 else sa.union_all(*parts)

    query, params = cached(key, values, build)
    with adapter._connect() as conn:
        rows = {int(row[0]): list(row[1:]) for row in conn.execute(query, params)}
    if sorted(rows) != list(range(len(requests))):
        raise LookupError(
            f"the counts of {len(requests)} record type(s) came back as {len(rows)} row(s)"
        )
    return [
        [int(value) for value in rows[n][: len(selections)]]
        for n, (_rt, selections) in enumerate(requests)
    ]


def page_query(
    adapter: SQLAlchemyLike,
    table: sa.Table,
    selection: Selection,
    columns: Sequence[sa.Column[Any]],
    pk: sa.Column[Any],
    *,
    last: Any,
    batch_size: int,
) -> tuple[Any, dict[str, Any]]:
    """``iter_records``' query for one page: ``columns`` of the records ``selection`` selects
    after key ``last`` (``None``: the first page), in key order, at most ``batch_size``; built
    once per shape, the key and the page size bound after the selection's values."""
    values: list[Any] = []
    key = ("page", shape_of(adapter, table, selection, values), tuple(columns), last is None)
    if last is not None:
        values.append(last)
    values.append(batch_size)

    def build(binder: Binder) -> Any:
        query = sa.select(*columns).where(where_clause(adapter, table, selection, binder))
        if last is not None:
            query = query.where(pk > binder.bind(last, pk.type))
        return query.order_by(pk).limit(binder.bind(batch_size, sa.Integer()))

    return cached(key, values, build)


def count_selection(adapter: SQLAlchemyLike, record_type: RecordType, selection: Selection) -> int:
    """``count``: one ``SELECT COUNT(*)``, built once per shape."""
    table = adapter.table(record_type)
    values: list[Any] = []
    key = ("count", shape_of(adapter, table, selection, values))

    def build(binder: Binder) -> Any:
        condition = where_clause(adapter, table, selection, binder)
        return sa.select(sa.func.count()).select_from(table).where(condition)

    query, params = cached(key, values, build)
    with adapter._connect() as conn:
        return int(conn.execute(query, params).scalar_one())


def update_selection(
    adapter: SQLAlchemyLike, table: sa.Table, selection: Selection, values: Mapping[str, Any]
) -> int:
    """One ``UPDATE ... SET <values> WHERE <selection>`` in a transaction of its own, built once
    per shape (the values set are bound after the selection's)."""
    bound: list[Any] = []
    key = ("update", shape_of(adapter, table, selection, bound), tuple(values))
    bound.extend(values.values())

    def build(binder: Binder) -> Any:
        condition = where_clause(adapter, table, selection, binder)
        assignments = {
            name: binder.bind(value, adapter._column(table, name).type)
            for name, value in values.items()
        }
        return sa.update(table).where(condition).values(assignments)

    statement, params = cached(key, bound, build)
    with adapter._begin() as conn:
        return int(conn.execute(statement, params).rowcount)


def delete_selection(
    adapter: SQLAlchemyLike,
    record_type: RecordType,
    selection: Selection,
    batch_size: int | None,
) -> int:
    """Delete what ``selection`` selects by the plan described in the module docstring."""
    table = adapter.table(record_type)
    dialect = adapter.engine.dialect.name
    if dialect in {"mysql", "mariadb"}:
        if needs_locked_keys(selection):
            return _locked_key_batches(
                adapter,
                record_type,
                selection,
                (table, adapter._where(table, selection)),
                batch_size or WRITE_BATCH,
            )
        if batch_size is None:
            return _one_statement(adapter, table, selection)
        pk = adapter._column(table, record_type.primary_key)
        condition = adapter._where(table, selection)
        return delete_by_key_ranges(adapter, table, pk, condition, batch_size)
    if batch_size is None:
        if dialect == "postgresql":
            return _block_ranges(adapter, table, selection, block_range_of(selection))
        return _one_statement(adapter, table, selection)
    condition = adapter._where(table, selection)
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


def _one_statement(adapter: SQLAlchemyLike, table: sa.Table, selection: Selection) -> int:
    """One ``DELETE ... WHERE <selection>``, built once per shape, in a transaction of its own."""
    values: list[Any] = []
    key = ("delete", shape_of(adapter, table, selection, values))

    def build(binder: Binder) -> Any:
        return sa.delete(table).where(where_clause(adapter, table, selection, binder))

    statement, params = cached(key, values, build)
    with adapter._begin() as conn:
        return int(conn.execute(statement, params).rowcount)


def _block_ranges(
    adapter: SQLAlchemyLike, table: sa.Table, selection: Selection, within: BlockRange | None
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
        in_range = BlockRange(start, end if not last or stop is not None else None)
        total += _one_statement(adapter, table, And((in_range, selection)))
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
