"""Running an entry's units: the one implementation a whole-plan apply and a shard apply share.

:func:`run_entry` takes an entry's units (its selections: one, or one per batch of accounts; a
shard's are narrowed to its range) and runs each once: it skips the units the plan's journal
marks finished (counting what they changed), re-reads the legal holds before each unit
(:class:`~privacy_kit.retention.HoldRecheck`) and leaves out what a hold placed after the plan
covers, journals the unit when it starts (with the records its selection then matches) and when
it is finished (with the records it changed), counts what an interrupted run changed, and sets
the anonymisation marker with the anonymised values. The result is an :class:`EntryRun`, from
which :mod:`~privacy_kit.retention._apply` makes a report line and
:mod:`~privacy_kit.retention._sweep` a shard's report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .._errors import PlanError
from .._scope import Stores
from ..adapters import Adapter, Capability, Selection, batch_option
from ..adapters._partition import PartitionDrops
from ..model._datamap import AnonymizationKind, RecordType
from ._anonymize import FieldAnonymization, anonymize_selection
from ._holds_recheck import HoldRecheck, NewlyHeld
from ._partitions import drop_whole, merge_drops, partition_audit
from ._plan_model import RetentionEntry, RetentionPlan

__all__ = [
    "EntryRun",
    "applied_details",
    "entry_group",
    "hold_recheck",
    "refuse_lost_recheck",
    "run_entry",
    "settle_commitment",
    "step_details",
]


@attrs.frozen
class EntryRun:
    """What running an entry's units (all of them, or a shard's) did.

    Attributes:
        done: records changed, by this run and (taken from the journal) by earlier ones.
        earlier: of ``done``, records changed by an earlier, interrupted or repeated run.
        exact: ``False``: what an earlier run changed is partly unknown (``done`` is a lower bound).
        resumed: some units were finished, or started, by an earlier run.
        skipped_units: units an earlier run finished (not run again).
        newly: per unit, what a hold placed after the plan kept out.
        drops: partitions removed whole (their records part of ``done``) or kept, and why.
    """

    done: int
    earlier: int
    exact: bool
    resumed: bool
    skipped_units: int
    newly: tuple[NewlyHeld, ...]
    drops: PartitionDrops = attrs.field(factory=PartitionDrops)
    """The partitions this run removed whole, and those it left to the row-by-row delete."""

    @property
    def newly_held(self) -> int:
        """Records a hold placed after the plan kept out."""
        return sum(n.count for n in self.newly)


def hold_recheck(plan: RetentionPlan) -> HoldRecheck | None:
    """The holds re-read before each unit (``None``: the plan has no registry to read)."""
    if plan.holds is None or plan.resolver is None:
        return None
    return HoldRecheck(plan.holds, plan.resolver, at=plan.now)


def _run_unit(
    adapter: Adapter,
    entry: RetentionEntry,
    rt: RecordType,
    selection: Selection,
    *,
    secret: bytes,
    batch_size: int | None,
    now: dt.datetime,
) -> int:
    """One unit: one ``delete``/``update`` call (the adapter's own statement plan unless the
    plan was given a ``batch_size``)."""
    if entry.action == "delete":
        return adapter.delete(rt, selection, **batch_option(batch_size))
    if entry.action == "minimize":
        return adapter.update(
            rt, selection, dict.fromkeys(entry.fields), **batch_option(batch_size)
        )
    fields: list[str | FieldAnonymization] = list(entry.fields)
    if entry.marker is not None:
        # The marker the step's selection tests: set with the anonymised values.
        fields.append(FieldAnonymization(entry.marker, AnonymizationKind.FIXED, value=now))
    return anonymize_selection(adapter, rt, selection, fields, secret=secret, batch_size=batch_size)


def run_entry(
    plan: RetentionPlan,
    stores: Stores,
    index: int,
    pieces: Iterable[tuple[int, Selection]],
    *,
    secret: bytes,
    recheck: HoldRecheck | None,
    shard: str | None = None,
) -> EntryRun:
    """Run the units ``pieces`` of entry ``index`` of ``plan``, journalled (see the module).

    ``shard``: the units are that shard's (its key names them in the journal); ``None``: a
    whole-plan apply's. Units the journal marks finished but ``pieces`` no longer yields (their
    accounts were removed since) are counted from the journal too.
    """
    entry = plan.entries[index]
    journal = plan.journal
    rt = stores.record_type(entry.record_type)
    adapter = stores.adapter_for(rt)
    done = earlier = skipped = 0
    exact = True
    resumed = False
    found: list[NewlyHeld] = []
    drops: list[PartitionDrops] = []
    seen: set[int] = set()

    def finished(counted: int | None) -> None:
        nonlocal done, earlier, skipped, exact, resumed
        skipped += 1
        resumed = True
        exact = exact and counted is not None
        done += counted or 0
        earlier += counted or 0

    for unit, planned in pieces:
        seen.add(unit)
        if journal.done(plan.id, index, unit, shard=shard):
            finished(journal.done_count(plan.id, index, unit, shard=shard))
            continue
        selection = _without_new_holds(recheck, adapter, rt, entry, planned, found=found)
        interrupted = journal.started(plan.id, index, unit, shard=shard)
        matching = (
            entry.count  # the plan counted this very selection: no count before the unit
            if shard is None
            and selection is planned
            and entry.account_selection is None
            and not interrupted
            else adapter.count(rt, selection)
        )
        first = journal.started_count(plan.id, index, unit, shard=shard)
        journal.start(plan.id, index, unit, matching, shard=shard)
        drops.append(drop_whole(adapter, entry, rt, selection))  # whole partitions first
        n = drops[-1].rows + _run_unit(
            adapter,
            entry,
            rt,
            selection,
            secret=secret,
            batch_size=plan.batch_size,
            now=plan.now,
        )
        if interrupted:
            # The interrupted run changed the records that stopped matching since it started.
            resumed = True
            if first is None or matching > first:
                exact = False
            else:
                n += first - matching
                earlier += first - matching
        journal.mark(plan.id, index, unit, count=n, shard=shard)
        done += n
    for unit, counted in journal.finished_units(plan.id, index, shard=shard).items():
        if unit not in seen:
            finished(counted)
    return EntryRun(done, earlier, exact, resumed, skipped, tuple(found), merge_drops(drops))


def _without_new_holds(
    recheck: HoldRecheck | None,
    adapter: Adapter,
    rt: RecordType,
    entry: RetentionEntry,
    selection: Selection,
    *,
    found: list[NewlyHeld],
) -> Selection:
    """The unit's selection without the records a hold placed after the plan covers (read now)."""
    if recheck is None:
        return selection
    step = f"{entry.rule}/{entry.record_type} [{entry.group}]"
    selection, kept = recheck.exclude(adapter, rt, selection, step, planned=entry.hold_ids)
    if kept is not None:
        found.append(kept)
    return selection


def refuse_lost_recheck(
    plan: RetentionPlan, stores: Stores, entries: Iterable[RetentionEntry] | None = None
) -> None:
    """Refuse a plan whose re-checking entries (of ``entries``; ``None``: all) reach an adapter
    that cannot re-check, before anything changes."""
    for entry in plan.entries if entries is None else entries:
        if not entry.recheck or entry.source is None or entry.source.account is None:
            continue
        adapter = stores.adapter_for(entry.record_type)
        accounts = stores.adapter_for(entry.source.account)
        if adapter is not accounts:
            why = f"adapter {adapter.name!r} does not hold {entry.source.account}"
        elif Capability.RELATED not in adapter.capabilities:
            why = f"adapter {adapter.name!r} lacks the {Capability.RELATED.value!r} capability"
        else:
            continue
        raise PlanError(
            f"plan {plan.id}: entry {entry.rule}/{entry.record_type} was planned to re-check "
            f"{entry.source.account} in each statement, but {why}; plan again with these stores "
            "(the plan then says it cannot re-check)"
        )


def entry_group(entry: RetentionEntry) -> str:
    """``commitment``, ``override`` or ``default`` (the audit's word for the entry's group)."""
    if entry.commitment is not None:
        return "commitment"
    return "override" if entry.override is not None else "default"


def step_details(plan: RetentionPlan, entry: RetentionEntry, run: EntryRun) -> dict[str, Any]:
    """The audit details of an entry's run (``retention.step``; a shard's adds its range)."""
    return {
        "plan": plan.id,
        "rule": entry.rule,
        "record_type": entry.record_type,
        "action": entry.action,
        "group": entry_group(entry),
        "override": None if entry.override is None else str(entry.override),
        "cutoff": entry.cutoff.isoformat(),
        "count": run.done,
        "exact": run.exact,
        "resumed": run.resumed,
        "earlier_runs": run.earlier,
        "held": entry.held,
        "holds": list(entry.hold_ids),
        "newly_held": run.newly_held,
        "new_holds": sorted({h for n in run.newly for h in n.holds}),
        "commitment": None if entry.commitment is None else entry.commitment.id,
        "recheck": entry.recheck,
        **partition_audit(run.drops),
    }


def settle_commitment(
    plan: RetentionPlan,
    entry: RetentionEntry,
    newly_held: int,
    *,
    fulfilled: list[str],
    still_pending: list[str],
) -> None:
    """A commitment's entry, once run: fulfilled when none of its records were held (at
    planning or since), else still pending (appended to the matching list)."""
    if entry.commitment is None:
        return
    if entry.held or newly_held:
        still_pending.append(entry.commitment.id)
    elif plan.commitments is not None:
        plan.commitments.fulfil(entry.commitment.id, now=plan.now, by=plan.id)
        fulfilled.append(entry.commitment.id)


def applied_details(
    plan: RetentionPlan, report: Any, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The audit details of a finished sweep (``retention.applied``), whole or by shards."""
    return {
        "plan": plan.id,
        "total": report.total,
        "exact": report.exact,
        "by_rule": report.counts(),
        "orphans": {o.record_type: o.to_dict() for o in plan.orphans},
        "commitments_fulfilled": list(report.fulfilled),
        "commitments_pending": list(report.still_pending),
        "kept_indefinitely": [k.to_dict() for k in plan.kept_indefinitely],
        "newly_held": [n.to_dict() for n in report.newly_held],
        **(extra or {}),
    }
