"""The values the engine hands down to the operations: a subject, its scope, and the stores.

The engine resolves a :class:`Subject` once into a :class:`Scope`: for each record type and role
through which the subject is found, the adapter that holds the records, the selection that
matches them, the link that names the role, plus the subject's canonical reference. Exports,
erasures, rectifications and legal holds take that value (and :class:`Stores`, the adapters per
store), never the engine, so data flows down the layers and results flow back as values.

Layer rule: imports only the foundation, :mod:`privacy_kit.model` and
:mod:`privacy_kit.adapters`; every operation layer may import it.

Example:
    >>> from privacy_kit.adapters import Eq, InMemoryAdapter
    >>> import privacy_kit as pk
    >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
    >>> stores = Stores(dm, {"main": InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})})
    >>> sessions = dm.record_type("sessions")
    >>> entry = ScopeEntry(sessions, sessions.subjects[0], Eq("user_id", 7), stores.adapter_for(sessions))
    >>> scope = Scope(Subject.of("customer", user_id=7), Subject.of("customer", user_id=7),
    ...               "subj_x", "user_id", (entry,))
    >>> scope.selection_for(sessions)
    Eq(field='user_id', value=7)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import attrs

from ._errors import ConfigurationError
from .adapters import Adapter, Or, Selection
from .model._datamap import DataMap, RecordType, SubjectLink
from .model._policy import Policy

__all__ = ["Catalog", "Resolver", "Scope", "ScopeEntry", "Stores", "Subject"]


def _identities(value: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    pairs = tuple(sorted((str(k), v) for k, v in dict(value).items() if v is not None))
    if not pairs:
        raise ValueError("a subject needs at least one identity (user_id, email, ...)")
    return pairs


@attrs.frozen
class Subject:
    """A data subject: a kind (``customer``, ``end_user``, ...) and identities.

    Example:
        >>> s = Subject.of("end_user", email="ann@example.com")
        >>> s.identity("email"), s.identity("user_id")
        ('ann@example.com', None)
    """

    kind: str
    identities: tuple[tuple[str, Any], ...] = attrs.field(converter=_identities)

    @classmethod
    def of(cls, kind: str, **identities: Any) -> Subject:
        """Build a subject from keyword identities."""
        return cls(kind, identities)

    def identity(self, name: str) -> Any:
        """The value of identity ``name``, or ``None``."""
        for key, value in self.identities:
            if key == name:
                return value
        return None

    def with_identities(self, **more: Any) -> Subject:
        """A copy with more identities (existing ones win)."""
        merged = {k: v for k, v in more.items() if v is not None}
        merged.update(dict(self.identities))
        return Subject(self.kind, merged)

    def __str__(self) -> str:
        return f"{self.kind}(" + ", ".join(f"{k}={v}" for k, v in self.identities) + ")"


@attrs.frozen
class ScopeEntry:
    """One record type and role through which a subject is found.

    Attributes:
        record_type: the record type.
        link: the subject link (its field, identity and role).
        selection: the records in which the subject plays that role.
        adapter: the adapter that holds the record type.
    """

    record_type: RecordType
    link: SubjectLink
    selection: Selection
    adapter: Adapter = attrs.field(eq=False, repr=False)

    @property
    def role(self) -> str:
        """The subject's role in these records (the link's role, or its kind)."""
        return self.link.role_name


@attrs.frozen
class Scope:
    """A subject resolved once: where their records are, and how they are named in logs.

    Attributes:
        subject: the subject as the caller named them.
        resolved: the subject with the identities the store holds filled in.
        reference: the keyed, stable reference used in logs (never the identities).
        primary_identity: the identity that names a subject of this kind canonically.
        entries: each record type and role through which the subject is found.
    """

    subject: Subject
    resolved: Subject
    reference: str
    primary_identity: str | None
    entries: tuple[ScopeEntry, ...]

    def for_record_type(self, record_type: RecordType | str) -> tuple[ScopeEntry, ...]:
        """The entries of one record type (one per role the subject plays in it)."""
        name = record_type if isinstance(record_type, str) else record_type.name
        return tuple(e for e in self.entries if e.record_type.name == name)

    def selection_for(self, record_type: RecordType | str) -> Selection | None:
        """Records of ``record_type`` that concern the subject in any role (``None``: none can)."""
        parts = [e.selection for e in self.for_record_type(record_type)]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def __iter__(self) -> Iterator[ScopeEntry]:
        return iter(self.entries)


@attrs.frozen
class Stores:
    """The adapters of a data map, per store: which adapter holds which record type.

    Raises:
        ConfigurationError: a store of the data map has no adapter.
    """

    datamap: DataMap = attrs.field(repr=False)
    adapters: Mapping[str, Adapter]

    def __attrs_post_init__(self) -> None:
        missing = [s for s in self.datamap.stores if s not in self.adapters]
        if missing:
            raise ConfigurationError(
                f"no adapter for store(s) {', '.join(map(repr, missing))}; "
                f"adapters were given for {sorted(self.adapters)}"
            )

    @classmethod
    def of(cls, datamap: DataMap, adapters: Adapter | Mapping[str, Adapter]) -> Stores:
        """One adapter serving every store, or ``{store name: adapter}``."""
        if isinstance(adapters, Mapping):
            return cls(datamap, dict(adapters))
        return cls(datamap, dict.fromkeys(datamap.stores, adapters))

    def record_type(self, record_type: RecordType | str) -> RecordType:
        """The data map's record type (given or named)."""
        if isinstance(record_type, RecordType):
            return record_type
        return self.datamap.record_type(record_type)

    def adapter_for(self, record_type: RecordType | str) -> Adapter:
        """The adapter that holds ``record_type``."""
        return self.adapters[self.record_type(record_type).store]


class Resolver(Protocol):
    """What turns a subject into its scope (the engine is one)."""

    @property
    def datamap(self) -> DataMap:
        """The data map subjects are resolved against."""
        ...

    def scope(self, subject: Subject) -> Scope:
        """The subject's scope: every record type and role through which they are found."""
        ...


class Catalog(Protocol):
    """The policy, the data map and the adapters together (the engine is one)."""

    @property
    def policy(self) -> Policy:
        """The policy."""
        ...

    @property
    def datamap(self) -> DataMap:
        """The data map."""
        ...

    def adapter_for(self, record_type: RecordType | str) -> Adapter:
        """The adapter that holds ``record_type``."""
        ...
