"""Retention on the reference example: rules, overrides, minimisation, dry runs, resuming, audit, SQL."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import All, BaseAdapter, InMemoryAdapter, Record, Selection, SQLiteAdapter
from privacy_kit.retention import (
    RetentionJournal,
    RetentionSettings,
    check_override,
    cutoff,
    expires_at,
)

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))


def d(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def user(i: int, closed: dt.datetime | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"User {i}",
        "email": f"user{i}@example.org",
        "time_zone": "UTC",
        "language": "en",
        "is_admin": False,
        "created_at": d(2015, 1, 1),
        "last_seen_at": d(2018, 1, 1),
        "closed_at": closed,
        "deactivated_at": None,
        **extra,
    }


def booking(i: int, host: int | None, end: dt.datetime) -> dict[str, Any]:
    return {
        "id": i,
        "host_id": host,
        "service_id": None,
        "invitee_email": f"invitee{i}@example.org",
        "invitee_name": f"Invitee {i}",
        "invitee_phone": "+44 20 7946 0000",
        "invitee_notes": "note",
        "host_notes": "private",
        "start_at": end - dt.timedelta(hours=1),
        "end_at": end,
        "conferencing_provider": "zoom",
        "meeting_url": "https://zoom.example/1",
        "created_at": end - dt.timedelta(days=3),
    }


def tables() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in DATAMAP.record_types}
    out["users"] = [
        user(1, closed=d(2019, 1, 2)),  # closed over 6 years ago: deleted
        user(2, closed=d(2025, 6, 1)),  # closed recently: minimised, name and email kept
        user(3),  # open
        user(4),  # open, chose 30-day booking deletion
    ]
    out["bookings"] = [
        booking(1, 1, d(2018, 5, 1)),
        booking(2, 2, d(2025, 1, 1)),
        booking(3, 3, d(2025, 1, 1)),
        booking(4, 4, d(2025, 11, 1)),  # 30 days after: 1 Dec, expired
        booking(5, 4, d(2025, 12, 15)),  # not yet
        booking(6, None, d(2020, 1, 1)),  # no account: kept
    ]
    out["payment_methods"] = [
        {
            "id": 1,
            "user_id": 1,
            "card_brand": "visa",
            "card_last4": "4242",
            "card_holder": "U1",
            "expires": "12/30",
            "created_at": d(2016, 1, 1),
        },
        {
            "id": 2,
            "user_id": 3,
            "card_brand": "visa",
            "card_last4": "4242",
            "card_holder": "U3",
            "expires": "12/30",
            "created_at": d(2016, 1, 1),
        },
    ]
    out["sessions"] = [
        {
            "id": 1,
            "user_id": 2,
            "ip_address": "192.0.2.1",
            "device_type": "mobile",
            "browser": "firefox",
            "cookie_id": "c1",
            "created_at": d(2025, 1, 1),
            "last_seen_at": d(2025, 1, 2),
        },
    ]
    return out


def settings_() -> RetentionSettings:
    s = RetentionSettings(POLICY)
    s.set(4, "booking_data", "P30D")
    return s


def memory_engine(**kw: Any) -> tuple[pk.Engine, InMemoryAdapter]:
    mem = InMemoryAdapter(tables())
    return pk.Engine(POLICY, DATAMAP, mem, secret=b"s" * 32, **kw), mem


def sqlite_engine(**kw: Any) -> tuple[pk.Engine, SQLiteAdapter]:
    db = SQLiteAdapter(":memory:")
    db.create_schema(DATAMAP)
    for name, rows in tables().items():
        db.insert(DATAMAP.record_type(name), rows)
    return pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32, **kw), db


def keys(adapter: Any, name: str) -> set[Any]:
    rt = DATAMAP.record_type(name)
    return {r["id"] for batch in adapter.iter_records(rt, All()) for r in batch}


def snapshot(adapter: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        rt.name: sorted(
            (r for batch in adapter.iter_records(rt, All()) for r in batch), key=lambda r: r["id"]
        )
        for rt in DATAMAP.record_types
    }


# -- the example -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [memory_engine, sqlite_engine], ids=["memory", "sqlite"])
def test_example_sweep(make: Any) -> None:
    engine, adapter = make()
    plan = engine.plan_retention(now=NOW, settings=settings_())
    counts = {(e.rule, e.record_type, e.action, e.group): e.count for e in plan.entries}
    assert counts[("booking_data", "bookings", "delete", "default")] == 2  # hosts 1 and 2 closed
    assert counts[("booking_data", "bookings", "delete", "override P30D (1 account)")] == 1
    assert counts[("payment_data", "payment_methods", "delete", "default")] == 1
    assert counts[("account_data", "sessions", "delete", "default")] == 1
    assert counts[("account_data", "users", "minimize", "default")] == 1
    assert counts[("account_data", "users", "delete", "default")] == 1
    assert plan.total == 7
    # Records keyed to their account run before the accounts themselves.
    order = [e.record_type for e in plan.entries]
    assert order.index("users") > max(order.index("bookings"), order.index("sessions"))

    report = engine.apply(plan)
    assert report.total == 7
    assert keys(adapter, "users") == {2, 3, 4}
    assert keys(adapter, "bookings") == {3, 5, 6}
    assert keys(adapter, "payment_methods") == {2}
    assert keys(adapter, "sessions") == set()
    minimised = next(
        r
        for batch in adapter.iter_records(DATAMAP.record_type("users"), All())
        for r in batch
        if r["id"] == 2
    )
    assert minimised["name"] == "User 2"
    assert minimised["email"] == "user2@example.org"
    assert minimised["time_zone"] is None
    assert minimised["language"] is None
    assert minimised["last_seen_at"] is None
    assert minimised["is_admin"] is None
    assert minimised["closed_at"] == d(2025, 6, 1)  # the trigger time stays
    # A second sweep at the same instant has nothing left to do.
    assert engine.plan_retention(now=NOW, settings=settings_()).total == 0


def test_plan_shows_selection_cutoff_and_kept_fields() -> None:
    engine, _ = memory_engine()
    plan = engine.plan_retention(now=NOW, settings=settings_())
    minimize = next(e for e in plan.entries if e.action == "minimize")
    assert minimize.fields == ("time_zone", "language", "is_admin", "last_seen_at")
    assert dict(minimize.kept) == {
        "name": pk.Duration.parse("P6Y"),
        "email": pk.Duration.parse("P6Y"),
    }
    assert minimize.cutoff == NOW
    assert minimize.after == d(2020, 1, 1)
    assert "keeping name until +P6Y" in minimize.describe()
    override = next(e for e in plan.entries if e.override is not None)
    assert override.source.field == "end_at"
    assert override.source.account is None
    assert override.cutoff == d(2025, 12, 2)
    assert "host_id IN (4)" in override.selection_text()
    linked = next(e for e in plan.entries if e.record_type == "payment_methods")
    assert linked.selection_text().startswith("user_id IN (keys of users where closed_at <=")
    assert linked.recheck
    assert linked.selection_text().endswith("[re-checked on users by each statement]")
    assert not override.recheck  # its trigger is the booking's own end_at: nothing to re-check
    text = plan.summary()
    assert "Retention plan as of 2026-01-01" in text
    assert "booking_data" in text
    assert plan.by_rule()["account_data"] == {"delete": 2, "minimize": 1}


def test_dry_run_changes_nothing() -> None:
    for make in (memory_engine, sqlite_engine):
        engine, adapter = make()
        before = snapshot(adapter)
        plan = engine.plan_retention(now=NOW, settings=settings_())
        report = engine.apply(plan, dry_run=True)
        assert report.dry_run
        assert report.total == plan.total == 7
        assert "would change 7" in report.summary()
        assert snapshot(adapter) == before
        assert not [e for e in engine.audit.entries() if e.action.startswith("retention.")]


def test_life_of_the_account_rule_waits_for_closure() -> None:
    engine, adapter = memory_engine()
    plan = engine.plan_retention(now=d(2100, 1, 1))  # far future, but accounts 3 and 4 stay open
    engine.apply(plan)
    assert {3, 4} <= keys(adapter, "users")
    assert keys(adapter, "bookings") == {3, 4, 5, 6}  # no override without settings


def test_sweep_in_the_past_covers_less() -> None:
    engine, _ = memory_engine()
    early = engine.plan_retention(now=d(2019, 1, 2) - dt.timedelta(microseconds=1))
    assert early.total == 0
    at_closure = engine.plan_retention(now=d(2019, 1, 2))
    assert at_closure.by_rule()["booking_data"] == {"delete": 1}


def test_accounts_deleted_in_the_same_sweep_take_their_records_first() -> None:
    data = json.loads(POLICY.model_dump_json())
    for rule in data["retention"]:
        rule.pop("exceptions", None)  # no legal obligation: users go at closure
    policy = pk.Policy.model_validate(data)
    mem = InMemoryAdapter(tables())
    engine = pk.Engine(policy, DATAMAP, mem)
    engine.apply(engine.plan_retention(now=NOW))
    assert keys(mem, "users") == {3, 4}
    assert keys(mem, "bookings") == {3, 4, 5, 6}  # those of users 1 and 2 went with them


def test_anonymize_action() -> None:
    data = json.loads(POLICY.model_dump_json())
    for rule in data["retention"]:
        if rule["key"] == "booking_data":
            rule["action"] = "anonymize"
    policy = pk.Policy.model_validate(data)
    for make in ("memory", "sqlite"):
        adapter: Any
        if make == "memory":
            adapter = InMemoryAdapter(tables())
        else:
            adapter = SQLiteAdapter(":memory:")
            adapter.create_schema(DATAMAP)
            for name, rows in tables().items():
                adapter.insert(DATAMAP.record_type(name), rows)
        engine = pk.Engine(policy, DATAMAP, adapter, secret=b"s" * 32)
        plan = engine.plan_retention(now=NOW, settings=settings_())
        entry = next(
            e for e in plan.entries if e.record_type == "bookings" and e.group == "default"
        )
        assert entry.action == "anonymize"
        assert "invitee_email" in entry.fields
        assert "id" not in entry.fields
        engine.apply(plan)
        rows = {r["id"]: r for r in snapshot(adapter)["bookings"]}
        assert set(rows) == {1, 2, 3, 4, 5, 6}
        for i in (1, 2, 4):
            assert rows[i]["invitee_name"] == "Former invitee"
            assert str(rows[i]["invitee_email"]).startswith("anon_")
            assert rows[i]["invitee_notes"] is None
        for i in (3, 5, 6):
            assert rows[i]["invitee_email"] == f"invitee{i}@example.org"


def test_skipped_record_types_say_why() -> None:
    dm = pk.DataMap.model_validate(
        {
            "record_types": [
                {
                    "name": "notes",
                    "fields": [
                        {"name": "id", "type": "integer", "personal": False},
                        {"name": "body", "categories": ["user.support.conversation"]},
                    ],
                },
                {
                    "name": "misc",
                    "fields": [{"name": "id", "type": "integer", "personal": False}],
                },
            ]
        }
    )
    engine = pk.Engine(POLICY, dm, InMemoryAdapter({"notes": [], "misc": []}))
    plan = engine.plan_retention(now=NOW)
    reasons = dict(plan.skipped)
    assert "account_closed time" in reasons["notes"]
    assert reasons["misc"] == "no retention rule covers it"
    assert plan.entries == ()


def test_orphan_risk_is_noted() -> None:
    data = json.loads(POLICY.model_dump_json())
    for rule in data["retention"]:
        if rule["key"] == "payment_data":
            rule["duration"] = "P10Y"
    engine = pk.Engine(pk.Policy.model_validate(data), DATAMAP, InMemoryAdapter(tables()))
    notes = engine.plan_retention(now=NOW).notes
    assert any("payment_methods" in n and "never swept" in n for n in notes)


def _with_orphans(kind: str) -> tuple[pk.Engine, Any]:
    rows = tables()
    session = rows["sessions"][0]
    rows["sessions"] += [dict(session, id=5, user_id=99), dict(session, id=6, user_id=98)]
    rows["bookings"].append(booking(7, 98, d(2025, 12, 20)))
    if kind == "memory":
        adapter: Any = InMemoryAdapter(rows)
    else:
        adapter = SQLiteAdapter(":memory:")
        adapter.create_schema(DATAMAP)
        for name, items in rows.items():
            adapter.insert(DATAMAP.record_type(name), items)
    return pk.Engine(POLICY, DATAMAP, adapter, secret=b"s" * 32), adapter


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
@pytest.mark.parametrize("batch_size", [None, 1])
def test_orphans_are_counted_per_record_type_and_reported(
    kind: str, batch_size: int | None
) -> None:
    engine, _ = _with_orphans(kind)
    plan = engine.plan_retention(now=NOW, batch_size=batch_size)
    found = {o.record_type: (o.missing, o.unlinked) for o in plan.orphans}
    # bookings 6 links to no account, 7 to account 98 (gone); sessions 5 and 6 to 99 and 98.
    assert found == {"bookings": (1, 1), "sessions": (2, 0)}
    assert plan.total_orphans == 4
    text = str(plan)
    assert text.splitlines()[1].startswith("  ORPHANS: 4 record(s) can never be timed")
    assert "sessions: 2 record(s) cannot be timed (2 whose users record no longer exists)" in text
    assert "users.closed_at (via user_id)" in text
    report = engine.apply(plan)
    assert report.orphans == plan.orphans
    assert "ORPHANS: 4 record(s)" in report.summary()
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"][-1]
    assert applied.details["orphans"]["sessions"]["missing"] == 2
    assert applied.details["orphans"]["bookings"]["unlinked"] == 1
    assert engine.apply(plan, dry_run=True).orphans == plan.orphans


def test_an_override_on_the_records_own_time_is_not_an_orphan() -> None:
    engine, _ = _with_orphans("memory")
    s = settings_()
    s.set(98, "booking_data", "P30D")  # booking 7 is timed by its end, account or not
    plan = engine.plan_retention(now=NOW, settings=s)
    assert {o.record_type: (o.missing, o.unlinked) for o in plan.orphans} == {
        "bookings": (0, 1),
        "sessions": (2, 0),
    }


def test_no_orphans_no_section() -> None:
    engine, _ = memory_engine()
    plan = engine.plan_retention(now=NOW)
    assert [o.record_type for o in plan.orphans] == ["bookings"]  # booking 6 has no account
    rows = tables()
    rows["bookings"] = [b for b in rows["bookings"] if b["host_id"] is not None]
    clean = pk.Engine(POLICY, DATAMAP, InMemoryAdapter(rows)).plan_retention(now=NOW)
    assert clean.orphans == ()
    assert "ORPHANS" not in str(clean)


def test_bad_arguments() -> None:
    engine, _ = memory_engine()
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.plan_retention(now=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="batch_size"):
        engine.plan_retention(now=NOW, batch_size=0)


# -- overrides ---------------------------------------------------------------------------------------
def test_override_out_of_range_is_refused_with_rule_value_and_range() -> None:
    s = RetentionSettings(POLICY)
    with pytest.raises(pk.ConfigurationError) as err:
        s.set(4, "booking_data", "P11Y")
    message = str(err.value)
    assert "booking_data" in message
    assert "P11Y" in message
    assert "P1D" in message
    assert "P10Y" in message
    with pytest.raises(pk.ConfigurationError, match="outside the range"):
        s.set(4, "booking_data", "PT12H")
    with pytest.raises(pk.ConfigurationError, match="cannot be overridden"):
        s.set(4, "payment_data", "P1Y")
    with pytest.raises(
        pk.ConfigurationError, match=r"unknown retention rule 'bookin_data'.*booking_data"
    ):
        s.set(4, "bookin_data", "P1Y")
    with pytest.raises(pk.ConfigurationError, match="invalid duration"):
        s.set(4, "booking_data", "soon")
    with pytest.raises(pk.ConfigurationError, match="account key"):
        s.set(4.5, "booking_data", "P1Y")
    assert len(s) == 0
    s.set(4, "booking_data", "P10Y")  # the bounds themselves are allowed
    s.set(5, "booking_data", "P1D")
    assert s.get(4, "booking_data") == pk.Duration.parse("P10Y")
    assert s.get(6, "booking_data") is None
    s.clear(4)
    assert s.overrides("booking_data") == {5: pk.Duration.parse("P1D")}


def test_settings_persist_per_instance_and_in_a_file(tmp_path: Path) -> None:
    a, b = RetentionSettings(POLICY), RetentionSettings(POLICY)
    a.set(1, "booking_data", "P30D")
    assert len(b) == 0  # state is per instance
    path = tmp_path / "settings.json"
    s = RetentionSettings(POLICY, path)
    s.set(1, "booking_data", "P30D")
    s.set("acct-2", "booking_data", "P1Y")
    again = RetentionSettings(POLICY, path)
    assert again.overrides("booking_data") == {
        1: pk.Duration.parse("P30D"),
        "acct-2": pk.Duration.parse("P1Y"),
    }
    data = json.loads(path.read_text())
    data["overrides"][0]["duration"] = "P50Y"
    path.write_text(json.dumps(data))
    with pytest.raises(pk.ConfigurationError, match=r"settings.json.*outside the range"):
        RetentionSettings(POLICY, path)
    path.write_text("[1, 2]")
    with pytest.raises(pk.ConfigurationError, match="not a retention settings file"):
        RetentionSettings(POLICY, path)


def test_override_groups_are_one_selection_each() -> None:
    engine, mem = memory_engine()
    s = RetentionSettings(POLICY)
    s.set(3, "booking_data", "P30D")
    s.set(4, "booking_data", "P30D")
    s.set(2, "booking_data", "P5Y")
    plan = engine.plan_retention(now=NOW, settings=s)
    groups = [e.group for e in plan.entries if e.record_type == "bookings"]
    assert groups == ["default", "override P30D (2 accounts)", "override P5Y (1 account)"]
    engine.apply(plan)
    # Host 2 chose five years after the meeting: its booking of 2025 stays though it is closed.
    assert keys(mem, "bookings") == {2, 5, 6}


def test_a_policy_narrowed_after_the_choice_refuses_the_plan() -> None:
    s = RetentionSettings(POLICY)
    s.set(4, "booking_data", "P5Y")
    data = json.loads(POLICY.model_dump_json())
    for rule in data["retention"]:
        if rule["key"] == "booking_data":
            rule["override"]["maximum"] = "P1Y"
    engine = pk.Engine(pk.Policy.model_validate(data), DATAMAP, InMemoryAdapter(tables()))
    with pytest.raises(pk.ConfigurationError, match=r"P5Y.*outside the range.*P1Y"):
        engine.plan_retention(now=NOW, settings=s)
    with pytest.raises(pk.ConfigurationError, match="outside the range"):
        engine.fate("bookings", 4, now=NOW, settings=s)


def test_check_override() -> None:
    rule = POLICY.rule("booking_data")
    assert check_override(rule, pk.Duration.parse("P1Y")) == pk.Duration.parse("P1Y")
    with pytest.raises(pk.ConfigurationError, match="cannot be overridden"):
        check_override(POLICY.rule("content"), pk.Duration.parse("P1Y"))


# -- calendar ----------------------------------------------------------------------------------------
def test_cutoff_conventions() -> None:
    one_month = pk.Duration.parse("P1M")
    assert expires_at(d(2024, 1, 31), one_month) == d(2024, 2, 29)
    assert cutoff(one_month, d(2024, 2, 29)) == d(2024, 1, 31)
    assert cutoff(one_month, d(2024, 3, 31)) == d(2024, 2, 29, 23, 59, 59, 999999)
    assert cutoff(None, NOW) == NOW
    assert cutoff(pk.Duration.parse("P30D"), NOW) == NOW - dt.timedelta(days=30)
    # Other time zones are read as the same instant in UTC.
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert expires_at(dt.datetime(2024, 2, 1, 1, tzinfo=plus2), one_month) == d(2024, 2, 29, 23)


# -- resuming, auditing, pushing down ----------------------------------------------------------------
class Faulty(BaseAdapter):
    """Wraps an adapter and fails the n-th delete (or update), once."""

    def __init__(self, inner: Any, fail_on: int) -> None:
        super().__init__(name="faulty")
        self.inner, self.fail_on, self.calls = inner, fail_on, 0
        self.capabilities = inner.capabilities

    def _tick(self) -> None:
        self.calls += 1
        if self.calls == self.fail_on:
            raise pk.AdapterError("injected", adapter="faulty", operation="delete")

    def iter_records(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        return self.inner.iter_records(record_type, selection, fields=fields, batch_size=batch_size)

    def count(self, record_type: pk.RecordType, selection: Selection) -> int:
        return int(self.inner.count(record_type, selection))

    def delete(
        self, record_type: pk.RecordType, selection: Selection, *, batch_size: int = 1000
    ) -> int:
        self._tick()
        return int(self.inner.delete(record_type, selection, batch_size=batch_size))

    def update(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        self._tick()
        return int(self.inner.update(record_type, selection, values, batch_size=batch_size))

    def verify(self, datamap: pk.DataMap) -> list[pk.Problem]:
        return list(self.inner.verify(datamap))


@pytest.mark.parametrize("fail_on", [1, 3, 5, 8])
def test_resume_after_a_failure_half_way(fail_on: int, tmp_path: Path) -> None:
    clean, clean_adapter = memory_engine()
    clean.apply(clean.plan_retention(now=NOW, settings=settings_(), batch_size=1))
    want = snapshot(clean_adapter)

    mem = InMemoryAdapter(tables())
    faulty = Faulty(mem, fail_on)
    engine = pk.Engine(POLICY, DATAMAP, faulty, secret=b"s" * 32)
    journal = tmp_path / "journal.jsonl"
    plan = engine.plan_retention(now=NOW, settings=settings_(), batch_size=1, journal=journal)
    with pytest.raises(pk.AdapterError, match="injected"):
        engine.apply(plan)
    assert snapshot(mem) != want  # stopped part-way (or before anything)
    # A new plan for the same instant, reading the same journal, resumes: finished units are skipped.
    again = engine.plan_retention(
        now=NOW, settings=settings_(), batch_size=1, journal=journal, resume=plan.id
    )
    assert again.id == plan.id
    report = engine.apply(again)
    assert report.skipped_units == fail_on - 1
    assert snapshot(mem) == want
    assert engine.plan_retention(now=NOW, settings=settings_()).total == 0


def test_journal_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('["p", 0, 1]\nnot json\n')
    with pytest.raises(pk.PlanError, match="line 2"):
        RetentionJournal(path)


def test_audited_with_counts_never_data() -> None:
    engine, _ = memory_engine()
    engine.apply(engine.plan_retention(now=NOW, settings=settings_()))
    entries = [e for e in engine.audit.entries() if e.action.startswith("retention.")]
    steps = [e for e in entries if e.action == "retention.step"]
    assert len(steps) == 10
    assert entries[-1].action == "retention.applied"
    assert entries[-1].details["total"] == 7
    assert entries[-1].details["by_rule"]["booking_data"] == {"delete": 3}
    text = json.dumps([e.details for e in entries])
    assert "@" not in text
    assert "User " not in text
    assert "override" in text
    assert engine.audit.verify().ok


def _statements(db: SQLiteAdapter) -> list[str]:
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    return seen


def _fill(db: SQLiteAdapter, users: int, bookings_per_user: int) -> None:
    db.create_schema(DATAMAP)
    db.insert(
        DATAMAP.record_type("users"),
        [user(i, closed=d(2020, 1, 1) if i % 2 else None) for i in range(1, users + 1)],
    )
    db.insert(
        DATAMAP.record_type("bookings"),
        (
            booking(u * 1000 + j, u, d(2024, 1, 1) + dt.timedelta(hours=j))
            for u in range(1, users + 1)
            for j in range(bookings_per_user)
        ),
    )


@pytest.mark.parametrize("rows_per_user", [10, 200])
def test_sqlite_statements_do_not_grow_with_rows(rows_per_user: int) -> None:
    db = SQLiteAdapter(":memory:")
    _fill(db, 20, rows_per_user)
    engine = pk.Engine(POLICY, DATAMAP, db)
    s = RetentionSettings(POLICY)
    for u in range(2, 21, 2):
        s.set(u, "booking_data", "P30D")
    plan = engine.plan_retention(now=NOW, settings=s, batch_size=10_000)
    seen = _statements(db)
    report = engine.apply(plan)
    db.connection.set_trace_callback(None)
    assert report.total == plan.total == 20 * rows_per_user + 10  # all bookings, 10 users
    writes = [q for q in seen if q.startswith(("DELETE", "UPDATE"))]
    reads = [q for q in seen if q.startswith("SELECT")]
    # One statement per entry (and one per batch of accounts), whatever the row count.
    assert len(writes) <= 2 * len(plan.entries)
    assert len(reads) <= 2 * len(plan.entries)
    assert not any("INSERT" in q for q in seen)


def test_sqlite_statements_grow_only_with_batches() -> None:
    counts = {}
    for rows_per_user in (50, 100):
        db = SQLiteAdapter(":memory:")
        _fill(db, 10, rows_per_user)
        engine = pk.Engine(POLICY, DATAMAP, db)
        plan = engine.plan_retention(now=NOW, batch_size=100)
        seen = _statements(db)
        engine.apply(plan)
        counts[rows_per_user] = sum(1 for q in seen if q.startswith("DELETE"))
        assert plan.by_rule()["booking_data"] == {"delete": 5 * rows_per_user}
    # Deleting 250 vs 500 bookings (batches of 100): 3 vs 6 batch statements, plus fixed ones.
    assert counts[100] - counts[50] <= 3


def test_sqlite_large_in_lists_bind_one_parameter() -> None:
    db = SQLiteAdapter(":memory:")
    _fill(db, 600, 1)
    engine = pk.Engine(POLICY, DATAMAP, db)
    seen = _statements(db)
    report = engine.apply(engine.plan_retention(now=NOW, batch_size=5000))
    assert report.counts()["booking_data"] == {"delete": 300}
    assert any("json_each" in q for q in seen)


def test_sqlite_file_database_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with SQLiteAdapter(path) as db:
        _fill(db, 4, 3)
    with SQLiteAdapter(path) as db:
        engine = pk.Engine(POLICY, DATAMAP, db)
        report = engine.apply(engine.plan_retention(now=NOW))
        assert report.counts()["booking_data"] == {"delete": 6}
        assert report.counts()["account_data"] == {"delete": 2, "minimize": 0}
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM bookings").fetchone()[0] == 6
    conn.close()
