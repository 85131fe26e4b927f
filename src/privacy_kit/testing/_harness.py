"""The conformance suite's shared harness: the factory fixture, the data, the helpers.

Private to :mod:`privacy_kit.testing`; the mixins in ``_suite`` and ``_related`` build on it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest

from ..adapters import Adapter, All, Record
from ..model._datamap import DataMap, RecordType
from ._fixtures import conformance_datamap, conformance_records

__all__ = ["AdapterFactory"]

AdapterFactory = Callable[[DataMap, Mapping[str, Sequence[Record]]], Adapter]
"""``factory(datamap, records) -> adapter``: a fresh store holding exactly these record types
(tables named by ``record_type.table_name``, with every declared field) and these records
(keyed by record type name)."""


def _without(
    datamap: DataMap, *, table: str | None = None, field: tuple[str, str] | None = None
) -> DataMap:
    """``datamap`` without record type ``table`` or without ``field`` (record type, field)."""
    kept = []
    for rt in datamap.record_types:
        if rt.name == table:
            continue
        if field is not None and rt.name == field[0]:
            fields = tuple(f for f in rt.fields if f.name != field[1])
            kept.append(rt.model_copy(update={"fields": fields}))
        else:
            kept.append(rt)
    return DataMap.model_construct(record_types=tuple(kept))


def _ids(batches: Iterator[list[Record]]) -> list[Any]:
    return sorted(r["id"] for batch in batches for r in batch)


class _Harness:
    """Fixtures shared by the mixins; subclasses override ``adapter_factory``."""

    microsecond_timestamps: bool = True
    """The store keeps timestamps to the microsecond (otherwise compared to the millisecond)."""
    verify_reports_columns: bool = True
    """``verify`` can see columns (a schemaless store sets this to ``False``)."""

    @pytest.fixture
    def adapter_factory(self, privacy_adapter_factory: AdapterFactory) -> AdapterFactory:
        """Override: return ``factory(datamap, records) -> adapter`` (see :data:`AdapterFactory`).

        By default, the ``privacy_adapter_factory`` fixture (the pytest plugin's, which raises
        until a host's ``conftest.py`` defines its own, possibly parametrised).
        """
        return privacy_adapter_factory

    @pytest.fixture
    def pk_datamap(self) -> DataMap:
        """The suite's data map, with table names unique to this test."""
        return conformance_datamap(prefix=f"pkc{uuid.uuid4().hex[:10]}_")

    @pytest.fixture
    def pk_records(self) -> dict[str, list[Record]]:
        """Fresh copies of the suite's records."""
        return conformance_records()

    @pytest.fixture
    def pk_adapter(
        self,
        adapter_factory: AdapterFactory,
        pk_datamap: DataMap,
        pk_records: dict[str, list[Record]],
    ) -> Iterator[Adapter]:
        """An adapter over a fresh store holding the suite's records."""
        adapter = adapter_factory(pk_datamap, conformance_records())
        try:
            yield adapter
        finally:
            adapter.close()

    # -- helpers ---------------------------------------------------------------------------
    def stored(self, adapter: Adapter, record_type: RecordType) -> dict[Any, Record]:
        """Every record of ``record_type`` by id."""
        return {r["id"]: r for b in adapter.iter_records(record_type, All()) for r in b}

    def assert_same_value(self, actual: Any, expected: Any, where_: str) -> None:
        """Compare one stored value with the expected one (timestamps as instants)."""
        if isinstance(expected, dt.datetime):
            assert isinstance(actual, dt.datetime), f"{where_}: {actual!r} is not a datetime"
            assert actual.utcoffset() is not None, f"{where_}: {actual!r} is naive"
            tolerance = dt.timedelta(microseconds=0 if self.microsecond_timestamps else 999)
            assert abs(actual - expected) <= tolerance, f"{where_}: {actual!r} != {expected!r}"
        elif isinstance(expected, bool):
            assert actual is expected, f"{where_}: {actual!r} is not {expected!r}"
        else:
            assert actual == expected, f"{where_}: {actual!r} != {expected!r}"

    def assert_records(self, actual: Mapping[Any, Record], expected: Sequence[Record]) -> None:
        """``actual`` (by id) holds exactly ``expected``, field by field."""
        assert sorted(actual) == sorted(r["id"] for r in expected)
        for record in expected:
            got = actual[record["id"]]
            for field, value in record.items():
                self.assert_same_value(got.get(field), value, f"id {record['id']}.{field}")
