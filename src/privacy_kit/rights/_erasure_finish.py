"""The end of an erasure: its report, and the one ``erasure.applied`` audit entry.

Shared by :func:`~privacy_kit.rights._erasure_apply.apply_erasure` (a plan applied in one go) and
:func:`~privacy_kit.rights._erasure_units.finish_erasure` (a plan applied store by store), so a
plan applied either way ends in the same report and the same audit entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..audit._log import AuditLog
from ..lifecycle._disclosures import DisclosureLog
from ..retention._commitments import Commitment
from ..retention._holds_recheck import NewlyHeld
from ._erasure import ErasurePlan, ErasureReport, commitment_summary, kept_summary
from ._observe import log_erasure_report

__all__ = ["recipients_to_tell", "report_applied"]


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


def report_applied(
    plan: ErasurePlan,
    *,
    deleted: dict[str, int],
    anonymised: dict[str, int],
    resumed: Sequence[str],
    journal: str | None,
    commitments: tuple[Commitment, ...],
    notes: tuple[str, ...],
    newly_held: Sequence[NewlyHeld],
    recounted: dict[str, dict[str, Any]],
    audit: AuditLog | None,
    disclosures: DisclosureLog | None,
) -> ErasureReport:
    """The report of ``plan`` applied (every step done), recorded as ``erasure.applied``."""
    recipients = recipients_to_tell(disclosures, plan.subject_reference, plan.subject_kind)
    report = ErasureReport(
        plan.plan_id,
        plan.subject_reference,
        deleted,
        anonymised,
        plan.kept,
        recipients=recipients,
        resumed_steps=tuple(resumed),
        journal=journal,
        searched=plan.searched,
        commitments=commitments,
        notes=notes,
        newly_held=tuple(newly_held),
    )
    if audit is not None:
        audit.record(
            "erasure.applied",
            now=plan.now,
            subject=plan.subject_reference,
            details={
                "plan": plan.plan_id,
                "deleted": deleted,
                "anonymised": anonymised,
                "kept": [kept_summary(k) for k in plan.kept if k.count],
                "resumed_steps": list(resumed),
                "recounted_steps": recounted,
                "counts_exact": all(r["exact"] for r in recounted.values()),
                "recipients_to_tell": list(recipients),
                "commitments": [commitment_summary(c) for c in commitments],
                "notes": list(notes),
                "newly_held": [n.to_dict() for n in newly_held],
            },
        )
    return log_erasure_report(report)
