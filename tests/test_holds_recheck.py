"""A hold placed between planning and applying stops the run: apply re-reads the holds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import privacy_kit as pk
from privacy_kit.adapters import All, InMemoryAdapter
from privacy_kit.audit import MemoryStateStore
from privacy_kit.retention._holds import HoldRegistry
from privacy_kit.retention._holds_recheck import HoldRecheck

UTC = dt.UTC
NOW = dt.datetime(2026, 6, 1, tzinfo=UTC)
LATER = NOW + dt.timedelta(minutes=5)
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))
SECRET = b"k" * 32


def tables() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in DATAMAP.record_types}
    closed = dt.datetime(2024, 1, 1, tzinfo=UTC)
    out["users"] = [
        {"id": i, "email": f"u{i}@example.org", "closed_at": closed, "name": f"U{i}"}
        for i in (1, 2, 3)
    ]
    out["sessions"] = [{"id": 10 + i, "user_id": i, "ip_address": "10.0.0.1"} for i in (1, 2, 3)]
    out["payment_methods"] = [{"id": 20 + i, "user_id": i} for i in (1, 2, 3)]
    return out


def two_engines() -> tuple[pk.Engine, pk.Engine, InMemoryAdapter]:
    """Two engines (two processes of one host) sharing one store and one state store."""
    adapter = InMemoryAdapter(tables())
    state = MemoryStateStore()
    a = pk.Engine(POLICY, DATAMAP, adapter, verify=False, state=state, secret=SECRET)
    b = pk.Engine(POLICY, DATAMAP, adapter, verify=False, state=state, secret=SECRET)
    return a, b, adapter


def keys(adapter: InMemoryAdapter, table: str) -> set[int]:
    rt = DATAMAP.record_type(table)
    return {r["id"] for batch in adapter.iter_records(rt, All()) for r in batch}


def test_a_hold_placed_after_a_retention_plan_stops_its_sweep() -> None:
    sweeper, other, adapter = two_engines()
    plan = sweeper.plan_retention(now=NOW)
    assert plan.by_rule()["payment_data"] == {"delete": 3}
    other.place_hold(
        reason="Case 77",
        placed_by="legal",
        now=LATER,  # placed after the plan's instant: still in force when it is applied
        subject=pk.Subject.of("customer", user_id=2),
        hold_id="hold_late",
    )
    report = sweeper.apply(plan)
    assert 22 in keys(adapter, "payment_methods")
    assert keys(adapter, "payment_methods") == {22}
    line = next(x for x in report.lines if x.rule == "payment_data")
    assert (line.done, line.newly_held) == (2, 1)
    assert sorted((n.record_type, n.count, n.holds) for n in report.newly_held) == [
        ("payment_methods", 1, ("hold_late",)),
        ("sessions", 1, ("hold_late",)),
    ]
    assert 12 in keys(adapter, "sessions")
    assert "held by a hold placed after the plan" in report.summary()
    step = next(
        e
        for e in sweeper.audit.entries()
        if e.action == "retention.step" and e.details["record_type"] == "payment_methods"
    )
    assert step.details["newly_held"] == 1
    assert step.details["new_holds"] == ["hold_late"]
    applied = next(e for e in sweeper.audit.entries() if e.action == "retention.applied")
    assert [n["holds"] for n in applied.details["newly_held"]] == [["hold_late"]] * 2


def test_a_hold_released_before_the_plan_does_not_count() -> None:
    sweeper, other, adapter = two_engines()
    other.place_hold(
        reason="Old case",
        placed_by="legal",
        now=NOW - dt.timedelta(days=9),
        record_type="payment_methods",
        hold_id="hold_old",
    )
    other.release_hold("hold_old", released_by="legal", now=NOW - dt.timedelta(days=1))
    report = sweeper.apply(sweeper.plan_retention(now=NOW))
    assert keys(adapter, "payment_methods") == set()
    assert report.newly_held == ()


def test_a_hold_the_plan_knew_is_not_reported_as_new() -> None:
    sweeper, other, adapter = two_engines()
    other.place_hold(
        reason="Case 5",
        placed_by="legal",
        now=NOW,
        subject=pk.Subject.of("customer", user_id=1),
        hold_id="hold_known",
    )
    plan = sweeper.plan_retention(now=NOW)
    assert plan.hold_ids == ("hold_known",)
    report = sweeper.apply(plan)
    assert keys(adapter, "payment_methods") == {21}
    assert report.newly_held == ()
    assert all(line.newly_held == 0 for line in report.lines)


def test_a_hold_placed_after_an_erasure_plan_stops_its_steps() -> None:
    eraser, other, adapter = two_engines()
    subject = pk.Subject.of("customer", user_id=3)
    plan = eraser.plan_erasure(subject, now=NOW)
    assert plan.deleted["sessions"] == 1
    other.place_hold(
        reason="Case 9",
        placed_by="legal",
        now=LATER,
        record_type="sessions",
        hold_id="hold_sessions",
    )
    report = eraser.apply(plan)
    assert 13 in keys(adapter, "sessions")
    assert report.deleted["sessions"] == 0
    assert [(n.record_type, n.count, n.holds) for n in report.newly_held] == [
        ("sessions", 1, ("hold_sessions",))
    ]
    assert "kept by a hold placed after the plan (hold_sessions)" in str(report)
    applied = next(e for e in eraser.audit.entries() if e.action == "erasure.applied")
    (found,) = applied.details["newly_held"]
    assert (found["record_type"], found["count"], found["holds"]) == (
        "sessions",
        1,
        ["hold_sessions"],
    )
    assert applied.details["deleted"]["sessions"] == 0


def test_erasure_applied_without_a_registry_says_the_holds_were_not_read_again() -> None:
    from privacy_kit.rights._erasure_apply import apply_erasure

    eraser, _other, _adapter = two_engines()
    plan = eraser.plan_erasure(pk.Subject.of("customer", user_id=1), now=NOW)
    report = apply_erasure(plan, eraser.stores, policy_version=POLICY.version, secret=SECRET)
    assert any("holds were not read again" in n for n in report.notes)


def test_recheck_reads_the_shared_registry_each_time() -> None:
    state = MemoryStateStore()
    reader, writer = HoldRegistry.shared(state), HoldRegistry.shared(state)
    check = HoldRecheck(reader, resolver=None, at=NOW)  # type: ignore[arg-type]
    rt = DATAMAP.record_type("sessions")
    assert check.new_holds(rt) == []
    writer.place(
        reason="Case 1", placed_by="legal", now=LATER, record_type="sessions", hold_id="h1"
    )
    assert [h.id for h, _ in check.new_holds(rt)] == ["h1"]
    assert check.new_holds(rt, planned={"h1"}) == []
    assert check.new_holds(DATAMAP.record_type("users")) == []


# -- plan identity ----------------------------------------------------------------------------------
def test_two_retention_plans_of_the_same_work_and_instant_have_their_own_journals() -> None:
    first, second, adapter = two_engines()
    plan_a = first.plan_retention(now=NOW)
    plan_b = second.plan_retention(now=NOW)
    assert plan_a.id != plan_b.id
    first.apply(plan_a)
    assert keys(adapter, "payment_methods") == set()
    # A record expired meanwhile: the second process's plan is not skipped as done.
    adapter.insert(DATAMAP.record_type("payment_methods"), [{"id": 29, "user_id": 1}])
    report = second.apply(plan_b)
    assert report.skipped_units == 0
    assert keys(adapter, "payment_methods") == set()
    # The same plan object applied again resumes (every unit done).
    again = first.apply(plan_a)
    assert again.skipped_units > 0


def test_a_retention_plan_names_the_holds_it_excluded_and_they_shape_its_id() -> None:
    engine, _other, _adapter = two_engines()
    engine.place_hold(
        reason="Case 2", placed_by="legal", now=NOW, record_type="sessions", hold_id="h_ids"
    )
    plan = engine.plan_retention(now=NOW)
    assert plan.hold_ids == ("h_ids",)
    assert plan.id.startswith("ret_")


def test_two_erasure_plans_of_the_same_subject_and_instant_do_not_share_a_journal() -> None:
    first, second, adapter = two_engines()
    subject = pk.Subject.of("customer", user_id=1)
    plan_a = first.plan_erasure(subject, now=NOW)
    plan_b = second.plan_erasure(subject, now=NOW)
    assert plan_a.plan_id != plan_b.plan_id
    assert plan_a == plan_b  # the same work: equal as plans, two identities
    first.apply(plan_a)
    adapter.insert(DATAMAP.record_type("sessions"), [{"id": 19, "user_id": 1}])
    report = second.apply(plan_b)
    assert report.resumed_steps == ()
    assert 19 not in keys(adapter, "sessions")
    assert report.deleted["sessions"] == 1


def test_an_erasure_plan_copied_keeps_its_id_and_resumes() -> None:
    import pickle

    engine, _other, _adapter = two_engines()
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    copy = pickle.loads(pickle.dumps(plan))
    assert copy.plan_id == plan.plan_id
    engine.apply(plan)
    assert engine.apply(copy).resumed_steps == tuple(s.id for s in plan.steps)


def test_an_erasure_plan_records_the_holds_it_honours() -> None:
    engine, _other, _adapter = two_engines()
    engine.place_hold(
        reason="Case 4",
        placed_by="legal",
        now=NOW,
        subject=pk.Subject.of("customer", user_id=2),
        hold_id="h_er",
    )
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    assert plan.hold_ids == ("h_er",)
