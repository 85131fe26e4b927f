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

Or, with the pytest plugin (installed with privacy_kit, see :mod:`privacy_kit.testing.pytest_plugin`),
define a ``privacy_adapter_factory`` fixture in ``conftest.py`` (parametrise it to test several
adapters) and subclass without overriding anything. The plugin also provides ``privacy_policy``,
``privacy_datamap``, ``privacy_engine`` and ``privacy_now`` fixtures and rewrites the kit's asserts.

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

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it. Lazy, so the pytest plugin can register the kit's modules
# for assert rewriting before they are imported.
_NAMES: dict[str, str] = {
    "SELECTION_CASES": "._fixtures",
    "SelectionCase": "._fixtures",
    "conformance_datamap": "._fixtures",
    "conformance_records": "._fixtures",
    "RELATED_CASES": "._suite",
    "AdapterConformance": "._suite",
    "AdapterFactory": "._suite",
    "AtomicConformance": "._atomic",
    "CountConformance": "._suite",
    "DeleteConformance": "._suite",
    "ErrorConformance": "._suite",
    "ReadConformance": "._suite",
    "RelatedConformance": "._suite",
    "SelectionConformance": "._suite",
    "TIME_BOUNDS_CASES": "._bounds",
    "TimeBoundsConformance": "._bounds",
    "UpdateByKeyConformance": "._suite",
    "UpdateConformance": "._suite",
    "VerifyConformance": "._suite",
    "populate": "._suite",
}

__all__ = [
    "RELATED_CASES",
    "SELECTION_CASES",
    "TIME_BOUNDS_CASES",
    "AdapterConformance",
    "AdapterFactory",
    "AtomicConformance",
    "CountConformance",
    "DeleteConformance",
    "ErrorConformance",
    "ReadConformance",
    "RelatedConformance",
    "SelectionCase",
    "SelectionConformance",
    "TimeBoundsConformance",
    "UpdateByKeyConformance",
    "UpdateConformance",
    "VerifyConformance",
    "conformance_datamap",
    "conformance_records",
    "populate",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._bounds import TIME_BOUNDS_CASES, TimeBoundsConformance
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
