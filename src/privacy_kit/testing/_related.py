"""Conformance for :class:`~privacy_kit.adapters.Related` selections (sub-selects on another table).

A sweep re-checks an account's state with them in the statement that deletes, so an adapter that
declares ``Capability.RELATED`` must run them when the statement runs; one that does not must
refuse them loudly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from .._errors import PrivacyKitError
from ..adapters import (
    Adapter,
    All,
    And,
    Before,
    Capability,
    Eq,
    In,
    IsNull,
    Not,
    Record,
    Related,
    Selection,
)
from ..adapters._selection import bind_related
from ..model._datamap import DataMap
from ._harness import _Harness, _ids

__all__ = ["RELATED_CASES", "RelatedConformance"]


_ACTIVE = Eq("active", True)  # noqa: FBT003 - a field value
_CLOSED_BEFORE = Before("closed_at", dt.datetime(2023, 1, 1, tzinfo=dt.UTC), inclusive=True)


def _events_with_export(dm: DataMap) -> Selection:
    events = dm.record_type("events")
    return Related("id", events, "person_id", Eq("kind", "export"))


RELATED_CASES: tuple[tuple[str, str, Callable[[DataMap], Selection]], ...] = (
    (
        "closed_people",
        "events",
        lambda dm: Related("person_id", dm.record_type("people"), "id", Not(IsNull("closed_at"))),
    ),
    (
        "closed_before_among_keys",  # the shape of a sweep's re-check
        "events",
        lambda dm: Related(
            "person_id",
            dm.record_type("people"),
            "id",
            And((_CLOSED_BEFORE, In("id", (1, 2, 3, 4, 6)))),
        ),
    ),
    (
        "not_related_skips_null_links",
        "events",
        lambda dm: Not(Related("person_id", dm.record_type("people"), "id", IsNull("closed_at"))),
    ),
    (
        "related_to_nothing",
        "events",
        lambda dm: Related("person_id", dm.record_type("people"), "id", Eq("id", -1)),
    ),
    (
        "not_related_to_nothing_is_everything",
        "events",
        lambda dm: Not(Related("person_id", dm.record_type("people"), "id", Eq("id", -1))),
    ),
    (
        "not_related_with_a_null_key_is_unknown",
        "events",
        lambda dm: Not(Related("person_id", dm.record_type("people"), "age", IsNull("email"))),
    ),
    (
        "related_many_keys",
        "events",
        lambda dm: Related(
            "person_id", dm.record_type("people"), "id", In("id", tuple(range(-300, 4)))
        ),
    ),
    (
        "related_and_own_condition",
        "events",
        lambda dm: And(
            (
                Eq("kind", "login"),
                Related("person_id", dm.record_type("people"), "id", _ACTIVE),
            )
        ),
    ),
    ("people_with_an_export", "people", _events_with_export),
    (
        "nested_back_to_the_same_table",
        "events",
        lambda dm: Related("person_id", dm.record_type("people"), "id", _events_with_export(dm)),
    ),
)
"""``(id, record type, build(datamap) -> selection)``: the :class:`~privacy_kit.adapters.Related`
selections :class:`RelatedConformance` checks (built per test: they name the test's tables)."""


# A delete that removes the records its own selection reads depends on its batches (each batch's
# statement sees the previous batches' deletions, as it must), so those cases are read-only here.
_DELETABLE = tuple(case for case in RELATED_CASES if case[0] != "nested_back_to_the_same_table")


def _reference(records: Mapping[str, Sequence[Record]], selection: Selection) -> Selection:
    """``selection`` with its ``Related`` parts evaluated against ``records`` (the reference)."""

    def keys(related: Related) -> list[Any]:
        inner = bind_related(related.selection, keys)
        rows = records[related.record_type.name]
        return [r.get(related.key) for r in rows if inner.matches(r)]

    return bind_related(selection, keys)


class RelatedConformance(_Harness):
    """:class:`~privacy_kit.adapters.Related` selections: run at statement time, or refused loudly.

    An adapter declaring ``Capability.RELATED`` must read, count, delete and update by them exactly
    as the reference does, reading the other record type when the statement runs (a change made
    after the selection was built counts). An adapter that does not declare it must refuse them
    with a :class:`~privacy_kit.PrivacyKitError` and change nothing; it never guesses.
    """

    def _related(self, adapter: Adapter) -> bool:
        return Capability.RELATED in adapter.capabilities

    @pytest.mark.parametrize("case", RELATED_CASES, ids=lambda c: c[0])
    def test_related_reads_and_counts(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        case: tuple[str, str, Callable[[DataMap], Selection]],
    ) -> None:
        _, name, build = case
        if not self._related(pk_adapter):
            pytest.skip("the adapter does not declare Capability.RELATED (see the refusal test)")
        rt, selection = pk_datamap.record_type(name), build(pk_datamap)
        reference = _reference(pk_records, selection)
        expected = sorted(r["id"] for r in pk_records[name] if reference.matches(r))
        assert _ids(pk_adapter.iter_records(rt, selection, batch_size=4)) == expected
        assert pk_adapter.count(rt, selection) == len(expected)

    @pytest.mark.parametrize("case", _DELETABLE, ids=lambda c: c[0])
    def test_related_deletes_exactly_its_records(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        case: tuple[str, str, Callable[[DataMap], Selection]],
    ) -> None:
        _, name, build = case
        if not self._related(pk_adapter):
            pytest.skip("the adapter does not declare Capability.RELATED (see the refusal test)")
        rt, selection = pk_datamap.record_type(name), build(pk_datamap)
        reference = _reference(pk_records, selection)
        kept = sorted(r["id"] for r in pk_records[name] if not reference.matches(r))
        deleted = pk_adapter.delete(rt, selection, batch_size=3)
        assert deleted == len(pk_records[name]) - len(kept)
        assert _ids(pk_adapter.iter_records(rt, All())) == kept

    def test_related_updates_exactly_its_records(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        if not self._related(pk_adapter):
            pytest.skip("the adapter does not declare Capability.RELATED (see the refusal test)")
        events, people = pk_datamap.record_type("events"), pk_datamap.record_type("people")
        selection = Related("person_id", people, "id", Not(IsNull("closed_at")))
        reference = _reference(pk_records, selection)
        expected = {r["id"] for r in pk_records["events"] if reference.matches(r)}
        assert pk_adapter.update(events, selection, {"kind": "swept"}, batch_size=2) == len(
            expected
        )
        stored = self.stored(pk_adapter, events)
        assert {k for k, r in stored.items() if r["kind"] == "swept"} == expected

    def test_related_reads_the_other_record_type_when_the_statement_runs(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        if not self._related(pk_adapter):
            pytest.skip("the adapter does not declare Capability.RELATED (see the refusal test)")
        events, people = pk_datamap.record_type("events"), pk_datamap.record_type("people")
        # The shape of a sweep: the keys read first, then a statement that re-checks them.
        closed = Not(IsNull("closed_at"))
        keys = sorted(r["id"] for b in pk_adapter.iter_records(people, closed) for r in b)
        assert keys == [2, 4, 6, 10]
        selection = And(
            (
                In("person_id", keys),
                Related("person_id", people, "id", And((closed, In("id", keys)))),
            )
        )
        # Person 2 reopens after the keys were read and before the statement runs.
        assert pk_adapter.update(people, Eq("id", 2), {"closed_at": None}) == 1
        reopened = sum(1 for r in pk_records["events"] if r["person_id"] == 2)
        assert reopened > 0
        due = sum(1 for r in pk_records["events"] if r["person_id"] in keys)
        assert pk_adapter.count(events, selection) == due - reopened
        assert pk_adapter.delete(events, selection, batch_size=2) == due - reopened
        assert pk_adapter.count(events, Eq("person_id", 2)) == reopened

    def test_related_without_the_capability_is_refused(
        self, pk_adapter: Adapter, pk_datamap: DataMap
    ) -> None:
        if self._related(pk_adapter):
            pytest.skip("the adapter declares Capability.RELATED (checked by the other tests)")
        events, people = pk_datamap.record_type("events"), pk_datamap.record_type("people")
        selection = Related("person_id", people, "id", Not(IsNull("closed_at")))
        calls: dict[str, Callable[[], object]] = {
            "read": lambda: list(pk_adapter.iter_records(events, selection)),
            "count": lambda: pk_adapter.count(events, selection),
            "delete": lambda: pk_adapter.delete(events, selection),
            "update": lambda: pk_adapter.update(events, selection, {"kind": "swept"}),
        }
        for operation, call in calls.items():
            with pytest.raises(PrivacyKitError):
                call()
            assert pk_adapter.count(events, All()) == 30, f"{operation} changed records"
            assert pk_adapter.count(events, Eq("kind", "swept")) == 0, f"{operation} updated"
