"""The counts a retention plan reads, gathered per record type and read together.

A plan counts, per record type, what each entry selects and what its holds keep, and the records
no sweep can time (orphans). :class:`CountBatch` collects every such count first, in groups (the
counts of one record type that share a scan), and reads each group with the adapter's ``counts``
(one statement, one scan, for up to :data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT`
counts) or, where the adapter has ``counts_by_type``, every group of the plan in one statement.
Planning then costs one statement, or about one per record type, whatever the number of entries,
groups and stages.
"""

from __future__ import annotations

from typing import Any

from .._errors import AdapterError
from .._scope import Stores
from ..adapters import Capability, Selection, count_each
from ..adapters._sql import COUNTS_PER_STATEMENT
from ..model._datamap import RecordType

__all__ = ["CountBatch", "can_recheck"]

_GROUPS_PER_STATEMENT = 16
"""At most this many groups of counts share one ``counts_by_type`` statement (each brings up to
:data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT` counts)."""


def can_recheck(stores: Stores, record_type: RecordType, accounts: RecordType) -> bool:
    """Whether statements on ``record_type`` can re-check its ``accounts`` with a sub-select.

    They can when both live in one adapter that declares ``Capability.RELATED``.
    """
    adapter = stores.adapter_for(record_type)
    return adapter is stores.adapter_for(accounts) and Capability.RELATED in adapter.capabilities


class CountBatch:
    """Counts asked for now and read later, one statement per record type (see the module).

    A record type with :data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT` counts waiting is
    read at once, so the selections kept waiting stay bounded.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit._scope import Stores
        >>> from privacy_kit.adapters import InMemoryAdapter, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 1}, {"id": 2, "name": "Bo"}])
        >>> batch = CountBatch(Stores.of(dm, mem))
        >>> users = dm.record_type("users")
        >>> a, b = batch.add(users, where.all()), batch.add(users, where.not_null("name"))
        >>> batch.run()
        >>> batch[a], batch[b]
        (2, 1)
    """

    def __init__(self, stores: Stores) -> None:
        self._stores = stores
        self._pending: dict[tuple[str, str], list[tuple[int, Selection]]] = {}
        self._found: list[int | None] = []

    def add(self, record_type: RecordType, selection: Selection, *, group: str = "") -> int:
        """Ask for the count of ``selection`` on ``record_type``; returns its ticket.

        Counts of one ``group`` of a record type share a scan; give counts that select records
        by other columns (the held ones, by their keys) a group of their own, so the store can
        use another index for them rather than test every record the others read.
        """
        ticket = len(self._found)
        self._found.append(None)
        key = (record_type.name, group)
        waiting = self._pending.setdefault(key, [])
        waiting.append((ticket, selection))
        if len(waiting) >= COUNTS_PER_STATEMENT:
            self._read(key)
        return ticket

    def run(self) -> None:
        """Read every count still waiting: all the groups of one adapter in one statement when
        it can count several at once (``counts_by_type``), else one statement per group."""
        by_adapter: dict[int, list[tuple[str, str]]] = {}
        for key in self._pending:
            adapter = self._stores.adapter_for(self._stores.record_type(key[0]))
            by_adapter.setdefault(id(adapter), []).append(key)
        for keys in by_adapter.values():
            adapter = self._stores.adapter_for(self._stores.record_type(keys[0][0]))
            many = getattr(adapter, "counts_by_type", None)
            for start in range(0, len(keys), _GROUPS_PER_STATEMENT):
                chunk = keys[start : start + _GROUPS_PER_STATEMENT]
                if many is None or len(chunk) == 1:
                    for key in chunk:
                        self._read(key)
                    continue
                waiting = [self._pending.pop(key) for key in chunk]
                requests = [
                    (self._stores.record_type(name), [sel for _t, sel in wanted])
                    for (name, _group), wanted in zip(chunk, waiting, strict=True)
                ]
                found = list(many(requests))
                for wanted, counts in zip(waiting, _checked(adapter, requests, found), strict=True):
                    for (ticket, _sel), n in zip(wanted, counts, strict=True):
                        self._found[ticket] = n

    def _read(self, key: tuple[str, str]) -> None:
        waiting = self._pending.pop(key, [])
        if not waiting:
            return
        rt = self._stores.record_type(key[0])
        found = count_each(self._stores.adapter_for(rt), rt, [sel for _t, sel in waiting])
        for (ticket, _sel), n in zip(waiting, found, strict=True):
            self._found[ticket] = n

    def __getitem__(self, ticket: int) -> int:
        found = self._found[ticket]
        if found is None:
            raise RuntimeError(f"count {ticket} was asked for but not read yet: call run() first")
        return found


def _checked(
    adapter: Any, requests: list[tuple[RecordType, list[Selection]]], found: list[Any]
) -> list[list[int]]:
    """``found`` as counts, refused (``AdapterError``) unless it has one per selection."""
    shapes = [len(selections) for _rt, selections in requests]
    if len(found) != len(requests) or [len(list(f)) for f in found] != shapes:
        raise AdapterError(
            f"counts_by_type returned {[len(list(f)) for f in found]} count(s) for {shapes} "
            "selection(s)",
            adapter=getattr(adapter, "name", type(adapter).__name__),
            operation="count",
        )
    return [[int(n) for n in counts] for counts in found]
