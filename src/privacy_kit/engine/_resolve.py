"""Subject resolution: from the identities a caller gives to one immutable :class:`Scope`.

A subject arrives with whatever identities the caller had (a user id, an e-mail address). The
resolver fills in the identities the store holds (``extra_identities`` of a profile record
type), derives the canonical keyed reference, and lists every record type and role through which
the subject is found, each with its adapter and selection. That value is computed once per
operation and handed down; nothing below the engine resolves a subject again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

from .._scope import Scope, ScopeEntry, Stores, Subject
from ..adapters import Eq, Selection
from ..model._datamap import DataMap, RecordType, SubjectLink

__all__ = ["SubjectResolver"]


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
        >>> scope = resolver.scope(pk.Subject.of("customer", email="bo@example.com"))
        >>> scope.resolved.identity("user_id"), scope.primary_identity
        (7, 'user_id')
        >>> scope.reference == resolver.scope(pk.Subject.of("customer", user_id=7)).reference
        True
    """

    def __init__(self, stores: Stores, secret: bytes) -> None:
        self.stores = stores
        self.secret = secret
        self._primary: dict[str, str | None] = {}

    @property
    def datamap(self) -> DataMap:
        """The data map subjects are resolved against."""
        return self.stores.datamap

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
        """The subject with the identities the store holds filled in (``extra_identities``).

        A customer known by user id gains the e-mail address held in the users table, and one
        known only by that e-mail address gains the user id, so every record that links by
        either is found.
        """
        found: dict[str, Any] = {}
        for rt, link in self.datamap.linked_to(subject.kind):
            if not link.extra_identities:
                continue
            identity_fields = {link.identity: link.field, **link.extra_identities}
            wanted = {i: f for i, f in identity_fields.items() if subject.identity(i) is None}
            known = [
                (f, subject.identity(i)) for i, f in identity_fields.items() if i not in wanted
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

    def links(self, subject: Subject) -> Iterator[tuple[RecordType, SubjectLink, Selection]]:
        """Each record type, link and selection through which ``subject`` (as given) is found."""
        for rt, link in self.datamap.linked_to(subject.kind):
            value = subject.identity(link.identity)
            if value is not None:
                yield rt, link, Eq(link.field, value)

    def scope(self, subject: Subject) -> Scope:
        """Resolve ``subject`` once: identities, reference, and every record type and role."""
        resolved = self.resolve(subject)
        entries = tuple(
            ScopeEntry(rt, link, selection, self.stores.adapter_for(rt))
            for rt, link, selection in self.links(resolved)
        )
        return Scope(
            subject=subject,
            resolved=resolved,
            reference=self.reference_of(subject, resolved),
            primary_identity=self.primary_identity(subject.kind),
            entries=entries,
        )
