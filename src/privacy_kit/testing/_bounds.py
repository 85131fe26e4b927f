"""Conformance for time bounds (``Capability.TIME_BOUNDS``): where a sweep's shards are cut.

An adapter that declares the capability computes ``time_bounds`` in its store; the bounds must be
those ``NTILE`` gives on the reference records (ties kept together, NULLs left out, instants
compared whatever their offset). An adapter without it gets the same bounds through
:func:`~privacy_kit.adapters.time_bounds` reading the field, and the result says so.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from ..adapters import (
    Adapter,
    All,
    Capability,
    Eq,
    IsNull,
    Not,
    Record,
    Selection,
    bounds_of_pieces,
    piece_starts,
    time_bounds,
)
from ..model._datamap import DataMap
from ._harness import _Harness

__all__ = ["TIME_BOUNDS_CASES", "TimeBoundsConformance"]

_ACTIVE = Eq("active", True)  # noqa: FBT003 - a field value
TIME_BOUNDS_CASES: tuple[tuple[str, str, str, Selection, int], ...] = (
    ("created_in_two", "people", "created_at", All(), 2),  # ties, a NULL, several offsets
    ("created_in_three", "people", "created_at", All(), 3),
    ("created_in_more_pieces_than_records", "people", "created_at", All(), 20),
    ("closed_of_the_active", "people", "closed_at", _ACTIVE, 2),  # mostly NULL
    ("closed_where_not_null", "people", "closed_at", Not(IsNull("closed_at")), 3),
    ("logins_in_four", "events", "occurred_at", Eq("kind", "login"), 4),
    ("events_in_seven", "events", "occurred_at", All(), 7),
    ("nothing", "events", "occurred_at", Eq("kind", "none"), 3),
)
"""``(id, record type, field, selection, pieces)``: what :class:`TimeBoundsConformance` cuts."""


def _expected(
    records: list[Record], case: tuple[str, str, str, Selection, int]
) -> list[dt.datetime]:
    _id, _rt, field, selection, pieces = case
    values = sorted(r[field] for r in records if selection.matches(r) and r[field] is not None)
    if not values:
        return []
    return list(
        bounds_of_pieces([values[0], *(values[i] for i in piece_starts(len(values), pieces))])
    )


class TimeBoundsConformance(_Harness):
    """``time_bounds``: the bounds ``NTILE`` gives, from the store or read (and said so)."""

    @pytest.mark.parametrize("case", TIME_BOUNDS_CASES, ids=lambda c: c[0])
    def test_time_bounds_cut_where_ntile_does(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        case: tuple[str, str, str, Selection, int],
    ) -> None:
        _id, name, field, selection, pieces = case
        rt = pk_datamap.record_type(name)
        found = time_bounds(pk_adapter, rt, selection, field, pieces)
        expected = _expected(pk_records[name], case)
        assert len(found.bounds) == len(expected), (found.bounds, expected)
        for i, (got, want) in enumerate(zip(found.bounds, expected, strict=True)):
            self.assert_same_value(got, want, f"bound {i}")
        declared = Capability.TIME_BOUNDS in pk_adapter.capabilities
        assert found.by == ("store" if declared else "read")
        assert (found.note is None) == declared
        assert all(x < y for x, y in itertools.pairwise(found.bounds)), found.bounds
