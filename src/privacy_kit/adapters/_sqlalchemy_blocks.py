"""Block ranges for the SQLAlchemy adapter on PostgreSQL (see :mod:`._blocks`).

A :class:`~._blocks.BlockRange` compiles to ``ctid >= '(start,0)'::tid AND ctid <
'(end,0)'::tid``, which PostgreSQL (14+) runs as a TID range scan: only those blocks are read.
The bounds come from the table's size (``pg_relation_size``), read when a sweep's shards are
cut; a partitioned table is never cut this way (its shards' time ranges prune its partitions).

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..model._datamap import RecordType
from ._blocks import BlockRange, cut_blocks
from ._selection import UnsupportedSelectionError
from ._sqlalchemy_like import SQLAlchemyLike

__all__ = ["block_condition", "pg_block_bounds", "table_blocks"]

_CTID: sa.ColumnClause[Any] = sa.literal_column("ctid")


def _tid(block: int) -> sa.ColumnElement[Any]:
    # ``block`` is a checked int (BlockRange validates it): a literal, so the planner sees a
    # constant TID range it can scan.
    return sa.literal_column(f"'({int(block)},0)'::tid")


def block_condition(dialect: str, selection: BlockRange) -> sa.ColumnElement[bool]:
    """``selection`` as a condition on ``ctid`` (PostgreSQL only).

    Raises:
        UnsupportedSelectionError: another database (it has no block addresses to range over).
    """
    if dialect != "postgresql":
        raise UnsupportedSelectionError(
            "block_ranges", f"{selection!r} needs PostgreSQL (block addresses), not {dialect}"
        )
    ctid = _CTID  # the column first: ``ctid >= '(start,0)'::tid``, as a hand-written range reads
    lower = ctid >= _tid(selection.start)
    if selection.end is None:
        return lower
    return sa.and_(lower, ctid < _tid(selection.end))


def table_blocks(conn: sa.Connection, table_sql: str) -> tuple[str, int]:
    """The table's kind (``pg_class.relkind``) and its size in blocks, now."""
    kind, blocks = conn.execute(
        sa.text(
            "SELECT c.relkind, pg_relation_size(c.oid) / current_setting('block_size')::bigint "
            "FROM pg_class c WHERE c.oid = CAST(:t AS regclass)"
        ),
        {"t": table_sql},
    ).one()
    return str(kind), int(blocks)


def pg_block_bounds(
    adapter: SQLAlchemyLike, record_type: RecordType, pieces: int
) -> tuple[int, ...]:
    """Block numbers cutting a plain table into about ``pieces`` ranges (empty for a
    partitioned table, or one of a single block)."""
    if adapter.engine.dialect.name != "postgresql":
        return ()
    table = adapter.table(record_type)
    name = adapter.engine.dialect.identifier_preparer.format_table(table)
    with adapter._connect() as conn:
        kind, blocks = table_blocks(conn, name)
    if kind != "r":
        return ()
    return cut_blocks(blocks, pieces)
