"""The SQLite adapter's counts: one table's counts in one scan, or several tables' in one statement.

``counts`` reads up to :data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT` counts of one record
type in one ``SELECT COUNT(CASE WHEN ... THEN 1 END), ... FROM t WHERE <what they share>``.
``counts_by_type`` joins such aggregate rows side by side (``FROM (...), (...)``) so a plan reads all
its counts in one statement; each group is planned on its own, so a group that reads only an
indexed column is counted from the index (a plan's records in a time window), and one that
selects few records finds them by their own index (the held ones), instead of one scan that
fetches every row of the window to test the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..model._datamap import RecordType
from ._sql import COUNTS_PER_STATEMENT, factor_common, quote_identifier

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (made on use: see __init__)
    from ._selection import Selection

__all__ = ["count_aggregate", "count_by_type"]

Where = Callable[[RecordType, "Selection"], tuple[str, list[Any]]]
"""The adapter's ``_where``: a selection as SQL with ``?`` parameters."""


def count_aggregate(
    where: Where, record_type: RecordType, selections: Sequence[Selection]
) -> tuple[str, list[Any]]:
    """``SELECT COUNT(CASE WHEN <rest> THEN 1 END), ... FROM t WHERE <common>`` for at most
    :data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT` selections, and its parameters."""
    common, rests = factor_common(selections)
    columns: list[str] = []
    params: list[Any] = []
    for rest in rests:
        cond, bound = where(record_type, rest)
        columns.append(f"COUNT(CASE WHEN {cond} THEN 1 END)")
        params.extend(bound)
    condition, bound = where(record_type, common)
    table = quote_identifier(record_type.table_name)
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {condition}", [*params, *bound]


def count_by_type(
    where: Where,
    run: Callable[[str, list[Any]], Sequence[Any]],
    requests: Sequence[tuple[RecordType, Sequence[Selection]]],
) -> list[list[int]]:
    """The counts of each request (a record type and its selections) in one statement per
    :data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT` groups of at most as many counts."""
    groups: list[tuple[int, RecordType, Sequence[Selection]]] = [
        (n, rt, selections[start : start + COUNTS_PER_STATEMENT])
        for n, (rt, selections) in enumerate(requests)
        for start in range(0, len(selections), COUNTS_PER_STATEMENT)
    ]
    out: list[list[int]] = [[] for _ in requests]
    for first in range(0, len(groups), COUNTS_PER_STATEMENT):
        chunk = groups[first : first + COUNTS_PER_STATEMENT]
        parts: list[str] = []
        params: list[Any] = []
        for i, (_n, rt, selections) in enumerate(chunk):
            sql, bound = count_aggregate(where, rt, selections)
            parts.append(f"({sql}) AS {quote_identifier(f'counts_{i}')}")
            params.extend(bound)
        row = run(f"SELECT * FROM {', '.join(parts)}", params)
        values = [int(v) for v in row]
        for n, _rt, selections in chunk:
            out[n].extend(values[: len(selections)])
            values = values[len(selections) :]
    return out
