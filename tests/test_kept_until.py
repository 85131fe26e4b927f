"""What an erasure keeps "until" a date is acted on then, and nothing it touches is left untimed.

The scenario of the issue, end to end on the shipped example: a customer (Hana, user 1) is erased
at ``T``; the law keeps her name and e-mail address until ``T + 6 years`` (``legal_obligation``),
her company profile and services are kept for collaborators. A sweep the next day keeps all of
that; a sweep after the end date leaves nothing linked to her. Her co-workers' records (Omar's,
open; Lina's, closed the day before) are untouched or follow their own rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import where
from privacy_kit.retention import Commitment, CommitmentRegistry
from privacy_kit.rights import apply_erasure
from strategies import durations, example_policy_data
from test_export import (
    ANN,
    HANA,
    NOW,
    SECRET,
    adapter_kind,
    example_rows,
    make_adapter,
    make_engine,
    policy_and_datamap,
    snapshot,
)
from test_rights_properties import stores

__all__ = ["adapter_kind"]  # the shared fixture, imported for pytest

T = NOW  # the erasure
UNTIL = dt.datetime(2031, 6, 1, 12, tzinfo=dt.UTC)  # T + P6Y, the legal obligation's end
LINA_CLOSED = T - dt.timedelta(days=1)


def _rows() -> dict[str, list[dict[str, Any]]]:
    """The shared example, plus Lina (user 3), who closed her account the day before ``T``."""
    rows = example_rows()
    lina = dict(rows["users"][1], id=3, name="Lina Lahham", email="lina@host.example")
    lina["closed_at"] = LINA_CLOSED
    rows["users"].append(lina)
    rows["sessions"].append(dict(rows["sessions"][1], id=52, user_id=3, cookie_id="ck-lina"))
    rows["companies"].append(dict(rows["companies"][1], id=12, owner_id=3, name="Lahham Ltd"))
    return rows


def _of(snap: Mapping[str, Mapping[Any, Mapping[str, Any]]], user_id: int) -> dict[str, Any]:
    """Every record of one customer, by record type and key."""
    links = {"users": "id", "companies": "owner_id", "services": "owner_id", "bookings": "host_id"}
    return {
        table: {k: r for k, r in records.items() if r.get(links.get(table, "user_id")) == user_id}
        for table, records in snap.items()
    }


def _linked_to_hana(engine: pk.Engine) -> list[tuple[str, Any]]:
    """Records that still hold anything of Hana's (her key in a link, her name, her address)."""
    found = []
    for table, records in snapshot(engine).items():
        for key, record in records.items():
            values = {v for f, v in record.items() if f != "id" and f != "service_id"}
            if (
                (table == "users" and key == 1)
                or {"Hana Haddad", "hana@host.example"} & values
                or (
                    table != "users"
                    and 1 in {record.get(f) for f in ("owner_id", "host_id", "user_id")}
                )
            ):
                found.append((table, key))
    return found


def _sweep(engine: pk.Engine, at: dt.datetime) -> Any:
    return engine.apply(engine.plan_retention(now=at))


def test_kept_until_is_enforced_end_to_end(adapter_kind: str) -> None:
    engine = make_engine(make_adapter(adapter_kind, _rows()))
    before = snapshot(engine)
    fate_before = engine.fate("users", 1, now=T)
    assert fate_before.expires_at is None
    assert "while the account exists" in fate_before.sentence

    plan = engine.plan_erasure(HANA, now=T)
    scheduled = {(c.record_type, c.action, c.due) for c in plan.commitments}
    assert scheduled == {
        ("users", "delete", UNTIL),
        ("companies", "delete", UNTIL),
        ("services", "delete", UNTIL),
    }
    text = str(plan)
    assert "SCHEDULE   users" in text
    assert "delete 1 record on 2031-06-01 (legal_obligation" in text
    assert "NOTE       1 companies record(s) this erasure does not delete" in text
    report = engine.apply(plan)
    assert {c.id for c in report.commitments} == {c.id for c in plan.commitments}
    assert "scheduled   users" in str(report)
    assert len(engine.commitments.pending()) == 3

    # After the erasure, the record says when it goes, and why.
    fate = engine.fate("users", 1, now=T)
    assert fate.expires_at == UNTIL
    assert fate.action == "delete"
    assert fate.commitments == (plan.commitments[0].id,)
    assert "will be deleted on 2031-06-01 12:00 UTC by commitment" in fate.sentence
    assert "legal_obligation" in fate.sentence
    company = engine.fate("companies", 10, now=T)
    assert company.expires_at == UNTIL
    assert "account_removed" in company.sentence

    # The next day: what the law keeps is still there, and so is the content kept for others.
    day_after = _sweep(engine, T + dt.timedelta(days=1))
    assert day_after.fulfilled == ()
    kept = snapshot(engine)
    assert (kept["users"][1]["name"], kept["users"][1]["email"]) == (
        "Hana Haddad",
        "hana@host.example",
    )
    assert kept["users"][1]["language"] is None  # anonymised by the erasure
    assert 10 in kept["companies"]
    assert 20 in kept["services"]
    # Lina's own rule ran: her sessions went at her closure, her users row was minimised.
    assert 52 not in kept["sessions"]
    assert kept["users"][3]["name"] == "Lina Lahham"
    assert kept["users"][3]["language"] is None
    assert engine.fate("users", 3, now=T).expires_at == LINA_CLOSED.replace(year=2031)

    # A second before the end: still kept.
    assert _sweep(engine, UNTIL - dt.timedelta(seconds=1)).fulfilled == ()
    assert 1 in snapshot(engine)["users"]

    # After the end: nothing linked to Hana remains, and every commitment is fulfilled.
    final = _sweep(engine, UNTIL + dt.timedelta(days=1))
    assert set(final.fulfilled) == {c.id for c in plan.commitments}
    assert _linked_to_hana(engine) == []
    assert engine.commitments.pending() == ()
    with pytest.raises(pk.ConfigurationError, match="no users record with id = 1"):
        engine.fate("users", 1, now=UNTIL + dt.timedelta(days=1))
    after = snapshot(engine)
    # Omar (open account) is untouched, Ann's booking with him included.
    assert _of(after, 2) == _of(before, 2)
    assert after["bookings"][101] == before["bookings"][101]
    # Lina's records followed her own rule: content at closure, her row closure + 6 years.
    assert 12 not in after["companies"]
    assert 3 not in after["users"]

    # Idempotent: sweeping again changes nothing, and the registry does not act twice.
    again = _sweep(engine, UNTIL + dt.timedelta(days=2))
    assert again.total == 0
    assert again.fulfilled == ()
    steps = [e for e in engine.audit.entries() if e.action == "retention.step"]
    done = [e.details for e in steps if e.details["commitment"] is not None]
    assert sorted(d["record_type"] for d in done) == ["companies", "services", "users"]
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"]
    assert len(applied[-2].details["commitments_fulfilled"]) == 3
    erasure = next(e for e in engine.audit.entries() if e.action == "erasure.applied")
    assert {c["record_type"] for c in erasure.details["commitments"]} == {
        "users",
        "companies",
        "services",
    }
    assert engine.audit.verify().ok


def test_an_erasure_that_deletes_the_account_row_gives_its_dependants_an_end(
    adapter_kind: str,
) -> None:
    engine = make_engine(make_adapter(adapter_kind, _rows()))
    plan = engine.plan_erasure(HANA, now=T, waive=["legal_obligation"])
    assert plan.deleted["users"] == 1
    assert [(c.record_type, c.due) for c in plan.commitments] == [
        ("companies", T),
        ("services", T),
    ]
    assert len(plan.notes) == 2
    assert "and it deletes their users record" in plan.notes[0]
    assert "rule 'content', counted from the erasure" in plan.notes[0]
    engine.apply(plan)
    # Without its account row, the company could never be timed by its rule; the commitment times it.
    fate = engine.fate("companies", 10, now=T)
    assert fate.expires_at == T
    assert "cannot be timed" in fate.sentence  # what the rule alone would say
    plan_next = engine.plan_retention(now=T + dt.timedelta(days=1))
    assert plan_next.orphans == ()  # covered by the commitment, not orphaned
    _ = engine.apply(plan_next)
    assert _linked_to_hana(engine) == []


def test_other_partys_records_keep_going_and_only_the_kept_fields_are_cleared(
    adapter_kind: str,
) -> None:
    """An invitee's e-mail address kept two years in the host's booking is cleared then."""
    data = example_policy_data()
    rule = next(r for r in data["retention"] if r["key"] == "booking_data")
    rule["exceptions"] = [
        {
            "kind": "legal_obligation",
            "reason": {"en": "Invoices name who booked.", "ar": "الفواتير تذكر من حجز."},
            "duration": "P2Y",
            "categories": ["user.contact.email"],
        }
    ]
    _, datamap = policy_and_datamap()
    engine = pk.Engine(
        pk.load_policy(data), datamap, make_adapter(adapter_kind, _rows()), secret=SECRET
    )
    before = snapshot(engine)
    plan = engine.plan_erasure(ANN, now=T)
    (commitment,) = plan.commitments
    assert commitment.action == "clear"
    assert commitment.fields == ("invitee_email",)
    assert commitment.selection == where.in_("id", (100, 101))  # the address itself is cleared
    engine.apply(plan)
    fate = engine.fate("bookings", 100, now=T)
    assert "invitee_email will be cleared by commitment" in fate.sentence
    assert fate.expires_at is None  # the booking itself follows its host's account
    _sweep(engine, T + dt.timedelta(days=1))
    assert snapshot(engine)["bookings"][100]["invitee_email"] == "ann@example.com"
    report = _sweep(engine, dt.datetime(2027, 6, 2, tzinfo=dt.UTC))
    assert report.fulfilled == (commitment.id,)
    after = snapshot(engine)
    for key in (100, 101):
        assert after["bookings"][key]["invitee_email"] is None
        assert after["bookings"][key]["host_notes"] == before["bookings"][key]["host_notes"]
    assert after["bookings"][102] == before["bookings"][102]


def test_held_records_keep_their_commitment_pending_until_the_hold_ends() -> None:
    engine = make_engine(make_adapter("memory", _rows()))
    engine.apply(engine.plan_erasure(HANA, now=T))
    engine.place_hold(
        reason="Audit 9",
        placed_by="legal",
        now=T + dt.timedelta(days=10),
        record_type="companies",
        hold_id="h-9",
    )
    plan = engine.plan_retention(now=UNTIL + dt.timedelta(days=1))
    entry = next(e for e in plan.entries if e.record_type == "companies" and e.commitment)
    assert (entry.count, entry.held, entry.hold_ids) == (0, 1, ("h-9",))
    report = engine.apply(plan)
    assert entry.commitment is not None
    assert report.still_pending == (entry.commitment.id,)
    assert "still pending (records held)" in report.summary()
    assert 10 in snapshot(engine)["companies"]
    engine.release_hold("h-9", released_by="legal", now=UNTIL + dt.timedelta(days=2))
    later = _sweep(engine, UNTIL + dt.timedelta(days=3))
    assert later.fulfilled == (entry.commitment.id,)
    assert 10 not in snapshot(engine)["companies"]


def test_commitments_persist_in_a_file_across_engines(tmp_path: Path) -> None:
    path = tmp_path / "commitments.json"
    adapter = make_adapter("sqlite", _rows())
    first = make_engine(adapter, commitments=CommitmentRegistry(path))
    first.apply(first.plan_erasure(HANA, now=T))
    assert path.exists()
    second = make_engine(adapter, commitments=CommitmentRegistry(path))
    assert len(second.commitments.pending()) == 3
    assert second.fate("users", 1, now=T).expires_at == UNTIL
    report = _sweep(second, UNTIL)
    assert len(report.fulfilled) == 3
    third = CommitmentRegistry(path)
    assert third.pending() == ()
    assert {c.fulfilled_by for c in third} == {_plan_id(second)}
    assert _linked_to_hana(second) == []


def _plan_id(engine: pk.Engine) -> str:
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"]
    return str(applied[-1].details["plan"])


def test_registry_refuses_what_it_cannot_keep(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"commitments": [{"id": 1}]}')
    with pytest.raises(pk.ConfigurationError, match="not a commitment registry"):
        CommitmentRegistry(bad)
    reg = CommitmentRegistry()
    with pytest.raises(pk.ConfigurationError, match="no commitment 'kept_x'"):
        reg.get("kept_x")
    kept = Commitment(
        id="kept_x1",
        record_type="users",
        selection=where.eq("id", 1),
        fields=("name",),
        due=T,
        action="delete",
        reason="legal_obligation",
        explanation="tax",
        origin="erasure p",
        made_at=T,
    )
    odd = Commitment(
        id="kept_x2",
        record_type="users",
        selection=where.eq("id", object()),
        fields=("name",),
        due=T,
        action="delete",
        reason="legal_obligation",
        explanation="tax",
        origin="erasure p",
        made_at=T,
    )
    in_file = CommitmentRegistry(tmp_path / "c.json")
    with pytest.raises(pk.ConfigurationError, match="kept_x2 on users cannot be kept in"):
        in_file.record([kept, odd])
    assert len(in_file) == 0  # nothing recorded
    assert len(CommitmentRegistry().record([kept, odd])) == 2  # in memory, any value will do
    with pytest.raises(pk.ConfigurationError, match="clears fields but names none"):
        Commitment(
            id="c",
            record_type="users",
            selection=where.eq("id", 1),
            fields=(),
            due=T,
            action="clear",
            reason="r",
            explanation="e",
            origin="o",
            made_at=T,
        )
    with pytest.raises(pk.ConfigurationError, match="action must be one of"):
        Commitment(
            id="c",
            record_type="users",
            selection=where.eq("id", 1),
            fields=(),
            due=T,
            action="shred",  # type: ignore[arg-type]
            reason="r",
            explanation="e",
            origin="o",
            made_at=T,
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        Commitment(
            id="c",
            record_type="users",
            selection=where.eq("id", 1),
            fields=(),
            due=dt.datetime(2030, 1, 1),
            action="delete",
            reason="r",
            explanation="e",
            origin="o",
            made_at=T,
        )


def test_a_dry_run_and_an_apply_without_a_registry_say_what_is_not_scheduled() -> None:
    engine = make_engine(make_adapter("memory", _rows()))
    plan = engine.plan_erasure(HANA, now=T)
    dry = engine.apply(plan, dry_run=True)
    assert len(dry.commitments) == 3
    assert engine.commitments.pending() == ()
    report = apply_erasure(
        plan, engine.stores, policy_version=plan.policy_version, secret=SECRET, policy=engine.policy
    )
    assert any(
        "no commitment registry: 3 commitment(s) were not recorded" in n for n in report.notes
    )
    with pytest.raises(pk.ConfigurationError, match="needs the policy"):
        apply_erasure(
            plan,
            engine.stores,
            policy_version=plan.policy_version,
            secret=SECRET,
            commitments=CommitmentRegistry(),
        )


def test_applying_again_records_nothing_twice() -> None:
    engine = make_engine(make_adapter("memory", _rows()))
    plan = engine.plan_erasure(HANA, now=T)
    engine.apply(plan)
    again = engine.apply(plan)
    assert len(engine.commitments) == 3
    assert {c.id for c in again.commitments} == {c.id for c in plan.commitments}
    # The kept selection still finds the kept record (its link was kept, not anonymised).
    assert again.commitments[0].selection == where.eq("id", 1)


# -- the promise as a property ---------------------------------------------------------------

_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _policy(legal: pk.Duration, content: pk.Duration | None) -> pk.Policy:
    data = example_policy_data()
    for rule in data["retention"]:
        if rule["key"] == "account_data":
            rule["exceptions"][0]["duration"] = str(legal)
        if rule["key"] == "content" and content is not None:
            rule["duration"] = str(content)
    return pk.load_policy(data)


@_SETTINGS
@given(
    rows=stores(),
    data=st.data(),
    legal=durations(positive=True),
    content=st.none() | durations(positive=True),
    waive=st.sets(st.sampled_from(["legal_obligation", "shared_content"])),
    offset=st.integers(0, 10**8),
)
def test_after_erasure_and_every_kept_until_date_nothing_of_the_subject_remains(
    rows: dict[str, list[dict[str, Any]]],
    data: st.DataObject,
    legal: pk.Duration,
    content: pk.Duration | None,
    waive: set[str],
    offset: int,
) -> None:
    _, datamap = policy_and_datamap()
    engine = pk.Engine(
        _policy(legal, content), datamap, make_adapter("memory", rows), secret=SECRET
    )
    subject = data.draw(
        st.sampled_from([pk.Subject.of("customer", user_id=u["id"]) for u in rows["users"]])
    )
    uid = subject.identity("user_id")
    now = NOW + dt.timedelta(seconds=offset)
    before = snapshot(engine)
    links = list(engine.links(engine.resolve(subject)))
    touched = {
        (rt.name, key)
        for rt, _link, sel in links
        for key, record in before[rt.name].items()
        if sel.matches(record)
    }
    engine.apply(engine.plan_erasure(subject, now=now, waive=waive))
    dates = sorted({c.due for c in engine.commitments.pending()})
    for at in dates:
        engine.apply(engine.plan_retention(now=at))
    assert engine.commitments.pending() == ()
    after = snapshot(engine)
    for rt, _link, sel in links:
        left = [k for k, r in after[rt.name].items() if sel.matches(r)]
        assert not left, f"{rt.name} {left} still linked to {subject} after {dates}"
    assert uid not in after["users"]
    for table, records in before.items():
        for key, record in records.items():
            if (table, key) not in touched:
                assert after[table].get(key) == record, (table, key)
