"""What the rights layer tells the ``privacy_kit.rights`` logger (never a subject's identities).

A subject is named by its keyed reference only. One INFO line per operation (an erasure planned
or applied, an export written), DEBUG lines per step. Each function returns what it was given,
so a call site logs in one line. See docs/observability.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._erasure import ErasurePlan, ErasureReport

__all__ = ["LOGGER", "log_erasure_plan", "log_erasure_report"]

LOGGER = logging.getLogger("privacy_kit.rights")


def log_erasure_plan(plan: ErasurePlan) -> ErasurePlan:
    """Log an erasure plan: INFO counts, DEBUG one line per step."""
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(
            "erasure plan %s made for %s %s: delete %d, anonymise %d record(s), keep %d item(s)%s",
            plan.plan_id,
            plan.subject_kind,
            plan.subject_reference,
            sum(plan.deleted.values()),
            sum(plan.anonymised.values()),
            sum(1 for k in plan.kept if k.count),
            " (nothing held)" if plan.nothing_held else "",
        )
    if LOGGER.isEnabledFor(logging.DEBUG):
        for step in plan.steps:
            LOGGER.debug(
                "erasure plan %s: %s %s (%s): %d record(s)",
                plan.plan_id,
                step.action.value,
                step.record_type,
                step.role,
                step.count,
            )
    return plan


def log_erasure_report(report: ErasureReport) -> ErasureReport:
    """Log an applied (or dry-run) erasure: INFO counts, DEBUG per record type."""
    deleted, anonymised = (
        ("would delete", "would anonymise")
        if report.dry_run
        else (
            "deleted",
            "anonymised",
        )
    )
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(
            "erasure plan %s %s for %s: %s %d, %s %d record(s), kept %d item(s), "
            "%d step(s) resumed, %d recipient(s) to tell",
            report.plan_id,
            "dry run" if report.dry_run else "applied",
            report.subject_reference,
            deleted,
            sum(report.deleted.values()),
            anonymised,
            sum(report.anonymised.values()),
            sum(1 for k in report.kept if k.count),
            len(report.resumed_steps),
            len(report.recipients),
        )
    if LOGGER.isEnabledFor(logging.DEBUG):
        for name, count in report.deleted.items():
            LOGGER.debug("erasure plan %s: %s %d %s", report.plan_id, deleted, count, name)
        for name, count in report.anonymised.items():
            LOGGER.debug("erasure plan %s: %s %d %s", report.plan_id, anonymised, count, name)
    return report
