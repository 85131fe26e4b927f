"""Conformance for one transaction over several writes (``Capability.ATOMIC``).

An adapter that declares the capability commits every write made inside ``atomic()`` together
when the block ends, and rolls every one of them back when the block raises, leaving nothing
open: a write after the block commits on its own, as usual. Adapters without the capability
skip these tests (erasures then commit each step on its own).
"""

from __future__ import annotations

import pytest

from ..adapters import Adapter, All, Capability, In, Record, atomic_of
from ..model._datamap import DataMap
from ._harness import _Harness

__all__ = ["AtomicConformance"]


class _Injected(Exception):  # noqa: N818 - the failure a test raises on purpose
    pass


class AtomicConformance(_Harness):
    """``atomic()``: the writes of a block committed together, or rolled back together."""

    def _atomic(self, adapter: Adapter) -> None:
        if atomic_of(adapter) is None:
            pytest.skip("the adapter does not declare Capability.ATOMIC")

    def test_writes_of_a_block_commit_together(
        self, pk_adapter: Adapter, pk_datamap: DataMap
    ) -> None:
        self._atomic(pk_adapter)
        atomic = atomic_of(pk_adapter)
        assert atomic is not None
        events, people = pk_datamap.record_type("events"), pk_datamap.record_type("people")
        with atomic():
            assert pk_adapter.delete(events, In("person_id", (1, 2))) > 0
            assert pk_adapter.update(people, In("id", (1, 2)), {"name": None}) == 2
            assert pk_adapter.count(events, In("person_id", (1, 2))) == 0  # reads see them
        assert pk_adapter.count(events, In("person_id", (1, 2))) == 0
        stored = self.stored(pk_adapter, people)
        assert stored[1]["name"] is None
        assert stored[2]["name"] is None

    def test_a_failure_rolls_back_every_write_of_the_block(
        self, pk_adapter: Adapter, pk_datamap: DataMap, pk_records: dict[str, list[Record]]
    ) -> None:
        self._atomic(pk_adapter)
        atomic = atomic_of(pk_adapter)
        assert atomic is not None
        events, people = pk_datamap.record_type("events"), pk_datamap.record_type("people")

        def fail_after_writing() -> None:
            with atomic():
                pk_adapter.delete(events, All())
                pk_adapter.update(people, All(), {"name": None})
                pk_adapter.update_by_key(people, [(1, {"name": "changed"})])
                raise _Injected

        with pytest.raises(_Injected):
            fail_after_writing()
        self.assert_records(self.stored(pk_adapter, events), pk_records["events"])
        self.assert_records(self.stored(pk_adapter, people), pk_records["people"])
        # Nothing is left open: a write after the block commits on its own and stays.
        assert pk_adapter.delete(events, In("person_id", (1,))) > 0
        kept = [r for r in pk_records["events"] if r["person_id"] != 1]
        self.assert_records(self.stored(pk_adapter, events), kept)

    def test_capability_declared_with_its_method(self, pk_adapter: Adapter) -> None:
        if Capability.ATOMIC in pk_adapter.capabilities:
            assert callable(getattr(pk_adapter, "atomic", None))
