"""The counts a retention plan reads, gathered per record type and read together.

A plan counts, per record type, what each entry covers and what its holds keep, and the records
no sweep can time (orphans). :class:`CountBatch` collects every such count first and reads all
the counts of one record type with the adapter's ``counts`` (one statement, one scan of the
table, for up to :data:`~privacy_kit.adapters._sql.COUNTS_PER_STATEMENT` of them), so planning
costs about one statement per record type whatever the number of entries, groups and stages.
"""

from __future__ import annotations

from .._scope import Stores
from ..adapters import Capability, Selection, count_each
from ..adapters._sql import COUNTS_PER_STATEMENT
from ..model._datamap import RecordType

__all__ = ["CountBatch", "can_recheck"]


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
        self._pending: dict[str, list[tuple[int, Selection]]] = {}
        self._found: list[int | None] = []

    def add(self, record_type: RecordType, selection: Selection) -> int:
        """Ask for the count of ``selection`` on ``record_type``; returns its ticket."""
        ticket = len(self._found)
        self._found.append(None)
        waiting = self._pending.setdefault(record_type.name, [])
        waiting.append((ticket, selection))
        if len(waiting) >= COUNTS_PER_STATEMENT:
            self._read(record_type.name)
        return ticket

    def run(self) -> None:
        """Read every count still waiting."""
        for name in list(self._pending):
            self._read(name)

    def _read(self, name: str) -> None:
        waiting = self._pending.pop(name, [])
        if not waiting:
            return
        rt = self._stores.record_type(name)
        found = count_each(self._stores.adapter_for(rt), rt, [sel for _t, sel in waiting])
        for (ticket, _sel), n in zip(waiting, found, strict=True):
            self._found[ticket] = n

    def __getitem__(self, ticket: int) -> int:
        found = self._found[ticket]
        if found is None:
            raise RuntimeError(f"count {ticket} was asked for but not read yet: call run() first")
        return found
