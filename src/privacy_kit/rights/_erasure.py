"""Erasure with its lawful exceptions: the plan and report types, and what each step means.

:func:`~privacy_kit.rights.plan_erasure` works out, from the policy and the data map, what erasing a subject means
for every record type that holds them, without changing anything:

- records the subject **owns** (their link is the ``owner``, or they are the record's only
  party) are **deleted**, unless a retention exception of the record type's rule keeps some
  fields: then those fields (and the record, with its key and link to the subject) are **kept**
  until the exception's end, and the subject's other personal fields are **anonymised**;
- in records **owned by another party** (an invitee in a host's booking) the subject's own
  fields (``party`` = their role, and the field that links them) are **anonymised** with their
  per-field strategies, and the record is **kept** for its owner;
- records under an active **legal hold** (``engine.holds``) are kept untouched.

Which exceptions apply: every exception of the rule with a duration (a legal obligation, say six
years for tax records, counted from ``now``), every exception kept ``forever`` (the fields it
covers are kept, reported as kept indefinitely with the policy's reason, and the rest of the
subject's data in the record is anonymised), and the policy's ``shared_content`` exception
(content kept so collaborators can go on; open-ended). An exception without a duration of any
other kind (legal claims "until the dispute is resolved") applies only through a legal hold
that names the dispute. Pass ``waive=`` to not invoke an exception the controller does not need.

What is kept "until" a date does not stay forever: applying the plan records, for each such kept
item, a :class:`~privacy_kit.retention.Commitment` (delete the record then, or clear the kept
fields of a record that belongs to someone else), and the retention sweep carries it out when it
is due. Records that read their retention time from an account row this erasure removes (now, or
when its own commitment ends) and that it does not delete get a commitment too, at the time their
rule gives counted from the erasure (and never before their account row goes), so none is left
without an end; the plan lists both (``plan.commitments``, ``plan.notes``) when the engine made it.

The plan records its selections, so :meth:`Engine.apply` touches exactly the planned records.
Applying is idempotent and journalled (:mod:`privacy_kit.audit._journal`): a crash part-way leaves a
journal, and applying the plan again with it skips the finished steps and completes the rest.

Planning is in ``_erasure_plan``, applying in ``_erasure_apply``; :func:`rectify` (GDPR Art. 16)
is in ``_rectify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from .._html import join_html, records
from ..adapters import Selection
from ..adapters._base import WRITE_BATCH
from ..model._policy_retention import ExceptionKind
from ..retention._anonymize import FieldAnonymization
from ..retention._commitments import Commitment
from ..retention._holds_recheck import NewlyHeld
from ._erasure_json import erasure_plan_fields, erasure_plan_json
from ._erasure_kinds import ErasureAction, KeepReason
from ._views import (
    ERASURE_COLUMNS,
    erasure_table,
    newly_held_rows,
    notes_table,
    scheduled_rows,
)

__all__ = [
    "ErasureAction",
    "ErasurePlan",
    "ErasureReport",
    "ErasureStep",
    "KeepReason",
    "KeptItem",
]


@attrs.frozen
class ErasureStep:
    """One action of an erasure plan: delete, or anonymise some fields, of a selection.

    Attributes:
        id: stable identifier (``record_type:role:action``), used by the journal.
        record_type: the record type's name.
        role: the subject's role in these records.
        action: delete or anonymise.
        selection: exactly the records the step touches.
        count: how many records matched when the plan was made (counted by the store).
        fields: for ``anonymize``, the per-field strategies.
        method: how the step is executed, in words.
    """

    id: str
    record_type: str
    role: str
    action: ErasureAction
    selection: Selection
    count: int
    fields: tuple[FieldAnonymization, ...] = ()
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (no selection values)."""
        return {
            "step": self.id,
            "record_type": self.record_type,
            "role": self.role,
            "outcome": "deleted" if self.action is ErasureAction.DELETE else "anonymised",
            "count": self.count,
            "fields": [f.to_dict() for f in self.fields],
            "method": self.method,
        }


@attrs.frozen
class KeptItem:
    """Something an erasure keeps, with the reason and the date the reason ends.

    Attributes:
        record_type: the record type's name.
        role: the subject's role in these records.
        count: how many records (counted by the store when the plan was made).
        reason: why it is kept.
        explanation: the policy's words for the reason (or privacy_kit's).
        fields: the fields kept (empty: the whole record is kept unchanged).
        until: when the reason ends, so retention deletes it then (``None``: open-ended, such
            as a legal hold until it is released, or a record kept for its owner).
        citation: the legal ground, e.g. ``GDPR Art. 17(3)(b)``.
        selection: the records concerned.
        indefinite: kept forever (an exception with ``duration: forever``): no date ends it.
        rule: the key of the retention rule whose exception keeps it (``None``: not kept by a
            rule, e.g. a legal hold); with rules by state, the rule of these records' state.
    """

    record_type: str
    role: str
    count: int
    reason: KeepReason
    explanation: str
    fields: tuple[str, ...] = ()
    until: dt.datetime | None = None
    citation: str | None = None
    selection: Selection | None = attrs.field(default=None, eq=False, repr=False)
    indefinite: bool = False
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "record_type": self.record_type,
            "role": self.role,
            "outcome": "kept",
            "count": self.count,
            "fields": list(self.fields),
            "reason": self.reason.value,
            "explanation": self.explanation,
            "until": self.until.isoformat() if self.until else None,
            "indefinite": self.indefinite,
            "citation": self.citation,
            "rule": self.rule,
        }

    def describe(self) -> str:
        """One line: what is kept, why, and until when."""
        what = ", ".join(self.fields) if self.fields else "whole record"
        until = (
            "kept indefinitely"
            if self.indefinite
            else f"until {self.until.date().isoformat()}"
            if self.until
            else "open-ended"
        )
        cite = f" ({self.citation})" if self.citation else ""
        return f"{what}: {self.reason.value} {until}{cite}: {self.explanation}"


def _plural(n: int) -> str:
    return f"{n} record" if n == 1 else f"{n} records"


@attrs.frozen
class ErasurePlan:
    """What erasing a subject will delete, anonymise and keep, and why. Apply with ``engine.apply``.

    Attributes:
        subject_reference: the keyed reference of the subject (never the identities).
        subject_kind: the subject's kind.
        now: the time the plan was made for (exception end dates count from it).
        policy_version: the policy the plan follows.
        steps: the actions, in order.
        kept: what is kept, each with its reason and end date.
        waived: exception kinds the caller chose not to invoke.
        batch_size: records per ``delete``/``update`` statement when applying (``None``, the
            default: each adapter runs its own statement plan); reads use it too, or
            :data:`~privacy_kit.adapters.WRITE_BATCH`.
        searched: every record type and role that was searched (``bookings (invitee)``).
        hold_ids: the legal holds in force when the plan was made that cover its record types.
        nonce: random, part of ``plan_id`` (two plans of the same work are two plans).
        commitments: what applying will schedule for the retention sweep: the kept items'
            ends, and the end of records that lose the account row they read their time from
            (filled in by :meth:`Engine.plan_erasure`; empty when the plan was made without it).
        notes: what the reader should know, such as records this erasure would otherwise orphan.
        datamap_digest: :func:`~privacy_kit.datamap_digest` of the data map the plan was made
            under (``None``: made without one); applying it under another is refused.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("bookings", [{"id": 1, "host_id": 7, "invitee_email": "ann@example.com",
        ...                              "invitee_name": "Ann", "host_notes": "VIP"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"s" * 32,
        ...                    verify=False)
        >>> now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> plan = engine.plan_erasure(pk.Subject.of("end_user", email="ann@example.com"), now=now)
        >>> plan.anonymised
        {'bookings': 1}
        >>> report = engine.apply(plan)
        >>> row = mem.rows("bookings")[0]
        >>> row["invitee_name"], row["host_notes"], report.anonymised
        ('Former invitee', 'VIP', {'bookings': 1})
    """

    subject_reference: str
    subject_kind: str
    now: dt.datetime
    policy_version: str
    steps: tuple[ErasureStep, ...]
    kept: tuple[KeptItem, ...]
    waived: tuple[ExceptionKind, ...] = ()
    batch_size: int | None = None
    searched: tuple[str, ...] = ()

    @property
    def read_batch(self) -> int:
        """Records per read when applying (``batch_size``, or ``WRITE_BATCH``)."""
        return self.batch_size or WRITE_BATCH

    @property
    def nothing_held(self) -> bool:
        """Whether nothing of the subject was found: no step and nothing kept has a record."""
        return not any(s.count for s in self.steps) and not any(k.count for k in self.kept)

    commitments: tuple[Commitment, ...] = attrs.field(default=(), eq=False)
    notes: tuple[str, ...] = attrs.field(default=(), eq=False)
    hold_ids: tuple[str, ...] = ()
    nonce: str = attrs.field(factory=lambda: secrets.token_hex(4), eq=False, repr=False)
    datamap_digest: str | None = None

    def to_json(self) -> str:
        """The plan as a JSON document another process can load and apply (:meth:`from_json`).

        It carries the format version, the policy version and data-map digest the plan was made
        under, its steps, kept items and commitments, and its nonce: the loaded plan has the same
        ``plan_id``, so applying it resumes the same journal. It names the subject only by its
        keyed reference, but a step's selection holds the identities or keys it matches on.

        Raises:
            ConfigurationError: the plan records no data-map digest (made without an engine), or
                a selection holds a value JSON cannot carry.

        Example:
            >>> import datetime as dt, privacy_kit as pk
            >>> from privacy_kit.adapters import InMemoryAdapter
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm,
            ...                    InMemoryAdapter({rt.table_name: [] for rt in dm.record_types}))
            >>> plan = engine.plan_erasure(pk.Subject.of("customer", user_id=7),
            ...                            now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
            >>> same = pk.ErasurePlan.from_json(plan.to_json())
            >>> same == plan, same.plan_id == plan.plan_id
            (True, True)
        """
        return erasure_plan_json(self)

    @classmethod
    def from_json(cls, data: str | bytes | bytearray | memoryview) -> ErasurePlan:
        """Load a plan written by :meth:`to_json`; :meth:`Engine.apply <privacy_kit.Engine.apply>`
        refuses it unless the engine's policy version and data map are those it was made under.

        Raises:
            PlanFormatError: the document is corrupt or truncated (the error names where), of
                another kind or a newer format version, or its ``plan_id`` does not match its
                steps (edited).
        """
        fields, steps, kept, body = erasure_plan_fields(
            data, {a.value for a in ErasureAction}, {r.value for r in KeepReason}
        )
        plan = body.build(
            "steps",
            lambda: cls(
                steps=tuple(
                    ErasureStep(**{**s, "action": ErasureAction(s["action"])}) for s in steps
                ),
                kept=tuple(KeptItem(**{**k, "reason": KeepReason(k["reason"])}) for k in kept),
                **fields,
            ),
        )
        if plan.plan_id != body.text("plan_id"):
            body.fail(
                "plan_id",
                f"{body.text('plan_id')!r} does not match the plan's content ({plan.plan_id}): "
                "the document was edited; plan the erasure again",
            )
        return plan

    @property
    def plan_id(self) -> str:
        """The plan's identity (names its journal): what it does and the holds it honours
        (24 hex digits), then its nonce (8).

        Two plans made for the same subject and instant (by two processes) get two ids, so
        neither skips the other's steps as done; applying the same plan (or a copy of it, the
        nonce travels with it) again resumes, as does a new plan made with ``resume=`` the id.
        """
        return self.content_id + self.nonce

    @property
    def content_id(self) -> str:
        """What the plan does and the holds it honours, hashed (the first part of ``plan_id``)."""
        payload = orjson.dumps(
            [
                list(self.hold_ids),
                self.subject_reference,
                self.now.isoformat(),
                self.policy_version,
                [[s.id, repr(s.selection), [f.to_dict() for f in s.fields]] for s in self.steps],
            ],
            default=str,
        )
        return hashlib.sha256(payload).hexdigest()[:24]

    @property
    def deleted(self) -> dict[str, int]:
        """Planned deletions per record type."""
        return _totals(self.steps, ErasureAction.DELETE)

    @property
    def anonymised(self) -> dict[str, int]:
        """Planned anonymisations per record type."""
        return _totals(self.steps, ErasureAction.ANONYMIZE)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415

        return data_frame(ERASURE_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """Every step, kept item and scheduled commitment as a flat, JSON-ready row.

        The same columns in every row (``step, record_type, role, outcome, count, fields,
        method, reason, explanation, until, indefinite, citation``; ``None`` where a value does
        not apply), ``outcome`` one of ``deleted``, ``anonymised``, ``kept``, ``scheduled``,
        ``until`` ISO 8601 text and ``fields`` the field names joined with ``"; "``.
        """
        return _erasure_plan_records(self)

    def __repr__(self) -> str:
        return _erasure_plan_repr(self)

    def _repr_html_(self) -> str:
        return _erasure_plan_html(self)

    def __str__(self) -> str:
        lines = [
            (
                f"Erasure plan for {self.subject_kind} {self.subject_reference} "
                f"(policy {self.policy_version}, as of {self.now.isoformat()})"
            )
        ]
        for s in self.steps:
            if not s.count:
                continue
            where = f"{s.record_type} ({s.role})"
            if s.action is ErasureAction.DELETE:
                lines.append(f"  DELETE     {where:<28} {_plural(s.count)}")
            else:
                how = ", ".join(f"{f.field} -> {f.describe()}" for f in s.fields)
                lines.append(f"  ANONYMISE  {where:<28} {_plural(s.count)}: {how}")
        for k in self.kept:
            if not k.count:
                continue
            where = f"{k.record_type} ({k.role})"
            lines.append(f"  KEEP       {where:<28} {_plural(k.count)}: {k.describe()}")
        lines += [f"  SCHEDULE   {c.record_type:<28} {_scheduled(c)}" for c in self.commitments]
        lines += [f"  NOTE       {n}" for n in self.notes]
        if len(lines) == 1:
            lines.append(
                "  nothing is held about this subject; searched: "
                + (", ".join(self.searched) or "no record type links this subject")
            )
        return "\n".join(lines)


@attrs.frozen
class ErasureReport:
    """What an applied erasure did.

    Attributes:
        plan_id: the plan applied.
        subject_reference: the subject's keyed reference.
        deleted: records deleted per record type.
        anonymised: records anonymised per record type.
        kept: what was kept, each with its reason and end date.
        recipients: recipients that received the subject's data (from ``engine.disclosures``)
            and must be told of the erasure (GDPR Art. 17(2), 19); empty without a log.
        resumed_steps: steps already done according to the journal (skipped this time).
        dry_run: ``True`` if nothing was changed.
        journal: where the journal is (``None`` for an in-memory journal).
        searched: every record type and role the plan searched.
        commitments: what the retention sweep will carry out later (recorded in the engine's
            commitment registry; for a dry run, what would be recorded).
        notes: what the reader should know (records that would have been orphaned, a
            registry missing).
        newly_held: per step, the records a hold placed after the plan kept untouched (the
            holds are read again before each step).
    """

    plan_id: str
    subject_reference: str
    deleted: dict[str, int]
    anonymised: dict[str, int]
    kept: tuple[KeptItem, ...]
    recipients: tuple[str, ...] = ()
    resumed_steps: tuple[str, ...] = ()
    dry_run: bool = False
    journal: str | None = None
    searched: tuple[str, ...] = ()

    @property
    def nothing_held(self) -> bool:
        """Whether the erasure found nothing of the subject: nothing deleted, anonymised or kept."""
        return (
            not any(self.deleted.values())
            and not any(self.anonymised.values())
            and not any(k.count for k in self.kept)
        )

    commitments: tuple[Commitment, ...] = attrs.field(default=(), eq=False)
    notes: tuple[str, ...] = ()
    newly_held: tuple[NewlyHeld, ...] = ()

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415

        return data_frame(ERASURE_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """Deleted, anonymised, kept, scheduled and newly held counts as flat, JSON-ready rows.

        The columns are those of :meth:`ErasurePlan.to_records`, in every row; ``outcome`` is
        ``deleted``, ``anonymised``, ``kept``, ``scheduled`` or ``held`` (a hold placed after
        the plan).
        """
        return _erasure_report_records(self)

    def __repr__(self) -> str:
        return _erasure_report_repr(self)

    def _repr_html_(self) -> str:
        return _erasure_report_html(self)

    def __str__(self) -> str:
        head = "Erasure (dry run)" if self.dry_run else "Erasure"
        lines = [f"{head} of {self.subject_reference}, plan {self.plan_id}"]
        lines += [f"  deleted     {rt:<20} {n}" for rt, n in self.deleted.items() if n]
        lines += [f"  anonymised  {rt:<20} {n}" for rt, n in self.anonymised.items() if n]
        lines += [
            f"  kept        {k.record_type:<20} {k.count}: {k.describe()}"
            for k in self.kept
            if k.count
        ]
        lines += [f"  scheduled   {c.record_type:<20} {_scheduled(c)}" for c in self.commitments]
        lines += [f"  newly held: {n.describe()}" for n in self.newly_held]
        lines += [f"  note: {n}" for n in self.notes]
        if self.recipients:
            lines.append("  tell: " + ", ".join(self.recipients))
        if self.resumed_steps:
            lines.append(f"  resumed: {len(self.resumed_steps)} step(s) were already done")
        return "\n".join(lines)


def _scheduled(c: Commitment) -> str:
    what = {
        "delete": "delete",
        "clear": f"clear {', '.join(c.fields)} of",
        "anonymize": "anonymise",
    }[c.action]
    return f"{what} {_plural(c.count)} on {c.due.date().isoformat()} ({c.reason}; {c.id})"


def _totals(steps: Iterable[ErasureStep], action: ErasureAction) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in steps:
        if s.action is action:
            out[s.record_type] = out.get(s.record_type, 0) + s.count
    return out


def commitment_summary(c: Commitment) -> dict[str, Any]:
    """A commitment as the audit log records it (no selection, dates as text)."""
    return {
        "id": c.id,
        "record_type": c.record_type,
        "action": c.action,
        "fields": list(c.fields),
        "due": c.due.isoformat(),
        "reason": c.reason,
        "count": c.count,
    }


def kept_summary(k: KeptItem) -> dict[str, Any]:
    """A kept item as the audit log records it (no selection, dates as text)."""
    return {
        "record_type": k.record_type,
        "role": k.role,
        "count": k.count,
        "fields": list(k.fields),
        "reason": k.reason.value,
        "until": k.until.isoformat() if k.until else None,
        "indefinite": k.indefinite,
    }


# == notebook views ================================================================================
def _kept_rows(items: Iterable[KeptItem]) -> list[dict[str, object]]:
    return [
        {
            "record_type": k.record_type,
            "role": k.role,
            "outcome": "kept",
            "count": k.count,
            "fields": k.fields,
            "reason": k.reason,
            "explanation": k.explanation,
            "until": k.until,
            "indefinite": k.indefinite,
            "citation": k.citation,
        }
        for k in items
    ]


def _erasure_plan_records(plan: ErasurePlan) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {
            "step": s.id,
            "record_type": s.record_type,
            "role": s.role,
            "outcome": "deleted" if s.action == "delete" else "anonymised",
            "count": s.count,
            "fields": tuple(f.field for f in s.fields) if s.fields else None,
            "method": s.method,
            "indefinite": False,
        }
        for s in plan.steps
    ]
    return records(ERASURE_COLUMNS, rows + _kept_rows(plan.kept) + scheduled_rows(plan.commitments))


def _erasure_report_records(report: ErasureReport) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"record_type": rt, "outcome": outcome, "count": n, "indefinite": False}
        for outcome, counts in (("deleted", report.deleted), ("anonymised", report.anonymised))
        for rt, n in counts.items()
    ]
    rows += _kept_rows(k for k in report.kept if k.count)
    rows += scheduled_rows(report.commitments) + newly_held_rows(report.newly_held)
    return records(ERASURE_COLUMNS, rows)


def _erasure_plan_repr(plan: ErasurePlan) -> str:
    return (
        f"ErasurePlan(subject={plan.subject_kind} {plan.subject_reference!r}, "
        f"now={plan.now.isoformat()!r}, deleted={sum(plan.deleted.values())}, "
        f"anonymised={sum(plan.anonymised.values())}, kept={sum(k.count for k in plan.kept)}, "
        f"scheduled={len(plan.commitments)})"
    )


def _erasure_plan_html(plan: ErasurePlan) -> str:
    title = (
        f"Erasure plan for {plan.subject_kind} {plan.subject_reference} "
        f"(policy {plan.policy_version}, as of {plan.now.isoformat()})"
    )
    empty = ""
    if plan.nothing_held:
        empty = "nothing is held about this subject; searched: " + (
            ", ".join(plan.searched) or "no record type links this subject"
        )
    parts = [erasure_table(title, _erasure_plan_records(plan), empty)]
    parts += notes_table(plan.notes)
    return join_html(*parts)


def _erasure_report_repr(report: ErasureReport) -> str:
    return (
        f"ErasureReport(plan_id={report.plan_id!r}, dry_run={report.dry_run}, "
        f"deleted={sum(report.deleted.values())}, "
        f"anonymised={sum(report.anonymised.values())}, "
        f"kept={sum(k.count for k in report.kept)}, recipients={len(report.recipients)})"
    )


def _erasure_report_html(report: ErasureReport) -> str:
    head = "Erasure (dry run)" if report.dry_run else "Erasure"
    title = f"{head} of {report.subject_reference}, plan {report.plan_id}"
    empty = ""
    if report.nothing_held:
        empty = "nothing was held about this subject; searched: " + (
            ", ".join(report.searched) or "no record type links this subject"
        )
    parts = [erasure_table(title, _erasure_report_records(report), empty)]
    notes = list(report.notes)
    if report.recipients:
        notes.append("tell these recipients of the erasure: " + ", ".join(report.recipients))
    if report.resumed_steps:
        notes.append(f"resumed: {len(report.resumed_steps)} step(s) were already done")
    parts += notes_table(notes)
    return join_html(*parts)
