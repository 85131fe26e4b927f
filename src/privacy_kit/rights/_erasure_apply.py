"""Applying an erasure plan: each step once, journalled, so a crash part-way can resume.

:func:`apply_erasure` touches exactly the records the plan selected, records every finished
step in the journal, and lists the recipients to tell (GDPR Art. 17(2), 19) from the disclosure
log. It works through the adapters it is handed, never through the engine.

Before the first step it records the plan's **commitments** (what the retention sweep does later
with what the erasure keeps, see :mod:`._erasure_commitments`) in the commitment registry.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from .._errors import ConfigurationError
from .._scope import Stores
from ..adapters import batch_option
from ..audit._journal import Journal, open_journal
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..model._policy import Policy
from ..retention._anonymize import anonymize_selection, count_pending
from ..retention._commitments import (
    Commitment,
    CommitmentRegistry,
)
from ..retention._holds import HoldRegistry
from ..retention._holds_recheck import HoldRecheck, NewlyHeld
from ..retention._plan_codec import check_origin
from ._erasure import (
    ErasureAction,
    ErasurePlan,
    ErasureReport,
)
from ._erasure_commitments import erasure_commitments, foresee_commitments
from ._erasure_finish import recipients_to_tell, report_applied
from ._observe import log_erasure_report

if TYPE_CHECKING:
    from .._scope import Resolver

__all__ = ["apply_erasure", "erasure_commitments", "foresee_commitments", "recipients_to_tell"]


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
