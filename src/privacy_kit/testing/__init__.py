"""The adapter conformance kit: run privacy_kit's adapter tests against your own adapter.

Subclass :class:`AdapterConformance` (or a few of its mixins) in a ``Test...`` class and override
one fixture, ``adapter_factory``, returning ``factory(datamap, records) -> adapter`` that builds a
fresh store holding exactly the given record types and records::

    import pytest
    from privacy_kit.testing import AdapterConformance

    class TestMyAdapter(AdapterConformance):
        @pytest.fixture
        def adapter_factory(self):
            def factory(datamap, records):
                store = MyStore()
                for rt in datamap.record_types:
                    store.create_table(rt.table_name, rt.field_names)
                    store.load(rt.table_name, records.get(rt.name, []))
                return MyAdapter(store)
            return factory

Capability flags live on the class (``verify_reports_columns = False`` for a schemaless store,
``microsecond_timestamps = False`` for a store that keeps milliseconds). The suite's own data map
and records are :func:`conformance_datamap` and :func:`conformance_records`. This module needs
pytest; ``import privacy_kit`` never imports it.

Example:
    >>> from privacy_kit.testing import conformance_datamap
    >>> [rt.name for rt in conformance_datamap().record_types]
    ['people', 'events']
"""

from __future__ import annotations

from ._fixtures import SELECTION_CASES, SelectionCase, conformance_datamap, conformance_records
from ._suite import (
    RELATED_CASES,
    AdapterConformance,
    AdapterFactory,
    CountConformance,
    DeleteConformance,
    ErrorConformance,
    ReadConformance,
    RelatedConformance,
    SelectionConformance,
    UpdateByKeyConformance,
    UpdateConformance,
    VerifyConformance,
    populate,
)

__all__ = [
    "RELATED_CASES",
    "SELECTION_CASES",
    "AdapterConformance",
    "AdapterFactory",
    "CountConformance",
    "DeleteConformance",
    "ErrorConformance",
    "ReadConformance",
    "RelatedConformance",
    "SelectionCase",
    "SelectionConformance",
    "UpdateByKeyConformance",
    "UpdateConformance",
    "VerifyConformance",
    "conformance_datamap",
    "conformance_records",
    "populate",
]
