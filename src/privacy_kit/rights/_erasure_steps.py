"""Running an erasure plan's steps: one at a time, or a store's consecutive steps in one transaction.

Each step is prepared (the holds read again, the records it will change counted), written,
and settled (a step resumed after an interrupted attempt is recounted). At the default settings
(no ``batch_size``), consecutive steps on one adapter that declares ``Capability.ATOMIC`` run as
one *group* inside ``adapter.atomic()``: the journal's ``started`` lines of the group are written
with one sync once the group's writes are made and before they are committed, and the ``done``
lines after the commit. A failure inside the group commits nothing; the journal then shows every
step of the group that began as interrupted, and applying again recounts them. Steps on
different stores are separate transactions: no distributed transaction is promised.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from .._errors import AdapterError
from .._scope import Stores
from ..adapters import Adapter, Selection, atomic_of, batch_option
from ..audit._journal import Journal
from ..audit._log import AuditLog
from ..model._datamap import RecordType
from ..retention._anonymize import anonymize_selection, count_pending
from ..retention._holds_recheck import HoldRecheck, NewlyHeld
from ._erasure import ErasureAction, ErasurePlan, ErasureStep

__all__ = ["StepRunner", "step_groups"]


def step_groups(
    steps: Sequence[ErasureStep], stores: Stores, *, batch_size: int | None
) -> Iterator[list[ErasureStep]]:
    """The steps in plan order, consecutive ones on one atomic adapter grouped together.

    With a ``batch_size`` (each batch committed on its own, by choice) every step is alone.
    """
    group: list[ErasureStep] = []
    owner: Adapter | None = None
    for step in steps:
        adapter = stores.adapter_for(stores.record_type(step.record_type))
        atomic = batch_size is None and atomic_of(adapter) is not None
        if group and atomic and adapter is owner:
            group.append(step)
            continue
        if group:
            yield group
        group, owner = [step], (adapter if atomic else None)
    if group:
        yield group


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


@attrs.define
class _Prepared:
    step: ErasureStep
    adapter: Adapter
    rt: RecordType
    selection: Selection
    matching: int
    first: int | None


@attrs.define
class StepRunner:
    """Runs the steps of one application of a plan; collects notes, recounts, newly held."""

    plan: ErasurePlan
    stores: Stores
    secret: bytes
    log: Journal
    interrupted: set[str]
    recheck: HoldRecheck | None
    audit: AuditLog | None
    recounted: dict[str, dict[str, Any]]
    notes: list[str] = attrs.field(factory=list)
    newly: list[NewlyHeld] = attrs.field(factory=list)

    def run(self, group: Sequence[ErasureStep]) -> list[int]:
        """Run one group (or one step alone); return each step's count, as journalled done."""
        if len(group) == 1:
            return [self._alone(group[0])]
        return self._together(group)

    def _alone(self, step: ErasureStep) -> int:
        p = self._prepare(step)
        self.log.started(self.plan.plan_id, step.id, count=p.matching)
        try:
            n = self._write(p)
        except Exception as exc:
            self._interrupted(step, exc, ())
            raise
        n = self._settle(p, n)
        self.log.done(self.plan.plan_id, step.id, n)
        return n

    def _together(self, group: Sequence[ErasureStep]) -> list[int]:
        plan_id = self.plan.plan_id
        atomic = atomic_of(self.stores.adapter_for(self.stores.record_type(group[0].record_type)))
        assert atomic is not None  # step_groups groups atomic adapters only
        prepared: list[_Prepared] = []
        written: list[int] = []
        journalled = False
        step = group[0]
        try:
            with atomic():
                for step in group:
                    prepared.append(self._prepare(step))
                    written.append(self._write(prepared[-1]))
                # Before the commit makes the writes durable, so a crash after it finds them
                # started, with the counts their selections had before each ran.
                self.log.started_many(plan_id, [(p.step.id, p.matching) for p in prepared])
                journalled = True
        except Exception as exc:
            if not journalled:  # rolled back: the next run recounts these steps from here
                self.log.started_many(plan_id, [(p.step.id, p.matching) for p in prepared])
            ids = tuple(s.id for s in group)
            self._interrupted(step, exc, ids)
            adapter = self.stores.adapter_for(self.stores.record_type(step.record_type))
            raise AdapterError(
                f"erasure step {step.id} failed, so none of the {len(ids)} steps this store "
                f"runs in one transaction ({', '.join(ids)}) was committed: {exc}",
                adapter=adapter.name,
                record_type=step.record_type,
                operation="erasure",
            ) from exc
        counts = [self._settle(p, n) for p, n in zip(prepared, written, strict=True)]
        self.log.done_many(plan_id, [(p.step.id, n) for p, n in zip(prepared, counts, strict=True)])
        return counts

    def _prepare(self, step: ErasureStep) -> _Prepared:
        rt = self.stores.record_type(step.record_type)
        adapter = self.stores.adapter_for(rt)
        selection = step.selection
        if self.recheck is not None:  # a hold placed since the plan was made keeps its records
            selection, kept_out = self.recheck.exclude(adapter, rt, selection, step.id)
            if kept_out is not None:
                self.newly.append(kept_out)
        # A delete starts from the plan's count of its very selection (no count before it); an
        # anonymisation counts only the records not yet anonymised (an erasure run again changes
        # and counts nothing), so a resumed step's arithmetic works on those too.
        if step.action is ErasureAction.DELETE:
            planned = selection is step.selection and step.id not in self.interrupted
            matching = step.count if planned else adapter.count(rt, selection)
        else:
            matching = count_pending(
                adapter, rt, selection, step.fields, secret=self.secret,
                batch_size=self.plan.read_batch,
            )  # fmt: skip
        first = (
            self.log.started_count(self.plan.plan_id, step.id)
            if step.id in self.interrupted
            else None
        )
        return _Prepared(step, adapter, rt, selection, matching, first)

    def _write(self, p: _Prepared) -> int:
        if p.step.action is ErasureAction.DELETE:
            return p.adapter.delete(p.rt, p.selection, **batch_option(self.plan.batch_size))
        return anonymize_selection(
            p.adapter,
            p.rt,
            p.selection,
            p.step.fields,
            secret=self.secret,
            batch_size=self.plan.batch_size,
        )

    def _settle(self, p: _Prepared, n: int) -> int:
        if p.step.id not in self.interrupted:
            return n
        recount = _recount(p.first, p.matching, n)
        self.recounted[p.step.id] = recount
        self.notes.append(_recount_note(p.step.id, recount))
        return int(recount["total"])

    def _interrupted(self, step: ErasureStep, exc: Exception, rolled_back: tuple[str, ...]) -> None:
        if self.audit is None:
            return
        details: dict[str, Any] = {
            "plan": self.plan.plan_id,
            "step": step.id,
            "error": type(exc).__name__,
        }
        if rolled_back:
            details["rolled_back"] = list(rolled_back)
        self.audit.record(
            "erasure.interrupted",
            now=self.plan.now,
            subject=self.plan.subject_reference,
            details=details,
        )
