"""The commitments an erasure records: what the retention sweep does later with what it keeps.

Before the first step, :func:`~privacy_kit.rights._erasure_apply.apply_erasure` records the
plan's **commitments** (:func:`erasure_commitments`) in the commitment registry, so what the
erasure keeps "until" a date is acted on by the retention sweep then, and records whose account
row the erasure removes are not left without an end:

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

What they cost: the keys of the account rows the erasure removes are read once (their number is
the count), and every other count is asked first and read together
(:class:`~privacy_kit.retention._counting.CountBatch`: one statement on an adapter with
``counts_by_type``), so computing them is a few statements whatever the number of record types.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import attrs

from .._scope import Stores
from ..adapters import After, And, Before, Eq, In, IsNull, Not, Or, Selection
from ..model._check_retention import RuleChoice, retention_choices
from ..model._datamap import RecordType
from ..model._policy import Policy
from ..retention._commitments import Commitment, CommitmentAction, commitment_id, schedule_after
from ..retention._counting import CountBatch
from ..retention._holds import definitely
from ..retention._rules import TriggerSource
from ..retention._state_selection import choice_selection, choice_source
from ._erasure import ErasureAction, ErasurePlan, KeepReason, KeptItem

__all__ = ["erasure_commitments", "foresee_commitments"]


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
    counts = CountBatch(stores)
    wanted: list[tuple[KeptItem, dt.datetime, CommitmentAction, tuple[str, ...], str, str]] = []
    found_at: list[tuple[RecordType, Selection, list[Any] | None, int | None]] = []
    for k, until, action, fields, reason, why in ends:
        assert k.selection is not None  # _kept_ends keeps only items with one
        rt = stores.record_type(k.record_type)
        selection = k.selection
        keys: list[Any] | None = None
        ticket: int | None = None
        if _fields_read(selection) & changed.get(rt.name, set()):
            keys = _keys(stores, rt, selection, plan.read_batch)
            selection = In(rt.primary_key, _sorted(keys))
        elif action == "delete" and rt.name in account_types:
            # The account rows' keys are read anyway (for the records timed by them): their
            # number is the count, so no COUNT before the read.
            keys = _keys(stores, rt, selection, plan.read_batch)
        else:
            ticket = counts.add(rt, selection)
        wanted.append((k, until, action, fields, reason, why))
        found_at.append((rt, selection, keys, ticket))
    counts.run()
    for (k, until, action, fields, reason, why), (rt, selection, keys, ticket) in zip(
        wanted, found_at, strict=True
    ):
        count = counts[ticket] if ticket is not None else len(keys or ())
        if not count:
            continue
        if action == "delete" and rt.name in account_types and keys is not None:
            removed.setdefault(rt.name, {}).setdefault(until, set()).update(keys)
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
    dependants = [
        (found, counts.add(found.record_type, found.remaining))
        for accounts, by_end in removed.items()
        for end, account_keys in sorted(by_end.items())
        for found in _dependants(
            stores, policy, accounts, end=end, keys=account_keys, deleting=deleting
        )
    ]
    counts.run()
    notes: list[str] = []
    for found, ticket in dependants:
        found_made, text = _dependant(plan, found, counts[ticket])
        made.extend(found_made)
        notes.extend(text)
    return tuple(made), tuple(notes)


@attrs.frozen
class _Dependant:
    """Records of ``record_type`` in ``choice``'s state timed by account rows the erasure removes
    on ``end``: ``selection`` links them to those rows, ``remaining`` leaves out what it deletes."""

    record_type: RecordType
    choice: RuleChoice
    source: TriggerSource
    accounts: str
    selection: Selection
    remaining: Selection
    end: dt.datetime


def _dependants(
    stores: Stores,
    policy: Policy,
    accounts: str,
    *,
    end: dt.datetime,
    keys: set[Any],
    deleting: dict[str, list[Selection]],
) -> list[_Dependant]:
    """The records that read their time from ``keys`` of ``accounts`` (to be counted)."""
    found: list[_Dependant] = []
    for rt in stores.datamap.record_types:
        if rt.account is None or rt.account.record_type != accounts or rt.name == accounts:
            continue
        # Each rule the record type can be under (one per state): a state timed by a field of
        # its own needs no commitment; one timed by the account row does.
        for choice in retention_choices(policy, rt):
            source = choice_source(stores.datamap, rt, choice, choice.rule.trigger)
            if source is None or source.account != accounts:
                continue  # timed by a field of its own
            state = choice_selection(choice)
            linked: Selection = In(rt.account.field, _sorted(keys))
            selection = linked if state is None else And((linked, state))
            remaining = selection
            if rt.name in deleting:
                remaining = And((selection, Not(definitely(_any(deleting[rt.name])))))
            found.append(_Dependant(rt, choice, source, accounts, selection, remaining, end))
    return found


def _dependant(
    plan: ErasurePlan, found: _Dependant, count: int
) -> tuple[list[Commitment], list[str]]:
    """Commitments for ``count`` records of ``found``, and the note that explains them."""
    if not count:
        return [], []
    origin = f"erasure {plan.plan_id}"
    rt, choice, source = found.record_type, found.choice, found.source
    accounts, selection, end = found.accounts, found.selection, found.end
    rule = choice.rule
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
