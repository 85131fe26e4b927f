"""The engine: the one place where the policy, the data map and the adapters meet.

``Engine(policy, datamap, adapters)`` checks at construction that every store the data map
names has an adapter and that each adapter's store has every table and field the data map names
(never half-way through an erasure). Its operations (export, erasure, retention, objections,
rectification, ...) live in their own modules; the engine holds what they share: the adapters,
the subject selections, the secret for pseudonyms and tokens, the audit log, the legal holds and
the subjects' recorded choices. Every destructive operation is *plan, then apply*:
``engine.apply(plan)`` runs any plan the engine produced.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol

from .._errors import ConfigurationError, Problem, SchemaMismatchError
from .._scope import Subject
from .._types import Duration, closest
from ..adapters import Adapter, Eq, Or, Selection
from ..adapters._base import WRITE_BATCH
from ..audit._journal import Journal
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..model._check import rule_for_record_type
from ..model._datamap import DataMap, RecordType, SubjectLink
from ..model._policy import Communication, CommunicationKind, Policy, RetentionRule
from ..retention._holds import HoldRegistry, LegalHold
from ..retention._retention import (
    RecordFate,
    RetentionJournal,
    RetentionPlan,
    RetentionSettings,
    plan_retention,
    record_fate,
)
from ..rights._erasure import ErasurePlan, plan_erasure, rectify
from ..rights._export import ExportResult, export_subject
from ..rights._preference_records import Decision, PreferenceRecord, RestrictionGround
from ..rights._preferences import Preferences
from ..rights._unsubscribe import (
    DEFAULT_UNSUBSCRIBE_TTL,
    make_unsubscribe_token,
    read_unsubscribe_token,
)

__all__ = ["Engine", "Plan", "Subject"]


class Plan(Protocol):
    """What :meth:`Engine.apply` runs: every plan the engine makes has an ``_apply``."""

    def _apply(self, engine: Engine, *, dry_run: bool = False) -> Any: ...


class Engine:
    """Policy + data map + adapters: export, erasure, retention and the rest.

    Args:
        policy: the policy.
        datamap: where the data lives.
        adapters: one adapter (serving every store) or ``{store name: adapter}``.
        secret: key for pseudonyms, subject references and signed tokens (random if omitted,
            so pass your own to keep pseudonyms stable across runs).
        audit: an :class:`~privacy_kit.AuditLog`; every operation is recorded there.
        journal_dir: where erasures keep their journals (``None``: in memory, per apply).
        verify: check the adapters against the data map now (default ``True``).

    Raises:
        ConfigurationError: a store of the data map has no adapter.
        SchemaMismatchError: a store lacks a table or field the data map names.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> policy = pk.load_policy(pk.example_path())
        >>> datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> tables = {rt.table_name: [] for rt in datamap.record_types}
        >>> engine = pk.Engine(policy, datamap, InMemoryAdapter(tables))
        >>> engine.adapter_for(datamap.record_type("bookings")).name
        'InMemoryAdapter'
    """

    def __init__(
        self,
        policy: Policy,
        datamap: DataMap,
        adapters: Adapter | Mapping[str, Adapter],
        *,
        secret: bytes | None = None,
        audit: AuditLog | None = None,
        holds: HoldRegistry | None = None,
        preferences: Preferences | None = None,
        disclosures: DisclosureLog | None = None,
        journal_dir: str | os.PathLike[str] | None = None,
        verify: bool = True,
    ) -> None:
        self.policy = policy
        self.datamap = datamap
        if isinstance(adapters, Mapping):
            self.adapters: dict[str, Adapter] = dict(adapters)
        else:
            self.adapters = dict.fromkeys(datamap.stores, adapters)
        missing = [s for s in datamap.stores if s not in self.adapters]
        if missing:
            raise ConfigurationError(
                f"no adapter for store(s) {', '.join(map(repr, missing))}; "
                f"adapters were given for {sorted(self.adapters)}"
            )
        self.secret = secret if secret is not None else secrets.token_bytes(32)
        if len(self.secret) < 16:
            raise ConfigurationError("secret must be at least 16 bytes")
        self.audit: AuditLog = audit if audit is not None else AuditLog.memory()
        self.holds: HoldRegistry = holds if holds is not None else HoldRegistry()
        self.preferences: Preferences = preferences if preferences is not None else Preferences()
        self.disclosures = disclosures
        self._primary_identities: dict[str, str | None] = {}
        self.journal_dir = journal_dir
        if verify:
            self.verify()

    # -- shared plumbing ----------------------------------------------------------------------
    def verify(self) -> None:
        """Check every adapter against the data map; raise listing everything missing."""
        problems: list[Problem] = []
        names: list[str] = []
        for store, adapter in self.adapters.items():
            sub = DataMap.model_construct(
                record_types=tuple(r for r in self.datamap.record_types if r.store == store)
            )
            if not sub.record_types:
                continue
            found = adapter.verify(sub)
            if found:
                names.append(adapter.name)
                problems.extend(found)
        if problems:
            raise SchemaMismatchError(
                "the store does not match the data map:\n  " + "\n  ".join(map(str, problems)),
                adapter=", ".join(dict.fromkeys(names)),
                operation="verify",
            )

    def adapter_for(self, record_type: RecordType | str) -> Adapter:
        """The adapter that holds ``record_type``."""
        rt = self.datamap.record_type(record_type) if isinstance(record_type, str) else record_type
        return self.adapters[rt.store]

    def rule_for(self, record_type: RecordType | str) -> RetentionRule | None:
        """The retention rule that governs ``record_type``."""
        rt = self.datamap.record_type(record_type) if isinstance(record_type, str) else record_type
        return rule_for_record_type(self.policy, rt)

    def primary_identity(self, kind: str) -> str | None:
        """The identity that names a subject of ``kind`` canonically (e.g. ``user_id``).

        It is the identity of the owner link of a record type that also holds the subject's
        other identities (the users table), else the identity most links of that kind use.
        """
        if kind in self._primary_identities:
            return self._primary_identities[kind]
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
        self._primary_identities[kind] = primary
        return primary

    def reference(self, subject: Subject) -> str:
        """A keyed, stable reference to ``subject`` for logs (never the identities themselves).

        The reference depends only on the subject's kind and primary identity
        (:meth:`primary_identity`), resolved from the store when the caller gave another
        identity, so the same person gets the same reference however they were named.
        """
        primary = self.primary_identity(subject.kind)
        value = subject.identity(primary) if primary is not None else None
        if value is None and primary is not None:
            value = self.resolve(subject).identity(primary)
        if value is not None:
            payload = f"{subject.kind}\x00{primary}={value!r}"
        else:  # no primary identity known: fall back to every identity given
            payload = (
                subject.kind + "\x00" + "\x00".join(f"{k}={v!r}" for k, v in subject.identities)
            )
        return "subj_" + hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()[:32]

    def links(self, subject: Subject) -> Iterator[tuple[RecordType, SubjectLink, Selection]]:
        """Each record type, link and selection through which ``subject`` is found.

        A link applies when the subject has the identity the link uses; the selection matches
        the records in which the subject plays that link's role.
        """
        for rt, link in self.datamap.linked_to(subject.kind):
            value = subject.identity(link.identity)
            if value is not None:
                yield rt, link, Eq(link.field, value)

    def resolve(self, subject: Subject) -> Subject:
        """Fill in the subject's other identities from records that hold them (``extra_identities``).

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
            adapter = self.adapter_for(rt)
            for batch in adapter.iter_records(
                rt, Eq(field, value), fields=list(wanted.values()), batch_size=2
            ):
                for record in batch:
                    for identity, name in wanted.items():
                        if record.get(name) is not None:
                            found.setdefault(identity, record[name])
        return subject.with_identities(**found) if found else subject

    def selection_for(self, subject: Subject, record_type: RecordType) -> Selection | None:
        """Records of ``record_type`` that concern ``subject`` in any role (``None``: none can)."""
        parts = [sel for rt, _link, sel in self.links(subject) if rt.name == record_type.name]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def apply(
        self,
        plan: Plan,
        *,
        dry_run: bool = False,
        journal: Journal | str | os.PathLike[str] | None = None,
    ) -> Any:
        """Execute a plan made by this engine (erasure, retention, ...) and return its report.

        ``journal`` (erasure plans): a :class:`~privacy_kit.Journal`, a directory or a ``.jsonl``
        file; applying again with the same journal resumes after a failure.
        """
        if journal is None:
            return plan._apply(self, dry_run=dry_run)
        if not isinstance(plan, ErasurePlan):
            raise ConfigurationError(
                f"{type(plan).__name__} keeps its own journal; pass it when planning"
            )
        return plan._apply(self, dry_run=dry_run, journal=journal)

    # == access, portability, erasure, rectification (export.py, erasure.py) ==================
    def export(
        self,
        subject: Subject,
        destination: str | os.PathLike[str],
        *,
        now: datetime.datetime,
        format: Literal["zip", "folder"] = "zip",  # noqa: A002 - the name users expect
        batch_size: int = 1000,
        lang: str = "en",
        formats: Iterable[str] = ("json", "ndjson", "csv"),
    ) -> ExportResult:
        """Write ``subject``'s data as a portable bundle (access, portability).

        See :func:`privacy_kit.rights._export.export_subject` (arguments, bundle layout, redaction).

        Example:
            >>> import datetime as dt, tempfile, pathlib, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
            >>> out = pathlib.Path(tempfile.mkdtemp()) / "bo"
            >>> engine.export(pk.Subject.of("customer", user_id=7), out, format="folder",
            ...               now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)).counts["users"]
            1
        """
        return export_subject(
            self,
            subject,
            destination,
            now=now,
            format=format,
            batch_size=batch_size,
            lang=lang,
            formats=tuple(formats),
        )

    def plan_erasure(
        self,
        subject: Subject,
        *,
        now: datetime.datetime,
        waive: Iterable[str] = (),
        batch_size: int = WRITE_BATCH,
    ) -> ErasurePlan:
        """Plan the erasure of ``subject``: what is deleted, anonymised and kept, and why.

        See :func:`privacy_kit.rights._erasure.plan_erasure`; run the plan with :meth:`apply`.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("sessions", [{"id": 1, "user_id": 7}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
            >>> plan = engine.plan_erasure(pk.Subject.of("customer", user_id=7),
            ...                            now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            >>> engine.apply(plan).deleted["sessions"], mem.rows("sessions")
            (1, [])
        """
        return plan_erasure(self, subject, now=now, waive=waive, batch_size=batch_size)

    def rectify(
        self,
        subject: Subject,
        record_type: RecordType | str,
        changes: Mapping[str, Any],
        *,
        now: datetime.datetime,
    ) -> int:
        """Correct the subject's own fields in ``record_type``; return how many records changed.

        See :func:`privacy_kit.rights._erasure.rectify` (which fields are refused, and why).

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
            >>> _ = mem.insert("users", [{"id": 7, "name": "Bo"}])
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
            >>> engine.rectify(pk.Subject.of("customer", user_id=7), "users", {"name": "Bo Li"},
            ...                now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            1
        """
        return rectify(self, subject, record_type, changes, now=now)

    # == objection, restriction, opt-out, communications (preferences.py) =======================
    def communication(self, key: str) -> Communication:
        """The policy's communication ``key``; ``KeyError`` with a "did you mean" hint if unknown."""
        for communication in self.policy.communications:
            if communication.key == key:
                return communication
        known = [c.key for c in self.policy.communications]
        hint = closest(key, known)
        suffix = f"; did you mean {hint!r}?" if hint else f"; known: {', '.join(known) or 'none'}"
        raise KeyError(f"unknown communication {key!r}{suffix}")

    def _promotional(self, key: str, what: str) -> Communication:
        communication = self.communication(key)
        if communication.kind is not CommunicationKind.PROMOTIONAL:
            raise ConfigurationError(
                f"{what}: {key!r} is a transactional communication, needed to run the service; "
                "only promotional communications can be opted out of"
            )
        return communication

    def object_to(
        self,
        subject: Subject,
        purpose_key: str,
        *,
        now: datetime.datetime,
        reason: str | None = None,
    ) -> PreferenceRecord:
        """Record the subject's objection to a purpose (and the purposes beneath it).

        Recorded in the audit log as ``objection.recorded`` (the purpose, never the reason's text).

        Raises:
            KeyError: an unknown purpose, with a "did you mean" hint.

        Example:
            >>> import datetime as dt
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> policy = pk.load_policy(pk.example_path())
            >>> datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(policy, datamap, InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types}))
            >>> ann, now = pk.Subject.of("customer", user_id=7), dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
            >>> _ = engine.object_to(ann, "marketing.email", now=now)
            >>> engine.may_process(ann, "marketing.email", now=now).citation
            'GDPR Art. 21(3)'
            >>> [e.action for e in engine.audit.entries()]
            ['objection.recorded']
        """
        purpose = self.policy.vocabulary.purpose(purpose_key)
        ref = self.reference(subject)
        record = self.preferences.object_to(ref, purpose.key, now=now, reason=reason)
        self.audit.record(
            "objection.recorded",
            now=now,
            subject=ref,
            details={
                "purpose": purpose.key,
                "legal_basis": purpose.legal_basis.value,
                "direct_marketing": purpose.direct_marketing,
                "reason_given": reason is not None,
            },
        )
        return record

    def restrict(
        self, subject: Subject, *, ground: RestrictionGround | str, now: datetime.datetime
    ) -> PreferenceRecord:
        """Restrict processing of the subject's data (Art. 18); audited as ``restriction.recorded``."""
        ref = self.reference(subject)
        record = self.preferences.restrict(ref, ground=ground, now=now)
        self.audit.record(
            "restriction.recorded", now=now, subject=ref, details={"ground": record.key}
        )
        return record

    def lift_restriction(
        self,
        subject: Subject,
        *,
        now: datetime.datetime,
        ground: RestrictionGround | str | None = None,
    ) -> tuple[PreferenceRecord, ...]:
        """Lift the subject's restriction(s); audited as ``restriction.lifted``.

        Art. 18(3): tell the subject before lifting a restriction.
        """
        ref = self.reference(subject)
        lifted = self.preferences.lift_restriction(ref, now=now, ground=ground)
        self.audit.record(
            "restriction.lifted",
            now=now,
            subject=ref,
            details={"grounds": [r.key for r in lifted]},
        )
        return lifted

    def opt_out(
        self, subject: Subject, communication_key: str, *, now: datetime.datetime
    ) -> PreferenceRecord:
        """Opt the subject out of a promotional communication; audited as ``opt_out.recorded``.

        Raises:
            KeyError: an unknown communication, with a "did you mean" hint.
            ConfigurationError: a transactional communication (those cannot be opted out of).
        """
        communication = self._promotional(communication_key, "opt_out")
        ref = self.reference(subject)
        record = self.preferences.opt_out(ref, communication.key, now=now, source="request")
        self.audit.record(
            "opt_out.recorded",
            now=now,
            subject=ref,
            details={"communication": communication.key, "via": "request"},
        )
        return record

    def may_process(
        self, subject: Subject, purpose_key: str, *, now: datetime.datetime
    ) -> Decision:
        """May the subject's data be processed for ``purpose_key`` now? (objections, restrictions)

        Raises:
            KeyError: an unknown purpose, with a "did you mean" hint.
        """
        purpose = self.policy.vocabulary.purpose(purpose_key)
        return self.preferences.may_process(self.reference(subject), purpose, now=now)

    def may_send(
        self, subject: Subject, communication_key: str, *, now: datetime.datetime
    ) -> Decision:
        """May the communication be sent to the subject now? (opt-outs, objections, restrictions)

        Raises:
            KeyError: an unknown communication, with a "did you mean" hint.
        """
        communication = self.communication(communication_key)
        vocabulary = self.policy.vocabulary
        purpose = (
            vocabulary.purpose(communication.purpose)
            if vocabulary.has_purpose(communication.purpose)
            else None
        )
        return self.preferences.may_send(
            self.reference(subject), communication, now=now, purpose=purpose
        )

    def unsubscribe_token(
        self,
        subject: Subject,
        communication_key: str,
        *,
        now: datetime.datetime,
        ttl: Duration = DEFAULT_UNSUBSCRIBE_TTL,
    ) -> str:
        """A signed, expiring token for the unsubscribe link of a promotional message.

        It carries the subject's reference, not their address, and is signed with the engine's
        secret (so tokens survive a restart only if the secret is passed in).

        Raises:
            KeyError: an unknown communication.
            ConfigurationError: a transactional communication.
        """
        communication = self._promotional(communication_key, "unsubscribe_token")
        return make_unsubscribe_token(
            self.secret, self.reference(subject), communication.key, now=now, ttl=ttl
        )

    def unsubscribe(self, token: str, *, now: datetime.datetime) -> PreferenceRecord:
        """Act on an unsubscribe link: check the token, record the opt-out, audit it.

        Raises:
            VerificationError: a malformed, tampered or expired token (saying which).
            KeyError: the token names a communication the policy no longer has.
        """
        claim = read_unsubscribe_token(self.secret, token, now=now)
        communication = self._promotional(claim.communication_key, "unsubscribe")
        record = self.preferences.opt_out(
            claim.subject_ref, communication.key, now=now, source="unsubscribe"
        )
        self.audit.record(
            "opt_out.recorded",
            now=now,
            subject=claim.subject_ref,
            details={"communication": communication.key, "via": "unsubscribe_token"},
        )
        return record

    # == retention, legal holds, a record's fate (retention.py, holds.py) ========================
    def place_hold(
        self,
        *,
        reason: str,
        placed_by: str,
        now: datetime.datetime,
        subject: Subject | None = None,
        record_type: RecordType | str | None = None,
        selection: Selection | None = None,
        hold_id: str | None = None,
    ) -> LegalHold:
        """Place a legal hold: the records it covers are never deleted or anonymised while it lasts.

        Args:
            reason: why (shown in plans and the audit log: no personal data).
            placed_by: who places it.
            now: when it takes effect.
            subject: hold every record of this subject (in ``record_type`` only, if given).
            record_type: hold this record type, or the records of it ``selection`` matches.
            selection: narrow a record-type hold.
            hold_id: the id to use (default: a random ``hold_...``).

        Returns:
            The hold (see :class:`~privacy_kit.LegalHold`).

        Raises:
            ConfigurationError: no scope, an unknown record type, or a duplicate id.

        Example:
            >>> import datetime as dt
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...                    InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}))
            >>> hold = engine.place_hold(reason="Dispute 12", placed_by="legal", hold_id="h1",
            ...                          now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            ...                          subject=pk.Subject.of("customer", user_id=7))
            >>> hold.id, len(engine.holds.active(dt.datetime(2026, 2, 1, tzinfo=dt.UTC)))
            ('h1', 1)
        """
        name = record_type.name if isinstance(record_type, RecordType) else record_type
        if name is not None and not self.datamap.has_record_type(name):
            try:
                self.datamap.record_type(name)
            except KeyError as exc:
                raise ConfigurationError(str(exc.args[0])) from None
        if subject is not None and not any(True for _ in self.datamap.linked_to(subject.kind)):
            raise ConfigurationError(f"no record type of the data map links a {subject.kind!r}")
        hold = self.holds.place(
            reason=reason,
            placed_by=placed_by,
            now=now,
            subject=subject,
            record_type=name,
            selection=selection,
            hold_id=hold_id,
        )
        self.audit.record(
            "hold.placed",
            now=now,
            subject=None if subject is None else self.reference(subject),
            details={"hold": hold.id, "record_type": name, "selection": selection is not None},
        )
        return hold

    def release_hold(self, hold_id: str, *, released_by: str, now: datetime.datetime) -> LegalHold:
        """Release a legal hold as of ``now`` (it stays in the registry's history).

        Raises:
            ConfigurationError: unknown id, or already released.
        """
        hold = self.holds.release(hold_id, released_by=released_by, now=now)
        self.audit.record("hold.released", now=now, details={"hold": hold.id})
        return hold

    def plan_retention(
        self,
        *,
        now: datetime.datetime,
        settings: RetentionSettings | None = None,
        batch_size: int | None = None,
        journal: RetentionJournal | str | os.PathLike[str] | None = None,
    ) -> RetentionPlan:
        """Plan the retention sweep due at ``now``: per rule, record type and group, what and how many.

        Args:
            now: the instant to evaluate expiry at (timezone-aware).
            settings: customers' per-account overrides (``None``: the policy's defaults).
            batch_size: records per statement batch and accounts per ``IN`` list (default 1000).
            journal: where applying records finished units (a :class:`~privacy_kit.RetentionJournal`
                or a file path), so an interrupted run resumes; in memory by default.

        Returns:
            A :class:`~privacy_kit.RetentionPlan`; run it with :meth:`apply`.

        Raises:
            ConfigurationError: a stored override is outside the policy's current range.

        Example:
            >>> import datetime as dt
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> tables = {rt.table_name: [] for rt in dm.record_types}
            >>> tables["users"] = [{"id": 1, "closed_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)}]
            >>> tables["payment_methods"] = [{"id": 10, "user_id": 1}]
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, InMemoryAdapter(tables),
            ...                    verify=False)
            >>> plan = engine.plan_retention(now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> plan.by_rule()["payment_data"]
            {'delete': 1}
            >>> engine.apply(plan).total
            1
        """
        return plan_retention(
            self, now=now, settings=settings, batch_size=batch_size, journal=journal
        )

    def fate(
        self,
        record_type: RecordType | str,
        record_or_key: Any,
        *,
        now: datetime.datetime,
        settings: RetentionSettings | None = None,
    ) -> RecordFate:
        """When will this record be deleted (or anonymised), by which rule, and is it held?

        Args:
            record_type: the record type (or its name).
            record_or_key: the record (a mapping) or its primary key (then it is read).
            now: the instant to answer for.
            settings: customers' per-account overrides.

        Returns:
            A :class:`~privacy_kit.RecordFate` with a readable ``sentence``.

        Raises:
            ConfigurationError: no record with that key.

        Example:
            >>> import datetime as dt
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> tables = {rt.table_name: [] for rt in dm.record_types}
            >>> tables["users"] = [{"id": 1, "closed_at": None}]
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, InMemoryAdapter(tables),
            ...                    verify=False)
            >>> fate = engine.fate("payment_methods", {"id": 10, "user_id": 1},
            ...                    now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> fate.expires_at is None, fate.rule
            (True, 'payment_data')
        """
        return record_fate(self, record_type, record_or_key, now=now, settings=settings)

    def __repr__(self) -> str:
        stores = ", ".join(f"{s}={a.name}" for s, a in self.adapters.items())
        return f"<Engine policy={self.policy.version!r} record_types={len(self.datamap.record_types)} {stores}>"
