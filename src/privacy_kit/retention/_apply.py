"""Applying a retention plan: a few statements per entry, journalled, counted, audited.

:func:`apply_retention` runs each entry's units (one, or one per batch of accounts), skips the
units the plan's journal marks finished (so a re-run after a failure resumes), and writes counts,
never data, to the audit log. :class:`RetentionReport` says what each entry did. The journal
keeps each unit's counts (records matched when it started, records changed when it finished), so
a resumed sweep counts the units an interrupted run finished, and what it did to a unit it left
half-done; when the journal cannot tell (written before counts were kept), the line says its count
is a lower bound. A unit the plan counted as it is (an entry of one unit, no hold placed since)
starts with the plan's count, so no count runs before it; other units are counted first. A
commitment's entry, once applied with none of its records held, marks the commitment fulfilled;
the plan's orphans (records no sweep can time) are repeated in the report and the audit entry.

An entry whose trigger is the account's and that the plan marked ``recheck`` runs statements that
re-check the account's state themselves; applied through an adapter that cannot, it is refused
before anything changes rather than run without the re-check.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from .._scope import Stores
from ..adapters import Partition
from ..audit._log import AuditLog
from ._apply_units import (
    EntryRun,
    applied_details,
    hold_recheck,
    refuse_lost_recheck,
    run_entry,
    settle_commitment,
    step_details,
)
from ._holds_recheck import NewlyHeld
from ._indefinite import IndefiniteKeep
from ._observe import log_retention_report
from ._orphans import Orphans
from ._partitions import partition_text
from ._plan import RetentionEntry, RetentionPlan, units
from ._plan_json import check_applicable
from ._rules import Action

__all__ = ["ReportLine", "RetentionReport", "apply_retention", "report_line", "sweep_report"]


def _audit(
    audit: AuditLog | None,
    action: str,
    now: dt.datetime,
    details: Mapping[str, Any],
    *,
    defer: bool = False,
) -> None:
    """Record an entry; ``defer``: one that records no change, written with the next one."""
    if audit is not None:
        (audit.defer if defer else audit.record)(action, now=now, details=details)


@attrs.frozen
class ReportLine:
    """What one entry did: planned and done counts."""

    rule: str
    record_type: str
    action: Action
    group: str
    planned: int
    done: int
    held: int
    resumed: bool
    earlier: int = 0
    """Of ``done``: records changed by an earlier, interrupted run (taken from the journal)."""
    exact: bool = True
    """``False``: what an earlier run changed is partly unknown, so ``done`` is a lower bound."""
    newly_held: int = 0
    """Records left alone because a hold placed after the plan covers them (not in ``held``)."""
    partitions: tuple[Partition, ...] = ()
    """Partitions removed whole (for a dry run: planned to be), their records part of ``done``."""
    partitions_kept: tuple[tuple[str, str], ...] = ()
    """Partitions inside the step's range whose records went row by row instead, and why (one
    that removing would make differ from a ``DELETE``, or that changed or stayed locked when it
    came to removing it)."""

    def __repr__(self) -> str:
        bound = "" if self.exact else ", exact=False"
        return (
            f"ReportLine(rule={self.rule!r}, record_type={self.record_type!r}, "
            f"action={self.action!r}, planned={self.planned}, done={self.done}, "
            f"held={self.held}{bound})"
        )


@attrs.frozen
class RetentionReport:
    """What ``engine.apply(plan)`` did (or, for a dry run, would do).

    Attributes:
        now: the plan's instant.
        dry_run: nothing was changed.
        lines: per entry, planned and done counts.
        skipped_units: units already finished by an earlier, interrupted run (resumed).
        orphans: the plan's records that no sweep can ever time (see ``RetentionPlan.orphans``).
        fulfilled: the commitments this run carried out (none for a dry run).
        still_pending: the commitments due but kept pending because some records are held.
        kept_indefinitely: what no sweep expires (the plan's, see ``RetentionPlan``).
        newly_held: per unit, the records a hold placed after the plan kept out (the holds are
            read again before each unit, so such a hold stops the rest of the run).
        already_finished: a sweep applied shard by shard was finished before (``finish_sweep``
            called again, say a redelivered task): the same report, and nothing recorded again.
    """

    now: dt.datetime
    dry_run: bool
    lines: tuple[ReportLine, ...]
    skipped_units: int
    orphans: tuple[Orphans, ...] = ()
    fulfilled: tuple[str, ...] = ()
    still_pending: tuple[str, ...] = ()
    kept_indefinitely: tuple[IndefiniteKeep, ...] = ()
    newly_held: tuple[NewlyHeld, ...] = ()
    already_finished: bool = False

    @property
    def exact(self) -> bool:
        """Whether every count is exact (``False``: some are lower bounds, see each line)."""
        return all(line.exact for line in self.lines)

    @property
    def total(self) -> int:
        """Records changed (planned ones for a dry run)."""
        return sum(line.planned if self.dry_run else line.done for line in self.lines)

    def counts(self) -> dict[str, dict[str, int]]:
        """``{rule: {action: records}}``."""
        out: dict[str, dict[str, int]] = {}
        for line in self.lines:
            counts = out.setdefault(line.rule, {})
            value = line.planned if self.dry_run else line.done
            counts[line.action] = counts.get(line.action, 0) + value
        return out

    def summary(self) -> str:
        """A readable multi-line summary."""
        verb = "would change" if self.dry_run else "changed"
        lines = [f"Retention as of {self.now.isoformat()}: {verb} {self.total} record(s)"]
        if self.orphans:
            total = sum(o.total for o in self.orphans)
            lines.append(f"  ORPHANS: {total} record(s) can never be timed by any sweep:")
            lines.extend("    " + o.describe() for o in self.orphans)
        for line in self.lines:
            n = line.planned if self.dry_run else line.done
            held = f", {line.held} held" if line.held else ""
            if line.newly_held:
                held += f", {line.newly_held} held by a hold placed after the plan"
            bound = "" if line.exact else "at least "
            earlier = f" ({line.earlier} by an earlier, interrupted run)" if line.earlier else ""
            whole = partition_text(line.partitions, line.partitions_kept, dry_run=self.dry_run)
            lines.append(
                f"  {line.rule}/{line.record_type} [{line.group}] {line.action}: "
                f"{bound}{n}{held}{earlier}{whole}"
            )
        lines.extend(f"  kept indefinitely: {k.describe()}" for k in self.kept_indefinitely)
        lines.extend(f"  newly held: {n.describe()}" for n in self.newly_held)
        if self.skipped_units:
            lines.append(f"  resumed: {self.skipped_units} unit(s) already done were skipped")
        if not self.exact:
            lines.append(
                "  counts marked 'at least' are lower bounds: the journal does not say what an "
                "earlier, interrupted run changed"
            )
        if self.fulfilled:
            lines.append(f"  commitments fulfilled: {', '.join(self.fulfilled)}")
        if self.still_pending:
            lines.append(
                "  commitments still pending (records held): " + ", ".join(self.still_pending)
            )
        if self.already_finished:
            lines.append(
                "  already finished: this sweep was totalled before; nothing recorded again"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"RetentionReport(now={self.now.isoformat()!r}, dry_run={self.dry_run}, "
            f"lines={len(self.lines)}, total={self.total}, exact={self.exact}, "
            f"fulfilled={len(self.fulfilled)}, still_pending={len(self.still_pending)})"
        )

    def _repr_html_(self) -> str:
        from .._html import html_table, join_html  # noqa: PLC0415
        from ._views import REPORT_COLUMNS, extras_html  # noqa: PLC0415

        verb = "would change" if self.dry_run else "changed"
        head = f"Retention as of {self.now.isoformat()}: {verb} {self.total} record(s)"
        columns = [c.replace("_", " ") for c in REPORT_COLUMNS]
        rows = [tuple(r.values()) for r in self.to_records()]
        notes = []
        if self.skipped_units:
            notes.append(f"resumed: {self.skipped_units} unit(s) already done were skipped")
        if not self.exact:
            notes.append("counts with exact = no are lower bounds (an earlier run was interrupted)")
        notes += [f"commitment fulfilled: {c}" for c in self.fulfilled]
        notes += [f"commitment still pending (records held): {c}" for c in self.still_pending]
        notes += [f"newly held: {n.describe()}" for n in self.newly_held]
        parts = [html_table(head, columns, rows, caption=None if rows else "nothing to do")]
        parts += extras_html(self.orphans, self.kept_indefinitely, notes=tuple(notes))
        return join_html(*parts)

    def to_pandas(self) -> Any:
        """:meth:`to_records` as a ``pandas.DataFrame`` (same columns, even with no rows).

        Raises:
            ConfigurationError: if pandas is not installed (``pip install pandas``).
        """
        from .._html import data_frame  # noqa: PLC0415
        from ._views import REPORT_COLUMNS  # noqa: PLC0415

        return data_frame(REPORT_COLUMNS, self.to_records(), of=type(self).__name__)

    def to_records(self) -> list[dict[str, object]]:
        """One flat row per line, the same columns in every row (for a data frame).

        Columns: ``rule, record_type, action, group, planned, done, held, newly_held, earlier,
        exact, resumed`` (``exact`` false: ``done`` is a lower bound).
        """
        from .._html import records  # noqa: PLC0415
        from ._views import REPORT_COLUMNS  # noqa: PLC0415

        return records(
            REPORT_COLUMNS, ({c: getattr(line, c) for c in REPORT_COLUMNS} for line in self.lines)
        )


def report_line(entry: RetentionEntry, run: EntryRun) -> ReportLine:
    """The report's line for an entry, from what running its units did."""
    return ReportLine(
        entry.rule,
        entry.record_type,
        entry.action,
        entry.group,
        entry.count,
        run.done,
        entry.held,
        run.resumed,
        run.earlier,
        run.exact,
        run.newly_held,
        run.drops.dropped,
        run.drops.kept,
    )


def apply_retention(
    plan: RetentionPlan,
    stores: Stores,
    *,
    secret: bytes,
    audit: AuditLog | None = None,
    dry_run: bool = False,
    policy_version: str | None = None,
) -> RetentionReport:
    """Run a retention plan unit by unit, journalled, and report what each entry did.

    Args:
        plan: the plan (:func:`~privacy_kit.retention.plan_retention`).
        stores: the adapters, per store.
        secret: the key of pseudonymising strategies (``anonymize`` rules).
        audit: where ``retention.step`` and ``retention.applied`` are recorded (counts, never data).
        dry_run: report the planned counts, change nothing.
        policy_version: the version of the policy in force (``None``: not checked).

    Raises:
        PlanError: the plan was made under another policy version or data map (``stores``'),
            or was loaded from JSON without the hold or commitment registry it needs.
    """
    check_applicable(plan, stores.datamap, policy_version)
    if dry_run:
        lines = [
            ReportLine(
                e.rule,
                e.record_type,
                e.action,
                e.group,
                e.count,
                0,
                e.held,
                resumed=False,
                partitions=e.partitions,
            )
            for e in plan.entries
        ]
        dry = RetentionReport(
            plan.now,
            dry_run=True,
            lines=tuple(lines),
            skipped_units=0,
            orphans=plan.orphans,
            kept_indefinitely=plan.kept_indefinitely,
        )
        return log_retention_report(dry, plan.id)
    refuse_lost_recheck(plan, stores)
    runs: list[EntryRun] = []
    recheck = hold_recheck(plan)
    # Account keys read once for the entries that re-check each account in their statements.
    keys_read: list[tuple[Any, list[Any]]] = []
    for index, entry in enumerate(plan.entries):
        shared = keys_read if entry.recheck else None
        run = run_entry(
            plan,
            stores,
            index,
            units(stores, entry, plan.read_batch, keys_read=shared),
            secret=secret,
            recheck=recheck,
        )
        runs.append(run)
        _audit(
            audit,
            "retention.step",
            plan.now,
            step_details(plan, entry, run),
            # A step that changed, kept out and fulfilled nothing is written with the next entry.
            defer=run.done == 0
            and run.newly_held == 0
            and not run.resumed
            and entry.commitment is None,
        )
    report = sweep_report(plan, runs)
    _audit(audit, "retention.applied", plan.now, applied_details(plan, report))
    return log_retention_report(report, plan.id)


def sweep_report(plan: RetentionPlan, runs: list[EntryRun]) -> RetentionReport:
    """The report of a sweep whose entries ran as ``runs`` (one per entry, in plan order);
    each commitment entry is settled: fulfilled when none of its records were held."""
    fulfilled: list[str] = []
    still_pending: list[str] = []
    for entry, run in zip(plan.entries, runs, strict=True):
        settle_commitment(
            plan, entry, run.newly_held, fulfilled=fulfilled, still_pending=still_pending
        )
    return RetentionReport(
        plan.now,
        dry_run=False,
        lines=tuple(report_line(e, r) for e, r in zip(plan.entries, runs, strict=True)),
        skipped_units=sum(r.skipped_units for r in runs),
        orphans=plan.orphans,
        fulfilled=tuple(fulfilled),
        still_pending=tuple(still_pending),
        kept_indefinitely=plan.kept_indefinitely,
        newly_held=tuple(n for r in runs for n in r.newly),
    )
