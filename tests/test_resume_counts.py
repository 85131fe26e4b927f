"""Counts after resume: an erasure or a sweep interrupted half-way through a batched write, then
resumed, reports (and audits) every record changed, not only what the resumed run changed."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import All, In, InMemoryAdapter, Selection, SQLiteAdapter
from privacy_kit.audit._journal import FileJournal, MemoryJournal
from privacy_kit.retention import RetentionJournal
from test_export import ANN, HANA, NOW, example_rows, make_engine, policy_and_datamap
from test_retention import DATAMAP, POLICY, booking, settings_, tables
from test_retention import NOW as SWEEP_NOW

BATCH = 10


class _FailsAfter:
    """Writes in real batches (each applied, as a committed batch would be), then fails.

    ``fail_after`` batches are written, then the next write raises; ``None``: never fails.
    """

    fail_after: int | None = None

    def _batch_written(self) -> None:
        if self.fail_after is not None:
            if self.fail_after == 0:
                self.fail_after = None
                raise pk.AdapterError("injected failure half-way", adapter="failing")
            self.fail_after -= 1

    def _batches(self, rt: pk.RecordType, selection: Selection, size: int) -> list[list[Any]]:
        pk_ = rt.primary_key
        read = super().iter_records(rt, selection, fields=[pk_], batch_size=size)  # type: ignore[misc]
        return [[r[pk_] for r in batch] for batch in read]

    def delete(
        self, record_type: pk.RecordType, selection: Selection, *, batch_size: int = 1000
    ) -> int:
        total = 0
        for keys in self._batches(record_type, selection, batch_size):
            self._batch_written()
            total += super().delete(record_type, In(record_type.primary_key, tuple(keys)))  # type: ignore[misc]
        return total

    def update(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        total = 0
        for keys in self._batches(record_type, selection, batch_size):
            self._batch_written()
            sel = In(record_type.primary_key, tuple(keys))
            total += super().update(record_type, sel, values)  # type: ignore[misc]
        return total

    def update_by_key(
        self, record_type: pk.RecordType, changes: Sequence[Any], *, batch_size: int = 1000
    ) -> int:
        self._batch_written()
        return int(super().update_by_key(record_type, changes, batch_size=batch_size))  # type: ignore[misc]


class FailingMemory(_FailsAfter, InMemoryAdapter):
    pass


class FailingSQLite(_FailsAfter, SQLiteAdapter):
    pass


def _adapter(kind: str, rows: Mapping[str, list[dict[str, Any]]], datamap: pk.DataMap) -> Any:
    if kind == "memory":
        return FailingMemory(
            {
                rt.table_name: copy.deepcopy(rows.get(rt.table_name, []))
                for rt in datamap.record_types
            }
        )
    db = FailingSQLite(":memory:")
    db.create_schema(datamap)
    for name, items in rows.items():
        db.insert(datamap.record_type(name), items)
    return db


def _rows(adapter: Any, datamap: pk.DataMap) -> dict[str, dict[Any, dict[str, Any]]]:
    return {
        rt.name: {r[rt.primary_key]: r for batch in adapter.iter_records(rt, All()) for r in batch}
        for rt in datamap.record_types
    }


def _changed(
    before: dict[str, dict[Any, Any]], after: dict[str, dict[Any, Any]], name: str
) -> tuple[int, int]:
    """(records deleted, records updated) of ``name`` between two snapshots."""
    gone = len(set(before[name]) - set(after[name]))
    updated = sum(1 for k, r in after[name].items() if before[name].get(k) != r)
    return gone, updated


# -- erasure -------------------------------------------------------------------------------------


def _erasure_rows() -> dict[str, list[dict[str, Any]]]:
    rows = example_rows()
    template = rows["bookings"][0]
    # Hana's bookings with other invitees (deleted with Hana), Ann's with Omar (anonymised).
    extra = [
        {**template, "id": 1000 + i, "host_id": 1, "invitee_email": f"x{i}@example.org"}
        for i in range(45)
    ] + [
        {**template, "id": 2000 + i, "host_id": 2, "invitee_email": "ann@example.com"}
        for i in range(35)
    ]
    rows["bookings"] = rows["bookings"] + extra
    return rows


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("fail_after", [1, 2, 4])
def test_an_erasure_resumed_after_a_half_done_delete_counts_every_deleted_record(
    kind: str, fail_after: int
) -> None:
    _, datamap = policy_and_datamap()
    adapter = _adapter(kind, _erasure_rows(), datamap)
    engine = make_engine(adapter)
    before = _rows(adapter, datamap)
    plan = engine.plan_erasure(HANA, now=NOW, waive=["legal_obligation"], batch_size=BATCH)
    assert plan.steps[0].id == "bookings:host:delete"
    journal = MemoryJournal()
    adapter.fail_after = fail_after
    with pytest.raises(pk.AdapterError, match="injected"):
        engine.apply(plan, journal=journal)
    report = engine.apply(plan, journal=journal)
    after = _rows(adapter, datamap)
    for name in ("bookings", "users", "sessions"):
        gone, _ = _changed(before, after, name)
        assert report.deleted[name] == gone, name
    assert report.deleted["bookings"] == 47
    applied = [e for e in engine.audit.entries() if e.action == "erasure.applied"][-1]
    assert applied.details["deleted"] == report.deleted
    assert applied.details["counts_exact"] is True
    recount = applied.details["recounted_steps"]["bookings:host:delete"]
    assert recount["earlier_attempts"] == fail_after * BATCH
    assert recount["total"] == 47
    assert any("bookings:host:delete was resumed" in n for n in report.notes)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("fail_after", [1, 3])
def test_an_erasure_resumed_after_a_half_done_anonymisation_counts_every_record(
    kind: str, fail_after: int
) -> None:
    # The fields are anonymised by key, batch by batch (4 batches of 10 for 37 records): the
    # failure comes once some records are anonymised, and those are not counted again.
    _, datamap = policy_and_datamap()
    adapter = _adapter(kind, _erasure_rows(), datamap)
    engine = make_engine(adapter)
    before = _rows(adapter, datamap)
    plan = engine.plan_erasure(ANN, now=NOW, batch_size=BATCH)
    assert [s.id for s in plan.steps] == ["bookings:invitee:anonymize"]
    journal = MemoryJournal()
    adapter.fail_after = fail_after
    with pytest.raises(pk.AdapterError, match="injected"):
        engine.apply(plan, journal=journal)
    report = engine.apply(plan, journal=journal)
    _, updated = _changed(before, _rows(adapter, datamap), "bookings")
    assert updated == 37
    assert report.anonymised["bookings"] == updated
    applied = [e for e in engine.audit.entries() if e.action == "erasure.applied"][-1]
    assert applied.details["anonymised"] == {"bookings": updated}
    assert applied.details["counts_exact"] is True


def test_an_erasure_journal_without_counts_resumes_and_says_its_count_is_a_lower_bound(
    tmp_path: Path,
) -> None:
    _, datamap = policy_and_datamap()
    adapter = _adapter("memory", _erasure_rows(), datamap)
    engine = make_engine(adapter)
    plan = engine.plan_erasure(HANA, now=NOW, waive=["legal_obligation"], batch_size=BATCH)
    # A journal written before counts were kept: the step started, nothing says how many matched.
    path = tmp_path / "old.jsonl"
    path.write_text(
        f'{{"plan": "{plan.plan_id}", "step": "bookings:host:delete", "event": "started"}}\n'
    )
    adapter.delete(datamap.record_type("bookings"), In("id", tuple(range(1000, 1020))))
    report = engine.apply(plan, journal=FileJournal(path))
    assert report.deleted["bookings"] == 27  # what this run deleted: all it can vouch for
    assert any("AT LEAST 27" in n for n in report.notes)
    applied = [e for e in engine.audit.entries() if e.action == "erasure.applied"][-1]
    assert applied.details["counts_exact"] is False
    assert applied.details["recounted_steps"]["bookings:host:delete"]["exact"] is False


def test_the_journal_keeps_the_first_started_count_and_loads_old_entries() -> None:
    j = MemoryJournal()
    j.append({"plan": "p", "step": "a", "event": "started"})
    j.started("p", "b", count=5)
    j.started("p", "b", count=2)
    assert j.started_count("p", "a") is None
    assert j.started_count("p", "b") == 5
    assert j.interrupted_steps("p") == ["a", "b"]


# -- retention -----------------------------------------------------------------------------------


def _retention_rows() -> dict[str, list[dict[str, Any]]]:
    rows = tables()
    # User 1 closed long ago: these are deleted with the account's data.
    rows["bookings"] += [
        booking(100 + i, 1, dt.datetime(2018, 5, 1, tzinfo=dt.UTC)) for i in range(43)
    ]
    # Accounts closed recently: minimised (their non-kept fields cleared).
    from test_retention import user

    rows["users"] += [
        user(50 + i, closed=dt.datetime(2025, 6, 1, tzinfo=dt.UTC)) for i in range(36)
    ]
    return rows


def _sweep(kind: str, fail_after: int | None, tmp_path: Path) -> tuple[Any, Any, Any, Any]:
    adapter = _adapter(kind, _retention_rows(), DATAMAP)
    engine = pk.Engine(POLICY, DATAMAP, adapter, secret=b"s" * 32)
    before = _rows(adapter, DATAMAP)
    journal = tmp_path / "journal.jsonl"
    plan = engine.plan_retention(
        now=SWEEP_NOW, settings=settings_(), batch_size=BATCH, journal=journal
    )
    adapter.fail_after = fail_after
    with pytest.raises(pk.AdapterError, match="injected"):
        engine.apply(plan)
    again = engine.plan_retention(
        now=SWEEP_NOW, settings=settings_(), batch_size=BATCH, journal=journal, resume=plan.id
    )
    assert again.id == plan.id
    report = engine.apply(again)
    return engine, report, before, _rows(adapter, DATAMAP)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("fail_after", [1, 3, 6, 9])
def test_a_sweep_resumed_after_a_half_done_unit_counts_every_changed_record(
    kind: str, fail_after: int, tmp_path: Path
) -> None:
    engine, report, before, after = _sweep(kind, fail_after, tmp_path)
    changed = 0
    for name in before:
        gone, updated = _changed(before, after, name)
        changed += gone + updated
        by_type = sum(line.done for line in report.lines if line.record_type == name)
        assert by_type == gone + updated, name
    assert report.total == changed
    assert report.exact
    assert any(line.resumed for line in report.lines)
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"][-1]
    assert applied.details["total"] == changed
    assert applied.details["exact"] is True
    steps = [e.details for e in engine.audit.entries() if e.action == "retention.step"]
    assert sum(s["count"] for s in steps[-len(report.lines) :]) == changed


def test_a_retention_journal_without_counts_loads_and_the_report_says_at_least(
    tmp_path: Path,
) -> None:
    adapter = _adapter("memory", _retention_rows(), DATAMAP)
    engine = pk.Engine(POLICY, DATAMAP, adapter, secret=b"s" * 32)
    path = tmp_path / "old.jsonl"
    plan = engine.plan_retention(
        now=SWEEP_NOW, settings=settings_(), batch_size=BATCH, journal=path
    )
    path.write_text(f'["{plan.id}", 0, 0]\n')  # an old line: unit finished, no count
    again = engine.plan_retention(
        now=SWEEP_NOW, settings=settings_(), batch_size=BATCH, journal=path, resume=plan.id
    )
    report = engine.apply(again)
    assert report.skipped_units == 1
    assert not report.exact
    assert not report.lines[0].exact
    assert "at least" in str(report)
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"][-1]
    assert applied.details["exact"] is False


def test_the_retention_journal_records_counts_in_files_and_state_stores(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('["p", 0, 0]\n')
    j = RetentionJournal(path)
    j.start("p", 1, 2, 30)
    j.start("p", 1, 2, 10)
    j.mark("p", 1, 2, count=30)
    again = RetentionJournal(path)
    assert again.done("p", 0, 0)
    assert again.done_count("p", 0, 0) is None
    assert again.started_count("p", 1, 2) == 30
    assert again.done_count("p", 1, 2) == 30
    store = pk.audit.MemoryStateStore()
    RetentionJournal(state=store).start("q", 0, 0, 7)
    RetentionJournal(state=store).mark("q", 0, 0, count=7)
    other = RetentionJournal(state=store)
    assert other.started("q", 0, 0)
    assert other.started_count("q", 0, 0) == 7
    assert other.done_count("q", 0, 0) == 7


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_finished_sweep_applied_again_reports_what_its_units_did(
    kind: str, tmp_path: Path
) -> None:
    # Applying again reads the accounts again: those the first run deleted are gone, so their
    # batches (units) are not read again; the journal still says what they changed.
    adapter = _adapter(kind, _retention_rows(), DATAMAP)
    engine = pk.Engine(POLICY, DATAMAP, adapter, secret=b"s" * 32)
    plan = engine.plan_retention(now=SWEEP_NOW, settings=settings_(), batch_size=BATCH)
    first = engine.apply(plan)
    by_account = [
        i
        for i, (entry, line) in enumerate(zip(plan.entries, first.lines, strict=True))
        if entry.account_selection is not None and line.done
    ]
    assert by_account, "an entry whose trigger is the account's changed records"
    after = _rows(adapter, DATAMAP)
    finished = len(plan.journal)
    again = engine.apply(plan)
    assert _rows(adapter, DATAMAP) == after  # nothing changed
    assert again.total == first.total
    assert [ln.done for ln in again.lines] == [ln.done for ln in first.lines]
    assert all(again.lines[i].resumed and again.lines[i].earlier for i in by_account)
    assert again.exact
    # every unit of the first run is skipped; batches of the accounts left, which shifted
    # since (their units are named by their keys), run again and change nothing
    assert again.skipped_units == finished
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"]
    assert applied[-1].details["total"] == applied[0].details["total"] == first.total
