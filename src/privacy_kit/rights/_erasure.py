"""Erasure with its lawful exceptions, and rectification: the subject rights that write.

:func:`plan_erasure` works out, from the policy and the data map, what erasing a subject means
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
years for tax records, counted from ``now``), and the policy's ``shared_content`` exception
(content kept so collaborators can go on; open-ended). An exception without a duration of any
other kind (legal claims "until the dispute is resolved") applies only through a legal hold
that names the dispute. Pass ``waive=`` to not invoke an exception the controller does not need.

The plan records its selections, so :meth:`Engine.apply` touches exactly the planned records.
Applying is idempotent and journalled (:mod:`privacy_kit.audit._journal`): a crash part-way leaves a
journal, and applying the plan again with it skips the finished steps and completes the rest.

:func:`rectify` updates a subject's own fields (GDPR Art. 16).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import os
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._errors import ConfigurationError, PlanError
from .._types import require_aware
from ..adapters import Selection
from ..adapters._base import WRITE_BATCH
from ..audit._journal import Journal, open_journal
from ..model._datamap import FieldSpec, RecordType, SubjectLink
from ..model._policy_retention import ExceptionKind, RetentionException, RetentionRule
from ..model._taxonomy import is_within
from ..retention._anonymize import (
    FieldAnonymization,
    anonymize_selection,
    strategy_for,
    update_method,
)

if TYPE_CHECKING:
    from ..engine._engine import Engine, Subject

__all__ = [
    "ErasureAction",
    "ErasurePlan",
    "ErasureReport",
    "ErasureStep",
    "KeepReason",
    "KeptItem",
    "plan_erasure",
    "rectify",
]


class ErasureAction(enum.StrEnum):
    """What a step of an erasure does to its records."""

    DELETE = "delete"
    ANONYMIZE = "anonymize"


class KeepReason(enum.StrEnum):
    """Why something is kept despite an erasure request.

    The first six are the policy's retention exceptions (:class:`~privacy_kit.ExceptionKind`,
    GDPR Art. 17(3)); ``legal_hold`` is an active hold (``engine.holds``); ``other_party`` is a
    record that belongs to another party (the subject's own fields in it are anonymised).
    """

    LEGAL_OBLIGATION = "legal_obligation"
    LEGAL_CLAIMS = "legal_claims"
    SHARED_CONTENT = "shared_content"
    ARCHIVING = "archiving"
    FREEDOM_OF_EXPRESSION = "freedom_of_expression"
    PUBLIC_HEALTH = "public_health"
    LEGAL_HOLD = "legal_hold"
    OTHER_PARTY = "other_party"

    @property
    def exception_kind(self) -> ExceptionKind | None:
        """The policy exception kind, for the first six reasons."""
        try:
            return ExceptionKind(self.value)
        except ValueError:
            return None


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
            "citation": self.citation,
        }

    def describe(self) -> str:
        """One line: what is kept, why, and until when."""
        what = ", ".join(self.fields) if self.fields else "whole record"
        until = f"until {self.until.date().isoformat()}" if self.until else "open-ended"
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
        batch_size: records per round trip when applying.

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
    batch_size: int = WRITE_BATCH

    @property
    def plan_id(self) -> str:
        """A stable identifier of what the plan does (names its journal)."""
        payload = orjson.dumps(
            [
                self.subject_reference,
                self.now.isoformat(),
                self.policy_version,
                [[s.id, repr(s.selection), [f.to_dict() for f in s.fields]] for s in self.steps],
            ],
            default=str,
        )
        return hashlib.sha256(payload).hexdigest()[:32]

    @property
    def deleted(self) -> dict[str, int]:
        """Planned deletions per record type."""
        return _totals(self.steps, ErasureAction.DELETE)

    @property
    def anonymised(self) -> dict[str, int]:
        """Planned anonymisations per record type."""
        return _totals(self.steps, ErasureAction.ANONYMIZE)

    def to_records(self) -> list[dict[str, Any]]:
        """Every step and kept item as a flat, JSON-ready record (for tables and audit)."""
        return [s.to_dict() for s in self.steps] + [k.to_dict() for k in self.kept]

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
        if len(lines) == 1:
            lines.append("  nothing is held about this subject")
        return "\n".join(lines)

    def _apply(
        self,
        engine: Engine,
        *,
        dry_run: bool = False,
        journal: Journal | str | os.PathLike[str] | None = None,
    ) -> ErasureReport:
        return _apply_plan(self, engine, dry_run=dry_run, journal=journal)


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

    def to_records(self) -> list[dict[str, Any]]:
        """Deleted, anonymised and kept counts as flat, JSON-ready records."""
        out: list[dict[str, Any]] = [
            {"record_type": rt, "outcome": "deleted", "count": n} for rt, n in self.deleted.items()
        ]
        out += [
            {"record_type": rt, "outcome": "anonymised", "count": n}
            for rt, n in self.anonymised.items()
        ]
        out += [k.to_dict() for k in self.kept if k.count]
        return out

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
        if self.recipients:
            lines.append("  tell: " + ", ".join(self.recipients))
        if self.resumed_steps:
            lines.append(f"  resumed: {len(self.resumed_steps)} step(s) were already done")
        return "\n".join(lines)


def _totals(steps: Iterable[ErasureStep], action: ErasureAction) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in steps:
        if s.action is action:
            out[s.record_type] = out.get(s.record_type, 0) + s.count
    return out


# -- planning ---------------------------------------------------------------------------------


def _invoked(
    rule: RetentionRule | None, waive: Collection[ExceptionKind]
) -> list[RetentionException]:
    if rule is None:
        return []
    return [
        e
        for e in rule.exceptions
        if e.kind not in waive
        and (e.duration is not None or e.kind is ExceptionKind.SHARED_CONTENT)
    ]


def _covers(exc: RetentionException, rule: RetentionRule, field: FieldSpec) -> bool:
    scope = exc.categories or rule.categories
    return any(is_within(cat, key) for cat in field.categories for key in scope)


def _owner_role(rt: RecordType) -> str | None:
    for link in rt.subjects:
        if link.owner:
            return link.role_name
    return None


def _candidates(rt: RecordType, link: SubjectLink, owns: bool) -> list[FieldSpec]:
    """The subject's fields in these records: what erasure must delete or anonymise."""
    role = link.role_name
    pk = rt.primary_key
    if owns:
        return [f for f in rt.fields if f.name != pk and f.personal and f.party in (None, role)]
    return [
        f
        for f in rt.fields
        if f.name != pk and (f.name == link.field or (f.party == role and f.personal))
    ]


def _held_selection(engine: Engine, rt: RecordType, now: dt.datetime) -> Selection | None:
    holds = getattr(engine, "holds", None)
    if holds is None:
        return None
    held = holds.held_selection(engine, rt, now)
    return held if isinstance(held, Selection) else None


def plan_erasure(
    engine: Engine,
    subject: Subject,
    *,
    now: dt.datetime,
    waive: Iterable[ExceptionKind | str] = (),
    batch_size: int = WRITE_BATCH,
) -> ErasurePlan:
    """Plan the erasure of ``subject``: what is deleted, anonymised and kept, and why.

    Counts come from the store (``adapter.count``); no record is loaded or changed.

    Args:
        engine: the engine.
        subject: the subject (other identities are filled in with ``engine.resolve``).
        now: the time of the request; exception end dates count from it.
        waive: exception kinds not to invoke (e.g. ``shared_content`` when no collaborator
            needs the content).
        batch_size: records per round trip when the plan is applied.

    Returns:
        The plan (apply it with ``engine.apply(plan)``).

    Raises:
        ValueError: ``now`` is naive, or an unknown exception kind is waived.
        AdapterError: the store failed while counting.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
        >>> _ = mem.insert("sessions", [{"id": 1, "user_id": 7, "ip_address": "10.0.0.1"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, secret=b"s" * 32,
        ...                    verify=False)
        >>> plan = plan_erasure(engine, pk.Subject.of("customer", user_id=7),
        ...                     now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> plan.deleted["sessions"], plan.anonymised["users"]
        (1, 1)
        >>> [(k.fields, k.reason.value, k.until.year) for k in plan.kept if k.count]
        [(('name', 'email'), 'legal_obligation', 2031)]
    """
    require_aware(now)
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    waived = tuple(dict.fromkeys(ExceptionKind(w) for w in waive))
    resolved = engine.resolve(subject)
    steps: list[ErasureStep] = []
    kept: list[KeptItem] = []
    for rt, link, selection in engine.links(resolved):
        role = link.role_name
        adapter = engine.adapter_for(rt)
        owns = link.owner or len(rt.subjects) == 1
        held = _held_selection(engine, rt, now)
        work = selection if held is None else selection & ~held
        count = adapter.count(rt, work)
        if held is not None:
            # Records whose hold status is unknown (a NULL in the hold's fields) are kept too.
            held_count = adapter.count(rt, selection) - count
            if held_count:
                kept.append(
                    KeptItem(
                        rt.name,
                        role,
                        held_count,
                        KeepReason.LEGAL_HOLD,
                        "under an active legal hold; kept untouched until the hold is released",
                        selection=selection & held,
                    )
                )
        rule = engine.rule_for(rt)
        candidates = _candidates(rt, link, owns)
        covered: dict[str, None] = {}
        for exc in _invoked(rule, waived):
            assert rule is not None  # _invoked returns nothing without a rule
            fields = tuple(f.name for f in candidates if _covers(exc, rule, f))
            if not fields:
                continue
            covered.update(dict.fromkeys(fields))
            kept.append(
                KeptItem(
                    rt.name,
                    role,
                    count,
                    KeepReason(exc.kind.value),
                    exc.reason.get_text("en"),
                    fields=fields,
                    until=exc.duration.after(now) if exc.duration is not None else None,
                    citation=exc.citation,
                    selection=work,
                )
            )
        rest = [f for f in candidates if f.name not in covered]
        if owns and not covered:
            steps.append(
                ErasureStep(
                    f"{rt.name}:{role}:delete",
                    rt.name,
                    role,
                    ErasureAction.DELETE,
                    work,
                    count,
                    method="pushed down: delete the selection",
                )
            )
            continue
        if owns:
            # The record is kept for the covered fields: it keeps its key and its link to the
            # subject (the reason is about them), and everything else of theirs is anonymised.
            rest = [f for f in rest if f.name != link.field]
        if rest:
            strategies = tuple(strategy_for(f) for f in rest)
            steps.append(
                ErasureStep(
                    f"{rt.name}:{role}:anonymize",
                    rt.name,
                    role,
                    ErasureAction.ANONYMIZE,
                    work,
                    count,
                    fields=strategies,
                    method=_method_text(strategies, update_method(adapter)),
                )
            )
        if not owns:
            owner = _owner_role(rt)
            kept.append(
                KeptItem(
                    rt.name,
                    role,
                    count,
                    KeepReason.OTHER_PARTY,
                    f"the record belongs to its {owner or 'other parties'}; "
                    f"the {role}'s own fields are anonymised",
                    selection=work,
                )
            )
    plan = ErasurePlan(
        subject_reference=engine.reference(subject),
        subject_kind=subject.kind,
        now=now,
        policy_version=engine.policy.version,
        steps=tuple(steps),
        kept=tuple(kept),
        waived=waived,
        batch_size=batch_size,
    )
    _audit(
        engine,
        "erasure.planned",
        now=now,
        subject=plan.subject_reference,
        details={
            "plan": plan.plan_id,
            "deleted": plan.deleted,
            "anonymised": plan.anonymised,
            "kept": [_kept_summary(k) for k in plan.kept if k.count],
            "waived": [w.value for w in waived],
        },
    )
    return plan


def _method_text(strategies: Iterable[FieldAnonymization], method: str) -> str:
    strategies = list(strategies)
    constants = [s.field for s in strategies if s.constant]
    computed = [s.field for s in strategies if not s.constant]
    parts = []
    if constants:
        parts.append("pushed down: " + ", ".join(constants))
    if computed:
        how = (
            "bulk update by key"
            if method == "bulk"
            else "one update per key (the adapter lacks bulk_update_by_key)"
        )
        parts.append(f"computed per record ({how}): " + ", ".join(computed))
    return "; ".join(parts)


def _kept_summary(k: KeptItem) -> dict[str, Any]:
    return {
        "record_type": k.record_type,
        "role": k.role,
        "count": k.count,
        "fields": list(k.fields),
        "reason": k.reason.value,
        "until": k.until.isoformat() if k.until else None,
    }


# -- applying ---------------------------------------------------------------------------------


def _audit(
    engine: Engine,
    action: str,
    *,
    now: dt.datetime,
    subject: str | None,
    details: Mapping[str, Any],
) -> None:
    audit = getattr(engine, "audit", None)
    if audit is not None:
        audit.record(action, now=now, subject=subject, details=details)


def recipients_to_tell(engine: Engine, reference: str, kind: str | None = None) -> tuple[str, ...]:
    """Recipients the disclosure log says received the subject's data (GDPR Art. 17(2), 19).

    Public authorities receiving data in a particular inquiry are left out (Art. 4(9)). Empty
    when the engine has no disclosure log.

    Args:
        engine: the engine (its ``disclosures``).
        reference: the subject's reference.
        kind: the subject's kind (disclosures about every subject of the kind count too).

    Returns:
        The recipient keys, sorted.

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, InMemoryAdapter(), verify=False)
        >>> recipients_to_tell(engine, "subj_1")
        ()
    """
    log = getattr(engine, "disclosures", None)
    if log is None:
        return ()
    found = log.recipients_to_notify(reference, kind=kind)
    return tuple(sorted({str(r.recipient) for r in found}))


def _apply_plan(
    plan: ErasurePlan,
    engine: Engine,
    *,
    dry_run: bool,
    journal: Journal | str | os.PathLike[str] | None,
) -> ErasureReport:
    if plan.policy_version != engine.policy.version:
        raise PlanError(
            f"the plan follows policy {plan.policy_version!r} but the engine has "
            f"{engine.policy.version!r}; plan the erasure again"
        )
    plan_id = plan.plan_id
    if dry_run:
        return ErasureReport(
            plan_id,
            plan.subject_reference,
            plan.deleted,
            plan.anonymised,
            plan.kept,
            recipients=recipients_to_tell(engine, plan.subject_reference, plan.subject_kind),
            dry_run=True,
        )
    where = journal if journal is not None else getattr(engine, "journal_dir", None)
    log = open_journal(where, plan_id, prefix="erasure")
    done = log.completed_steps(plan_id)
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}
    resumed: list[str] = []
    for step in plan.steps:
        totals = deleted if step.action is ErasureAction.DELETE else anonymised
        totals.setdefault(step.record_type, 0)
        if step.id in done:
            totals[step.record_type] += done[step.id]
            resumed.append(step.id)
            continue
        rt = engine.datamap.record_type(step.record_type)
        log.started(plan_id, step.id)
        try:
            if step.action is ErasureAction.DELETE:
                n = engine.adapter_for(rt).delete(rt, step.selection, batch_size=plan.batch_size)
            else:
                n = anonymize_selection(
                    engine, rt, step.selection, step.fields, batch_size=plan.batch_size
                )
        except Exception as exc:
            _audit(
                engine,
                "erasure.interrupted",
                now=plan.now,
                subject=plan.subject_reference,
                details={"plan": plan_id, "step": step.id, "error": type(exc).__name__},
            )
            raise
        log.done(plan_id, step.id, n)
        totals[step.record_type] += n
    log.finished(plan_id)
    recipients = recipients_to_tell(engine, plan.subject_reference, plan.subject_kind)
    path = getattr(log, "path", None)
    report = ErasureReport(
        plan_id,
        plan.subject_reference,
        deleted,
        anonymised,
        plan.kept,
        recipients=recipients,
        resumed_steps=tuple(resumed),
        journal=str(path) if path is not None else None,
    )
    _audit(
        engine,
        "erasure.applied",
        now=plan.now,
        subject=plan.subject_reference,
        details={
            "plan": plan_id,
            "deleted": deleted,
            "anonymised": anonymised,
            "kept": [_kept_summary(k) for k in plan.kept if k.count],
            "resumed_steps": list(resumed),
            "recipients_to_tell": list(recipients),
        },
    )
    return report


# -- rectification ----------------------------------------------------------------------------

_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "text": (str,),
    "integer": (int,),
    "real": (int, float),
    "boolean": (bool,),
    "date": (dt.date,),
    "timestamp": (dt.datetime,),
}


def _check_value(rt: RecordType, field: FieldSpec, value: Any) -> None:
    if value is None or field.type == "json":
        return
    expected = _TYPE_CHECKS[field.type]
    wrong = not isinstance(value, expected) or (
        field.type in ("integer", "real") and isinstance(value, bool)
    )
    if field.type == "date" and isinstance(value, dt.datetime):
        wrong = True
    if wrong:
        raise ConfigurationError(
            f"{rt.name}.{field.name} has type {field.type!r}; got {type(value).__name__} {value!r}"
        )
    if field.type == "timestamp":
        require_aware(value, f"{rt.name}.{field.name}")


def _refusal(rt: RecordType, link: SubjectLink, name: str) -> str | None:
    """Why the subject (in ``link``'s role) may not rectify field ``name`` (``None``: they may)."""
    field = rt.field(name)
    role = link.role_name
    if name == rt.primary_key:
        return "it is the record's key"
    if name == link.field:
        return f"it identifies the {role} (change the identity through the account instead)"
    if field.party is not None and field.party != role:
        return f"it belongs to the {field.party}, not to the {role}"
    if not field.personal:
        return "it is not personal data about the subject"
    return None


def rectify(
    engine: Engine,
    subject: Subject,
    record_type: RecordType | str,
    changes: Mapping[str, Any],
    *,
    now: dt.datetime,
) -> int:
    """Correct the subject's own fields in their records of ``record_type`` (GDPR Art. 16).

    Only the subject's own personal fields may change: a field of another party, one that is
    not personal, the primary key or the field that identifies the subject is refused (before
    anything is written). Where the subject has several roles in the record type, each role's
    records get the changes that role may make. The audit entry names the fields, never the
    values.

    Args:
        engine: the engine.
        subject: the subject.
        record_type: the record type or its name.
        changes: ``{field: new value}``.
        now: the time of the request (for the audit entry).

    Returns:
        How many records were updated.

    Raises:
        ConfigurationError: no changes, an unknown field (with a hint), a refused field, a value
            of the wrong type, or a record type that does not hold the subject.
        AdapterError: the store failed.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
        >>> now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        >>> engine.rectify(pk.Subject.of("customer", user_id=7), "users", {"name": "Bo Li"}, now=now)
        1
        >>> engine.rectify(pk.Subject.of("customer", user_id=7), "users", {"nmae": "X"}, now=now)
        Traceback (most recent call last):
        ...
        privacy_kit._errors.ConfigurationError: record type 'users' has no field 'nmae'; did you mean 'name'?
    """
    require_aware(now)
    rt = engine.datamap.record_type(record_type) if isinstance(record_type, str) else record_type
    if not changes:
        raise ConfigurationError("rectify needs at least one field to change")
    for name in changes:
        if not rt.has_field(name):
            try:
                rt.field(name)
            except KeyError as exc:
                raise ConfigurationError(str(exc.args[0])) from None
    resolved = engine.resolve(subject)
    links = [(link, sel) for r, link, sel in engine.links(resolved) if r.name == rt.name]
    if not links:
        raise ConfigurationError(
            f"record type {rt.name!r} holds no records of a {subject.kind} known by "
            f"{', '.join(k for k, _ in subject.identities)}"
        )
    allowed: list[tuple[Selection, dict[str, Any]]] = []
    refused: dict[str, str] = {}
    for link, sel in links:
        mine = {}
        for name, value in changes.items():
            why = _refusal(rt, link, name)
            if why is None:
                mine[name] = value
            else:
                refused.setdefault(name, why)
        if mine:
            allowed.append((sel, mine))
    permitted = {name for _, mine in allowed for name in mine}
    not_anywhere = {n: why for n, why in refused.items() if n not in permitted}
    if not_anywhere:
        detail = "; ".join(f"{n!r}: {why}" for n, why in not_anywhere.items())
        raise ConfigurationError(f"cannot rectify {rt.name} field(s): {detail}")
    for name, value in changes.items():
        _check_value(rt, rt.field(name), value)
    adapter = engine.adapter_for(rt)
    updated = sum(adapter.update(rt, sel, mine, batch_size=1000) for sel, mine in allowed)
    _audit(
        engine,
        "rectification.completed",
        now=now,
        subject=engine.reference(subject),
        details={"record_type": rt.name, "fields": sorted(changes), "count": updated},
    )
    return updated
