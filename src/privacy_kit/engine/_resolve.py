"""Subject resolution: from the identities a caller gives to one immutable :class:`Scope`.

A subject arrives with whatever identities the caller had (a user id, an e-mail address). The
resolver first checks them: the kind must be one the data map links, every identity one its
links use, and every value a value of the field it is compared with (``"7"`` becomes ``7`` for an
integer key, an address is trimmed and normalised as the data map declares; anything else is a
:class:`~privacy_kit.SubjectError` before any store is read). It then fills in the identities the
store holds (``extra_identities`` of a profile record type), derives the canonical keyed
reference, and lists every record type and role through which the subject is found, each with
its adapter and selection. That value is computed once per operation and handed down; nothing
below the engine resolves a subject again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .._lazy import DebugLogger
from ..model._datamap import DataMap, RecordType, SubjectLink
from ..model._identity import identity_fields, identity_value

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .._scope import Scope, Subject
    from .._stores import Stores
    from ..adapters import Selection

__all__ = ["SubjectResolver"]

_log = DebugLogger("privacy_kit.engine")


class SubjectResolver:
    """Resolves subjects against one data map and its stores, with one keyed secret.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit._scope import Stores
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "email": "bo@example.com"}])
        >>> resolver = SubjectResolver(Stores.of(dm, mem), b"k" * 32)
        >>> scope = resolver.scope(pk.Subject.of("customer", email=" BO@example.com"))
        >>> scope.resolved.identity("user_id"), scope.primary_identity
        (7, 'user_id')
        >>> scope.reference == resolver.scope(pk.Subject.of("customer", user_id="7")).reference
        True
        >>> resolver.scope(pk.Subject.of("customer", usr_id=7))
        Traceback (most recent call last):
        ...
        privacy_kit._errors.SubjectError: a customer has no identity 'usr_id'; did you mean 'user_id'? (known: email, user_id)
    """

    def __init__(self, stores: Stores, secret: bytes) -> None:
        self.stores = stores
        self.secret = secret
        self._primary: dict[str, str | None] = {}

    @property
    def datamap(self) -> DataMap:
        """The data map subjects are resolved against."""
        return self.stores.datamap

    # -- checking and normalising -------------------------------------------------------------
    def check(self, subject: Subject) -> Subject:
        """``subject`` with every identity checked and normalised, or a :class:`SubjectError`.

        Raises:
            SubjectError: a kind no record type links, an identity no link of that kind uses
                (both with a "did you mean" hint), or a value that cannot be the field's.
        """
        fields = identity_fields(
            self.datamap, subject.kind, (name for name, _value in subject.identities)
        )
        values: dict[str, Any] = {}
        for name, value in subject.identities:
            _rt, spec = fields[name]
            values[name] = identity_value(spec, value, where=f"{subject.kind}.{name}")
        from .._scope import Subject  # noqa: PLC0415 - made on use (not by making an Engine)

        return Subject(subject.kind, values)

    def _value(self, rt: RecordType, field: str, subject: Subject, identity: str) -> Any:
        value = subject.identity(identity)
        if value is None:
            return None
        return identity_value(rt.field(field), value, where=f"{subject.kind}.{identity}")

    # -- resolution ---------------------------------------------------------------------------
    def primary_identity(self, kind: str) -> str | None:
        """The identity that names a subject of ``kind`` canonically (e.g. ``user_id``).

        It is the identity of the owner link of a record type that also holds the subject's
        other identities (the users table), else the identity most links of that kind use.
        """
        if kind in self._primary:
            return self._primary[kind]
        links = [link for _rt, link in self.datamap.linked_to(kind)]
        profile = [link for link in links if link.owner and link.extra_identities]
        primary: str | None
        if profile:
            primary = profile[0].identity
        elif links:
            counts: dict[str, int] = {}
            for link in links:
                counts[link.identity] = counts.get(link.identity, 0) + 1
            primary = max(counts, key=lambda i: (counts[i], -list(counts).index(i)))
        else:
            primary = None
        self._primary[kind] = primary
        return primary

    def resolve(self, subject: Subject) -> Subject:
        """The subject, checked, with the identities the store holds filled in.

        A customer known by user id gains the e-mail address held in the users table, and one
        known only by that e-mail address gains the user id, so every record that links by
        either is found.
        """
        from ..adapters import Eq  # noqa: PLC0415 - the selections are made on use

        subject = self.check(subject)
        found: dict[str, Any] = {}
        for rt, link in self.datamap.linked_to(subject.kind):
            if not link.extra_identities:
                continue
            identity_fields = {link.identity: link.field, **link.extra_identities}
            wanted = {i: f for i, f in identity_fields.items() if subject.identity(i) is None}
            known = [
                (f, self._value(rt, f, subject, i))
                for i, f in identity_fields.items()
                if i not in wanted
            ]
            if not wanted or not known:
                continue
            field, value = known[0]
            adapter = self.stores.adapter_for(rt)
            for batch in adapter.iter_records(
                rt, Eq(field, value), fields=list(wanted.values()), batch_size=2
            ):
                for record in batch:
                    for identity, name in wanted.items():
                        if record.get(name) is not None:
                            found.setdefault(identity, record[name])
        return subject.with_identities(**found) if found else subject

    def reference_of(self, subject: Subject, resolved: Subject) -> str:
        """The keyed reference of ``subject`` (``resolved`` supplies a missing primary identity)."""
        subject = self.check(subject)
        primary = self.primary_identity(subject.kind)
        value = subject.identity(primary) if primary is not None else None
        if value is None and primary is not None:
            value = resolved.identity(primary)
        if value is not None:
            payload = f"{subject.kind}\x00{primary}={value!r}"
        else:  # no primary identity known: fall back to every identity given
            payload = (
                subject.kind + "\x00" + "\x00".join(f"{k}={v!r}" for k, v in subject.identities)
            )
        return "subj_" + hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def links(
        self, subject: Subject, *, kinds: tuple[str, ...] | None = None
    ) -> Iterator[tuple[RecordType, SubjectLink, Selection]]:
        """Each record type, link and selection through which ``subject`` (as given) is found.

        ``kinds``: the kinds whose links to follow (default: the subject's own).
        """
        from ..adapters import Eq  # noqa: PLC0415 - the selections are made on use

        subject = self.check(subject)
        for kind in kinds or (subject.kind,):
            for rt, link in self.datamap.linked_to(kind):
                value = self._value(rt, link.field, subject, link.identity)
                if value is not None:
                    yield rt, link, Eq(link.field, value)

    def scope(self, subject: Subject, *, every_role: bool = False, resolve: bool = True) -> Scope:
        """Resolve ``subject`` once: identities, reference, and every record type and role.

        With ``every_role``, links of other kinds are followed too, through the data map's
        ``person_identities`` (an e-mail address names one person whatever their kind): a
        customer who also books as an invitee is found in both roles. With ``resolve=False``
        the store is not read: only the identities given are followed (and, when the primary
        identity is not among them, the reference is made from those given).
        """
        from .._scope import Scope, ScopeEntry  # noqa: PLC0415 - made on use, as Subject
        from ..adapters import Eq  # noqa: PLC0415 - the selections are made on use

        resolved = self.resolve(subject) if resolve else self.check(subject)
        entries = [
            ScopeEntry(rt, link, selection, self.stores.adapter_for(rt))
            for rt, link, selection in self.links(resolved)
        ]
        shared = [i for i in self.datamap.person_identities if resolved.identity(i) is not None]
        if every_role and shared:
            others = {
                s.kind
                for rt in self.datamap.record_types
                for s in rt.subjects
                if s.kind != resolved.kind
            }
            for kind in sorted(others):
                carried = {i: resolved.identity(i) for i in shared}
                for rt, link in self.datamap.linked_to(kind):
                    if link.identity in carried:
                        value = identity_value(
                            rt.field(link.field),
                            carried[link.identity],
                            where=f"{kind}.{link.identity}",
                        )
                        entries.append(
                            ScopeEntry(rt, link, Eq(link.field, value), self.stores.adapter_for(rt))
                        )
        scope = Scope(
            subject=self.check(subject),
            resolved=resolved,
            reference=self.reference_of(subject, resolved),
            primary_identity=self.primary_identity(subject.kind),
            entries=tuple(entries),
        )
        # Identity names only, never their values: the reference stands for the person.
        log = _log.enabled()
        if log is not None:
            log.debug(
                "subject %s %s resolved by %s: %d record type/role entr(y/ies)",
                subject.kind,
                scope.reference,
                ", ".join(k for k, _ in resolved.identities),
                len(scope.entries),
            )
        return scope
