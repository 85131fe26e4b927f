"""Deletion order: which record types to delete first so no reference is left dangling.

A store that enforces its foreign keys (SQLite with ``PRAGMA foreign_keys=ON``, PostgreSQL,
MariaDB/InnoDB) refuses to delete a record another record still references. Erasures and sweeps
therefore delete **children before parents**: :func:`deletion_order` sorts record types so that
every record type comes before the record types it references.

The references come from two places:

- **the data map**: a subject link references the subject's *profile* record type (the one whose
  owner link of that kind lists ``extra_identities``, e.g. ``users`` for customers), and an
  ``account`` link references the accounts' record type;
- **the store**, where an adapter can tell (:class:`ForeignKey`, reported by adapters with the
  ``foreign_keys`` capability).

References that form a cycle cannot all be honoured: the cycle is broken deterministically (the
record type listed first in the data map goes first), every record type is still ordered, and
:attr:`DeletionOrder.notes` says which references were not honoured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from .._errors import ConfigurationError
from ._datamap import DataMap, RecordType

__all__ = ["DeletionOrder", "ForeignKey", "RecordReference", "deletion_order"]


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class ForeignKey:
    """A foreign key of a store between two record types (as an adapter reports it).

    Attributes:
        record_type: the referencing record type's name (the child).
        references: the referenced record type's name (the parent).
        fields: the child's columns.
        referenced_fields: the parent's columns.

    Example:
        >>> ForeignKey("bookings", "services", ("service_id",), ("id",)).describe()
        'foreign key bookings(service_id) -> services(id)'
    """

    record_type: str
    references: str
    fields: tuple[str, ...] = attrs.field(default=(), converter=_names)
    referenced_fields: tuple[str, ...] = attrs.field(default=(), converter=_names)

    def describe(self) -> str:
        """The key in words."""
        child = f"{self.record_type}({', '.join(self.fields)})" if self.fields else self.record_type
        parent = (
            f"{self.references}({', '.join(self.referenced_fields)})"
            if self.referenced_fields
            else self.references
        )
        return f"foreign key {child} -> {parent}"


@attrs.frozen
class RecordReference:
    """One reason ``record_type`` must be deleted before ``references``.

    Attributes:
        record_type: the referencing record type (deleted first).
        references: the referenced record type.
        via: where the reference comes from, in words.
    """

    record_type: str
    references: str
    via: str


@attrs.frozen
class DeletionOrder:
    """Record types in the order to delete them: every one before the ones it references.

    Attributes:
        record_types: the names, children first.
        references: every reference considered.
        broken: references that could not be honoured because they form a cycle.
        notes: what the reader should know (cycles broken, stores that cannot report their keys).
    """

    record_types: tuple[str, ...]
    references: tuple[RecordReference, ...]
    broken: tuple[RecordReference, ...] = ()
    notes: tuple[str, ...] = ()

    def rank(self, record_type: str) -> int:
        """The position of ``record_type`` (0: deleted first), to sort steps by.

        Raises:
            ConfigurationError: ``record_type`` is not in this order.
        """
        try:
            return self._positions[record_type]
        except KeyError:
            raise ConfigurationError(
                f"record type {record_type!r} is not in this deletion order "
                f"({', '.join(self.record_types)})"
            ) from None

    @property
    def _positions(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.record_types)}

    def cycle_note(self, record_type: str) -> str:
        """Why ``record_type`` is deleted before records that reference it ("": it is not)."""
        waiting = [r.via for r in self.broken if r.references == record_type]
        if not waiting:
            return ""
        return "deleted before records that still reference it (a cycle): " + "; ".join(waiting)

    def with_notes(self, notes: Iterable[str]) -> DeletionOrder:
        """A copy with ``notes`` added (before the existing ones)."""
        return attrs.evolve(self, notes=(*notes, *self.notes))

    def describe(self) -> str:
        """The order in one line, with its notes."""
        text = "delete " + " -> ".join(self.record_types)
        return "; ".join([text, *self.notes])


def _profiles(record_types: Sequence[RecordType]) -> dict[str, list[RecordType]]:
    """Per subject kind, the record types that are the subject's profile."""
    out: dict[str, list[RecordType]] = {}
    for rt in record_types:
        for link in rt.subjects:
            if link.owner and link.extra_identities:
                out.setdefault(link.kind, []).append(rt)
    return out


def _datamap_references(record_types: Sequence[RecordType]) -> list[RecordReference]:
    names = {rt.name for rt in record_types}
    profiles = _profiles(record_types)
    refs: list[RecordReference] = []
    for rt in record_types:
        refs.extend(
            RecordReference(
                rt.name,
                profile.name,
                f"subject link {rt.name}.{link.field} -> {link.kind} profile {profile.name}",
            )
            for link in rt.subjects
            for profile in profiles.get(link.kind, ())
            if profile.name != rt.name
        )
        account = rt.account
        if account is not None and account.record_type != rt.name and account.record_type in names:
            refs.append(
                RecordReference(
                    rt.name,
                    account.record_type,
                    f"account link {rt.name}.{account.field} -> {account.record_type}",
                )
            )
    return refs


def deletion_order(
    record_types: DataMap | Iterable[RecordType],
    *,
    foreign_keys: Iterable[ForeignKey] = (),
) -> DeletionOrder:
    """Order record types for deletion: each before every record type it references.

    Args:
        record_types: a data map, or some of its record types (references to record types not
            given are ignored: their records are not deleted, so the order cannot matter).
        foreign_keys: the stores' foreign keys, as adapters report them.

    Returns:
        The order, children first; among record types with no reference between them, the
        given order is kept. A cycle is broken by taking first the record type listed first
        among those in the cycle; :attr:`DeletionOrder.notes` names the references not honoured.

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> order = deletion_order(dm, foreign_keys=[ForeignKey("bookings", "services")])
        >>> order.record_types
        ('companies', 'bookings', 'services', 'support_tickets', 'payment_methods', 'sessions', 'usage_events', 'users')
        >>> order.rank("bookings") < order.rank("services") < order.rank("users")
        True
    """
    given = list(record_types.record_types if isinstance(record_types, DataMap) else record_types)
    types = list({rt.name: rt for rt in given}.values())
    names = [rt.name for rt in types]
    position = {name: i for i, name in enumerate(names)}
    refs = _datamap_references(types)
    notes: list[str] = []
    for fk in foreign_keys:
        if fk.record_type not in position or fk.references not in position:
            continue
        if fk.record_type == fk.references:
            notes.append(
                f"{fk.record_type} references itself ({fk.describe()}): records of "
                f"{fk.record_type} are deleted together, in no particular order among themselves"
            )
            continue
        refs.append(RecordReference(fk.record_type, fk.references, fk.describe()))
    refs = list(dict.fromkeys(refs))
    children: dict[str, set[str]] = {name: set() for name in names}
    for ref in refs:
        children[ref.references].add(ref.record_type)

    remaining = list(names)
    order: list[str] = []
    broken: list[RecordReference] = []
    while remaining:
        left = set(remaining)
        ready = next((n for n in remaining if not children[n] & left), None)
        if ready is None:
            ready, cycle = _break(remaining, children)
            waiting = children[ready] & left
            lost = [r for r in refs if r.references == ready and r.record_type in waiting]
            broken.extend(lost)
            notes.append(
                f"the references among {', '.join(cycle)} form a cycle: {ready} is deleted "
                f"before {', '.join(sorted(waiting, key=position.__getitem__))} although "
                + "; ".join(r.via for r in lost)
                + " (a store that enforces these references refuses the deletion; make the key "
                "deferrable, or ON DELETE SET NULL/CASCADE)"
            )
        order.append(ready)
        remaining.remove(ready)
    return DeletionOrder(
        record_types=tuple(order),
        references=tuple(refs),
        broken=tuple(broken),
        notes=tuple(dict.fromkeys(notes)),
    )


def _break(remaining: list[str], children: dict[str, set[str]]) -> tuple[str, list[str]]:
    """The record type to take first from a cycle: the first one, in the given order, of a cycle
    that no other remaining record type waits behind; and the members of that cycle."""
    left = set(remaining)

    def waits_for(name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for child in children[todo.pop()] & left:
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen

    reach = {name: waits_for(name) for name in remaining}
    for name in remaining:
        if all(name in reach[other] for other in reach[name]):
            members = [n for n in remaining if n == name or n in reach[name]]
            return name, members
    raise AssertionError("a graph in which every node waits has a cycle")  # pragma: no cover
