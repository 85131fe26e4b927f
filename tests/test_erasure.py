"""Erasure: plans per the policy's exceptions, apply through adapters, journal, audit, report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import where
from privacy_kit.audit._journal import FileJournal, MemoryJournal
from privacy_kit.retention._anonymize import pseudonym
from privacy_kit.rights._erasure import ErasureAction, KeepReason
from test_export import (
    ANN,
    HANA,
    NOW,
    OMAR,
    SECRET,
    adapter_kind,
    make_adapter,
    make_engine,
    policy_and_datamap,
    snapshot,
)

__all__ = ["adapter_kind"]  # the shared fixture, imported for pytest


def _unchanged_except(
    before: dict[str, dict[Any, dict[str, Any]]],
    after: dict[str, dict[Any, dict[str, Any]]],
    touched: dict[str, set[Any]],
) -> None:
    for table, rows in before.items():
        for key, row in rows.items():
            if key in touched.get(table, set()):
                continue
            assert after[table].get(key) == row, (table, key)


def test_erasing_an_invitee_anonymises_their_fields_and_keeps_the_hosts_bookings(
    adapter_kind: str,
) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    before = snapshot(engine)
    plan = engine.plan_erasure(ANN, now=NOW)

    assert plan.deleted == {}
    assert plan.anonymised == {"bookings": 2}
    (step,) = plan.steps
    assert step.action is ErasureAction.ANONYMIZE
    assert [(f.field, f.kind.value) for f in step.fields] == [
        ("invitee_email", "pseudonym"),
        ("invitee_name", "fixed"),
        ("invitee_phone", "mask"),
        ("invitee_notes", "null"),
    ]
    (kept,) = plan.kept
    assert kept.reason is KeepReason.OTHER_PARTY
    assert kept.count == 2
    assert kept.until is None
    assert "host" in kept.explanation
    text = str(plan)
    assert "ANONYMISE  bookings (invitee)" in text
    assert "invitee_phone -> mask (keep last 2)" in text
    assert "KEEP       bookings (invitee)" in text

    report = engine.apply(plan)
    assert report.anonymised == {"bookings": 2}
    assert report.deleted == {}
    assert [k.reason for k in report.kept] == [KeepReason.OTHER_PARTY]
    after = snapshot(engine)
    b100, b101 = after["bookings"][100], after["bookings"][101]
    assert b100["invitee_email"] == pseudonym("ann@example.com", SECRET)
    assert b100["invitee_email"] == b101["invitee_email"]  # stable pseudonym
    assert b100["invitee_name"] == "Former invitee"
    assert b100["invitee_phone"] == "*************23"
    assert b101["invitee_phone"] is None
    assert b100["invitee_notes"] is None
    # the host's fields and the shared ones are kept
    for key in (100, 101):
        for field in ("host_id", "host_notes", "meeting_url", "start_at", "end_at", "service_id"):
            assert after["bookings"][key][field] == before["bookings"][key][field]
    _unchanged_except(before, after, {"bookings": {100, 101}})
    # nothing links to Ann any more
    assert (
        engine.adapter_for("bookings").count(
            engine.datamap.record_type("bookings"), where.eq("invitee_email", "ann@example.com")
        )
        == 0
    )


def test_erasing_a_host_deletes_or_keeps_exactly_what_the_policy_says(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    before = snapshot(engine)
    plan = engine.plan_erasure(HANA, now=NOW)

    assert plan.deleted == {
        "bookings": 2,
        "support_tickets": 1,
        "payment_methods": 1,
        "sessions": 1,
        "usage_events": 1,
    }
    assert plan.anonymised == {"users": 1}
    users_step = next(s for s in plan.steps if s.record_type == "users")
    assert [f.field for f in users_step.fields] == [
        "time_zone",
        "language",
        "is_admin",
        "last_seen_at",
    ]
    assert all(not f.declared and f.kind.value == "null" for f in users_step.fields)
    kept = {(k.record_type, k.reason): k for k in plan.kept}
    legal = kept["users", KeepReason.LEGAL_OBLIGATION]
    assert legal.fields == ("name", "email")
    assert legal.until == dt.datetime(2031, 6, 1, 12, tzinfo=dt.UTC)  # six years from now
    assert legal.citation == "GDPR Art. 17(3)(b)"
    for content in ("companies", "services"):
        item = kept[content, KeepReason.SHARED_CONTENT]
        assert item.count == 1
        assert item.until is None
        assert "collaborators" in item.explanation
    assert len(plan.kept) == 3

    report = engine.apply(plan)
    assert report.deleted == plan.deleted
    assert report.anonymised == {"users": 1}
    assert {(k.record_type, k.reason.value, k.until) for k in report.kept} == {
        ("users", "legal_obligation", dt.datetime(2031, 6, 1, 12, tzinfo=dt.UTC)),
        ("companies", "shared_content", None),
        ("services", "shared_content", None),
    }
    after = snapshot(engine)
    hana = after["users"][1]
    assert (hana["name"], hana["email"]) == ("Hana Haddad", "hana@host.example")
    assert (hana["time_zone"], hana["language"], hana["last_seen_at"]) == (None, None, None)
    assert hana["created_at"] == before["users"][1]["created_at"]  # not personal: untouched
    assert set(after["bookings"]) == {101}  # Hana's two bookings are gone, Omar's stays
    assert set(after["support_tickets"]) == set()
    assert set(after["sessions"]) == {51}
    assert set(after["usage_events"]) == {61}
    assert after["companies"][10] == before["companies"][10]
    _unchanged_except(
        before,
        after,
        {
            "users": {1},
            "bookings": {100, 102},
            "support_tickets": {30},
            "payment_methods": {40},
            "sessions": {50},
            "usage_events": {60},
        },
    )
    lines = str(report)
    assert "legal_obligation until 2031-06-01 (GDPR Art. 17(3)(b))" in lines
    records = report.to_records()
    json.dumps(records)
    assert any(
        r.items() >= {"record_type": "sessions", "outcome": "deleted", "count": 1}.items()
        for r in records
    )


def test_waiving_shared_content_deletes_the_content() -> None:
    engine = make_engine(make_adapter("memory"))
    plan = engine.plan_erasure(HANA, now=NOW, waive=["shared_content"])
    assert plan.deleted["companies"] == 1
    assert plan.deleted["services"] == 1
    assert plan.waived == (pk.ExceptionKind.SHARED_CONTENT,)
    engine.apply(plan)
    assert set(snapshot(engine)["companies"]) == {11}
    with pytest.raises(ValueError, match="not_a_kind"):
        engine.plan_erasure(HANA, now=NOW, waive=["not_a_kind"])


def test_records_under_a_legal_hold_are_kept_untouched() -> None:
    engine = make_engine(make_adapter("memory"))
    engine.place_hold(
        reason="Dispute 12",
        placed_by="legal",
        now=NOW - dt.timedelta(days=1),
        record_type="bookings",
        selection=where.eq("id", 100),
    )
    before = snapshot(engine)
    plan = engine.plan_erasure(HANA, now=NOW)
    assert plan.deleted["bookings"] == 1
    held = [k for k in plan.kept if k.reason is KeepReason.LEGAL_HOLD]
    assert [(k.record_type, k.count, k.until) for k in held] == [("bookings", 1, None)]
    engine.apply(plan)
    assert snapshot(engine)["bookings"][100] == before["bookings"][100]
    assert 102 not in snapshot(engine)["bookings"]

    # an invitee's fields in a held booking are not anonymised either
    ann = engine.plan_erasure(ANN, now=NOW)
    assert ann.anonymised == {"bookings": 1}
    engine.apply(ann)
    after = snapshot(engine)["bookings"]
    assert after[100]["invitee_name"] == "Ann Invitee"
    assert after[101]["invitee_name"] == "Former invitee"


def test_apply_is_idempotent(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind))
    plan = engine.plan_erasure(HANA, now=NOW)
    engine.apply(plan)
    once = snapshot(engine)
    second = engine.apply(plan)  # a fresh in-memory journal: every step runs again
    assert snapshot(engine) == once
    assert second.deleted == dict.fromkeys(plan.deleted, 0)
    # and for the invitee, whose pseudonymised link no longer matches
    ann = engine.plan_erasure(ANN, now=NOW)
    engine.apply(ann)
    twice = snapshot(engine)
    engine.apply(ann)
    assert snapshot(engine) == twice


def test_dry_run_changes_nothing() -> None:
    engine = make_engine(make_adapter("memory"))
    before = snapshot(engine)
    plan = engine.plan_erasure(HANA, now=NOW)
    report = engine.apply(plan, dry_run=True)
    assert report.dry_run
    assert report.deleted == plan.deleted
    assert snapshot(engine) == before
    assert "dry run" in str(report)


def test_file_journal_records_each_step_and_a_rerun_skips_them(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"), journal_dir=tmp_path)
    plan = engine.plan_erasure(HANA, now=NOW)
    first = engine.apply(plan)
    assert first.journal is not None
    path = Path(first.journal)
    assert path.parent == tmp_path
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    events = [(e.get("step"), e["event"]) for e in entries]
    for step in plan.steps:
        assert events.index((step.id, "started")) < events.index((step.id, "done"))
    assert entries[-1] == {"plan": plan.plan_id, "event": "finished"}
    assert "hana" not in path.read_text().lower()  # ids and counts only

    again = engine.apply(plan)
    assert set(again.resumed_steps) == {s.id for s in plan.steps}
    assert again.deleted == first.deleted  # counts come from the journal
    assert again.anonymised == first.anonymised


def test_journal_argument_to_apply() -> None:
    engine = make_engine(make_adapter("memory"))
    plan = engine.plan_erasure(ANN, now=NOW)
    journal = MemoryJournal()
    engine.apply(plan, journal=journal)
    assert journal.completed_steps(plan.plan_id) == {"bookings:invitee:anonymize": 2}
    assert journal.is_finished(plan.plan_id)
    retention = engine.plan_retention(now=NOW)
    with pytest.raises(pk.ConfigurationError, match="keeps its own journal"):
        engine.apply(retention, journal=journal)


def test_plan_for_another_policy_version_is_refused() -> None:
    engine = make_engine(make_adapter("memory"))
    plan = engine.plan_erasure(ANN, now=NOW)
    policy, datamap = policy_and_datamap()
    other = pk.Engine(policy.replace(version="2099.1"), datamap, engine.adapter_for("users"))
    with pytest.raises(pk.PlanError, match="plan the erasure again"):
        other.apply(plan)


def test_plan_and_apply_are_audited() -> None:
    audit = pk.AuditLog.memory()
    engine = make_engine(make_adapter("memory"), audit=audit)
    plan = engine.plan_erasure(HANA, now=NOW)
    engine.apply(plan)
    entries = list(audit.entries())
    planned = next(e for e in entries if e.action == "erasure.planned")
    applied = next(e for e in entries if e.action == "erasure.applied")
    assert planned.subject == applied.subject == engine.reference(HANA)
    assert planned.details["plan"] == applied.details["plan"] == plan.plan_id
    assert applied.details["deleted"]["bookings"] == 2
    assert {k["reason"] for k in applied.details["kept"]} == {"legal_obligation", "shared_content"}
    text = json.dumps([e.details for e in entries])
    assert "Hana" not in text
    assert "hana@" not in text
    audit.verify()


def test_report_names_the_recipients_to_tell() -> None:
    policy, _ = policy_and_datamap()
    log = pk.DisclosureLog(policy)
    engine = make_engine(make_adapter("memory"), disclosures=log)
    for recipient in ("integration_partners", "authorities"):
        log.record(
            recipient=recipient,
            subject_ref=engine.reference(OMAR),
            subject_kind="customer",
            categories=["user.contact.email"],
            purpose="service.integrations" if recipient != "authorities" else "legal.obligation",
            at=NOW - dt.timedelta(days=10),
        )
    report = engine.apply(engine.plan_erasure(OMAR, now=NOW))
    # authorities in a particular inquiry are not recipients (GDPR Art. 4(9))
    assert report.recipients == ("integration_partners",)
    assert "tell: integration_partners" in str(report)


def test_plan_views_and_bad_input() -> None:
    engine = make_engine(make_adapter("memory"))
    plan = engine.plan_erasure(HANA, now=NOW)
    records = plan.to_records()
    json.dumps(records)
    outcomes = {(r["record_type"], r["outcome"]) for r in records}
    assert ("users", "anonymised") in outcomes
    assert ("users", "kept") in outcomes
    assert ("payment_methods", "deleted") in outcomes
    # Each plan is its own (two processes planning the same erasure never share a journal); a
    # plan of the same work can take an earlier plan's id to resume it, a plan of other work not.
    assert plan.plan_id != engine.plan_erasure(HANA, now=NOW).plan_id
    assert plan.plan_id == engine.plan_erasure(HANA, now=NOW, resume=plan.plan_id).plan_id
    with pytest.raises(pk.PlanError, match="other work"):
        engine.plan_erasure(HANA, now=NOW + dt.timedelta(days=1), resume=plan.plan_id)
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.plan_erasure(HANA, now=dt.datetime(2025, 1, 1))
    with pytest.raises(pk.ConfigurationError, match="batch_size"):
        engine.plan_erasure(HANA, now=NOW, batch_size=0)
    nobody = engine.plan_erasure(pk.Subject.of("end_user", email="x@example.com"), now=NOW)
    assert "nothing is held about this subject" in str(nobody)


def test_file_journal_tolerates_a_torn_last_line_and_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = FileJournal(path)
    journal.done("p", "a", 1)
    with path.open("ab") as fh:
        fh.write(b'{"plan": "p", "step": "b", "ev')
    assert FileJournal(path).completed_steps("p") == {"a": 1}
    path.write_bytes(b"not json\n" + path.read_bytes())
    with pytest.raises(pk.PlanError, match="not JSON"):
        FileJournal(path).completed_steps("p")
    path.write_bytes(b"[1, 2]\n")
    with pytest.raises(pk.PlanError, match="not a JSON object"):
        list(FileJournal(path).entries())


def test_erasing_an_invitee_schedules_nothing_their_booking_follows_its_host() -> None:
    engine = make_engine(make_adapter("memory"))
    plan = engine.plan_erasure(ANN, now=NOW)
    assert plan.commitments == ()
    assert plan.notes == ()
    assert "SCHEDULE" not in str(plan)
    report = engine.apply(plan)
    assert report.commitments == ()
    assert len(engine.commitments) == 0


class _FailsOnce(pk.adapters.InMemoryAdapter):
    """Fails the first delete of one record type (a crash half-way through an erasure)."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]], fail_on: str) -> None:
        super().__init__(tables)
        self.fail_on: str | None = fail_on

    def delete(self, record_type: pk.RecordType, selection: Any, *, batch_size: int = 1000) -> int:
        if record_type.name == self.fail_on:
            self.fail_on = None
            raise RuntimeError("disk full")
        return super().delete(record_type, selection, batch_size=batch_size)


def test_commitments_are_recorded_before_the_steps_and_survive_a_resume() -> None:
    _, datamap = policy_and_datamap()
    # Children are deleted before the account row (deletion order): fail on the last step.
    adapter = _FailsOnce({rt.table_name: [] for rt in datamap.record_types}, "users")
    source = make_adapter("memory")
    for rt in datamap.record_types:
        adapter.insert(rt.table_name, source.rows(rt.table_name))
    engine = make_engine(adapter)
    plan = engine.plan_erasure(HANA, now=NOW, waive=["legal_obligation"])
    assert plan.steps[-1].id == "users:customer:delete"
    journal = MemoryJournal()
    with pytest.raises(pk.AdapterError, match=r"step users:customer:delete failed.*disk full"):
        engine.apply(plan, journal=journal)
    # One store: its steps are one transaction, so the failing last step undid the earlier ones.
    for rt in datamap.record_types:
        assert adapter.rows(rt.table_name) == source.rows(rt.table_name)
    recorded = {c.id for c in engine.commitments.pending()}
    assert recorded == {c.id for c in plan.commitments}
    assert {c.record_type for c in plan.commitments} == {"companies", "services"}
    # The resumed apply runs every step again and reports (and keeps) the same commitments.
    report = engine.apply(plan, journal=journal)
    assert report.resumed_steps == ()
    assert adapter.rows("users") == [r for r in source.rows("users") if r["id"] != 1]
    assert {c.id for c in report.commitments} == recorded
    assert len(engine.commitments) == 2
