"""A host project's view: a tiny adapter written in the test, plugged into the conformance suite.

This is the recipe of docs/adapters.md, verbatim in spirit: the store is a dict of lists, the
adapter subclasses BaseAdapter and implements four methods, and the test class subclasses
AdapterConformance and overrides the one fixture.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from privacy_kit.adapters import BaseAdapter, Selection, missing_problems
from privacy_kit.testing import AdapterConformance


class DictStore:
    """The made-up store: ``{table: [row, ...]}`` plus each table's columns."""

    def __init__(self) -> None:
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.columns: dict[str, set[str]] = {}


class DictAdapter(BaseAdapter):
    def __init__(self, store: DictStore) -> None:
        super().__init__(name="dict-store")
        self.db = store

    def _rows(self, rt: Any, operation: str) -> list[dict[str, Any]]:
        with self.wrap_errors(operation, rt):
            return self.db.tables[rt.table_name]  # KeyError becomes AdapterError

    def iter_records(
        self,
        rt: Any,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[dict[str, Any]]]:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        matches = [r for r in self._rows(rt, "read") if selection.matches(r)]
        for start in range(0, len(matches), batch_size):
            batch = matches[start : start + batch_size]
            yield copy.deepcopy([{f: r[f] for f in (fields or r)} for r in batch])

    def delete(self, rt: Any, selection: Selection, *, batch_size: int = 1000) -> int:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        rows = self._rows(rt, "delete")
        kept = [r for r in rows if not selection.matches(r)]
        deleted, rows[:] = len(rows) - len(kept), kept
        return deleted

    def update(
        self, rt: Any, selection: Selection, values: Mapping[str, Any], *, batch_size: int = 1000
    ) -> int:
        matched = [r for r in self._rows(rt, "update") if selection.matches(r)]
        for r in matched:
            r.update(values)
        return len(matched)

    def verify(self, datamap: Any) -> list[Any]:
        return missing_problems(
            datamap,
            None,
            {rt.table_name: self.db.columns.get(rt.table_name) for rt in datamap.record_types},
        )


class TestDictAdapter(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self) -> Any:
        def factory(datamap: Any, records: Mapping[str, Sequence[dict[str, Any]]]) -> DictAdapter:
            store = DictStore()
            for rt in datamap.record_types:
                store.columns[rt.table_name] = set(rt.field_names)
                store.tables[rt.table_name] = [dict(r) for r in records.get(rt.name, [])]
            return DictAdapter(store)

        return factory


def test_the_adapter_is_tiny() -> None:
    import inspect

    source = inspect.getsource(DictStore) + inspect.getsource(DictAdapter)
    assert len(source.splitlines()) < 100
