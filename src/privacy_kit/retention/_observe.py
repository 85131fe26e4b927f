"""What the retention layer tells the ``privacy_kit.retention`` logger (never a record's values).

One INFO line per operation (a plan made, a sweep applied: counts per rule and unit), DEBUG lines
for each entry or unit. Each function returns what it was given, so a call site logs in one line.
See docs/observability.md.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

# The plan and report are read by attribute, not imported: _plan and _apply import this module.
_Plan = TypeVar("_Plan")
_Report = TypeVar("_Report")
_Shards = TypeVar("_Shards")

__all__ = [
    "LOGGER",
    "log_retention_plan",
    "log_retention_report",
    "log_retention_shard",
    "log_retention_shards",
]

LOGGER = logging.getLogger("privacy_kit.retention")


def log_retention_plan(given: _Plan) -> _Plan:
    """Log a sweep's plan (a ``RetentionPlan``): INFO totals, DEBUG one line per entry."""
    plan: Any = given
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(
            "retention plan %s made as of %s: %d record(s) in %d entr(y/ies), %d held, "
            "%d skipped rule(s), %d orphan record(s), %d kept indefinitely",
            plan.id,
            plan.now.isoformat(),
            plan.total,
            len(plan.entries),
            plan.total_held,
            len(plan.skipped),
            plan.total_orphans,
            len(plan.kept_indefinitely),
        )
    if LOGGER.isEnabledFor(logging.DEBUG):
        for entry in plan.entries:
            LOGGER.debug(
                "retention plan %s: %s %s (rule %s, %s): %d record(s), %d held, cutoff %s%s",
                plan.id,
                entry.action,
                entry.record_type,
                entry.rule,
                entry.group,
                entry.count,
                entry.held,
                entry.cutoff.isoformat(),
                f", {len(entry.partitions)} whole partition(s)" if entry.partitions else "",
            )
    return given


def log_retention_report(given: _Report, plan_id: str) -> _Report:
    """Log a sweep's report (a ``RetentionReport``): INFO totals, DEBUG one line per unit."""
    report: Any = given
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(
            "retention plan %s %s: %d record(s) in %d unit(s)%s, %d unit(s) resumed, "
            "%d commitment(s) fulfilled, %d pending",
            plan_id,
            "dry run" if report.dry_run else "applied",
            report.total,
            len(report.lines),
            "" if report.exact else " (counts not exact)",
            report.skipped_units,
            len(report.fulfilled),
            len(report.still_pending),
        )
        for line in report.lines:
            if line.partitions:
                LOGGER.info(
                    "retention plan %s: %s %s (rule %s, %s): %d record(s) in %d whole "
                    "partition(s) %s: %s",
                    plan_id,
                    line.action,
                    line.record_type,
                    line.rule,
                    line.group,
                    sum(p.rows for p in line.partitions),
                    len(line.partitions),
                    f"to {line.partitions[0].how}"
                    if report.dry_run
                    else {"drop": "dropped", "truncate": "truncated"}[line.partitions[0].how],
                    ", ".join(p.name for p in line.partitions),
                )
            for name, why in line.partitions_kept:
                LOGGER.info(
                    "retention plan %s: partition %s of %s went row by row: %s",
                    plan_id,
                    name,
                    line.record_type,
                    why,
                )
    if LOGGER.isEnabledFor(logging.DEBUG):
        for line in report.lines:
            LOGGER.debug(
                "retention plan %s: %s %s (rule %s, %s): planned %d, done %d, held %d%s",
                plan_id,
                line.action,
                line.record_type,
                line.rule,
                line.group,
                line.planned,
                line.done,
                line.held,
                ", resumed" if line.resumed else "",
            )
    return given


def log_retention_shards(given: _Shards, plan_id: str) -> _Shards:
    """Log a plan's shards (a tuple of ``Shard``): INFO the count, and per entry cut by bounds
    privacy_kit read itself (the adapter could not), INFO that note; DEBUG one line per shard."""
    shards: Any = given
    if LOGGER.isEnabledFor(logging.INFO):
        LOGGER.info(
            "retention plan %s: %d shard(s) of %d entr(y/ies)",
            plan_id,
            len(shards),
            len({s.entry for s in shards}),
        )
        for shard in shards:
            if shard.index == 0 and shard.bounds_by == "read":
                LOGGER.info("retention plan %s: entry %d: %s", plan_id, shard.entry, shard.note)
    if LOGGER.isEnabledFor(logging.DEBUG):
        for shard in shards:
            LOGGER.debug("retention plan %s: %s", plan_id, shard.describe())
    return given


def log_retention_shard(
    given: _Report, shard: Any, *, again: bool = False, first_for: Any = None
) -> _Report:
    """Log one applied shard (a ``ShardReport``): INFO what it changed, and whether it had
    finished before (nothing done) or ran first for another shard that must follow it."""
    report: Any = given
    if LOGGER.isEnabledFor(logging.INFO):
        why = ""
        if again:
            why = " (finished before: nothing done)"
        elif first_for is not None:
            why = f" (run first: shard {first_for.key} of entry {first_for.entry} follows it)"
        LOGGER.info(
            "retention plan %s: shard %s of entry %d applied%s: %d record(s)%s, %d newly held",
            shard.plan,
            shard.key,
            shard.entry,
            why,
            report.done,
            "" if report.exact else " (at least)",
            report.newly_held,
        )
    return given
