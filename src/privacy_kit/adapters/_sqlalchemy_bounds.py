"""Time bounds for the SQLAlchemy adapter: ``NTILE`` in one ``SELECT`` on every dialect.

``SELECT MIN(v) FROM (SELECT field AS v, NTILE(k) OVER (ORDER BY field) AS piece FROM t WHERE
<selection> AND field IS NOT NULL) GROUP BY piece ORDER BY piece``: the first value of each of
``k`` pieces of about equal size (see :mod:`privacy_kit.adapters._bounds`). PostgreSQL, MariaDB
10.2+, MySQL 8 and SQLite 3.25+ all run it; the field's column type reads the values back as
aware datetimes.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..model._datamap import RecordType
from ._selection import Selection
from ._sqlalchemy_like import SQLAlchemyLike

__all__ = ["ntile_firsts"]


def ntile_firsts(
    adapter: SQLAlchemyLike, record_type: RecordType, selection: Selection, field: str, pieces: int
) -> list[dt.datetime]:
    """The first value of each piece (pieces in order; see the module)."""
    if type(pieces) is not int or pieces < 1:
        raise ValueError(f"pieces must be a positive integer, got {pieces!r}")
    table = adapter.table(record_type)
    column = adapter._column(table, field)
    # ``pieces`` is a checked int written into the statement: ``NTILE`` wants a constant.
    piece = sa.func.ntile(sa.literal_column(str(pieces))).over(order_by=column).label("piece")
    inner = (
        sa.select(column.label("v"), piece)
        .where(adapter._where(table, selection), column.is_not(None))
        .subquery("pieces")
    )
    query = sa.select(sa.func.min(inner.c.v)).group_by(inner.c.piece).order_by(inner.c.piece)
    with adapter._connect() as conn:
        found: Sequence[Any] = conn.scalars(query).all()
    return [v for v in found if v is not None]
