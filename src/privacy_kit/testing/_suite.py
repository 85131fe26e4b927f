"""The adapter conformance suite: pytest mixins a host project subclasses for its own adapter.

The mixins have no ``Test`` prefix, so pytest collects nothing until a host subclasses them in a
``Test...`` class and overrides the one fixture, ``adapter_factory``. Every test builds a fresh
store through that factory, with table names unique to the test, so tests are independent and
parallel runs against one database server do not collide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from .._errors import AdapterError
from ..adapters import (
    Adapter,
    All,
    And,
    Capability,
    Eq,
    In,
    IsNull,
    Not,
    Record,
    batch_option,
    count_each,
    where,
)
from ..model._datamap import DataMap
from ._atomic import AtomicConformance
from ._bounds import TIME_BOUNDS_CASES, TimeBoundsConformance
from ._fixtures import SELECTION_CASES, SelectionCase, conformance_records
from ._harness import AdapterFactory, _Harness, _ids, _without
from ._related import RELATED_CASES, RelatedConformance

__all__ = [
    "RELATED_CASES",
    "TIME_BOUNDS_CASES",
    "AdapterConformance",
    "AdapterFactory",
    "AtomicConformance",
    "CountConformance",
    "DeleteConformance",
    "ErrorConformance",
    "ReadConformance",
    "RelatedConformance",
    "SelectionConformance",
    "TimeBoundsConformance",
    "UpdateByKeyConformance",
    "UpdateConformance",
    "VerifyConformance",
    "populate",
]


def populate(adapter: Any, datamap: DataMap, records: Mapping[str, Sequence[Record]]) -> Any:
    """Create ``datamap``'s tables and insert ``records`` with the adapter's own helpers.

    For adapters that have ``create_schema(datamap)`` and ``insert(record_type, records)``, as the
    built-in SQL adapters do; returns the adapter.

    Example:
        >>> from privacy_kit.adapters import SQLiteAdapter
        >>> from privacy_kit.testing import conformance_datamap, conformance_records
        >>> db = populate(SQLiteAdapter(), conformance_datamap(), conformance_records())
        >>> db.count(conformance_datamap().record_type("events"), where.all())
        30
    """
    if hasattr(adapter, "create_schema"):
        adapter.create_schema(datamap)
    for rt in datamap.record_types:
        rows = records.get(rt.name, ())
        if rows or not hasattr(adapter, "create_schema"):
            adapter.insert(rt, list(rows))
    return adapter


class ReadConformance(_Harness):
    """``iter_records``: values, types, batching, projection, empty results."""

    def test_reads_every_record_with_its_values(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        for rt in pk_datamap.record_types:
            self.assert_records(self.stored(pk_adapter, rt), pk_records[rt.name])

    @pytest.mark.parametrize("batch_size", [1, 2, 7, 30, 1000])
    def test_batches_are_bounded_and_complete(
        self, pk_adapter: Adapter, pk_datamap: DataMap, batch_size: int
    ) -> None:
        events = pk_datamap.record_type("events")
        batches = list(pk_adapter.iter_records(events, All(), batch_size=batch_size))
        assert all(0 < len(b) <= batch_size for b in batches)
        ids = [r["id"] for b in batches for r in b]
        assert sorted(ids) == list(range(100, 130))
        assert len(ids) == len(set(ids)), "a record was yielded twice"
        assert len(batches) == -(-30 // batch_size)

    def test_fields_restricts_the_keys(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        people = pk_datamap.record_type("people")
        batches = list(pk_adapter.iter_records(people, Eq("id", 3), fields=["email", "age"]))
        assert batches == [[{"email": "zoe@exämple.com", "age": 27}]]

    def test_no_match_yields_no_batches(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        people = pk_datamap.record_type("people")
        assert list(pk_adapter.iter_records(people, Eq("id", -1))) == []

    def test_empty_table_yields_nothing(
        self, adapter_factory: AdapterFactory, pk_datamap: DataMap
    ) -> None:
        adapter = adapter_factory(pk_datamap, {"people": [], "events": []})
        try:
            events = pk_datamap.record_type("events")
            assert list(adapter.iter_records(events, All())) == []
            assert adapter.count(events, All()) == 0
            assert adapter.delete(events, All()) == 0
            assert adapter.update(events, All(), {"kind": "x"}) == 0
            assert adapter.update_by_key(events, [(100, {"kind": "x"})]) == 0
        finally:
            adapter.close()

    def test_timestamps_come_back_aware(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        events = pk_datamap.record_type("events")
        stamps = [r["occurred_at"] for b in pk_adapter.iter_records(events, All()) for r in b]
        assert len(stamps) == 30
        assert all(s.utcoffset() is not None for s in stamps)

    def test_unicode_and_nulls_round_trip(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        stored = self.stored(pk_adapter, pk_datamap.record_type("people"))
        assert stored[4]["name"] == "山田太郎"
        assert stored[8]["name"] == "emoji 🙂👍🏽"
        assert stored[5]["name"] == "مريم"
        assert stored[9]["name"] == ""
        assert stored[10]["name"] is None
        assert stored[2]["email"] is None
        assert stored[2]["tags"] is None

    def test_bad_batch_size_is_refused(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        with pytest.raises(ValueError, match="batch_size"):
            list(pk_adapter.iter_records(pk_datamap.record_type("events"), All(), batch_size=0))

    def test_yielded_records_are_copies(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        people = pk_datamap.record_type("people")
        for batch in pk_adapter.iter_records(people, All()):
            for record in batch:
                record["name"] = "changed"
                if isinstance(record.get("tags"), dict):
                    record["tags"]["plan"] = "changed"
        stored = self.stored(pk_adapter, people)
        assert stored[1]["name"] == "Ann"
        assert stored[1]["tags"] == {"plan": "pro", "seats": 3}

    def test_deleting_while_iterating_visits_each_record_once(
        self, pk_adapter: Adapter, pk_datamap: DataMap
    ) -> None:
        events = pk_datamap.record_type("events")
        seen: list[Any] = []
        for batch in pk_adapter.iter_records(events, Not(IsNull("person_id")), batch_size=4):
            keys = [r["id"] for r in batch]
            seen.extend(keys)
            assert pk_adapter.delete(events, In("id", keys)) == len(keys)
        assert sorted(seen) == [100 + i for i in range(30) if i % 10 != 9]
        assert _ids(pk_adapter.iter_records(events, All())) == [109, 119, 129]


class SelectionConformance(_Harness):
    """Every selection kind, with SQL's three-valued logic, on reads, counts and deletes."""

    @pytest.mark.parametrize("case", SELECTION_CASES, ids=lambda c: c.id)
    def test_selection_reads_and_counts(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        case: SelectionCase,
    ) -> None:
        rt = pk_datamap.record_type(case.record_type)
        expected = sorted(r["id"] for r in pk_records[rt.name] if case.selection.matches(r))
        assert _ids(pk_adapter.iter_records(rt, case.selection, batch_size=5)) == expected
        assert pk_adapter.count(rt, case.selection) == len(expected)

    @pytest.mark.parametrize("case", SELECTION_CASES, ids=lambda c: c.id)
    def test_selection_deletes_exactly_its_records(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        case: SelectionCase,
    ) -> None:
        rt = pk_datamap.record_type(case.record_type)
        rows = pk_records[rt.name]
        kept = sorted(r["id"] for r in rows if not case.selection.matches(r))
        assert pk_adapter.delete(rt, case.selection, batch_size=3) == len(rows) - len(kept)
        assert _ids(pk_adapter.iter_records(rt, All())) == kept


class CountConformance(_Harness):
    """``count`` agrees with what ``iter_records`` yields."""

    def test_count_everything(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        assert pk_adapter.count(pk_datamap.record_type("people"), All()) == 12
        assert pk_adapter.count(pk_datamap.record_type("events"), All()) == 30

    def test_count_nothing(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        assert pk_adapter.count(pk_datamap.record_type("events"), Eq("kind", "nope")) == 0

    def test_count_follows_changes(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        events = pk_datamap.record_type("events")
        pk_adapter.delete(events, Eq("kind", "login"))
        assert pk_adapter.count(events, All()) == 20

    def test_counts_of_many_selections_at_once(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        """``counts`` (when the adapter has it) agrees with ``count`` for each selection: every
        selection case together, the same cases under a shared condition (what a plan's
        counts look like: covered and held records of one step), and more than one statement's
        worth (64)."""
        people = pk_datamap.record_type("people")
        rows = pk_records["people"]
        cases = [c.selection for c in SELECTION_CASES if c.record_type == "people"]
        shared = Not(IsNull("age"))
        under = [And((shared, c)) for c in cases] + [And((shared, Not(c))) for c in cases]
        for selections in (cases, under, (cases + under) * 2, [All()], []):
            expected = [sum(1 for r in rows if s.matches(r)) for s in selections]
            assert count_each(pk_adapter, people, selections) == expected


class DeleteConformance(_Harness):
    """``delete``: counts, batching, idempotence, nothing outside the selection touched."""

    @pytest.mark.parametrize("batch_size", [None, 1, 2, 1000])
    def test_delete_in_batches(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        batch_size: int | None,
    ) -> None:
        """``batch_size=None``: called without one, the adapter's own statement plan."""
        events = pk_datamap.record_type("events")
        selection = In("person_id", (1, 2, 3))
        expected = [r for r in pk_records["events"] if not selection.matches(r)]
        deleted = pk_adapter.delete(events, selection, **batch_option(batch_size))
        assert deleted == 30 - len(expected)
        self.assert_records(self.stored(pk_adapter, events), expected)
        assert pk_adapter.delete(events, selection, **batch_option(batch_size)) == 0

    @pytest.mark.parametrize("batch_size", [None, 7])
    def test_delete_everything(
        self, pk_adapter: Adapter, pk_datamap: DataMap, batch_size: int | None
    ) -> None:
        events = pk_datamap.record_type("events")
        assert pk_adapter.delete(events, All(), **batch_option(batch_size)) == 30
        assert pk_adapter.count(events, All()) == 0

    def test_delete_leaves_other_record_types_alone(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        pk_adapter.delete(pk_datamap.record_type("events"), All())
        people = pk_datamap.record_type("people")
        self.assert_records(self.stored(pk_adapter, people), pk_records["people"])

    def test_bad_batch_size_is_refused(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        events = pk_datamap.record_type("events")
        with pytest.raises(ValueError, match="batch_size"):
            pk_adapter.delete(events, All(), batch_size=0)
        assert pk_adapter.count(events, All()) == 30


class UpdateConformance(_Harness):
    """``update``: constant values of every type, batching, selections over updated fields."""

    @pytest.mark.parametrize("batch_size", [None, 1, 2, 1000])
    def test_update_sets_values_on_the_selection_only(
        self,
        pk_adapter: Adapter,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
        batch_size: int | None,
    ) -> None:
        people = pk_datamap.record_type("people")
        selection = Not(IsNull("age")) & ~Eq("active", False)  # noqa: FBT003 - a field value
        values = {"email": None, "name": "Deleted user ✝"}
        expected = [{**r, **values} if selection.matches(r) else r for r in pk_records["people"]]
        changed = sum(1 for r in pk_records["people"] if selection.matches(r))
        updated = pk_adapter.update(people, selection, values, **batch_option(batch_size))
        assert updated == changed
        self.assert_records(self.stored(pk_adapter, people), expected)

    @pytest.mark.parametrize("batch_size", [None, 1, 2, 1000])
    def test_update_of_the_fields_the_selection_reads(
        self, pk_adapter: Adapter, pk_datamap: DataMap, batch_size: int | None
    ) -> None:
        people = pk_datamap.record_type("people")
        closed = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
        open_before = pk_adapter.count(people, IsNull("closed_at"))
        assert open_before > 0
        updated = pk_adapter.update(
            people, IsNull("closed_at"), {"closed_at": closed}, **batch_option(batch_size)
        )
        assert updated == open_before
        assert pk_adapter.count(people, IsNull("closed_at")) == 0
        assert pk_adapter.count(people, Eq("closed_at", closed.astimezone(dt.UTC))) == open_before

    def test_update_values_of_every_type(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        people = pk_datamap.record_type("people")
        values = {
            "name": "Ünïcødé 🙂 '; DROP TABLE people; --",
            "email": None,
            "age": 99,
            "score": -1.25,
            "active": False,
            "created_at": dt.datetime(
                2001, 2, 3, 4, 5, 6, 7, tzinfo=dt.timezone(dt.timedelta(hours=-3))
            ),
            "born": dt.date(1970, 1, 1),
            "tags": {"nested": [1, "two", None]},
        }
        assert pk_adapter.update(people, Eq("id", 1), values) == 1
        expected = [{**r, **values} if r["id"] == 1 else r for r in pk_records["people"]]
        self.assert_records(self.stored(pk_adapter, people), expected)

    def test_update_nothing(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        people = pk_datamap.record_type("people")
        assert pk_adapter.update(people, Eq("id", -1), {"name": "x"}) == 0
        assert pk_adapter.count(people, Eq("name", "x")) == 0


class UpdateByKeyConformance(_Harness):
    """``update_by_key``: per-record values, differing field sets, missing keys skipped."""

    def test_update_by_key(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        people = pk_datamap.record_type("people")
        when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=9)))
        changes: list[tuple[Any, dict[str, Any]]] = [
            (1, {"email": "pseudo-1", "name": "Deleted user"}),
            (4, {"email": "pseudo-4"}),
            (8, {"closed_at": when, "active": True}),
            (999, {"email": "nobody"}),
        ]
        assert pk_adapter.update_by_key(people, changes) == 3
        updates = dict(changes)
        expected = [{**r, **updates.get(r["id"], {})} for r in pk_records["people"]]
        self.assert_records(self.stored(pk_adapter, people), expected)

    def test_update_by_key_many(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        events = pk_datamap.record_type("events")
        changes = [(100 + i, {"kind": f"k{i}"}) for i in range(30)]
        assert pk_adapter.update_by_key(events, changes) == 30
        stored = self.stored(pk_adapter, events)
        assert all(stored[100 + i]["kind"] == f"k{i}" for i in range(30))

    def test_update_by_key_nothing(self, pk_adapter: Adapter, pk_datamap: DataMap) -> None:
        assert pk_adapter.update_by_key(pk_datamap.record_type("events"), []) == 0

    def test_capability_is_declared_honestly(self, pk_adapter: Adapter) -> None:
        assert isinstance(pk_adapter.capabilities, frozenset)
        assert all(isinstance(c, Capability) for c in pk_adapter.capabilities)


class VerifyConformance(_Harness):
    """``verify`` reports every missing record type and field, and nothing else."""

    def test_verify_accepts_a_matching_store(
        self, pk_adapter: Adapter, pk_datamap: DataMap
    ) -> None:
        assert pk_adapter.verify(pk_datamap) == []

    def test_verify_reports_a_missing_table(
        self, adapter_factory: AdapterFactory, pk_datamap: DataMap
    ) -> None:
        partial = _without(pk_datamap, table="events")
        adapter = adapter_factory(partial, {"people": conformance_records()["people"]})
        try:
            problems = adapter.verify(pk_datamap)
        finally:
            adapter.close()
        table = pk_datamap.record_type("events").table_name
        assert len(problems) == 1, problems
        assert table in problems[0].message
        assert problems[0].location == "record_types[1]"

    def test_verify_reports_a_missing_column(
        self, adapter_factory: AdapterFactory, pk_datamap: DataMap
    ) -> None:
        if not self.verify_reports_columns:
            pytest.skip("this store cannot see columns (verify_reports_columns = False)")
        partial = _without(pk_datamap, field=("people", "score"))
        records = conformance_records()
        for r in records["people"]:
            del r["score"]
        adapter = adapter_factory(partial, records)
        try:
            problems = adapter.verify(pk_datamap)
        finally:
            adapter.close()
        assert len(problems) == 1, problems
        assert "'score'" in problems[0].message
        assert problems[0].location == "record_types[0].fields[4]"


class ErrorConformance(_Harness):
    """Store failures surface as :class:`~privacy_kit.AdapterError` naming what failed."""

    @pytest.mark.parametrize("operation", ["read", "count", "delete", "update", "update_by_key"])
    def test_errors_name_adapter_record_type_and_operation(
        self, adapter_factory: AdapterFactory, pk_datamap: DataMap, operation: str
    ) -> None:
        adapter = adapter_factory(
            _without(pk_datamap, table="events"), {"people": conformance_records()["people"]}
        )
        events = pk_datamap.record_type("events")
        calls: dict[str, Callable[[], object]] = {
            "read": lambda: list(adapter.iter_records(events, All())),
            "count": lambda: adapter.count(events, All()),
            "delete": lambda: adapter.delete(events, All()),
            "update": lambda: adapter.update(events, All(), {"kind": "x"}),
            "update_by_key": lambda: adapter.update_by_key(events, [(100, {"kind": "x"})]),
        }
        try:
            with pytest.raises(AdapterError) as info:
                calls[operation]()
        finally:
            adapter.close()
        error = info.value
        assert error.adapter == adapter.name
        assert error.record_type == "events"
        assert error.operation
        assert error.__cause__ is not None, "raise AdapterError(...) from the store's exception"

    def test_context_manager_returns_the_adapter(
        self, adapter_factory: AdapterFactory, pk_datamap: DataMap
    ) -> None:
        adapter = adapter_factory(pk_datamap, conformance_records())
        with adapter as entered:
            assert entered is adapter
            assert entered.count(pk_datamap.record_type("events"), where.all()) == 30

    def test_satisfies_the_protocol(self, pk_adapter: Adapter) -> None:
        assert isinstance(pk_adapter, Adapter)
        assert isinstance(pk_adapter.name, str)
        assert pk_adapter.name


class AdapterConformance(
    ReadConformance,
    SelectionConformance,
    RelatedConformance,
    CountConformance,
    DeleteConformance,
    UpdateConformance,
    UpdateByKeyConformance,
    VerifyConformance,
    ErrorConformance,
    TimeBoundsConformance,
    AtomicConformance,
):
    """The whole conformance suite. Subclass it as ``Test...`` and override ``adapter_factory``.

    Example:
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> class TestMemory(AdapterConformance):  # in a test module
        ...     @pytest.fixture
        ...     def adapter_factory(self):
        ...         return lambda datamap, records: InMemoryAdapter(
        ...             {rt.table_name: records.get(rt.name, []) for rt in datamap.record_types}
        ...         )
        >>> issubclass(TestMemory, ReadConformance)
        True
    """
