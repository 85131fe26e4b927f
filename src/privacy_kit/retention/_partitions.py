"""Sweep steps that remove whole partitions: which steps may, what the plan says, what applying did.

Where a step deletes from a table range-partitioned on its trigger time and its adapter declares
:attr:`~privacy_kit.adapters.Capability.PARTITIONS`, the partitions wholly inside the step's
range go whole (dropped or truncated by the adapter) and the rest of the step's records go row by
row. A step may do so only when its selection is the time range, less the records under legal
hold: a delete of records whose own trigger time has passed, with no state condition, no
per-account groups. A partition holding a record under hold stays (the adapter checks each
candidate partition for one, at planning and again under its locks); the others go whole.
Anything else runs row by row, and where the table is partitioned the plan's notes say why. The
plan lists the partitions each step would remove (``entry.partitions``, with their records);
applying surveys them again with the unit's final selection (after the holds are read again), so
a hold placed after planning keeps the partitions it reaches in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import attrs

from .._scope import Stores
from ..adapters import Adapter, Capability, Selection
from ..adapters._partition import Partition, PartitionDrops, PartitionRemover
from ..model._datamap import RecordType
from ._plan_model import RetentionEntry

__all__ = ["drop_whole", "merge_drops", "partition_audit", "partition_text", "survey_entries"]


def _remover(adapter: Adapter) -> PartitionRemover | None:
    if Capability.PARTITIONS not in adapter.capabilities:
        return None
    return cast("PartitionRemover", adapter)


def row_by_row_reason(entry: RetentionEntry) -> str | None:
    """Why ``entry`` cannot remove whole partitions, read from the plan (``None``: it may, if its
    selection and the table allow; the adapter decides that part)."""
    if entry.action != "delete":
        verb = "clears fields of" if entry.action == "minimize" else "anonymises"
        return f"it {verb} the records and keeps them (only deletes remove partitions)"
    if entry.account_selection is not None and entry.source is not None:
        return f"its trigger time is the account's ({entry.source.describe()})"
    if entry.when is not None:
        return f"it covers only the records where {entry.when}"
    if entry.override is not None:
        return "it covers only the accounts of an override group"
    return None


def survey_entries(
    stores: Stores, entries: Iterable[RetentionEntry]
) -> tuple[list[RetentionEntry], list[str]]:
    """``entries`` with the partitions each would remove whole (counted), and the plan's notes on
    the steps of partitioned tables that run row by row (and why)."""
    out: list[RetentionEntry] = []
    notes: list[str] = []
    entries = list(entries)
    partitioned: dict[int, frozenset[str]] = {}  # per adapter: one catalog read for the plan
    for adapter, served in stores.by_adapter(e.record_type for e in entries):
        remover = _remover(adapter)
        if remover is not None:
            partitioned[id(adapter)] = remover.partitioned(served)
    for entry in entries:
        rt = stores.record_type(entry.record_type)
        adapter = stores.adapter_for(rt)
        remover = _remover(adapter)
        if remover is None or rt.name not in partitioned.get(id(adapter), frozenset()):
            out.append(entry)
            continue
        reason = row_by_row_reason(entry)
        survey = remover.partition_survey(rt, entry.selection, count=reason is None)
        if survey is None:  # not partitioned: nothing to say
            out.append(entry)
            continue
        step = f"{entry.rule}/{entry.record_type} [{entry.group}] {entry.action}"
        head = f"{rt.name}: table {survey.table} is partitioned" + (
            f" by {survey.key}" if survey.key else ""
        )
        if reason is None:
            reason = survey.reason
        if reason is None and not survey.whole and not survey.kept:
            reason = "no partition lies wholly inside its range"
        if reason is not None:
            notes.append(f"{head}, but step {step} deletes row by row: {reason}")
            out.append(entry)
            continue
        notes.extend(
            f"{head}: partition {name} lies inside the range of step {step} but its records go "
            f"row by row: {why}"
            for name, why in survey.kept
        )
        out.append(attrs.evolve(entry, partitions=survey.whole))
    return out, notes


def drop_whole(
    adapter: Adapter, entry: RetentionEntry, rt: RecordType, selection: Selection
) -> PartitionDrops:
    """Before a unit's delete: remove the partitions its final ``selection`` covers whole.

    Nothing for a step that cannot (:func:`row_by_row_reason`), one whose plan found no partition
    it covers whole (``entry.partitions``), or an adapter without the capability; the adapter itself refuses any selection that is not a bare time range.
    """
    remover = _remover(adapter)
    if remover is None or not entry.partitions or row_by_row_reason(entry) is not None:
        return PartitionDrops()  # the plan found no partition this step could remove whole
    return remover.drop_partitions(rt, selection)


def merge_drops(drops: Iterable[PartitionDrops]) -> PartitionDrops:
    """The drops of an entry's units as one."""
    dropped: list[Partition] = []
    kept: list[tuple[str, str]] = []
    for d in drops:
        dropped.extend(d.dropped)
        kept.extend(d.kept)
    return PartitionDrops(tuple(dropped), tuple(kept))


def partition_audit(drops: PartitionDrops) -> dict[str, Any]:
    """The ``retention.step`` audit details of a step's partitions (none when it removed none and
    kept none, so other stores' entries are unchanged)."""
    out: dict[str, Any] = {}
    if drops.dropped:
        out["partitions"] = [p.to_dict() for p in drops.dropped]
        out["partition_rows"] = drops.rows
    if drops.kept:
        out["partitions_kept"] = [{"name": n, "why": why} for n, why in drops.kept]
    return out


def partition_text(
    partitions: tuple[Partition, ...], kept: tuple[tuple[str, str], ...], *, dry_run: bool
) -> str:
    """The report line's words on its partitions (empty when there are none)."""
    text = ""
    if partitions:
        verb = {"drop": "dropped", "truncate": "truncated"}[partitions[0].how]
        verb = f"would be {verb}" if dry_run else verb
        rows = sum(p.rows for p in partitions)
        names = ", ".join(f"{p.name} ({p.rows})" for p in partitions)
        text += f" ({rows} in {len(partitions)} whole partition(s) {verb}: {names})"
    for name, why in kept:
        text += f" (partition {name} went row by row: {why})"
    return text
