"""Planning an erasure: what erasing a subject deletes, anonymises and keeps, and why.

:func:`plan_erasure` reads counts from the store and changes nothing. It works from the subject's
scope (resolved once by the engine), the policy's retention rules and exceptions, and the held
records; the rules it follows are described in ``privacy_kit.rights._erasure``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping

import attrs

from .._errors import ConfigurationError, PlanError
from .._scope import Scope, Stores
from .._types import require_aware
from ..adapters import Adapter, And, Not, Or, Selection
from ..adapters._order import store_deletion_order
from ..audit._log import AuditLog
from ..model._check import rule_for_record_type
from ..model._check_retention import retention_choices
from ..model._datamap import DataMap, FieldSpec, RecordType, SubjectLink
from ..model._digest import datamap_digest
from ..model._policy import Policy
from ..model._policy_retention import ExceptionKind, RetentionException, RetentionRule
from ..model._taxonomy import is_within
from ..retention._anonymize import FieldAnonymization, strategy_for, update_method
from ..retention._counting import CountBatch
from ..retention._states import choice_selection
from ._erasure import (
    ErasureAction,
    ErasurePlan,
    ErasureStep,
    KeepReason,
    KeptItem,
    kept_summary,
)
from ._observe import log_erasure_plan

__all__ = ["plan_erasure"]


def _invoked(
    rule: RetentionRule | None, waive: Collection[ExceptionKind]
) -> list[RetentionException]:
    if rule is None:
        return []
    return [
        e
        for e in rule.exceptions
        if e.kind not in waive
        and (e.duration is not None or e.indefinite or e.kind is ExceptionKind.SHARED_CONTENT)
    ]


def _rule_parts(
    policy: Policy,
    rt: RecordType,
    adapter: Adapter,
    whole: tuple[Selection, int],
    waived: Collection[ExceptionKind],
) -> list[tuple[RetentionRule | None, Selection, int, str]]:
    """``(rule, selection, count, step suffix)`` per state whose rule keeps something.

    A record type whose rules depend on the record's state is split by state only when some of
    its rules have an exception to invoke; otherwise every state is erased alike.
    """
    work, count = whole
    choices = retention_choices(policy, rt)
    if not rt.is_conditional or not any(_invoked(c.rule, waived) for c in choices):
        return [(rule_for_record_type(policy, rt), work, count, "")]
    parts: list[tuple[RetentionRule | None, Selection, int, str]] = []
    states: list[Selection] = []
    for choice in choices:
        state = choice_selection(choice)
        if state is None:
            selection = work
        else:
            states.append(state)
            selection = And((work, state))
        parts.append((choice.rule, selection, adapter.count(rt, selection), f":{choice.index}"))
    if all(c.when is not None for c in choices):
        # Records in no state the data map names: no rule keeps them.
        rest = And((work, Not(Or(tuple(states)))))
        parts.append((None, rest, adapter.count(rt, rest), ":other"))
    return parts


def _entry_counts(
    scope: Scope, held: Mapping[str, Selection], stores: Stores | None
) -> list[tuple[Selection, int, int | None]]:
    """Per scope entry: its selection outside the holds, how many records that selects, and how
    many the whole selection does (``None`` without a hold on the record type).

    With ``stores``, every count is asked first and read together (one statement on an adapter
    with ``counts_by_type``); without, one ``count`` each.
    """
    asked: list[tuple[RecordType, Selection]] = []
    works: list[Selection] = []
    for entry in scope:
        on_hold = held.get(entry.record_type.name)
        work = entry.selection if on_hold is None else entry.selection & ~on_hold
        works.append(work)
        asked.append((entry.record_type, work))
        if on_hold is not None:
            asked.append((entry.record_type, entry.selection))
    if stores is None:
        adapters = [e.adapter for e in scope for _ in range(1 + (e.record_type.name in held))]
        found = [a.count(rt, sel) for a, (rt, sel) in zip(adapters, asked, strict=True)]
    else:
        batch = CountBatch(stores)
        tickets = [batch.add(rt, sel) for rt, sel in asked]
        batch.run()
        found = [batch[t] for t in tickets]
    out: list[tuple[Selection, int, int | None]] = []
    at = 0
    for entry, work in zip(scope, works, strict=True):
        whole = found[at + 1] if entry.record_type.name in held else None
        out.append((work, found[at], whole))
        at += 1 if whole is None else 2
    return out


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


def plan_erasure(
    scope: Scope,
    *,
    policy: Policy,
    now: dt.datetime,
    held: Mapping[str, Selection] | None = None,
    hold_ids: Iterable[str] = (),
    audit: AuditLog | None = None,
    waive: Iterable[ExceptionKind | str] = (),
    batch_size: int | None = None,
    resume: str | None = None,
    datamap: DataMap | None = None,
    stores: Stores | None = None,
) -> ErasurePlan:
    """Plan the erasure of ``subject``: what is deleted, anonymised and kept, and why.

    Counts come from the store; no record is loaded or changed. With ``stores`` (the engine
    passes its own), the counts of every record type are read together: one statement on an
    adapter with ``counts_by_type`` (SQLite, SQLAlchemy); without, one ``count`` each.

    Args:
        scope: the subject, resolved (``Engine.scope``): where their records are.
        policy: the policy (its retention rules and their exceptions).
        now: the time of the request; exception end dates count from it.
        held: the records under a legal hold in force at ``now``, per record type name
            (kept untouched).
        hold_ids: the ids of those holds (part of the plan's identity).
        audit: where ``erasure.planned`` is recorded (``None``: nowhere).
        waive: exception kinds not to invoke (e.g. ``shared_content`` when no collaborator
            needs the content).
        batch_size: records per ``delete``/``update`` statement when the plan is applied
            (``None``: each adapter runs its own statement plan, one statement per step on
            SQLite; a number: batches of at most that many, each committed on its own).
        resume: the ``plan_id`` of an earlier plan to resume (after a crash lost the plan
            object): taken when the new plan does the same work under the same holds.
        datamap: the data map the plan is made under; its digest is recorded in the plan, so
            applying it under another data map is refused (``None``: not recorded, and the
            plan cannot be written to JSON).
        stores: the adapters per store, to read the counts together (``None``: one by one).

    Returns:
        The plan (apply it with ``engine.apply(plan)``).

    Raises:
        ValueError: ``now`` is naive, or an unknown exception kind is waived.
        PlanError: ``resume`` names a plan of other work (steps, instant or holds).
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
        >>> plan = plan_erasure(engine.scope(pk.Subject.of("customer", user_id=7)),
        ...                     policy=engine.policy, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> plan.deleted["sessions"], plan.anonymised["users"]
        (1, 1)
        >>> [(k.fields, k.reason.value, k.until.year) for k in plan.kept if k.count]
        [(('name', 'email'), 'legal_obligation', 2031)]
    """
    require_aware(now)
    if batch_size is not None and batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, got {batch_size}")
    waived = tuple(dict.fromkeys(ExceptionKind(w) for w in waive))
    held = held or {}
    steps: list[ErasureStep] = []
    kept: list[KeptItem] = []
    counted = _entry_counts(scope, held, stores)
    for entry, (outside_holds, count_outside, whole_count) in zip(scope, counted, strict=True):
        rt, link, selection, adapter = entry.record_type, entry.link, entry.selection, entry.adapter
        role = link.role_name
        owns = link.owner or len(rt.subjects) == 1
        on_hold = held.get(rt.name)
        if on_hold is not None and whole_count is not None:
            # Records whose hold status is unknown (a NULL in the hold's fields) are kept too.
            held_count = whole_count - count_outside
            if held_count:
                kept.append(
                    KeptItem(
                        rt.name,
                        role,
                        held_count,
                        KeepReason.LEGAL_HOLD,
                        "under an active legal hold; kept untouched until the hold is released",
                        selection=selection & on_hold,
                    )
                )
        whole = (outside_holds, count_outside)
        for rule, work, count, suffix in _rule_parts(policy, rt, adapter, whole, waived):
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
                        indefinite=exc.indefinite,
                        selection=work,
                        rule=rule.key,
                    )
                )
            rest = [f for f in candidates if f.name not in covered]
            if owns and not covered:
                steps.append(
                    ErasureStep(
                        f"{rt.name}:{role}:delete{suffix}",
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
                        f"{rt.name}:{role}:anonymize{suffix}",
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
    # -- deletion order: children before the records they reference (data map + foreign keys).
    order = store_deletion_order((e.record_type, e.adapter) for e in scope)
    steps.sort(key=lambda step: order.rank(step.record_type))
    steps = [
        attrs.evolve(s, method=f"{s.method}; {note}")
        if s.action is ErasureAction.DELETE and (note := order.cycle_note(s.record_type))
        else s
        for s in steps
    ]
    plan = ErasurePlan(
        subject_reference=scope.reference,
        subject_kind=scope.subject.kind,
        now=now,
        policy_version=policy.version,
        steps=tuple(steps),
        kept=tuple(kept),
        waived=waived,
        batch_size=batch_size,
        searched=tuple(f"{e.record_type.name} ({e.role})" for e in scope),
        hold_ids=tuple(sorted(set(hold_ids))),
        datamap_digest=None if datamap is None else datamap_digest(datamap),
    )
    if resume is not None:
        if resume[:24] != plan.content_id or len(resume) != 32:
            raise PlanError(
                f"cannot resume erasure plan {resume!r}: the new plan does other work "
                f"({plan.content_id}...: other steps, instant or legal holds); apply a new plan "
                "without resume="
            )
        plan = attrs.evolve(plan, nonce=resume[24:])
    if audit is not None:
        audit.record(
            "erasure.planned",
            now=now,
            subject=plan.subject_reference,
            details={
                "plan": plan.plan_id,
                "deleted": plan.deleted,
                "anonymised": plan.anonymised,
                "kept": [kept_summary(k) for k in plan.kept if k.count],
                "waived": [w.value for w in waived],
                "nothing_held": plan.nothing_held,
                "searched": list(plan.searched),
            },
        )
    return log_erasure_plan(plan)


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
