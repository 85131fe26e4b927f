"""Legal holds: placing, releasing, persisting, and keeping held records out of every sweep."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from privacy_kit.adapters import (
    After,
    All,
    And,
    Before,
    Eq,
    In,
    InMemoryAdapter,
    IsNull,
    Not,
    Or,
    Selection,
    SQLiteAdapter,
    where,
)
from privacy_kit.retention._holds import (
    HoldRegistry,
    LegalHold,
    definitely,
    merge_equalities,
    selection_from_data,
    selection_to_data,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 1, tzinfo=UTC)
NOW = dt.datetime(2026, 6, 1, tzinfo=UTC)
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))


def tables() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in DATAMAP.record_types}
    closed = dt.datetime(2025, 1, 1, tzinfo=UTC)
    out["users"] = [
        {"id": i, "email": f"u{i}@example.org", "closed_at": closed, "name": f"U{i}"}
        for i in (1, 2, 3)
    ]
    out["bookings"] = [
        {"id": 1, "host_id": 1, "invitee_email": "ann@example.org", "end_at": closed},
        {"id": 2, "host_id": 2, "invitee_email": "bob@example.org", "end_at": closed},
        {"id": 3, "host_id": 3, "invitee_email": "ann@example.org", "end_at": closed},
        {"id": 4, "host_id": None, "invitee_email": None, "end_at": closed},
    ]
    return out


def engine_with(adapter: Any = None) -> tuple[pk.Engine, Any]:
    adapter = adapter if adapter is not None else InMemoryAdapter(tables())
    return pk.Engine(POLICY, DATAMAP, adapter, verify=False), adapter


def booking_keys(adapter: Any) -> set[int]:
    rt = DATAMAP.record_type("bookings")
    return {r["id"] for b in adapter.iter_records(rt, All()) for r in b}


# -- the hold itself ---------------------------------------------------------------------------------
def test_a_hold_needs_a_scope_a_reason_and_who() -> None:
    with pytest.raises(pk.ConfigurationError, match="needs a scope"):
        LegalHold(id="h", reason="r", placed_by="p", placed_at=T0)
    with pytest.raises(pk.ConfigurationError, match="needs an id, a reason"):
        LegalHold(id="h", reason=" ", placed_by="p", placed_at=T0, record_type="bookings")
    with pytest.raises(pk.ConfigurationError, match="selection needs the record type"):
        LegalHold(
            id="h",
            reason="r",
            placed_by="p",
            placed_at=T0,
            subject=pk.Subject.of("customer", user_id=1),
            selection=where.eq("id", 1),
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        LegalHold(
            id="h", reason="r", placed_by="p", placed_at=dt.datetime(2026, 1, 1), record_type="x"
        )
    with pytest.raises(pk.ConfigurationError, match="before it was placed"):
        LegalHold(
            id="h",
            reason="r",
            placed_by="p",
            placed_at=T0,
            record_type="x",
            released_at=T0 - dt.timedelta(seconds=1),
        )


def test_active_window() -> None:
    hold = LegalHold(id="h", reason="r", placed_by="p", placed_at=T0, record_type="bookings")
    assert not hold.is_active(T0 - dt.timedelta(microseconds=1))
    assert hold.is_active(T0)
    released = LegalHold(
        id="h",
        reason="r",
        placed_by="p",
        placed_at=T0,
        record_type="bookings",
        released_at=NOW,
        released_by="q",
    )
    assert released.is_active(NOW - dt.timedelta(microseconds=1))
    assert not released.is_active(NOW)
    assert hold.describe_scope() == "bookings"
    subject_hold = LegalHold(
        id="s",
        reason="r",
        placed_by="p",
        placed_at=T0,
        subject=pk.Subject.of("end_user", email="ann@example.org"),
    )
    assert "ann" not in subject_hold.describe_scope()


def test_registry_place_release_and_history() -> None:
    reg = HoldRegistry()
    a = reg.place(reason="Case 1", placed_by="legal", now=T0, record_type="bookings", hold_id="a")
    b = reg.place(
        reason="Case 2", placed_by="legal", now=NOW, subject=pk.Subject.of("customer", user_id=1)
    )
    assert b.id.startswith("hold_")
    assert reg.active(T0) == (a,)
    assert {h.id for h in reg.active(NOW)} == {"a", b.id}
    released = reg.release("a", released_by="counsel", now=NOW)
    assert released.released_by == "counsel"
    assert released.released_at == NOW
    assert [h.id for h in reg.active(NOW)] == [b.id]
    assert len(reg) == 2  # released holds stay in the history
    assert {h.id for h in reg} == {"a", b.id}
    with pytest.raises(pk.ConfigurationError, match="already released"):
        reg.release("a", released_by="counsel", now=NOW)
    with pytest.raises(pk.ConfigurationError, match="no legal hold 'b'"):
        reg.get("b")
    with pytest.raises(pk.ConfigurationError, match="already exists"):
        reg.place(reason="x", placed_by="y", now=T0, record_type="bookings", hold_id="a")
    with pytest.raises(pk.ConfigurationError, match=r"released .* before it was placed"):
        reg.release(b.id, released_by="x", now=T0)
    assert HoldRegistry().active(NOW) == ()  # state is per instance


def test_registry_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "holds.json"
    reg = HoldRegistry(path)
    sel = where.before("end_at", T0) & ~where.eq("host_id", 2) | where.in_("id", [1, 2])
    reg.place(
        reason="Case 7",
        placed_by="legal",
        now=T0,
        record_type="bookings",
        selection=sel,
        hold_id="sel",
    )
    reg.place(
        reason="Case 8",
        placed_by="legal",
        now=T0,
        subject=pk.Subject.of("end_user", email="ann@example.org"),
        hold_id="subj",
    )
    reg.release("sel", released_by="legal", now=NOW)
    again = HoldRegistry(path)
    assert list(again) == list(reg)
    assert again.get("sel").selection == sel
    assert again.get("subj").subject == pk.Subject.of("end_user", email="ann@example.org")
    path.write_text(json.dumps({"holds": [{"id": "x"}]}))
    with pytest.raises(pk.ConfigurationError, match="not a legal-hold registry"):
        HoldRegistry(path)
    with pytest.raises(pk.ConfigurationError, match="JSON values and datetimes"):
        HoldRegistry().place(
            reason="r",
            placed_by="p",
            now=T0,
            record_type="bookings",
            selection=Eq("id", object()),
        )


def test_selection_codec() -> None:
    for sel in [
        All(),
        Eq("a", None),
        In("a", (1, "x", None)),
        Before("t", T0, inclusive=True),
        After("t", T0),
        IsNull("a"),
        And(()),
        Or((Eq("a", 1), Not(IsNull("b")))),
    ]:
        assert selection_from_data(json.loads(json.dumps(selection_to_data(sel)))) == sel
    with pytest.raises(pk.ConfigurationError, match="unknown selection operator"):
        selection_from_data({"op": "like"})
    with pytest.raises(pk.ConfigurationError, match="malformed"):
        selection_from_data({"op": "eq"})


# -- definitely(): never unknown -----------------------------------------------------------------------
FIELDS = ("a", "b")
VALUES = st.sampled_from([None, 1, 2])
INSTANTS = st.sampled_from([None, T0, NOW])


def selections() -> st.SearchStrategy[Selection]:
    leaves = st.one_of(
        st.builds(Eq, st.sampled_from(FIELDS), VALUES),
        st.builds(In, st.sampled_from(FIELDS), st.lists(VALUES, max_size=3).map(tuple)),
        st.builds(IsNull, st.sampled_from(FIELDS)),
        st.builds(Before, st.just("t"), st.sampled_from([T0, NOW]), st.booleans()),
        st.builds(After, st.just("t"), st.sampled_from([T0, NOW]), st.booleans()),
        st.just(All()),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(Not, inner),
            st.lists(inner, max_size=3).map(lambda xs: And(tuple(xs))),
            st.lists(inner, max_size=3).map(lambda xs: Or(tuple(xs))),
        ),
        max_leaves=8,
    )


@settings(max_examples=500, deadline=None)
@given(selections(), st.fixed_dictionaries({"a": VALUES, "b": VALUES, "t": INSTANTS}))
def test_definitely_is_true_exactly_where_the_selection_is(
    sel: Selection, record: dict[str, Any]
) -> None:
    certain = definitely(sel)
    assert certain.evaluate(record) is not None
    assert certain.evaluate(record) == (sel.evaluate(record) is True)
    assert Not(certain).evaluate(record) == (sel.evaluate(record) is not True)


@settings(max_examples=150, deadline=None)
@given(
    selections(),
    st.lists(st.fixed_dictionaries({"a": VALUES, "b": VALUES, "t": INSTANTS}), max_size=6),
)
def test_definitely_agrees_on_sqlite(sel: Selection, records: list[dict[str, Any]]) -> None:
    dm = pk.DataMap.model_validate(
        {
            "record_types": [
                {
                    "name": "r",
                    "fields": [
                        {"name": "id", "type": "integer"},
                        {"name": "a", "type": "integer"},
                        {"name": "b", "type": "integer"},
                        {"name": "t", "type": "timestamp"},
                    ],
                }
            ]
        }
    )
    rt = dm.record_type("r")
    db = SQLiteAdapter(":memory:")
    db.create_schema(dm)
    rows = [{"id": i, **r} for i, r in enumerate(records)]
    db.insert(rt, rows)
    want = {r["id"] for r in rows if sel.evaluate(r) is not True}
    got = {r["id"] for b in db.iter_records(rt, Not(definitely(sel))) for r in b}
    assert got == want


# -- holds in sweeps -----------------------------------------------------------------------------------
def test_engine_defaults_to_its_own_registry() -> None:
    e1, _ = engine_with()
    e2, _ = engine_with()
    assert isinstance(e1.holds, HoldRegistry)
    assert e1.holds is not e2.holds


def test_held_records_are_shown_and_never_deleted() -> None:
    for adapter in (None, "sqlite"):
        if adapter == "sqlite":
            db = SQLiteAdapter(":memory:")
            db.create_schema(DATAMAP)
            for name, rows in tables().items():
                db.insert(DATAMAP.record_type(name), rows)
            engine, store = engine_with(db)
        else:
            engine, store = engine_with()
        hold = engine.place_hold(
            reason="Dispute 4411",
            placed_by="legal",
            now=T0,
            subject=pk.Subject.of("end_user", email="ann@example.org"),
            hold_id="ann",
        )
        plan = engine.plan_retention(now=NOW)
        entry = next(e for e in plan.entries if e.record_type == "bookings")
        assert entry.count == 1  # booking 2; booking 4 has no account
        assert entry.held == 2  # bookings 1 and 3 concern Ann
        assert entry.hold_ids == ("ann",)
        assert "2 held (ann)" in entry.describe()
        assert plan.total_held >= 2
        engine.apply(plan)
        assert booking_keys(store) == {1, 3, 4}
        engine.release_hold(hold.id, released_by="legal", now=NOW)
        later = NOW + dt.timedelta(days=1)
        engine.apply(engine.plan_retention(now=later))
        assert booking_keys(store) == {4}
        actions = [e.action for e in engine.audit.entries()]
        assert "hold.placed" in actions
        assert "hold.released" in actions
        assert "ann@example.org" not in json.dumps([e.details for e in engine.audit.entries()])


def test_null_fields_are_not_held_by_a_hold_on_other_values() -> None:
    data = json.loads(POLICY.model_dump_json())
    for rule in data["retention"]:
        if rule["key"] == "booking_data":
            rule["trigger"] = "event"  # expires at the meeting's end, whatever the account
    engine = pk.Engine(
        pk.Policy.model_validate(data), DATAMAP, InMemoryAdapter(tables()), verify=False
    )
    engine.place_hold(
        reason="Case",
        placed_by="legal",
        now=T0,
        record_type="bookings",
        selection=~Eq("host_id", 2),
    )
    # ~(host_id = 2) holds bookings 1 and 3; for booking 4 (NULL host) it is unknown, not true:
    # booking 4 is not held and is swept, as is booking 2.
    plan = engine.plan_retention(now=NOW)
    entry = next(e for e in plan.entries if e.record_type == "bookings")
    assert (entry.count, entry.held) == (2, 2)
    engine.apply(plan)
    assert booking_keys(engine.adapters["main"]) == {1, 3}


def test_record_type_hold_and_held_selection() -> None:
    engine, store = engine_with()
    assert engine.holds.held_selection(engine, "bookings", NOW) is None
    engine.place_hold(reason="Audit", placed_by="dpo", now=T0, record_type="bookings")
    sel = engine.holds.held_selection(engine, "bookings", NOW)
    assert sel is not None
    assert sel.matches({"id": 99})
    assert engine.holds.held_selection(engine, "users", NOW) is None
    assert engine.holds.held_selection(engine, "bookings", T0 - dt.timedelta(days=1)) is None
    engine.apply(engine.plan_retention(now=NOW))
    assert booking_keys(store) == {1, 2, 3, 4}


def test_subject_hold_finds_records_through_resolved_identities() -> None:
    engine, _ = engine_with()
    # Customer 1 is known by user id; the hold covers their bookings (host_id) ...
    engine.place_hold(
        reason="Case", placed_by="legal", now=T0, subject=pk.Subject.of("customer", user_id=1)
    )
    sel = engine.holds.held_selection(engine, DATAMAP.record_type("bookings"), NOW)
    assert sel is not None
    assert sel.matches({"host_id": 1})
    assert not sel.matches({"host_id": None})
    # ... and the user record itself.
    assert engine.fate("users", 1, now=NOW).held


def test_place_hold_refuses_bad_scopes() -> None:
    engine, _ = engine_with()
    with pytest.raises(pk.ConfigurationError, match=r"unknown record type 'booking'.*bookings"):
        engine.place_hold(reason="r", placed_by="p", now=T0, record_type="booking")
    with pytest.raises(pk.ConfigurationError, match="links a 'robot'"):
        engine.place_hold(
            reason="r", placed_by="p", now=T0, subject=pk.Subject.of("robot", user_id=1)
        )
    with pytest.raises(pk.ConfigurationError, match="needs a scope"):
        engine.place_hold(reason="r", placed_by="p", now=T0)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.builds(Eq, st.sampled_from(FIELDS), VALUES),
            st.builds(IsNull, st.sampled_from(FIELDS)),
        ),
        max_size=6,
    ),
    st.fixed_dictionaries({"a": VALUES, "b": VALUES}),
)
def test_merged_equalities_mean_the_same(parts: list[Selection], record: dict[str, Any]) -> None:
    merged = merge_equalities(parts)
    assert Or(tuple(merged)).evaluate(record) == Or(tuple(parts)).evaluate(record)
    assert len(merged) <= len(parts)
