"""The optional foreign-key capability, and the deletion order of record types across stores.

An adapter that can read its store's foreign keys declares :attr:`Capability.FOREIGN_KEYS` and
implements ``foreign_keys(record_types)`` (the :class:`ForeignKeyReporter` protocol); the
built-in adapters do (``InMemoryAdapter`` has none to report). Adapters without it still work:
the order then follows the data map's references alone, and :func:`store_deletion_order` says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from ..model._datamap import RecordType
from ..model._order import DeletionOrder, ForeignKey, deletion_order
from ._base import Adapter, Capability

__all__ = ["ForeignKeyReporter", "reported_foreign_keys", "store_deletion_order"]


@runtime_checkable
class ForeignKeyReporter(Protocol):
    """An adapter that can tell its store's foreign keys (``Capability.FOREIGN_KEYS``)."""

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        """The store's foreign keys between ``record_types`` (by record type name)."""
        ...


def reported_foreign_keys(
    adapter: Adapter, record_types: Sequence[RecordType]
) -> tuple[ForeignKey, ...] | None:
    """The foreign keys ``adapter`` reports between ``record_types``; ``None`` if it cannot tell.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter, BaseAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> reported_foreign_keys(InMemoryAdapter(), dm.record_types)
        ()
        >>> reported_foreign_keys(BaseAdapter(), dm.record_types) is None
        True
    """
    if Capability.FOREIGN_KEYS not in adapter.capabilities or not isinstance(
        adapter, ForeignKeyReporter
    ):
        return None
    return tuple(adapter.foreign_keys(record_types))


def store_deletion_order(pairs: Iterable[tuple[RecordType, Adapter]]) -> DeletionOrder:
    """The deletion order of record types, from the data map and their stores' foreign keys.

    Args:
        pairs: each record type to order with the adapter that holds it (in data-map order).

    Returns:
        The order, children first (:func:`privacy_kit.model.deletion_order`), with a note for
        each adapter that cannot report its foreign keys (its record types are ordered by the
        data map's references only).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter()
        >>> order = store_deletion_order((rt, mem) for rt in dm.record_types)
        >>> order.record_types[-1], order.notes
        ('users', ())
    """
    by_adapter: dict[int, tuple[Adapter, list[RecordType]]] = {}
    types: list[RecordType] = []
    for rt, adapter in pairs:
        types.append(rt)
        by_adapter.setdefault(id(adapter), (adapter, []))[1].append(rt)
    keys: list[ForeignKey] = []
    notes: list[str] = []
    for adapter, served in by_adapter.values():
        unique = list({rt.name: rt for rt in served}.values())
        found = reported_foreign_keys(adapter, unique)
        if found is None:
            notes.append(
                f"adapter {adapter.name!r} cannot report its store's foreign keys (capability "
                f"{Capability.FOREIGN_KEYS.value!r}): {', '.join(rt.name for rt in unique)} are "
                "ordered by the data map's references only"
            )
        else:
            keys.extend(found)
    return deletion_order(types, foreign_keys=keys).with_notes(notes)
