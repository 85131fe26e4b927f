"""Applying an erasure plan: each step once, journalled, so a crash part-way can resume.

:func:`apply_erasure` touches exactly the records the plan selected, records every finished
step in the journal, and lists the recipients to tell (GDPR Art. 17(2), 19) from the disclosure
log. It works through the adapters it is handed, never through the engine.
"""

from __future__ import annotations

import os

from .._errors import PlanError
from .._scope import Stores
from ..audit._journal import Journal, open_journal
from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..retention._anonymize import anonymize_selection
from ._erasure import ErasureAction, ErasurePlan, ErasureReport, kept_summary

__all__ = ["apply_erasure", "recipients_to_tell"]


def recipients_to_tell(
    disclosures: DisclosureLog | None, reference: str, kind: str | None = None
) -> tuple[str, ...]:
    """Recipients the disclosure log says received the subject's data (GDPR Art. 17(2), 19).

    Public authorities receiving data in a particular inquiry are left out (Art. 4(9)). Empty
    when no disclosure log is kept.

    Args:
        disclosures: the disclosure log (``None``: none is kept).
        reference: the subject's reference.
        kind: the subject's kind (disclosures about every subject of the kind count too).

    Returns:
        The recipient keys, sorted.

    Example:
        >>> import privacy_kit as pk
        >>> recipients_to_tell(pk.DisclosureLog(pk.load_policy(pk.example_path())), "subj_1")
        ()
        >>> recipients_to_tell(None, "subj_1")
        ()
    """
    if disclosures is None:
        return ()
    found = disclosures.recipients_to_notify(reference, kind=kind)
    return tuple(sorted({str(r.recipient) for r in found}))


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

    Raises:
        PlanError: the plan follows another policy version.
        AdapterError: the store failed (the journal keeps the finished steps).
    """
    if plan.policy_version != policy_version:
        raise PlanError(
            f"the plan follows policy {plan.policy_version!r} but the engine has "
            f"{policy_version!r}; plan the erasure again"
        )
    plan_id = plan.plan_id
    if dry_run:
        return ErasureReport(
            plan_id,
            plan.subject_reference,
            plan.deleted,
            plan.anonymised,
            plan.kept,
            recipients=recipients_to_tell(disclosures, plan.subject_reference, plan.subject_kind),
            dry_run=True,
            searched=plan.searched,
        )
    log = open_journal(journal, plan_id, prefix="erasure")
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
        rt = stores.record_type(step.record_type)
        log.started(plan_id, step.id)
        try:
            if step.action is ErasureAction.DELETE:
                n = stores.adapter_for(rt).delete(rt, step.selection, batch_size=plan.batch_size)
            else:
                n = anonymize_selection(
                    stores.adapter_for(rt),
                    rt,
                    step.selection,
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
        log.done(plan_id, step.id, n)
        totals[step.record_type] += n
    log.finished(plan_id)
    recipients = recipients_to_tell(disclosures, plan.subject_reference, plan.subject_kind)
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
        searched=plan.searched,
    )
    if audit is not None:
        audit.record(
            "erasure.applied",
            now=plan.now,
            subject=plan.subject_reference,
            details={
                "plan": plan_id,
                "deleted": deleted,
                "anonymised": anonymised,
                "kept": [kept_summary(k) for k in plan.kept if k.count],
                "resumed_steps": list(resumed),
                "recipients_to_tell": list(recipients),
            },
        )
    return report
