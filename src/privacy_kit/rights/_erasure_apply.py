"""Applying an erasure plan: each step once, journalled, so a crash part-way can resume.

:func:`apply_erasure` touches exactly the records the plan selected, records every finished
step in the journal, and lists the recipients to tell (GDPR Art. 17(2), 19) from the disclosure
log. It works through the adapters it is handed, never through the engine.

Before the first step it records the plan's **commitments** (:func:`erasure_commitments`) in the
commitment registry, so what the erasure keeps "until" a date is acted on by the retention sweep
then, and records whose account row the erasure removes are not left without an end:

- each kept item with an end date becomes a commitment at that date: *delete* the record when the
  subject owns it (the latest end of the record's kept items; an earlier one *clears* the fields
  no later reason keeps), or *clear* the kept fields when the record belongs to another party;
- records of another record type that read their retention trigger time from an account row
  this erasure deletes, or keeps until a commitment deletes it, and that the erasure itself does
  not delete, get a commitment at the time their rule gives, counting the erasure as the trigger
  (the account's closure), and never before their account row goes. A record type with rules
  by state gets one commitment per state whose rule reads the account's time, limited to that
  state (a state timed by a field of its own needs none).

A commitment's selection is the kept selection, or the records' keys when a step changes the
fields that selection reads (an anonymised link). Commitment ids are derived from the plan, so
applying again (after a failure) records nothing twice.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import ConfigurationError
from .._scope import Stores
from ..adapters import After, And, Before, Eq, In, IsNull, Not, Or, Selection, batch_option
from ..audit._journal import Journal, open_journal
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..model._check_retention import RuleChoice, retention_choices
from ..model._datamap import RecordType
from ..model._policy import Policy
from ..retention._anonymize import anonymize_selection, count_pending
from ..retention._commitments import (
    Commitment,
    CommitmentAction,
    CommitmentRegistry,
    commitment_id,
    schedule_after,
)
from ..retention._holds import HoldRegistry, definitely
from ..retention._holds_recheck import HoldRecheck, NewlyHeld
from ..retention._plan_codec import check_origin
from ..retention._rules import TriggerSource
from ..retention._state_selection import choice_selection, choice_source
from ._erasure import (
    ErasureAction,
    ErasurePlan,
    ErasureReport,
    KeepReason,
    KeptItem,
)
from ._erasure_finish import recipients_to_tell, report_applied
from ._observe import log_erasure_report

if TYPE_CHECKING:
    from .._scope import Resolver

__all__ = ["apply_erasure", "erasure_commitments", "foresee_commitments", "recipients_to_tell"]


def _fields_read(selection: Selection) -> set[str]:
    if isinstance(selection, Eq | In | Before | After | IsNull):
        return {selection.field}
    if isinstance(selection, And | Or):
        return set().union(*(_fields_read(i) for i in selection.items))
    if isinstance(selection, Not):
        return _fields_read(selection.item)
    return set()


def _keys(stores: Stores, rt: RecordType, selection: Selection, batch_size: int) -> list[Any]:
    pk = rt.primary_key
    return [
        r[pk]
        for batch in stores.adapter_for(rt).iter_records(
            rt, selection, fields=[pk], batch_size=batch_size
        )
        for r in batch
        if r[pk] is not None
    ]


def _sorted(keys: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(sorted(set(keys), key=lambda k: (str(type(k)), k)))


def _any(selections: list[Selection]) -> Selection:
    return selections[0] if len(selections) == 1 else Or(tuple(selections))


def _merge(items: list[KeptItem]) -> list[tuple[dt.datetime, list[KeptItem]]]:
    """Kept items with an end, grouped by their end date, earliest first."""
    by_until: dict[dt.datetime, list[KeptItem]] = {}
    for k in items:
        assert k.until is not None  # only dated items are merged
        by_until.setdefault(k.until, []).append(k)
    return sorted(by_until.items())


def _kept_ends(
    plan: ErasurePlan,
) -> list[tuple[KeptItem, dt.datetime, CommitmentAction, tuple[str, ...], str, str]]:
    """For each (record type, role, state) with dated kept items: what happens at each end date.

    Items are grouped by the records they concern (their selection): with rules by state, the
    records of each state are kept by their own rule's exceptions and end on their own dates.
    """
    other_party = {(k.record_type, k.role) for k in plan.kept if k.reason is KeepReason.OTHER_PARTY}
    groups: dict[tuple[str, str, Selection | None], list[KeptItem]] = {}
    open_ended: dict[tuple[str, str, Selection | None], set[str]] = {}
    for k in plan.kept:
        target = (k.record_type, k.role, k.selection)
        if k.until is not None and k.selection is not None and k.count:
            groups.setdefault(target, []).append(k)
        elif k.until is None and k.reason not in (KeepReason.LEGAL_HOLD, KeepReason.OTHER_PARTY):
            open_ended.setdefault(target, set()).update(k.fields)
    out: list[tuple[KeptItem, dt.datetime, CommitmentAction, tuple[str, ...], str, str]] = []
    for target, items in groups.items():
        owned = target[:2] not in other_party
        ends = _merge(items)
        for i, (until, same) in enumerate(ends):
            later = set(open_ended.get(target, set()))
            for _u, more in ends[i + 1 :]:
                later.update(f for k in more for f in k.fields)
            fields = tuple(dict.fromkeys(f for k in same for f in k.fields))
            last = i == len(ends) - 1
            reason = same[0].reason.value
            why = "; ".join(dict.fromkeys(k.explanation for k in same))
            if owned and last and target not in open_ended:
                out.append((same[0], until, "delete", fields, reason, why))
                continue
            cleared = tuple(f for f in fields if f not in later)
            if cleared:
                out.append((same[0], until, "clear", cleared, reason, why))
    return out


def erasure_commitments(
    plan: ErasurePlan, stores: Stores, *, policy: Policy
) -> tuple[tuple[Commitment, ...], tuple[str, ...]]:
    """What applying ``plan`` schedules for the retention sweep, and the notes that explain it.

    Reads keys and counts from the store (no change). See the module docstring for the rules.

    Args:
        plan: the erasure plan.
        stores: the adapters.
        policy: the policy (the rules of records that lose their account row).

    Returns:
        ``(commitments, notes)``.
    """
    datamap = stores.datamap
    origin = f"erasure {plan.plan_id}"
    changed: dict[str, set[str]] = {}
    deleting: dict[str, list[Selection]] = {}
    for step in plan.steps:
        if step.action is ErasureAction.ANONYMIZE:
            changed.setdefault(step.record_type, set()).update(f.field for f in step.fields)
        else:
            deleting.setdefault(step.record_type, []).append(step.selection)
    ends = _kept_ends(plan)
    for k, _until, action, fields, _r, _w in ends:
        if action == "clear":
            changed.setdefault(k.record_type, set()).update(fields)
    made: list[Commitment] = []
    removed: dict[str, dict[dt.datetime, set[Any]]] = {}
    account_types = {r.account.record_type for r in datamap.record_types if r.account}
    for k, until, action, fields, reason, why in ends:
        assert k.selection is not None  # _kept_ends keeps only items with one
        rt = stores.record_type(k.record_type)
        selection = k.selection
        keys: list[Any] | None = None
        if _fields_read(selection) & changed.get(rt.name, set()):
            keys = _keys(stores, rt, selection, plan.read_batch)
            selection = In(rt.primary_key, _sorted(keys))
            count = len(keys)
        else:
            count = stores.adapter_for(rt).count(rt, selection)
        if not count:
            continue
        if action == "delete" and rt.name in account_types:
            found = keys if keys is not None else _keys(stores, rt, selection, plan.read_batch)
            removed.setdefault(rt.name, {}).setdefault(until, set()).update(found)
        # With rules by state, the records of each state are kept apart (their own selection).
        state = (repr(k.selection),) if rt.is_conditional else ()
        made.append(
            Commitment(
                id=commitment_id(origin, "kept", rt.name, k.role, until, action, fields, *state),
                record_type=rt.name,
                selection=selection,
                fields=fields,
                due=until,
                action=action,
                reason=reason,
                explanation=why,
                origin=origin,
                made_at=plan.now,
                subject_reference=plan.subject_reference,
                rule=k.rule,
                count=count,
            )
        )
    for name, selections in deleting.items():
        if name in account_types:
            rt = stores.record_type(name)
            gone = _keys(stores, rt, _any(selections), plan.read_batch)
            if gone:
                removed.setdefault(name, {}).setdefault(plan.now, set()).update(gone)
    notes: list[str] = []
    for accounts, by_end in removed.items():
        for end, account_keys in sorted(by_end.items()):
            found, texts = _dependants(
                plan, stores, policy, accounts, end=end, keys=account_keys, deleting=deleting
            )
            made.extend(found)
            notes.extend(texts)
    return tuple(made), tuple(notes)


def _dependants(
    plan: ErasurePlan,
    stores: Stores,
    policy: Policy,
    accounts: str,
    *,
    end: dt.datetime,
    keys: set[Any],
    deleting: dict[str, list[Selection]],
) -> tuple[list[Commitment], list[str]]:
    """Commitments for the records that read their time from ``keys`` of ``accounts``."""
    made: list[Commitment] = []
    notes: list[str] = []
    for rt in stores.datamap.record_types:
        if rt.account is None or rt.account.record_type != accounts or rt.name == accounts:
            continue
        # Each rule the record type can be under (one per state): a state timed by a field of
        # its own needs no commitment; one timed by the account row does.
        for choice in retention_choices(policy, rt):
            rule = choice.rule
            source = choice_source(stores.datamap, rt, choice, rule.trigger)
            if source is None or source.account != accounts:
                continue  # timed by a field of its own
            state = choice_selection(choice)
            linked: Selection = In(rt.account.field, _sorted(keys))
            selection = linked if state is None else And((linked, state))
            made_here, text = _dependant(
                plan,
                stores,
                rt,
                choice,
                source,
                accounts=accounts,
                selection=selection,
                end=end,
                deleting=deleting,
            )
            made.extend(made_here)
            notes.extend(text)
    return made, notes


def _dependant(
    plan: ErasurePlan,
    stores: Stores,
    rt: RecordType,
    choice: RuleChoice,
    source: TriggerSource,
    *,
    accounts: str,
    selection: Selection,
    end: dt.datetime,
    deleting: dict[str, list[Selection]],
) -> tuple[list[Commitment], list[str]]:
    """Commitments for ``rt``'s records in ``choice``'s state timed by the removed accounts."""
    origin = f"erasure {plan.plan_id}"
    rule = choice.rule
    remaining = selection
    if rt.name in deleting:
        remaining = And((selection, Not(definitely(_any(deleting[rt.name])))))
    count = stores.adapter_for(rt).count(rt, remaining)
    if not count:
        return [], []
    what = f"{count} {rt.name} record(s)"
    if choice.index is not None:
        what += f" in state {choice.describe()!r}"
    trigger = rule.trigger.value
    steps = schedule_after(rule, rt, source, plan.now, not_before=end)
    if not steps:
        note = (
            f"{what} this erasure does not delete read their {trigger} "
            f"time from {source.describe()}; rule {rule.key!r} keeps them indefinitely, so no "
            "commitment ends them"
        )
        return [], [note]
    why = (
        f"it reads its {trigger} time from {source.describe()}, and this erasure removes "
        f"that {accounts} record on {end.date().isoformat()}: the erasure counts as its "
        f"{trigger} (rule {rule.key!r})"
    )
    state = () if choice.index is None else (choice.index,)
    made = [
        Commitment(
            id=commitment_id(origin, "account", rt.name, accounts, end, due, action, *state),
            record_type=rt.name,
            selection=selection,
            fields=() if action == "delete" else fields,
            due=due,
            action=action,
            reason="account_removed",
            explanation=why,
            origin=origin,
            made_at=plan.now,
            subject_reference=plan.subject_reference,
            rule=rule.key,
            count=count,
        )
        for due, action, fields in steps
    ]
    final_due, final_action, _fields = steps[-1]
    when = "deletes" if end == plan.now else f"keeps until {end.date().isoformat()} only"
    note = (
        f"{what} this erasure does not delete read their {trigger} time "
        f"from {source.describe()}, and it {when} their {accounts} record: so they are not "
        f"left untimed, a commitment will {final_action} them on "
        f"{final_due.date().isoformat()} (rule {rule.key!r}, counted from the erasure)"
    )
    return made, [note]


def foresee_commitments(plan: ErasurePlan, stores: Stores, *, policy: Policy) -> ErasurePlan:
    """``plan`` with the commitments applying it will record, and the notes that explain them.

    :meth:`Engine.plan_erasure <privacy_kit.Engine.plan_erasure>` calls it, so ``str(plan)``
    shows what the retention sweep will do later (``SCHEDULE``) and which records the erasure
    would otherwise leave without an end (``NOTE``). Nothing is changed.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> from privacy_kit.adapters import InMemoryAdapter
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> mem = InMemoryAdapter({rt.table_name: [] for rt in dm.record_types})
        >>> _ = mem.insert("users", [{"id": 7, "name": "Bo", "email": "bo@example.com"}])
        >>> engine = pk.Engine(pk.load_policy(pk.example_path()), dm, mem, verify=False)
        >>> plan = engine.plan_erasure(pk.Subject.of("customer", user_id=7),
        ...                            now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        >>> [(c.record_type, c.action, c.due.year) for c in plan.commitments]
        [('users', 'delete', 2031)]
    """
    made, notes = erasure_commitments(plan, stores, policy=policy)
    return attrs.evolve(plan, commitments=made, notes=notes)


def _recount(first: int | None, matching: int, this_run: int) -> dict[str, Any]:
    """The count of a step resumed after an interrupted attempt, and how it was reached.

    The interrupted attempt changed the records that stopped matching the step's selection
    between its first start (``first``: for a delete step, the plan's count) and this one
    (``matching``): deleted records, or
    anonymised ones whose selected fields changed. Records it anonymised that still match are
    anonymised (idempotently) and counted again by this run. Without a first count (a journal
    written before counts were kept), or when the selection now matches more records than at
    first (records added meanwhile), the earlier attempt's effect is unknown: the total is a
    lower bound, marked ``exact: False``.
    """
    exact = first is not None and matching <= first
    earlier = first - matching if first is not None and exact else 0
    return {
        "first_count": first,
        "count_at_resume": matching,
        "earlier_attempts": earlier,
        "this_run": this_run,
        "total": earlier + this_run,
        "exact": exact,
    }


def _recount_note(step: str, recount: dict[str, Any]) -> str:
    """The report's note on a step resumed after an interrupted attempt."""
    total, this_run = recount["total"], recount["this_run"]
    if recount["exact"]:
        return (
            f"step {step} was resumed after an interrupted attempt: its selection matched "
            f"{recount['first_count']} record(s) when it first started and "
            f"{recount['count_at_resume']} when resumed, so the interrupted attempt changed "
            f"{recount['earlier_attempts']} and this run {this_run}: {total} in all"
        )
    why = (
        "the journal has no count from its first start"
        if recount["first_count"] is None
        else f"its selection matches more records now ({recount['count_at_resume']}) than when "
        f"it first started ({recount['first_count']})"
    )
    return (
        f"step {step} was resumed after an interrupted attempt and {why}: the records the "
        f"interrupted attempt changed are unknown, so its count is AT LEAST {total} "
        f"(this run's {this_run})"
    )


def apply_erasure(
    plan: ErasurePlan,
    stores: Stores,
    *,
    policy_version: str,
    secret: bytes,
    audit: AuditLog | None = None,
    disclosures: DisclosureLog | None = None,
    journal: Journal | str | os.PathLike[str] | None = None,
    dry_run: bool = False,
    policy: Policy | None = None,
    commitments: CommitmentRegistry | None = None,
    holds: HoldRegistry | None = None,
    resolver: Resolver | None = None,
    only: Collection[str] | None = None,
    recounts: dict[str, dict[str, Any]] | None = None,
) -> ErasureReport:
    """Carry out an erasure plan: each step once, journalled, resumable; return the report.

    Args:
        plan: the plan (:func:`~privacy_kit.rights.plan_erasure`).
        stores: the adapters, per store.
        policy_version: the version of the policy in force (the plan must have been made under it).
        secret: the key of pseudonymising strategies.
        audit: where ``erasure.applied`` / ``erasure.interrupted`` are recorded.
        disclosures: the disclosure log, for the recipients to tell (GDPR Art. 17(2), 19).
        journal: a :class:`~privacy_kit.Journal`, a directory or a ``.jsonl`` file (``None``:
            in memory, for this call only); applying again with it resumes after a failure.
        dry_run: report what would be done, change nothing.
        policy: the policy in force (needed to schedule commitments: the rules of records
            that lose their account row).
        commitments: where the commitments are recorded, before the first step (``None``: not
            recorded, and the report says so: nothing will act on the kept items' end dates).
        holds: the hold registry, read again before each step: records a hold placed after the
            plan covers are left untouched and reported (``report.newly_held``, the audit entry).
            ``None``: only the holds the plan read are honoured, and the report says so.
        resolver: turns a newly held subject into its scope (needed with ``holds``).
        only: the ids of the steps to run (one unit of :mod:`~privacy_kit.rights._erasure_units`):
            no commitment recorded, nothing audited, the journal not finished; the report has
            those steps' counts only.
        recounts: filled with the recount of each step resumed after an interrupted attempt.

    Raises:
        PlanError: the plan was made under another policy version or data map.
        ConfigurationError: a commitment registry without the policy.
        AdapterError: the store failed (the journal keeps the finished steps).
    """
    check_origin(
        "erasure plan",
        (plan.policy_version, plan.datamap_digest),
        policy_version=policy_version,
        datamap=stores.datamap,
        again="plan the erasure again",
    )
    if commitments is not None and policy is None:
        raise ConfigurationError("apply_erasure needs the policy to record commitments")
    plan_id = plan.plan_id
    made: tuple[Commitment, ...] = ()
    notes: tuple[str, ...] = ()
    if only is not None:
        pass  # a unit: begin_erasure recorded the commitments before any unit ran
    elif policy is not None:
        made, notes = erasure_commitments(plan, stores, policy=policy)
    elif any(k.until is not None and k.count for k in plan.kept):
        notes = ("no policy was given, so the kept items' end dates were not scheduled",)
    if commitments is None and made:
        notes += (
            (
                f"no commitment registry: {len(made)} commitment(s) were not recorded, so no "
                "sweep will act on the kept items' end dates"
            ),
        )
    if dry_run:
        return log_erasure_report(
            ErasureReport(
                plan_id,
                plan.subject_reference,
                plan.deleted,
                plan.anonymised,
                plan.kept,
                recipients=recipients_to_tell(
                    disclosures, plan.subject_reference, plan.subject_kind
                ),
                dry_run=True,
                searched=plan.searched,
                commitments=made,
                notes=notes,
            )
        )
    if commitments is not None and only is None:
        recorded = commitments.record(made)  # an earlier erasure's same promise stands for ours
        origin = f"erasure {plan_id}"
        made = tuple(c for c in commitments if c.origin == origin)
        made += tuple({c.id: c for c in recorded if c.origin != origin}.values())
    log = open_journal(journal, plan_id, prefix="erasure")
    done = log.completed_steps(plan_id)
    interrupted = set(log.interrupted_steps(plan_id))
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}
    resumed: list[str] = []
    recounted: dict[str, dict[str, Any]] = {} if recounts is None else recounts
    newly: list[NewlyHeld] = []
    recheck = None
    if holds is not None and resolver is not None:
        recheck = HoldRecheck(holds, resolver, at=plan.now)
    else:
        notes += ("holds were not read again when applying (no hold registry was given)",)
    for step in plan.steps if only is None else [s for s in plan.steps if s.id in only]:
        totals = deleted if step.action is ErasureAction.DELETE else anonymised
        totals.setdefault(step.record_type, 0)
        if step.id in done:
            totals[step.record_type] += done[step.id]
            resumed.append(step.id)
            continue
        rt = stores.record_type(step.record_type)
        adapter = stores.adapter_for(rt)
        selection = step.selection
        if recheck is not None:  # a hold placed since the plan was made keeps its records
            selection, kept_out = recheck.exclude(adapter, rt, selection, step.id)
            if kept_out is not None:
                newly.append(kept_out)
        # A delete starts from the plan's count of its very selection (no count before it); an
        # anonymisation counts only the records not yet anonymised (an erasure run again changes
        # and counts nothing), so a resumed step's arithmetic works on those too.
        if step.action is ErasureAction.DELETE:
            planned = selection is step.selection and step.id not in interrupted
            matching = step.count if planned else adapter.count(rt, selection)
        else:
            matching = count_pending(
                adapter, rt, selection, step.fields, secret=secret, batch_size=plan.read_batch
            )
        first = log.started_count(plan_id, step.id) if step.id in interrupted else None
        log.started(plan_id, step.id, count=matching)
        try:
            if step.action is ErasureAction.DELETE:
                n = adapter.delete(rt, selection, **batch_option(plan.batch_size))
            else:
                n = anonymize_selection(
                    adapter,
                    rt,
                    selection,
                    step.fields,
                    secret=secret,
                    batch_size=plan.batch_size,
                )
        except Exception as exc:
            if audit is not None:
                audit.record(
                    "erasure.interrupted",
                    now=plan.now,
                    subject=plan.subject_reference,
                    details={"plan": plan_id, "step": step.id, "error": type(exc).__name__},
                )
            raise
        if step.id in interrupted:
            recount = _recount(first, matching, n)
            recounted[step.id] = recount
            notes += (_recount_note(step.id, recount),)
            n = recount["total"]
        log.done(plan_id, step.id, n)
        totals[step.record_type] += n
    if only is not None:  # one unit of a plan applied store by store: finish_erasure reports
        return ErasureReport(
            plan_id,
            plan.subject_reference,
            deleted,
            anonymised,
            (),
            resumed_steps=tuple(resumed),
            notes=notes,
            newly_held=tuple(newly),
        )
    log.finished(plan_id)
    path = getattr(log, "path", None)
    return report_applied(
        plan,
        deleted=deleted,
        anonymised=anonymised,
        resumed=resumed,
        journal=str(path) if path is not None else None,
        commitments=made,
        notes=notes,
        newly_held=newly,
        recounted=recounted,
        audit=audit,
        disclosures=disclosures,
    )
