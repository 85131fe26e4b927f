"""One sweep, many workers: a retention plan cut into shards, applied one by one, then totalled.

:func:`plan_shards` cuts each entry of a plan into :class:`~privacy_kit.retention.Shard` values
(ranges of the table's blocks where the adapter can read them by range:
:func:`~privacy_kit.adapters.block_bounds`; otherwise trigger-time ranges, bounds from the
adapter: :func:`~privacy_kit.adapters.time_bounds`) and
records them in the plan's journal, where the first record of an entry wins: asked again, in any
process sharing the journal, it returns the same shards. :func:`apply_shard` runs one shard's
units through the same code as a whole-plan apply (:func:`~._apply_units.run_entry`: holds read
again, journal with counts, interrupted units counted) under journal keys of its own, and records
its :class:`~privacy_kit.retention.ShardReport`; a finished shard applied again changes nothing.
:func:`finish_sweep` reads every shard's report from the journal, refuses while one is missing,
and builds the :class:`~privacy_kit.RetentionReport` a whole-plan apply would (commitments
fulfilled there, and only there); the journal keeps the first finish, so a second one (a
redelivered task) returns the same report and records nothing.

**Order.** Some entries must run before others: records that read their trigger time from an
account before the entries that change the accounts, the records a store's foreign key points
from before the records it points to, a rule's entry before a commitment's on the same record
type. A shard records those entries (``after``); applying it first finishes their shards, in this
process, if no worker has yet. So shards may be applied in any order, by any worker, twice, and
the end state is a whole-plan apply's.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from .._errors import ConfigurationError, PlanError
from .._scope import Stores
from ..adapters import (
    And,
    In,
    Not,
    Selection,
    block_bounds,
    reported_foreign_keys,
    time_bounds,
)
from ..audit._log import AuditLog
from ._apply import RetentionReport, sweep_report
from ._apply_units import (
    EntryRun,
    applied_details,
    hold_recheck,
    refuse_lost_recheck,
    run_entry,
    step_details,
)
from ._holds_recheck import HoldRecheck
from ._observe import log_retention_report, log_retention_shard, log_retention_shards
from ._plan import RetentionEntry, RetentionPlan, units
from ._plan_json import check_applicable
from ._shards import Shard, ShardReport

__all__ = ["ROWS_PER_SHARD", "apply_shard", "finish_sweep", "plan_shards", "shard_units"]

ROWS_PER_SHARD = 100_000
"""Records per shard :func:`plan_shards` aims at by default."""


def plan_shards(
    plan: RetentionPlan,
    stores: Stores,
    *,
    rows_per_shard: int = ROWS_PER_SHARD,
    audit: AuditLog | None = None,
) -> tuple[Shard, ...]:
    """Every entry's shards, in plan order (see :meth:`privacy_kit.Engine.shards`).

    An entry of ``n`` records is cut into about ``n / rows_per_shard`` shards (at least one, so
    an entry with nothing to do is looked at too). The shards are recorded in the plan's journal;
    an entry already recorded there keeps its shards, so every process gets the same ones.

    Raises:
        ConfigurationError: ``rows_per_shard`` below 1.
        PlanError: the plan's shards were made with another ``rows_per_shard``, or the journal
            holds something that is not a record of shards.
    """
    if isinstance(rows_per_shard, bool) or rows_per_shard < 1:
        raise ConfigurationError(f"rows_per_shard must be at least 1, got {rows_per_shard!r}")
    after = _prerequisites(plan, stores)
    out: list[Shard] = []
    made: list[int] = []
    for index, entry in enumerate(plan.entries):
        known = plan.journal.shards_of(plan.id, index)
        if known is None:
            cut = _cut(plan, stores, entry, rows_per_shard, after[index])
            known = plan.journal.register_shards(plan.id, index, cut)
            made.append(index)
        shards = registered_shards(plan, index, known)
        if known.get("rows_per_shard") != rows_per_shard:
            raise PlanError(
                f"plan {plan.id}: its shards were made with rows_per_shard="
                f"{known.get('rows_per_shard')!r}, not {rows_per_shard}; ask for those, or plan "
                "the sweep again"
            )
        out.extend(shards)
    if audit is not None:
        audit.record(
            "retention.sharded",
            now=plan.now,
            details={
                "plan": plan.id,
                "rows_per_shard": rows_per_shard,
                "shards": len(out),
                "made_now": made,
                "entries": [
                    {
                        "entry": s.entry,
                        "of": s.of,
                        "field": s.field,
                        "on_account": s.on_account,
                        "by_blocks": s.blocks is not None,
                        "bounds_by": s.bounds_by,
                        "note": s.note,
                    }
                    for s in out
                    if s.index == 0
                ],
            },
        )
    return log_retention_shards(tuple(out), plan.id)


def _cut(
    plan: RetentionPlan,
    stores: Stores,
    entry: RetentionEntry,
    rows_per_shard: int,
    after: tuple[int, ...],
) -> dict[str, Any]:
    """How an entry is cut (what the journal records): its field, bounds and how they were found."""
    cut: dict[str, Any] = {
        "rows_per_shard": rows_per_shard,
        "field": None,
        "on_account": False,
        "bounds": [],
        "by": "single",
        "note": None,
        "after": list(after),
    }
    pieces = max(1, math.ceil(entry.count / rows_per_shard))
    source = entry.source
    if pieces == 1:
        return cut
    # The table's own blocks when the store can range over them: each shard then reads only
    # its part of the table, whatever the indexes (see privacy_kit.adapters._blocks). An entry
    # triggered by the account runs every batch of accounts in each range.
    own = stores.record_type(entry.record_type)
    blocks = block_bounds(stores.adapter_for(own), own, pieces)
    if blocks:
        cut.update(blocks=list(blocks), by="store")
        return cut
    if source is None:
        return cut
    on_account = source.account is not None
    if on_account:
        rt = stores.record_type(source.account or "")
        selection = entry.account_selection
        assert selection is not None  # a rule's entry triggered by the account
        if entry.excluded_accounts:  # another group's accounts: not this entry's to balance
            left_out = In(rt.primary_key, tuple(entry.excluded_accounts))
            selection = And((selection, Not(left_out)))
    else:
        rt, selection = stores.record_type(entry.record_type), entry.selection
    found = time_bounds(
        stores.adapter_for(rt), rt, selection, source.field, pieces, batch_size=plan.read_batch
    )
    cut.update(by=found.by, note=found.note)
    if found.bounds:
        cut.update(
            field=source.field,
            on_account=on_account,
            bounds=[b.isoformat() for b in found.bounds],
        )
    return cut


def registered_shards(plan: RetentionPlan, index: int, known: dict[str, Any]) -> list[Shard]:
    """The shards of entry ``index`` as the journal records them (see :func:`plan_shards`).

    Raises:
        PlanError: the record is not one :func:`plan_shards` wrote.
    """
    try:
        bounds = [dt.datetime.fromisoformat(b) for b in known["bounds"]]
        common: dict[str, Any] = {
            "plan": plan.id,
            "entry": index,
            "bounds_by": known["by"],
            "after": tuple(int(a) for a in known["after"]),
            "note": known["note"],
        }
        blocks = [int(b) for b in known.get("blocks") or ()]  # absent before block ranges
        if blocks:
            ends: list[int | None] = [*blocks, None]
            return [
                Shard(
                    index=i,
                    of=len(ends),
                    field=None,
                    on_account=False,
                    lower=None,
                    upper=None,
                    nulls=False,
                    blocks=(blocks[i - 1] if i else 0, end),
                    **common,
                )
                for i, end in enumerate(ends)
            ]
        if known["field"] is None or not bounds:
            whole: dict[str, Any] = {"field": None, "on_account": False, "lower": None}
            return [Shard(index=0, of=1, upper=None, nulls=False, **whole, **common)]
        of = len(bounds) + 1
        return [
            Shard(
                index=i,
                of=of,
                field=str(known["field"]),
                on_account=bool(known["on_account"]),
                lower=bounds[i - 1] if i else None,
                upper=bounds[i] if i < of - 1 else None,
                nulls=i == 0,
                **common,
            )
            for i in range(of)
        ]
    except (KeyError, TypeError, ValueError, PlanError) as exc:
        raise PlanError(
            f"plan {plan.id}: the journal's record of entry {index}'s shards cannot be read "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _prerequisites(plan: RetentionPlan, stores: Stores) -> list[tuple[int, ...]]:
    """Per entry, the earlier entries that must be finished before it runs (see the module)."""
    refers: set[tuple[str, str]] = set()
    for adapter, record_types in stores.by_adapter(e.record_type for e in plan.entries):
        found = reported_foreign_keys(adapter, record_types) or ()
        refers.update((k.record_type, k.references) for k in found)
    out: list[tuple[int, ...]] = []
    for y_index, y in enumerate(plan.entries):
        needs = []
        for x_index, x in enumerate(plan.entries[:y_index]):
            reads = x.source is not None and x.source.account == y.record_type
            same = x.record_type == y.record_type
            overlaps = same and (x.commitment is not None or y.commitment is not None)
            points = not same and y.action == "delete" and (x.record_type, y.record_type) in refers
            if reads or overlaps or points:
                needs.append(x_index)
        out.append(tuple(needs))
    return out


def shard_units(
    stores: Stores, entry: RetentionEntry, shard: Shard, batch_size: int | None
) -> Iterator[tuple[int, Selection]]:
    """The concrete selections of one shard of ``entry`` (see
    :func:`~privacy_kit.retention.units`): the entry's units narrowed to the shard's range, on
    the records' own field, or on the account's (then the account batches, and the re-check of
    each statement, are of the accounts in the range)."""
    selection = shard.range_selection()
    if selection is None:
        yield from units(stores, entry, batch_size)
    elif shard.on_account:
        assert entry.account_selection is not None  # checked against the entry's cut
        narrowed = attrs.evolve(entry, account_selection=And((entry.account_selection, selection)))
        yield from units(stores, narrowed, batch_size)
    else:
        for unit, planned in units(stores, entry, batch_size):
            yield unit, And((selection, planned))


def _registered(
    plan: RetentionPlan, shard: Shard, read: dict[int, list[Shard]] | None = None
) -> Shard:
    """``shard`` if it is one of the plan's recorded shards; otherwise why not (``read``: the
    entries' recorded shards already read, filled as they are)."""
    if shard.plan != plan.id:
        raise PlanError(f"{shard.describe()}: it is a shard of another plan, not of {plan.id}")
    if shard.entry >= len(plan.entries):
        raise PlanError(
            f"{shard.describe()}: entry {shard.entry} out of range (the plan has "
            f"{len(plan.entries)} entries)"
        )
    read = {} if read is None else read
    if shard.entry not in read:
        known = plan.journal.shards_of(plan.id, shard.entry)
        if known is None:
            raise PlanError(
                f"{shard.describe()}: the plan's journal records no shards of entry "
                f"{shard.entry}; make them with Engine.shards on a plan sharing this journal (an "
                "engine with a state store shares it with every process)"
            )
        read[shard.entry] = registered_shards(plan, shard.entry, known)
    recorded = read[shard.entry]
    if shard.index >= len(recorded) or recorded[shard.index] != shard:
        raise PlanError(
            f"{shard.describe()}: not one of the plan's shards of entry {shard.entry} (its "
            f"journal records {len(recorded)}: {recorded[0].describe()}, ...)"
        )
    return shard


@attrs.define
class _Sweep:
    """Applying shards of one plan: the values every shard of a call shares."""

    plan: RetentionPlan
    stores: Stores
    secret: bytes
    audit: AuditLog | None
    recheck: HoldRecheck | None = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.recheck = hold_recheck(self.plan)

    def shards_of(self, index: int) -> list[Shard]:
        known = self.plan.journal.shards_of(self.plan.id, index)
        if known is None:
            raise PlanError(
                f"plan {self.plan.id}: entry {index} must be finished first, and the journal "
                "records no shards of it; make the plan's shards again (Engine.shards)"
            )
        return registered_shards(self.plan, index, known)

    def run(self, shard: Shard, *, first_for: Shard | None = None) -> ShardReport:
        plan = self.plan
        found = plan.journal.shard_report(plan.id, shard.entry, shard.key)
        if found is not None:
            done = attrs.evolve(ShardReport.from_dict(found, "journal"), resumed=True)
            if first_for is None:
                self._audit(shard, done, again=True)
            return log_retention_shard(done, shard, again=True)
        for index in shard.after:
            for other in self.shards_of(index):
                self.run(other, first_for=shard if first_for is None else first_for)
        entry = plan.entries[shard.entry]
        run = run_entry(
            plan,
            self.stores,
            shard.entry,
            shard_units(self.stores, entry, shard, plan.read_batch),
            secret=self.secret,
            recheck=self.recheck,
            shard=shard.key,
        )
        report = ShardReport(
            plan.id,
            shard.entry,
            shard.index,
            done=run.done,
            resumed=run.resumed,
            exact=run.exact,
            newly_held=run.newly_held,
            of=shard.of,
            earlier=run.earlier,
            skipped_units=run.skipped_units,
            kept_out=run.newly,
        )
        plan.journal.finish_shard(plan.id, shard.entry, shard.key, report.to_dict())
        self._audit(shard, report, run=run, first_for=first_for)
        return log_retention_shard(report, shard, first_for=first_for)

    def _audit(
        self,
        shard: Shard,
        report: ShardReport,
        *,
        run: EntryRun | None = None,
        first_for: Shard | None = None,
        again: bool = False,
    ) -> None:
        if self.audit is None:
            return
        plan = self.plan
        entry = plan.entries[shard.entry]
        ran = run or EntryRun(
            report.done,
            report.earlier,
            report.exact,
            report.resumed,
            report.skipped_units,
            report.kept_out,
        )
        details = {
            **step_details(plan, entry, ran),
            "entry": shard.entry,
            "shard": shard.key,
            "field": shard.field,
            "on_account": shard.on_account,
            "lower": None if shard.lower is None else shard.lower.isoformat(),
            "upper": None if shard.upper is None else shard.upper.isoformat(),
            "nulls": shard.nulls,
            "blocks": None if shard.blocks is None else list(shard.blocks),
            "bounds_by": shard.bounds_by,
            "already_finished": again,
            "run_first_for": None if first_for is None else f"{first_for.entry}:{first_for.key}",
        }
        self.audit.record("retention.shard", now=plan.now, details=details)


def apply_shard(
    plan: RetentionPlan,
    shard: Shard,
    stores: Stores,
    *,
    secret: bytes,
    audit: AuditLog | None = None,
    policy_version: str | None = None,
) -> ShardReport:
    """Apply one shard of ``plan`` (see :meth:`privacy_kit.Engine.apply_shard`).

    The entries the shard's must follow (``shard.after``) are finished first, shard by shard, if
    they are not yet. A finished shard is not run again: its report is read from the journal,
    with ``resumed=True``.

    Raises:
        PlanError: the plan cannot be applied here (another policy version or data map, a loaded
            plan without its registries, a re-check the stores cannot make), or the shard is
            not one of the plan's recorded shards (another plan's, an entry or index out of
            range, other bounds).
    """
    check_applicable(plan, stores.datamap, policy_version)
    _registered(plan, shard)
    refuse_lost_recheck(plan, stores)
    return _Sweep(plan, stores, secret, audit).run(shard)


def finish_sweep(
    plan: RetentionPlan,
    shards: Sequence[Shard],
    stores: Stores,
    *,
    audit: AuditLog | None = None,
    policy_version: str | None = None,
) -> RetentionReport:
    """Total a sweep applied shard by shard (see :meth:`privacy_kit.Engine.finish_sweep`);
    called again, the same report with ``already_finished`` and nothing recorded.

    Raises:
        PlanError: a shard is not one of the plan's, the shards do not cover every entry, or
            some are not finished (the error names them; nothing is recorded then).
    """
    check_applicable(plan, stores.datamap, policy_version)
    read: dict[int, list[Shard]] = {}
    given = {(s.entry, s.index): _registered(plan, s, read) for s in shards}
    missing: list[Shard] = []
    unfinished: list[Shard] = []
    runs: list[EntryRun] = []
    for index in range(len(plan.entries)):
        if index not in read:
            known = plan.journal.shards_of(plan.id, index)
            if known is None:
                raise PlanError(
                    f"plan {plan.id}: entry {index} has no shards in the journal: make them with "
                    "Engine.shards and apply them before finishing"
                )
            read[index] = registered_shards(plan, index, known)
        reports = []
        for shard in read[index]:
            if (index, shard.index) not in given:
                missing.append(shard)
            found = plan.journal.shard_report(plan.id, index, shard.key)
            if found is None:
                unfinished.append(shard)
            else:
                reports.append(ShardReport.from_dict(found, "journal"))
        runs.append(
            EntryRun(
                sum(r.done for r in reports),
                sum(r.earlier for r in reports),
                all(r.exact for r in reports),
                any(r.resumed for r in reports),
                sum(r.skipped_units for r in reports),
                tuple(n for r in reports for n in r.kept_out),
            )
        )
    if missing:
        raise PlanError(
            f"plan {plan.id}: the shards given leave out {len(missing)} of the plan's: "
            + _listed(missing)
        )
    if unfinished:
        raise PlanError(
            f"cannot finish the sweep of plan {plan.id}: {len(unfinished)} shard(s) not "
            "finished: " + _listed(unfinished)
        )
    report = sweep_report(plan, runs)  # the same every time: the journal's reports, and
    # fulfilling a commitment fulfilled before changes nothing
    journal = plan.journal
    token = uuid.uuid4().hex
    known = journal.sweep_finished(plan.id) or journal.finish_sweep(
        plan.id, {"token": token, "total": report.total, "shards": len(given)}
    )
    first = known.get("token") == token
    if audit is not None and (first or not journal.sweep_audited(plan.id)):
        # Recorded once: by the first finish; or, if that one stopped before its audit entry
        # (a worker killed between the two), by the next.
        extra: dict[str, Any] = {"shards": len(given)}
        if not first:
            extra["completed_by_a_later_finish"] = True
        audit.record(
            "retention.applied", now=plan.now, details=applied_details(plan, report, extra)
        )
        journal.mark_sweep_audited(plan.id)
    if not first:
        report = attrs.evolve(report, already_finished=True)
    return log_retention_report(report, plan.id)


def _listed(shards: list[Shard], most: int = 10) -> str:
    text = "; ".join(s.describe() for s in shards[:most])
    return text + (f"; and {len(shards) - most} more" if len(shards) > most else "")
