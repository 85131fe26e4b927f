"""The engine: the one place where the policy, the data map and the adapters meet.

``Engine(policy, datamap, adapters)`` checks at construction that every store the data map
names has an adapter and that each adapter's store has every table and field the data map names
(never half-way through an erasure). Its operations (export, erasure, retention, objections,
rectification, ...) live in :mod:`privacy_kit.rights` and :mod:`privacy_kit.retention`; the
engine resolves each subject once into a scope (``_resolve``) and hands the operations that value
and the collaborators they need (stores, secret, audit log, holds, journals), never itself.
Every destructive operation is *plan, then apply*: ``engine.apply(plan)`` runs any plan the
engine produced.

``Engine(..., state=store)`` keeps all of that state in a :class:`~privacy_kit.audit.StateStore`
(holds, preferences, commitments, retention overrides, the journals and the disclosure log) and
takes the secret from ``store.secret()``, so every process sharing the store behaves as one.
"""

from __future__ import annotations

import datetime
import os
import secrets
import warnings
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError, Problem, SchemaMismatchError
from .._stores import Stores
from .._types import require_aware
from ..adapters import Adapter, reading_together
from ..model._datamap import DataMap, RecordType, SubjectLink
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ._exports import Exports
from ._requests import Requests
from ._resolve import SubjectResolver
from ._sweeps import Sweeps
from ._verifying import Verifying

# The operations (export, erasure, retention, holds, the audit log, ...) are imported where they
# are used, not here: constructing an Engine then costs only the model and the adapters, and a
# program pays for each operation module the first time it runs that operation.
if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from .._scope import Scope, Subject
    from ..adapters import Selection
    from ..audit._journal import Journal
    from ..audit._log import AuditLog
    from ..audit._state import StateStore
    from ..lifecycle._disclosures import DisclosureLog
    from ..retention._commitments import CommitmentRegistry
    from ..retention._fate import RecordFate
    from ..retention._holds import HoldRegistry, LegalHold
    from ..retention._journal import RetentionJournal
    from ..retention._plan import RetentionPlan
    from ..retention._settings import RetentionSettings
    from ..rights._erasure import ErasurePlan
    from ..rights._export_job import ExportJob
    from ..rights._preferences import Preferences

    #: What :meth:`Engine.apply` runs: a plan the engine made.
    Plan = ErasurePlan | RetentionPlan


def __getattr__(name: str) -> Any:
    """``Plan`` is built on first use, so importing the engine does not import the operations."""
    if name == "Plan":
        from ..retention._plan import RetentionPlan  # noqa: PLC0415 - see the note above
        from ..rights._erasure import ErasurePlan  # noqa: PLC0415

        plan = ErasurePlan | RetentionPlan
        globals()["Plan"] = plan
        return plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Engine", "Plan", "UnsharedSecretWarning"]


class UnsharedSecretWarning(UserWarning):
    """An :class:`Engine` was made with neither ``secret`` nor ``state``: it made up a random
    secret, so its subject references, pseudonyms and tokens differ from every other process's
    (and from its own after a restart). Pass ``secret=`` or ``state=``.
    """


class Engine(Exports, Sweeps, Requests, Verifying):
    """Policy + data map + adapters: export, erasure, retention and the rest.

    Args:
        policy: the policy.
        datamap: where the data lives.
        adapters: one adapter (serving every store) or ``{store name: adapter}``.
        secret: key for pseudonyms, subject references and signed tokens. If omitted: the
            state store's secret (``state.secret()``), the same in every process; without a
            store, a random one for this engine only, with an :class:`UnsharedSecretWarning`.
        audit: an :class:`~privacy_kit.AuditLog`; every operation is recorded there.
        journal_dir: where erasures keep their journals (``None``: in memory, per apply).
        verify: check the adapters against the data map now (default ``True``).
        commitments: where erasures record what they keep "until" a date, for the retention
            sweep to carry out then (``None``: a new in-memory
            :class:`~privacy_kit.retention.CommitmentRegistry`; pass one with a path to keep
            them across runs).
        state: a :class:`~privacy_kit.audit.StateStore` every process of the deployment
            shares. The holds, preferences, commitments, disclosure log and retention overrides
            (:attr:`settings`) not given explicitly are kept there, and so are the erasure and
            retention journals unless a journal is given; the secret defaults to the store's.
            A hold placed through one engine then stops the sweep of every other.

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
        commitments: CommitmentRegistry | None = None,
        state: StateStore | None = None,
    ) -> None:
        self.policy = policy
        self.datamap = datamap
        self.stores = Stores.of(datamap, adapters)
        self.adapters: dict[str, Adapter] = dict(self.stores.adapters)
        self.state = state
        if secret is None and state is not None:
            secret = state.secret()
        elif secret is None:
            warnings.warn(
                "Engine made with neither secret= nor state=: it uses a random secret, so its "
                "subject references, pseudonyms and tokens differ from every other process's "
                "and from its own after a restart; pass secret=... or state=...",
                UnsharedSecretWarning,
                stacklevel=2,
            )
            secret = secrets.token_bytes(32)
        self.secret = secret
        if len(self.secret) < 16:
            raise ConfigurationError("secret must be at least 16 bytes")
        # The default collaborators are made on first use (see the properties below).
        self._audit = audit
        self._holds = holds
        self._preferences = preferences
        self._commitments = commitments
        self.disclosures = disclosures
        if disclosures is None and state is not None:
            from ..lifecycle._disclosures import DisclosureLog  # noqa: PLC0415 - on use

            self.disclosures = DisclosureLog(policy, datamap=datamap, state=state)
        self._resolver = SubjectResolver(self.stores, self.secret)
        self.journal_dir = journal_dir
        self.settings: RetentionSettings | None = None
        """Customers' retention overrides the engine plans with when none are passed (with a
        state store: those kept in it; else ``None``, the policy's defaults)."""
        if state is not None:
            from ..retention._settings import RetentionSettings  # noqa: PLC0415 - on use

            self.settings = RetentionSettings.shared(policy, state)
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
        return self.stores.adapter_for(record_type)

    def rule_for(
        self, record_type: RecordType | str, record: Mapping[str, Any] | None = None
    ) -> RetentionRule | None:
        """The rule governing ``record_type``, or ``record``'s state's (rules by state: refused
        without one, ConfigurationError; see :func:`~privacy_kit.model.governing_rule`)."""
        from ..model._check_retention import governing_rule  # noqa: PLC0415 - on use

        return governing_rule(self.policy, self.stores.record_type(record_type), record)

    def primary_identity(self, kind: str) -> str | None:
        """The identity that names a subject of ``kind`` canonically (e.g. ``user_id``).

        It is the identity of the owner link of a record type that also holds the subject's
        other identities (the users table), else the identity most links of that kind use.
        """
        return self._resolver.primary_identity(kind)

    def reference(self, subject: Subject) -> str:
        """A keyed, stable reference to ``subject`` for logs (never the identities themselves).

        The reference depends only on the subject's kind and primary identity
        (:meth:`primary_identity`), resolved from the store when the caller gave another
        identity, so the same person gets the same reference however they were named.
        """
        primary = self.primary_identity(subject.kind)
        given = primary is None or subject.identity(primary) is not None
        resolved = subject if given else self.resolve(subject)
        return self._resolver.reference_of(subject, resolved)

    def links(self, subject: Subject) -> Iterator[tuple[RecordType, SubjectLink, Selection]]:
        """Each record type, link and selection through which ``subject`` is found.

        A link applies when the subject has the identity the link uses; the selection matches
        the records in which the subject plays that link's role.
        """
        return self._resolver.links(subject)

    def resolve(self, subject: Subject) -> Subject:
        """Fill in the subject's other identities from records that hold them (``extra_identities``).

        A customer known by user id gains the e-mail address held in the users table, and one
        known only by that e-mail address gains the user id, so every record that links by
        either is found.
        """
        return self._resolver.resolve(subject)

    def scope(self, subject: Subject) -> Scope:
        """Resolve ``subject`` once into the value every operation works from.

        Example:
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...                    InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}))
            >>> scope = engine.scope(pk.Subject.of("end_user", email="ann@example.com"))
            >>> [(e.record_type.name, e.role) for e in scope]
            [('bookings', 'invitee')]
        """
        return self._resolver.scope(subject)

    def selection_for(self, subject: Subject, record_type: RecordType) -> Selection | None:
        """Records of ``record_type`` that concern ``subject`` in any role (``None``: none can).

        Only the identities given are followed, without reading the store (:meth:`resolve` the
        subject first to follow the others); the same as ``Scope.selection_for``.
        """
        return self._resolver.scope(subject, resolve=False).selection_for(record_type)

    def _held(
        self, record_types: Iterable[RecordType], now: datetime.datetime
    ) -> tuple[dict[str, Selection], tuple[str, ...]]:
        """The held records of each record type at ``now``, and the ids of the holds covering them."""
        from ..retention._holds_recheck import held_selections  # noqa: PLC0415

        return held_selections(self.holds, self._resolver, record_types, now)

    def apply(
        self,
        plan: Plan | ExportJob,
        *,
        dry_run: bool = False,
        journal: Journal | str | os.PathLike[str] | None = None,
    ) -> Any:
        """Execute a plan (erasure, retention) or an export job and return its report.

        The plan may come from this engine or from another process (``Plan.from_json``): it is
        refused unless it was made under this engine's policy version and data map, and it is
        applied with this engine's stores, holds, commitments and journals (see
        :mod:`privacy_kit.engine._apply`). ``journal`` (erasure plans): a
        :class:`~privacy_kit.Journal`, a directory or a ``.jsonl`` file; applying again with
        the same journal resumes after a failure.

        Raises:
            ConfigurationError: not a plan, or a journal given for a retention plan.
            PlanError: the plan was made under another policy version or data map.
        """
        return self._apply_plan(plan, dry_run=dry_run, journal=journal)

    # == access, portability, erasure, rectification (privacy_kit.rights) =====================
    # export and export_stream: see ._exports.Exports
    def plan_erasure(
        self,
        subject: Subject,
        *,
        now: datetime.datetime,
        waive: Iterable[str] = (),
        batch_size: int | None = None,
        resume: str | None = None,
    ) -> ErasurePlan:
        """Plan the erasure of ``subject``: what is deleted, anonymised and kept, and why.

        See :func:`privacy_kit.rights._erasure.plan_erasure`; run the plan with :meth:`apply`.
        ``plan.commitments`` and ``plan.notes`` say what applying it schedules for the retention
        sweep (what is kept until a date, and records that would lose their account row).
        Each plan has an id of its own; ``resume=`` an earlier plan's ``plan_id`` (lost in a
        crash) makes the new plan that one again, so applying it resumes that plan's journal
        (refused with a ``PlanError`` when the work or the holds differ).

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
        from ..rights._erasure_apply import foresee_commitments  # noqa: PLC0415 - on use
        from ..rights._erasure_plan import plan_erasure  # noqa: PLC0415

        require_aware(now)
        # Every read of the plan in one read-only transaction per adapter that offers one.
        with reading_together(self.stores.adapter_for(rt) for rt in self.datamap.record_types):
            scope = self.scope(subject)
            held, hold_ids = self._held((e.record_type for e in scope), now)
            plan = plan_erasure(
                scope,
                policy=self.policy,
                held=held,
                hold_ids=hold_ids,
                audit=self.audit,
                now=now,
                waive=waive,
                batch_size=batch_size,
                resume=resume,
                datamap=self.datamap,
                stores=self.stores,
            )
            return foresee_commitments(plan, self.stores, policy=self.policy)

    def rectify(
        self,
        subject: Subject,
        record_type: RecordType | str,
        changes: Mapping[str, Any],
        *,
        now: datetime.datetime,
        key: Any = None,
        where: Selection | None = None,
    ) -> int:
        """Correct the subject's own fields in ``record_type``; return how many records changed.

        See :func:`privacy_kit.rights.rectify`: which fields are refused and why, and how
        ``key=`` (one record) or ``where=`` (a selection) targets the correction.

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
        from ..rights._rectify import rectify  # noqa: PLC0415 - on use

        rt = self.stores.record_type(record_type)
        return rectify(
            self.scope(subject), rt, changes, now=now, key=key, where=where, audit=self.audit
        )

    # == retention, legal holds, a record's fate (privacy_kit.retention) =======================
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
        resume: str | None = None,
    ) -> RetentionPlan:
        """Plan the retention sweep due at ``now``: per rule, record type and group, what and how many.

        Args:
            now: the instant to evaluate expiry at (timezone-aware).
            settings: customers' per-account overrides (``None``: the engine's :attr:`settings`,
                those kept in its state store; without a store, the policy's defaults).
            batch_size: records per ``delete``/``update`` statement and accounts per ``IN``
                list (``None``, the default: each adapter runs its own statement plan, and
                ``IN`` lists hold up to :data:`~privacy_kit.adapters.WRITE_BATCH` accounts).
            journal: where applying records finished units (a :class:`~privacy_kit.RetentionJournal`
                or a file path), so an interrupted run resumes; the engine's state store if it
                has one, else in memory.
            resume: the id of an earlier plan whose object a crash lost: the new plan takes it
                (and so resumes its journal) when it does the same work under the same holds;
                otherwise a ``PlanError``. Without it each plan has an id of its own, so two
                processes planning the same sweep never share a journal.

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
        from ..retention._journal import RetentionJournal  # noqa: PLC0415 - on use
        from ..retention._plan import plan_retention  # noqa: PLC0415

        if journal is None and self.state is not None:
            journal = RetentionJournal(state=self.state)
        return plan_retention(
            self.policy,
            self.stores,
            holds=self.holds,
            resolver=self._resolver,
            now=now,
            settings=settings if settings is not None else self.settings,
            batch_size=batch_size,
            journal=journal,
            commitments=self.commitments,
            resume=resume,
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
            settings: customers' per-account overrides (``None``: the engine's :attr:`settings`).

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
        from ..retention._fate import record_fate  # noqa: PLC0415 - on use

        return record_fate(
            self.policy,
            self.stores,
            record_type,
            record_or_key,
            holds=self.holds,
            resolver=self._resolver,
            now=now,
            settings=settings if settings is not None else self.settings,
            commitments=self.commitments,
        )

    def __repr__(self) -> str:
        stores = ", ".join(f"{s}={a.name}" for s, a in self.adapters.items())
        return f"<Engine policy={self.policy.version!r} record_types={len(self.datamap.record_types)} {stores}>"
