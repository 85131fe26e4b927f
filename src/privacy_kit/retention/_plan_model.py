"""The values a retention sweep is planned into: a :class:`RetentionPlan` of :class:`RetentionEntry`.

Each entry is one step (a rule, a record type, a group of accounts, an action) with its selection,
cutoff and counts; :mod:`privacy_kit.retention._plan` builds them and
:mod:`privacy_kit.retention._apply` runs them.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

import attrs

from .._html import html_table, join_html, records
from .._types import Duration
from ..adapters import WRITE_BATCH, Partition, Selection
from ._commitments import Commitment, CommitmentRegistry
from ._holds import HoldRegistry, describe_selection
from ._indefinite import IndefiniteKeep
from ._journal import RetentionJournal
from ._orphans import Orphans
from ._plan_json import check_content, retention_plan_fields, retention_plan_json
from ._rules import Action, TriggerSource
from ._views import PLAN_COLUMNS, extras_html

if TYPE_CHECKING:
    from .._scope import Resolver

__all__ = ["RetentionEntry", "RetentionPlan"]


# == the plan ======================================================================================
@attrs.frozen
class RetentionEntry:
    """One step of a sweep: a rule, a record type, a group of accounts and an action.

    Attributes:
        rule: the rule's key.
        record_type: the record type's name.
        action: ``delete``, ``anonymize`` (the rule's action) or ``minimize`` (clear the fields no
            legal-obligation exception keeps, while the rest is kept).
        group: ``default`` or ``override P30D (3 accounts)``.
        override: the customers' chosen duration for an override group.
        source: where the trigger time is read (``None`` for a commitment's entry).
        duration: counted from the trigger (``None``: at the trigger itself).
        cutoff: records whose trigger time is ``<= cutoff`` are covered.
        after: and ``> after`` (older ones are covered by a later step of the same group).
        fields: the fields anonymised or cleared.
        kept: for ``minimize``: the fields kept, and for how long after the trigger.
        selection: the selection on the record type (with held records excluded). When the trigger
            is the account's, it is combined with ``link_field IN (accounts)`` per batch.
        account_selection: the accounts whose trigger time has passed (trigger via the account).
        count: records covered, counted by the store (held ones excluded).
        held: records that would be covered but are under a legal hold.
        hold_ids: the holds in force on this record type.
        commitment: the commitment the entry carries out (``None``: a rule's entry). Its
            ``rule`` is then the commitment's id, its ``group`` ``commitment`` and its ``cutoff``
            the commitment's due date; ``minimize`` clears the kept fields.
        when: for a record type whose rules depend on the record's state, the state this
            entry covers (part of ``selection``, so each statement re-checks it).
        gone_from_backups_by: when the records this entry removes are gone from the backups
            holding them too (``None``: no backup location holds them).
        recheck: for a trigger via the account, each statement re-checks the account's
            ``account_selection`` itself (a sub-select on the accounts, see
            :class:`~privacy_kit.adapters.Related`), so an account reopened after its key was
            read is not swept. ``False`` where the store cannot (the plan's notes say why): the
            statements then trust the keys read just before.
        marker: the record type's ``timestamps.anonymized`` field, set by this (anonymising)
            step and tested by its selection (``None``: the step sets no marker).
        partitions: the partitions of a partitioned table this (deleting) step would remove
            whole, each with its records (counted when planned; part of ``count``), where the
            adapter declares ``Capability.PARTITIONS``. Applying surveys them again.
    """

    rule: str
    record_type: str
    action: Action
    group: str
    override: Duration | None
    source: TriggerSource | None
    duration: Duration | None
    cutoff: dt.datetime
    after: dt.datetime | None
    fields: tuple[str, ...]
    kept: tuple[tuple[str, Duration], ...]
    selection: Selection = attrs.field(repr=False)
    account_selection: Selection | None = attrs.field(repr=False)
    excluded_accounts: frozenset[Any] = attrs.field(repr=False)
    held_selection: Selection | None = attrs.field(repr=False)
    count: int
    held: int
    hold_ids: tuple[str, ...]
    commitment: Commitment | None = None
    recheck: bool = False
    marker: str | None = None
    when: str | None = None
    gone_from_backups_by: dt.datetime | None = None
    partitions: tuple[Partition, ...] = ()

    def describe(self) -> str:
        """One line: what, where, which records, how many."""
        span = f"{self.duration} after" if self.duration else "at"
        what = {
            "delete": "delete",
            "anonymize": f"anonymise {', '.join(self.fields)} of",
            "minimize": f"clear {', '.join(self.fields)} of",
        }[self.action]
        if self.commitment is not None or self.source is None:
            c = self.commitment
            why = "" if c is None else f" ({c.reason}: {c.explanation}; from {c.origin})"
            text = (
                f"{self.rule}: {what} {self.count} {self.record_type} record(s) kept until "
                f"{self.cutoff.isoformat()}{why}; group {self.group}"
            )
            if self.held:
                text += f"; {self.held} held ({', '.join(self.hold_ids)})"
            return text
        text = (
            f"{self.rule}: {what} {self.count} {self.record_type} record(s) "
            f"{span} {self.source.trigger.value} ({self.source.describe()} <= "
            f"{self.cutoff.isoformat()}"
            + (f" and > {self.after.isoformat()}" if self.after is not None else "")
            + f"); group {self.group}"
        )
        if self.when is not None:
            text += f"; only where {self.when}"
        if self.kept:
            text += "; keeping " + ", ".join(f"{f} until +{d}" for f, d in self.kept)
        if self.gone_from_backups_by is not None:
            text += f"; gone from backups by {self.gone_from_backups_by.date().isoformat()}"
        if self.held:
            text += f"; {self.held} held ({', '.join(self.hold_ids)})"
        if self.partitions:
            rows = sum(p.rows for p in self.partitions)
            names = ", ".join(p.name for p in self.partitions)
            text += f"; {rows} of them in {len(self.partitions)} whole partition(s): {names}"
        return text

    def selection_text(self) -> str:
        """The selection in SQL-like words (the account part included)."""
        text = describe_selection(self.selection)
        if self.account_selection is not None and self.source is not None:
            text = (
                f"{self.source.link_field} IN (keys of {self.source.account} where "
                f"{describe_selection(self.account_selection)}) AND {text}"
            )
            text += (
                f" [re-checked on {self.source.account} by each statement]"
                if self.recheck
                else f" [NOT re-checked on {self.source.account} when the statement runs]"
            )
        return text

    def __repr__(self) -> str:
        return _entry_repr(self)


@attrs.frozen
class RetentionPlan:
    """What a sweep at ``now`` would do (see :meth:`privacy_kit.Engine.plan_retention`).

    Attributes:
        now: the instant the plan is for.
        entries: the steps, in the order they run (records whose trigger is their account's
            before the accounts themselves, so no record loses its trigger time mid-sweep).
        skipped: ``(record type, reason)`` for record types no rule can be enforced on.
        notes: anything the reader should know (orphan risks, ...).
        batch_size: records per ``delete``/``update`` statement, as the caller chose (``None``,
            the default: each adapter runs its own statement plan, see
            :class:`~privacy_kit.adapters.Adapter`).
        journal: the finished units, so a re-run after a failure resumes.
        id: the plan's identity, naming it in the journal: a hash of what the plan does (not of
            its counts), the holds it excluded and a random nonce, so two plans made for the
            same work and instant (by two processes) never share a journal. Applying the same
            plan object (or a copy of it) again resumes.
        orphans: per record type, records no sweep can ever time: they read their trigger time
            from an account that no longer exists, or link to none (shown first in the summary).
        commitments: the registry the commitment entries come from (marked fulfilled on apply).
        kept_indefinitely: what no sweep ever expires (``duration: forever`` on a rule or an
            exception), per rule and record type, with the policy's reason.
        hold_ids: the holds the plan excluded (in force at ``now`` when it was made).
        holds: the hold registry, read again before each unit when the plan is applied, so a
            hold placed after planning keeps its records too (``None``: no registry).
        resolver: turns a newly held subject into its scope when applying.
        policy_version: the version of the policy the plan was made under (applying it under
            another is refused).
        datamap_digest: :func:`~privacy_kit.datamap_digest` of the data map it was made under
            (applying it under another is refused).
        loaded: read by :meth:`from_json`: :meth:`Engine.apply <privacy_kit.Engine.apply>`
            attaches the engine's holds, resolver, commitments and shared journal to it.
    """

    now: dt.datetime
    entries: tuple[RetentionEntry, ...]
    skipped: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    batch_size: int | None
    journal: RetentionJournal = attrs.field(repr=False, eq=False)
    id: str
    orphans: tuple[Orphans, ...] = ()
    commitments: CommitmentRegistry | None = attrs.field(default=None, repr=False, eq=False)
    kept_indefinitely: tuple[IndefiniteKeep, ...] = ()
    hold_ids: tuple[str, ...] = ()
    holds: HoldRegistry | None = attrs.field(default=None, repr=False, eq=False)
    resolver: Resolver | None = attrs.field(default=None, repr=False, eq=False)
    policy_version: str | None = None
    datamap_digest: str | None = None
    loaded: bool = attrs.field(default=False, repr=False, eq=False)

    def to_json(self) -> str:
        """The plan as a JSON document another process can load and apply (:meth:`from_json`).

        It carries the format version, the policy version and data-map digest the plan was
        made under, its id (so the journal resumes in any process) and every entry's
        selections, cutoffs and counts; not the journal, holds, resolver or commitment
        registry, which belong to the process that applies it.

        Raises:
            ConfigurationError: the plan was not made by an engine (no policy version or data
                map digest), or a selection holds a value JSON cannot carry.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...                    InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}))
            >>> plan = engine.plan_retention(now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> same = pk.RetentionPlan.from_json(plan.to_json())
            >>> same == plan, same.id == plan.id
            (True, True)
        """
        return retention_plan_json(self)

    @classmethod
    def from_json(
        cls,
        data: str | bytes | bytearray | memoryview,
        *,
        journal: RetentionJournal | str | os.PathLike[str] | None = None,
        holds: HoldRegistry | None = None,
        resolver: Resolver | None = None,
        commitments: CommitmentRegistry | None = None,
    ) -> RetentionPlan:
        """Load a plan written by :meth:`to_json` (in this process or another).

        :meth:`Engine.apply <privacy_kit.Engine.apply>` refuses it unless the engine's policy
        version and data map are those it was made under, attaches the engine's holds,
        resolver and commitment registry, and journals it in the engine's state store (unless
        ``journal`` is given here): applied twice, or after a crash, it resumes. The arguments
        are for :func:`~privacy_kit.retention.apply_retention` without an engine.

        Raises:
            PlanFormatError: the document is corrupt or truncated (the error names where), of
                another kind, or of a newer format version, or its ``id`` does not match its
                entries (edited: ``plan.id``).
        """
        fields, entries = retention_plan_fields(data)
        if not isinstance(journal, RetentionJournal):
            journal = RetentionJournal(journal)
        return check_content(
            cls(
                entries=tuple(RetentionEntry(**e) for e in entries),
                journal=journal,
                holds=holds,
                resolver=resolver,
                commitments=commitments,
                loaded=True,
                **fields,
            )
        )

    @property
    def read_batch(self) -> int:
        """Records per read and accounts per ``IN`` list: ``batch_size``, or
        :data:`~privacy_kit.adapters.WRITE_BATCH` when the adapters choose their own plans."""
        return self.batch_size or WRITE_BATCH

    @property
    def total_orphans(self) -> int:
        """Records that can never be timed (see ``orphans``)."""
        return sum(o.total for o in self.orphans)

    @property
    def total(self) -> int:
        """Records the plan covers (deleted, anonymised or minimised)."""
        return sum(e.count for e in self.entries)

    @property
    def total_held(self) -> int:
        """Records that would be covered but are held."""
        return sum(e.held for e in self.entries)

    def by_rule(self) -> dict[str, dict[str, int]]:
        """``{rule: {action: count}}``."""
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            counts = out.setdefault(e.rule, {})
            counts[e.action] = counts.get(e.action, 0) + e.count
        return out

    def summary(self) -> str:
        """A readable multi-line summary."""
        lines = [
            (
                f"Retention plan as of {self.now.isoformat()}: {self.total} record(s) in "
                f"{len(self.entries)} step(s), {self.total_held} held"
            )
        ]
        if self.orphans:
            lines.append(
                f"  ORPHANS: {self.total_orphans} record(s) can never be timed by any sweep; "
                "restore their account, give them an end, or delete them:"
            )
            lines.extend("    " + o.describe() for o in self.orphans)
        lines.extend("  " + e.describe() for e in self.entries)
        lines.extend(f"  kept indefinitely: {k.describe()}" for k in self.kept_indefinitely)
        lines.extend(f"  skipped {rt}: {reason}" for rt, reason in self.skipped)
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return _plan_repr(self)

    def _repr_html_(self) -> str:
        return _plan_html(self)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415

        return data_frame(PLAN_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """One flat row per entry, the same columns in every row (for a data frame).

        Columns: ``rule, record_type, action, group, when, duration, cutoff, after, fields,
        count, held, holds, commitment, gone_from_backups_by``; ``None`` where a value does not
        apply, datetimes and durations as ISO 8601 text, lists joined with ``"; "``. Orphans,
        what is kept indefinitely, skipped record types and notes are in ``summary()`` and
        the notebook view.
        """
        return _plan_records(self)


# == notebook views ================================================================================
def _entry_row(e: RetentionEntry) -> dict[str, object]:
    return {
        "rule": e.rule,
        "record_type": e.record_type,
        "action": e.action,
        "group": e.group,
        "when": e.when,
        "duration": e.duration,
        "cutoff": e.cutoff,
        "after": e.after,
        "fields": e.fields,
        "count": e.count,
        "held": e.held,
        "holds": e.hold_ids,
        "commitment": None if e.commitment is None else e.commitment.id,
        "gone_from_backups_by": e.gone_from_backups_by,
    }


def _entry_repr(e: RetentionEntry) -> str:
    return (
        f"RetentionEntry(rule={e.rule!r}, record_type={e.record_type!r}, action={e.action!r}, "
        f"group={e.group!r}, count={e.count}, held={e.held})"
    )


def _plan_records(plan: RetentionPlan) -> list[dict[str, object]]:
    return records(PLAN_COLUMNS, (_entry_row(e) for e in plan.entries))


def _plan_repr(plan: RetentionPlan) -> str:
    return (
        f"RetentionPlan(now={plan.now.isoformat()!r}, entries={len(plan.entries)}, "
        f"total={plan.total}, held={plan.total_held}, orphans={plan.total_orphans}, "
        f"skipped={len(plan.skipped)})"
    )


def _plan_html(plan: RetentionPlan) -> str:
    head = (
        f"Retention plan as of {plan.now.isoformat()}: {plan.total} record(s) in "
        f"{len(plan.entries)} step(s), {plan.total_held} held"
    )
    rows = [
        (
            r["rule"],
            r["record_type"],
            r["action"],
            r["group"],
            r["count"],
            r["held"],
            e.selection_text(),
            r["cutoff"],
        )
        for r, e in zip(_plan_records(plan), plan.entries, strict=True)
    ]
    columns = ["rule", "record type", "action", "group", "records", "held", "which", "cutoff"]
    parts = [html_table(head, columns, rows, caption=None if rows else "nothing to do")]
    parts += extras_html(plan.orphans, plan.kept_indefinitely, plan.skipped, plan.notes)
    return join_html(*parts)
