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

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ._errors import SubjectError
from ._stores import Stores
from .adapters import Adapter
from .model._datamap import DataMap, RecordType, SubjectLink
from .model._policy import Policy

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (made on use: see adapters)
    from .adapters import Selection

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

    @classmethod
    def parse(
        cls,
        text: str | Sequence[str],
        *,
        kind: str | None = None,
        argument: str = "subject",
        datamap: DataMap | None = None,
    ) -> Subject:
        """The subject named by command-line arguments (the CLI's ``--subject``, Django's
        management commands), each mistake a :class:`~privacy_kit.SubjectError` naming the
        argument.

        Two shapes: without ``kind``, ``text`` is ``kind:identity=value[,identity=value...]``;
        with ``kind``, ``text`` is the ``identity=value`` items (a sequence of them, or one
        string with the items separated by commas). Names are trimmed; values are kept as given
        (the resolver types and normalises them by their field).

        Args:
            text: the argument's text, or the items.
            kind: the subject's kind, when it is given apart.
            argument: what to name in an error (``--subject``, ``identities``).
            datamap: when given, the kind and every identity name are checked against it (with
                a "did you mean" hint), before anything is opened or read.

        Raises:
            SubjectError: no kind, no identity, an item without ``=``, an empty name or value,
                an identity named twice, or (given ``datamap``) an unknown kind or identity.

        Example:
            >>> Subject.parse("customer:email=ann@example.com,user_id=7")
            Subject(kind='customer', identities=(('email', 'ann@example.com'), ('user_id', '7')))
            >>> Subject.parse(["email=ann@example.com"], kind="end_user", argument="identities")
            Subject(kind='end_user', identities=(('email', 'ann@example.com'),))
            >>> Subject.parse("customer:email=", argument="--subject")
            Traceback (most recent call last):
            ...
            privacy_kit._errors.SubjectError: --subject 'customer:email=': 'email=' has an empty value; expected kind:identity=value (e.g. customer:email=ann@example.com; several identities separated by commas, each named once)
        """
        if kind is None:
            shape = (
                "kind:identity=value (e.g. customer:email=ann@example.com; several identities "
                "separated by commas, each named once)"
            )
        else:
            shape = "identity=value (e.g. email=ann@example.com), each identity named once"
        shown = text if isinstance(text, str) else " ".join(text)

        def refuse(problem: str) -> SubjectError:
            return SubjectError(f"{argument} {shown!r}: {problem}; expected {shape}")

        if isinstance(text, str) and kind is None:
            head, colon, rest = text.partition(":")
            kind = head.strip()
            if not colon:
                raise refuse("no ':' after the kind")
            if not kind:
                raise refuse("no kind before ':'")
            if not rest.strip():
                raise refuse("no identity after ':'")
            items: Sequence[str] = rest.split(",")
        elif isinstance(text, str):
            items = text.split(",")
        else:
            items = text
        kind = (kind or "").strip()
        if not kind:
            raise refuse("no kind")
        identities: dict[str, str] = {}
        for item in items:
            name, eq, value = item.partition("=")
            name = name.strip()
            if not eq:
                raise refuse(f"{item!r} has no '='" if item.strip() else "an empty identity")
            if not name:
                raise refuse(f"{item!r} names no identity")
            if not value.strip():
                raise refuse(f"{item!r} has an empty value")
            if name in identities:
                raise refuse(f"identity {name!r} is given twice")
            identities[name] = value
        if not identities:
            raise refuse("no identity")
        if datamap is not None:
            from .model._identity import identity_fields  # noqa: PLC0415 - on use

            try:
                identity_fields(datamap, kind, identities)
            except SubjectError as exc:
                raise SubjectError(f"{argument} {shown!r}: {exc}") from None
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
        from .adapters import Or  # noqa: PLC0415 - the selections are made on use

        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def __iter__(self) -> Iterator[ScopeEntry]:
        return iter(self.entries)


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
