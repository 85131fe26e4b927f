"""Statement plans per store (issue 15): what each adapter runs for a delete, an update and the
counts of a plan, with and without an explicit ``batch_size``, counted statement by statement."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter, count_each, where
from privacy_kit.adapters._sql import factor_common
from privacy_kit.model._datamap import DataMap
from privacy_kit.rights import ErasureAction, KeepReason

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)


def _datamap(table: str = "items") -> DataMap:
    return DataMap.model_validate(
        {
            "record_types": [
                {
                    "name": "items",
                    "table": table,
                    "subjects": [{"kind": "customer", "field": "owner"}],
                    "fields": [
                        {"name": "id", "type": "integer"},
                        {"name": "owner", "type": "integer"},
                        {"name": "at", "type": "timestamp"},
                        {"name": "label"},
                    ],
                }
            ]
        }
    )


def _rows(n: int) -> list[dict[str, Any]]:
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    return [
        {"id": i, "owner": i % 10, "at": start + dt.timedelta(minutes=i), "label": f"r{i}"}
        for i in range(1, n + 1)
    ]


def _traced(rows: int) -> tuple[SQLiteAdapter, Any, list[str]]:
    connection = sqlite3.connect(":memory:")
    db = SQLiteAdapter(connection)
    dm = _datamap()
    db.create_schema(dm)
    db.insert(dm.record_type("items"), _rows(rows))
    seen: list[str] = []
    connection.set_trace_callback(seen.append)
    return db, dm.record_type("items"), seen


def _starting(seen: list[str], *words: str) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith(words)]


# -- SQLite: one statement by default, batches on request -----------------------------------------


def test_sqlite_delete_without_batch_size_is_one_statement_and_one_commit() -> None:
    db, items, seen = _traced(5_000)
    selection = where.before("at", dt.datetime(2030, 1, 1, tzinfo=UTC)) & ~where.eq("owner", 3)
    assert db.delete(items, selection) == 4_500
    assert len(_starting(seen, "DELETE")) == 1
    assert sum(s.strip().upper() == "COMMIT" for s in seen) == 1
    assert not _starting(seen, "SELECT", "UPDATE")
    assert db.count(items, where.all()) == 500
    # Idempotent: the same call again changes and counts nothing.
    assert db.delete(items, selection) == 0


def test_sqlite_delete_with_batch_size_still_batches() -> None:
    db, items, seen = _traced(2_500)
    assert db.delete(items, where.all(), batch_size=1_000) == 2_500
    assert len(_starting(seen, "DELETE")) == 3
    assert sum(s.strip().upper() == "COMMIT" for s in seen) == 3


def test_sqlite_update_without_batch_size_is_one_statement() -> None:
    db, items, seen = _traced(3_000)
    # The update changes the field the selection reads: each record is still updated once.
    assert db.update(items, where.not_null("label"), {"label": None}) == 3_000
    assert len(_starting(seen, "UPDATE")) == 1
    assert db.count(items, where.is_null("label")) == 3_000


def test_sqlite_counts_are_one_statement_per_64_selections() -> None:
    db, items, seen = _traced(100)
    selections = [where.eq("owner", i % 10) for i in range(70)]
    assert db.counts(items, selections) == [10] * 70
    counted = _starting(seen, "SELECT")
    assert len(counted) == 2
    assert counted[0].count("COUNT(") == 64


def test_factor_common_keeps_each_selections_meaning() -> None:
    shared = where.not_null("owner")
    held = where.in_("owner", [1, 2])
    common, rests = factor_common([shared & ~held, shared & held])
    assert common == shared
    assert rests == [~held, held]
    # Nothing shared: the WHERE is the OR of them, each counted by its own condition.
    common, rests = factor_common([where.eq("owner", 1), where.eq("owner", 2)])
    assert common == where.eq("owner", 1) | where.eq("owner", 2)
    # A selection made only of shared terms counts every record of the WHERE.
    common, rests = factor_common([shared, shared & held])
    assert common == shared
    assert rests == [where.all(), held]


def test_count_each_refuses_an_adapter_returning_the_wrong_number_of_counts() -> None:
    class Broken(InMemoryAdapter):
        def counts(self, record_type: Any, selections: Any) -> list[int]:
            return [1]

    items = _datamap().record_type("items")
    with pytest.raises(pk.AdapterError, match="1 number"):
        count_each(Broken({"items": []}), items, [where.all(), where.all()])


# -- retention and erasure on SQLite ------------------------------------------------------------


def _event_policy() -> pk.Policy:
    """The example policy with bookings deleted a year after they end (as the benchmark)."""
    doc = pk.load_policy(pk.example_path()).model_dump(mode="json", exclude_defaults=True)
    for rule in doc["retention"]:
        if rule["key"] == "booking_data":
            rule.update(trigger="event", duration="P1Y")
            rule.pop("override", None)
    return pk.load_policy(doc)


POLICY = _event_policy()
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))


def _store(bookings: int, *, closed_users: int = 0) -> SQLiteAdapter:
    db = SQLiteAdapter(":memory:")
    _fill(db, bookings, closed_users=closed_users)
    return db


def _fill(db: Any, bookings: int, *, closed_users: int = 0) -> None:
    """The data map's tables with 10 users (the first ``closed_users`` closed long ago) and
    ``bookings`` bookings spread over them, all ended in 2020."""
    db.create_schema(DATAMAP)
    users = [
        {"id": u, "name": f"U{u}", "email": f"u{u}@example.com", "closed_at": None}
        for u in range(1, 11)
    ]
    for u in range(1, closed_users + 1):
        users[u - 1]["closed_at"] = dt.datetime(2019, 1, 1, tzinfo=UTC)
    db.insert(DATAMAP.record_type("users"), users)
    db.insert(
        DATAMAP.record_type("bookings"),
        [
            {
                "id": i,
                "host_id": i % 10 + 1,
                "invitee_email": f"i{i}@example.com",
                "start_at": dt.datetime(2020, 1, 1, tzinfo=UTC) + dt.timedelta(hours=i),
                "end_at": dt.datetime(2020, 1, 1, 1, tzinfo=UTC) + dt.timedelta(hours=i),
                "created_at": dt.datetime(2019, 12, 1, tzinfo=UTC),
            }
            for i in range(1, bookings + 1)
        ],
    )


def _engine_holding_user_3(db: Any, audit: pk.AuditLog | None = None) -> pk.Engine:
    """An engine over ``db`` with the customer ``user_id=3`` under a legal hold."""
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32, audit=audit)
    engine.place_hold(
        reason="Dispute", placed_by="legal", now=NOW, subject=pk.Subject.of("customer", user_id=3)
    )
    return engine


@pytest.mark.parametrize("bookings", [200, 2_000])
def test_sqlite_sweep_is_one_delete_per_unit_and_few_planning_statements(bookings: int) -> None:
    db = _store(bookings)
    engine = _engine_holding_user_3(db)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    plan = engine.plan_retention(now=NOW)
    planning = list(seen)
    seen.clear()
    report = engine.apply(plan)
    db.connection.set_trace_callback(None)
    assert plan.by_rule()["booking_data"] == {"delete": bookings - bookings // 10}
    assert report.counts()["booking_data"] == {"delete": bookings - bookings // 10}
    booking_entries = [e for e in plan.entries if e.record_type == "bookings"]
    assert booking_entries[0].held == bookings // 10
    # Planning: the covered and held counts of every entry of a record type in one SELECT.
    counting = [s for s in planning if s.startswith("SELECT") and "COUNT(" in s]
    assert sum('FROM "bookings"' in s for s in counting) == 1
    assert len(counting) <= len(DATAMAP.record_types)
    # Applying: one DELETE per unit, whatever the number of rows.
    deletes = [s for s in seen if s.startswith("DELETE") and 'FROM "bookings"' in s]
    assert len(deletes) == 1


def test_sqlite_sweep_with_batch_size_deletes_in_batches() -> None:
    db = _store(1_000)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW, batch_size=300)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    assert engine.apply(plan).counts()["booking_data"] == {"delete": 1_000}
    deletes = [s for s in seen if s.startswith("DELETE") and 'FROM "bookings"' in s]
    assert len(deletes) == 4  # 300, 300, 300, 100


def test_sqlite_account_keys_are_read_once_per_plan() -> None:
    db = _store(50, closed_users=4)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    plan = engine.plan_retention(now=NOW)
    db.connection.set_trace_callback(None)
    key_reads = [
        s for s in seen if s.startswith('SELECT "users"."id" FROM "users" WHERE "users"."closed_at')
    ]
    due = {e.account_selection for e in plan.entries if e.account_selection is not None}
    assert len(due) == 1
    assert len([e for e in plan.entries if e.account_selection is not None]) > 1
    assert len(key_reads) == 1
    assert engine.apply(plan).total == plan.total


def test_sqlite_erasure_is_one_statement_per_step() -> None:
    db = _store(500)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    assert plan.batch_size is None
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    report = engine.apply(plan)
    db.connection.set_trace_callback(None)
    assert report.deleted["bookings"] == 50
    deletes = [s for s in seen if s.startswith("DELETE") and 'FROM "bookings"' in s]
    assert len(deletes) == 1
    batched = engine.plan_erasure(pk.Subject.of("customer", user_id=3), now=NOW, batch_size=20)
    seen.clear()
    db.connection.set_trace_callback(seen.append)
    assert engine.apply(batched).deleted["bookings"] == 50
    db.connection.set_trace_callback(None)
    assert len([s for s in seen if s.startswith("DELETE") and 'FROM "bookings"' in s]) == 3


# -- PostgreSQL: block ranges -------------------------------------------------------------------


@pytest.fixture
def pg_items(postgres_engine: Any) -> Iterator[tuple[Any, Any, list[str]]]:
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    dm = _datamap(f"w_sweep_items_{uuid.uuid4().hex[:8]}")
    db = SQLAlchemyAdapter(postgres_engine)
    db.create_schema(dm)
    items = dm.record_type("items")
    db.insert(items, _rows(5_000))
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f'ANALYZE "{items.table_name}"'))
    seen: list[str] = []

    def trace(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    sa.event.listen(postgres_engine, "before_cursor_execute", trace)
    yield db, items, seen
    sa.event.remove(postgres_engine, "before_cursor_execute", trace)
    db.drop_schema(dm)


def test_postgres_delete_runs_block_ranges_sized_by_the_table(
    pg_items: tuple[Any, Any, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from privacy_kit.adapters import _sqlalchemy_write

    db, items, seen = pg_items
    monkeypatch.setattr(_sqlalchemy_write, "PG_ROWS_PER_BATCH", 1_000)
    selection = where.before("at", dt.datetime(2030, 1, 1, tzinfo=UTC)) & ~where.eq("owner", 3)
    assert db.delete(items, selection) == 4_500
    deletes = [s for s in seen if s.startswith("DELETE")]
    assert len(deletes) >= 4  # 5,000 rows in ranges of about 1,000
    assert all("ctid >=" in s for s in deletes)
    assert "ctid <" not in deletes[-1]  # the last range is open-ended
    assert db.count(items, where.all()) == 500
    assert db.delete(items, selection) == 0


def test_postgres_delete_with_batch_size_uses_row_address_batches(
    pg_items: tuple[Any, Any, list[str]],
) -> None:
    db, items, seen = pg_items
    assert db.delete(items, where.eq("owner", 1), batch_size=200) == 500
    deletes = [s for s in seen if s.startswith("DELETE")]
    assert len(deletes) == 3  # 200, 200, 100
    assert all("LIMIT" in s for s in deletes)


def test_postgres_counts_are_one_statement(pg_items: tuple[Any, Any, list[str]]) -> None:
    db, items, seen = pg_items
    shared = where.not_null("owner")
    held = where.in_("owner", [1, 2])
    assert db.counts(items, [shared & ~held, shared & held]) == [4_000, 1_000]
    assert len([s for s in seen if s.startswith("SELECT")]) == 1


# -- MariaDB: one statement, or locked keys for long IN lists -----------------------------------


@pytest.fixture
def maria_items(mariadb_engine: Any) -> Iterator[tuple[Any, Any, list[str]]]:
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    dm = _datamap(f"w_sweep_items_{uuid.uuid4().hex[:8]}")
    db = SQLAlchemyAdapter(mariadb_engine)
    db.create_schema(dm)
    items = dm.record_type("items")
    db.insert(items, _rows(2_000))
    seen: list[str] = []

    def trace(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    sa.event.listen(mariadb_engine, "before_cursor_execute", trace)
    yield db, items, seen
    sa.event.remove(mariadb_engine, "before_cursor_execute", trace)
    db.drop_schema(dm)


def test_mariadb_delete_is_one_statement(maria_items: tuple[Any, Any, list[str]]) -> None:
    db, items, seen = maria_items
    assert db.delete(items, ~where.eq("owner", 3)) == 1_800
    assert len([s for s in seen if s.startswith("DELETE")]) == 1
    assert not [s for s in seen if "FOR UPDATE" in s]


def test_mariadb_delete_with_batch_size_walks_primary_key_ranges(
    maria_items: tuple[Any, Any, list[str]],
) -> None:
    db, items, seen = maria_items
    # 2,000 rows in ranges of 300: 6 bounded ranges and the open-ended last one.
    assert db.delete(items, ~where.eq("owner", 3), batch_size=300) == 1_800
    deletes = [s for s in seen if s.startswith("DELETE")]
    probes = [s for s in seen if s.startswith("SELECT") and "ORDER BY" in s and "LIMIT" in s]
    assert len(deletes) == len(probes) == 7
    assert not [s for s in seen if "FOR UPDATE" in s]
    assert db.count(items, where.all()) == 200
    assert db.count(items, where.eq("owner", 3)) == 200
    seen.clear()
    assert db.delete(items, ~where.eq("owner", 3), batch_size=300) == 0  # idempotent


def test_mariadb_delete_by_key_ranges_deletes_at_most_a_batch_per_statement(
    maria_items: tuple[Any, Any, list[str]],
) -> None:
    """Each range holds at most ``batch_size`` rows of the table, whatever the selection, and the
    last one is open-ended (rows past the last bound are deleted too)."""
    sa = pytest.importorskip("sqlalchemy")
    db, items, _seen = maria_items
    counts: list[int] = []

    def count(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: Any) -> None:
        if statement.startswith("DELETE"):
            counts.append(_cur.rowcount)

    sa.event.listen(db.engine, "after_cursor_execute", count)
    try:
        assert db.delete(items, where.all(), batch_size=700) == 2_000
    finally:
        sa.event.remove(db.engine, "after_cursor_execute", count)
    assert counts == [700, 700, 600]
    assert db.count(items, where.all()) == 0


def test_mariadb_delete_of_a_long_list_locks_keys_first(
    maria_items: tuple[Any, Any, list[str]],
) -> None:
    db, items, seen = maria_items
    assert db.delete(items, where.in_("id", list(range(1, 1_001)))) == 1_000
    assert [s for s in seen if "FOR UPDATE" in s]
    assert db.count(items, where.all()) == 1_000


# -- the fixed cost of a sweep: statements that do not grow with the data -----------------------


def _statements(seen: list[str]) -> list[str]:
    """What SQLite ran, without transaction control and a pragma's own trace lines."""
    return [
        s
        for s in seen
        if not s.startswith("--") and s.strip().upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}
    ]


def _tables_counted(statements: list[str]) -> list[str]:
    """The tables the ``COUNT`` statements count, once per aggregate (a sub-select's ``FROM`` in
    a ``NOT IN (SELECT ...)`` left out)."""
    return [
        table
        for s in statements
        if s.startswith(("SELECT COUNT(", "SELECT * FROM (SELECT COUNT("))
        for table in re.findall(r'\) FROM "([^"]+)"', s)
    ]


@pytest.mark.parametrize("closed_users", [0, 4])
def test_sqlite_sweep_runs_a_fixed_number_of_statements(closed_users: int) -> None:
    """Planning: one statement for every count (each table's entries and orphans in one
    aggregate, the held records in one of their own), one read of the foreign keys, one of the
    due accounts, one per held subject. Applying: the due accounts read once, no count before a
    unit the plan counted, one write per unit; the steps that changed nothing are audited with
    the last entry (one commit)."""
    db = _store(2_000, closed_users=closed_users)
    audit_conn = sqlite3.connect(":memory:")
    engine = _engine_holding_user_3(db, pk.AuditLog.sqlite(audit_conn))
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    plan = engine.plan_retention(now=NOW)
    planning = _statements(seen)
    seen.clear()
    audited: list[str] = []
    audit_conn.set_trace_callback(audited.append)
    report = engine.apply(plan)
    applying = _statements(seen)
    assert report.total == plan.total > 0
    # Planning.
    (counting,) = [s for s in planning if "COUNT(" in s]
    counted = _tables_counted([counting])
    # (the entries timed by their accounts have units only when accounts are due)
    held = {
        e.record_type
        for e in plan.entries
        if e.held_selection is not None and (e.account_selection is None or closed_users)
    }
    # One aggregate per table, and one more per table with held records (found by their keys).
    assert held == (
        {rt.table_name for rt in DATAMAP.record_types} if closed_users else {"bookings", "users"}
    )
    assert sorted(counted) == sorted([rt.table_name for rt in DATAMAP.record_types] + sorted(held))
    assert sum("pragma_foreign_key_list" in s for s in planning) == 1
    due_accounts = [s for s in planning if s.startswith('SELECT "users"."id" FROM "users"')]
    assert len(due_accounts) == 1
    held_subject = [s for s in planning if s.startswith('SELECT "users"."email"')]
    assert len(held_subject) == 1
    assert len(planning) == 4
    # Applying.
    writes = [s for s in applying if s.startswith(("DELETE", "UPDATE"))]
    reads = [s for s in applying if s.startswith('SELECT "users"."id" FROM "users"')]
    assert len(reads) == 1
    counts = _tables_counted(applying)
    assert not {"bookings", "users"} & set(counts)  # counted by the plan
    # One write per unit: the entries of their own (bookings, the account rows' two stages)
    # and, with due accounts, one batch for each of the 6 record types timed by them.
    by_batch = sum(1 for e in plan.entries if e.account_selection is not None)
    assert by_batch == 6
    assert len(writes) == 3 + (by_batch if closed_users else 0)
    # A unit of an account batch is counted just before it runs (its keys are read then).
    assert len(counts) == (by_batch if closed_users else 0)
    assert len(applying) == len(writes) + len(reads) + len(counts)
    # The audit log: the steps that changed something one commit each, the rest with the end.
    changed = sum(1 for line in report.lines if line.done)
    assert sum(s.strip().upper() == "COMMIT" for s in audited) == changed + 1
    actions = [e.action for e in engine.audit.entries()]
    assert actions.count("retention.step") == len(plan.entries)
    assert actions[-1] == "retention.applied"


def test_sqlite_sweep_counts_a_unit_when_a_hold_was_placed_after_the_plan() -> None:
    db = _store(500)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW)
    engine.place_hold(
        reason="New", placed_by="legal", now=NOW, subject=pk.Subject.of("customer", user_id=5)
    )
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    report = engine.apply(plan)
    assert "bookings" in _tables_counted(_statements(seen))  # the planned count no longer holds
    assert report.counts()["booking_data"] == {"delete": 450}
    assert sum(n.count for n in report.newly_held) == 50


def test_a_sweep_unit_the_plan_counted_starts_from_the_plans_count() -> None:
    """The journal's count at the start of such a unit is the plan's (no count runs before it)."""
    db = _store(300)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    journal = pk.RetentionJournal()
    plan = engine.plan_retention(now=NOW, journal=journal)
    index, entry = next((i, e) for i, e in enumerate(plan.entries) if e.record_type == "bookings")
    engine.apply(plan)
    assert journal.started_count(plan.id, index, 0) == entry.count == 300
    assert journal.done_count(plan.id, index, 0) == 300


def test_sqlite_erasure_runs_no_count_before_a_delete_step() -> None:
    db = _store(400)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    report = engine.apply(plan)
    applying = _statements(seen)
    deletes = [s for s in applying if s.startswith("DELETE")]
    assert report.deleted["bookings"] == 40
    assert deletes
    for delete in deletes:
        where = delete.split(" WHERE ", 1)[1]
        assert not [s for s in applying if s.startswith("SELECT COUNT(") and s.endswith(where)]


def test_sqlite_erasure_runs_a_fixed_number_of_statements() -> None:
    """Planning: the subject resolved, one statement for the counts of every record type, one
    read of the foreign keys, then the commitments: the account row's keys (their number is its
    count) and one statement for the counts of the records timed by it. Applying: the same two
    for the commitments, then only the steps' own statements (a delete: its ``DELETE``; an
    anonymisation: the count of what is left to change, and its ``UPDATE``)."""
    db = _store(500)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    planning = _statements(seen)
    seen.clear()
    report = engine.apply(plan)
    applying = _statements(seen)
    db.connection.set_trace_callback(None)
    assert len(DATAMAP.record_types) == 8
    assert len(plan.steps) == 6
    assert len(planning) == 5, planning
    counting = [s for s in planning if s.startswith("SELECT * FROM (SELECT COUNT(")]
    assert len(counting) == 2  # every record type's count; then the dependants' counts
    assert len(_tables_counted(counting[:1])) == 8
    deletes = [s for s in plan.steps if s.action is ErasureAction.DELETE]
    anonymisations = [s for s in plan.steps if s.action is ErasureAction.ANONYMIZE]
    assert len(applying) == 2 + len(deletes) + 2 * len(anonymisations), applying
    assert applying[0].startswith('SELECT "users"."id" FROM "users"')
    assert applying[1].startswith("SELECT * FROM (SELECT COUNT(")
    assert report.deleted["bookings"] == 50 == plan.deleted["bookings"]
    assert [(c.record_type, c.action) for c in report.commitments] == [
        (c.record_type, c.action) for c in plan.commitments
    ]


def test_sqlite_erasure_plan_resolves_a_held_subject_once() -> None:
    """A hold adds one statement to planning (the held subject resolved once, not once per record
    type); the held records are counted in the plan's one counting statement."""
    db = _store(500)
    engine = _engine_holding_user_3(db)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    planning = _statements(seen)
    db.connection.set_trace_callback(None)
    assert len(planning) == 6, planning
    resolving = [s for s in planning if s.startswith('SELECT "users"."email"')]
    assert len(resolving) == 2  # the subject erased, and the held one
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=3), now=NOW)
    held = {k.record_type: k.count for k in plan.kept if k.reason is KeepReason.LEGAL_HOLD}
    assert held == {"users": 1, "bookings": 50}
    assert plan.deleted.get("bookings", 0) == 0


def test_an_erasure_file_journal_syncs_before_the_store_commits_and_at_the_end(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from privacy_kit.audit import _journal

    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(_journal.os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    db = _store(400)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32, journal_dir=tmp_path)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=2), now=NOW)
    first = engine.apply(plan)
    # One store: its steps' starts in one sync before its one commit, and the end.
    assert len(synced) == 2
    # A power cut losing the unsynced ``done`` lines: applying again counts the same records.
    (path,) = tmp_path.glob("*.jsonl")
    lines = [ln for ln in path.read_bytes().splitlines() if b'"started"' in ln]
    path.write_bytes(b"".join(ln + b"\n" for ln in lines))
    again = engine.apply(plan)
    assert again.deleted == first.deleted
    assert again.anonymised == first.anonymised
    assert any("resumed after an interrupted attempt" in n for n in again.notes)
    assert not any("AT LEAST" in n for n in again.notes)


class _NoRelated(InMemoryAdapter):
    capabilities = InMemoryAdapter.capabilities - {pk.adapters.Capability.RELATED}


def test_orphans_counted_by_the_store_equal_those_found_by_reading_account_keys() -> None:
    from privacy_kit._scope import Stores
    from privacy_kit.retention import find_orphans

    def tables() -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in DATAMAP.record_types}
        found["users"] = [{"id": u} for u in range(1, 6)]
        found["sessions"] = [{"id": s, "user_id": s % 9 or None} for s in range(1, 40)]
        found["payment_methods"] = [{"id": p, "user_id": 7} for p in range(1, 4)]
        return found

    direct = find_orphans(POLICY, Stores.of(DATAMAP, InMemoryAdapter(tables())), batch_size=2)
    by_keys = find_orphans(POLICY, Stores.of(DATAMAP, _NoRelated(tables())), batch_size=2)
    db = SQLiteAdapter(":memory:")
    db.create_schema(DATAMAP)
    for name, rows in tables().items():
        if rows:
            db.insert(DATAMAP.record_type(name), rows)
    in_sqlite = find_orphans(POLICY, Stores.of(DATAMAP, db), batch_size=2)
    assert direct == by_keys == in_sqlite
    found = {o.record_type: (o.missing, o.unlinked) for o in direct}
    # Sessions 6-8, 15-17, 24-26 and 33-35 link to users that do not exist; 9, 18, 27, 36 to none.
    assert found == {"sessions": (12, 4), "payment_methods": (3, 0)}


def test_postgres_sweep_runs_a_fixed_number_of_statements(postgres_engine: Any) -> None:
    """The SQLite test above on PostgreSQL: planning is one statement for every table's counts
    (``counts_by_type``), one read of the foreign keys (the catalog, not reflection), of the due
    accounts and of the held subject; applying reads the due accounts once and counts nothing
    before a unit the plan counted."""
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    schema = f"w_perf_{uuid.uuid4().hex[:10]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    seen: list[str] = []

    def trace(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    counted = dict.fromkeys(("begin", "commit", "rollback"), 0)

    def ended(event: str) -> Any:
        def count(*_args: Any) -> None:
            counted[event] += 1

        return count

    ends = {event: ended(event) for event in counted}
    try:
        db = SQLAlchemyAdapter(postgres_engine, schema=schema)
        _fill(db, 2_000)
        engine = _engine_holding_user_3(db)
        sa.event.listen(postgres_engine, "before_cursor_execute", trace)
        for event in ("begin", "commit", "rollback"):
            sa.event.listen(postgres_engine, event, ends[event])
        plan = engine.plan_retention(now=NOW)
        planning, planning_ends = list(seen), dict(counted)
    finally:
        sa.event.remove(postgres_engine, "before_cursor_execute", trace)
        for event in ("begin", "commit", "rollback"):
            sa.event.remove(postgres_engine, event, ends[event])
    try:
        seen.clear()
        sa.event.listen(postgres_engine, "before_cursor_execute", trace)
        report = engine.apply(plan)
        applying = list(seen)
    finally:
        sa.event.remove(postgres_engine, "before_cursor_execute", trace)
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    assert report.total == plan.total == 1_800
    (counts,) = [s for s in planning if "count(" in s]
    assert all(f"FROM {schema}.{rt.table_name} " in counts for rt in DATAMAP.record_types)
    assert sum("pg_constraint" in s for s in planning) == 1
    # the counts, foreign keys, due accounts, the held subject, which tables are partitioned
    assert len(planning) == 5
    # ... all in one read-only transaction: one BEGIN and one ROLLBACK, not a pair per read
    assert planning_ends == {"begin": 1, "commit": 0, "rollback": 1}, planning_ends
    assert sum("pg_partitioned_table" in s for s in planning) == 1
    writes = [s for s in applying if s.startswith(("DELETE", "UPDATE"))]
    assert len(writes) == 3
    assert not [s for s in applying if s.startswith("SELECT count(")]
    due = [s for s in applying if s.startswith(f"SELECT {schema}.users.id FROM")]
    assert len(due) == 1
    sizes = [s for s in applying if "pg_relation_size" in s]  # a delete's block ranges
    assert len(applying) == len(writes) + len(due) + len(sizes)
    assert len(sizes) <= sum(s.startswith("DELETE") for s in writes)


@pytest.mark.mariadb
def test_mariadb_sweep_runs_a_fixed_number_of_statements(mariadb_engine: Any) -> None:
    """The same sweep on MariaDB: planning is one statement for every table's counts, one read
    of the foreign keys (``information_schema``), of the due accounts and of the held subject;
    applying reads the due accounts once and runs one statement per unit (the selections read
    no other table and bind no long list, so no keys are locked first), counting nothing."""
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    database = f"w_perf_{uuid.uuid4().hex[:10]}"
    with mariadb_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {database}"))
    seen: list[str] = []

    def trace(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    try:
        db = SQLAlchemyAdapter(mariadb_engine, schema=database)
        _fill(db, 2_000)
        engine = _engine_holding_user_3(db)
        sa.event.listen(mariadb_engine, "before_cursor_execute", trace)
        plan = engine.plan_retention(now=NOW)
        planning = list(seen)
        seen.clear()
        report = engine.apply(plan)
        applying = list(seen)
    finally:
        sa.event.remove(mariadb_engine, "before_cursor_execute", trace)
        with mariadb_engine.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE {database}"))
    assert report.total == plan.total == 1_800
    (counts,) = [s for s in planning if "count(" in s]
    assert all(f"FROM {database}.{rt.table_name} " in counts for rt in DATAMAP.record_types)
    assert sum("information_schema.KEY_COLUMN_USAGE" in s for s in planning) == 1
    assert len(planning) == 4, planning  # the counts, foreign keys, due accounts, held subject
    writes = [s for s in applying if s.startswith(("DELETE", "UPDATE"))]
    assert len(writes) == 3
    assert not [s for s in applying if "count(" in s or "FOR UPDATE" in s]
    due = [s for s in applying if s.startswith(f"SELECT {database}.users.id FROM")]
    assert len(due) == 1
    assert len(applying) == len(writes) + len(due), applying


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_counts_by_type_equal_each_tables_counts(
    server: str, request: pytest.FixtureRequest
) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    engine = (
        sa.create_engine("sqlite://")
        if server == "sqlite"
        else request.getfixturevalue(f"{server}_engine")
    )
    one = _datamap(f"w_perf_a_{uuid.uuid4().hex[:8]}").record_type("items")
    other = _datamap(f"w_perf_b_{uuid.uuid4().hex[:8]}").record_type("items")
    db = SQLAlchemyAdapter(engine)
    for rt, rows in ((one, 300), (other, 40)):
        db.create_schema(DataMap(record_types=[rt]))
        db.insert(rt, _rows(rows))
    try:
        first = [where.eq("owner", 1), where.not_null("label") & where.eq("owner", 2), where.all()]
        second = [where.in_("owner", [1, 2, 3]), where.is_null("label")]
        seen: list[str] = []

        def trace(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            seen.append(statement)

        sa.event.listen(engine, "before_cursor_execute", trace)
        try:
            found = db.counts_by_type([(one, first), (other, second)])
        finally:
            sa.event.remove(engine, "before_cursor_execute", trace)
        assert (
            found == [db.counts(one, first), db.counts(other, second)] == [[30, 30, 300], [12, 0]]
        )
        assert len(seen) == 1
    finally:
        for rt in (one, other):
            db.drop_schema(DataMap(record_types=[rt]))


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_counts_by_type_with_short_rows_before_a_long_one(
    server: str, request: pytest.FixtureRequest
) -> None:
    """Rows with fewer counts than a later one are padded; every database takes the union (two
    rows of padding first once made PostgreSQL type the column as text)."""
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    engine = (
        sa.create_engine("sqlite://")
        if server == "sqlite"
        else request.getfixturevalue(f"{server}_engine")
    )
    one = _datamap(f"w_pad_a_{uuid.uuid4().hex[:8]}").record_type("items")
    other = _datamap(f"w_pad_b_{uuid.uuid4().hex[:8]}").record_type("items")
    db = SQLAlchemyAdapter(engine)
    for rt, rows in ((one, 300), (other, 40)):
        db.create_schema(DataMap(record_types=[rt]))
        db.insert(rt, _rows(rows))
    try:
        requests = [
            (one, [where.eq("owner", 1)]),
            (other, [where.all()]),
            (one, [where.eq("owner", 2), where.in_("owner", [3, 4]), where.is_null("label")]),
        ]
        assert db.counts_by_type(requests) == [[30], [40], [30, 60, 0]]
    finally:
        for rt in (one, other):
            db.drop_schema(DataMap(record_types=[rt]))


def test_a_plan_refuses_counts_by_type_of_the_wrong_shape() -> None:
    from privacy_kit._scope import Stores
    from privacy_kit.retention._counting import CountBatch

    class Broken(InMemoryAdapter):
        def counts_by_type(self, requests: Any) -> list[list[int]]:
            return [[1] for _ in requests]

    a, b = _datamap("a").record_type("items"), _datamap("b").record_type("items")
    dm = DataMap.model_validate(
        {"record_types": [a.model_dump(), {**b.model_dump(), "name": "others"}]}
    )
    batch = CountBatch(Stores.of(dm, Broken({"a": [], "b": []})))
    batch.add(dm.record_type("items"), where.all())
    batch.add(dm.record_type("items"), where.eq("owner", 1))
    batch.add(dm.record_type("others"), where.all())
    with pytest.raises(pk.AdapterError, match=r"returned \[1, 1\] count\(s\) for \[2, 1\]"):
        batch.run()


def test_the_rules_of_a_record_type_are_computed_once_per_policy_object() -> None:
    """A plan asks for a record type's rules many times: the answer is kept per (policy,
    record type) object, never across objects, so a changed policy gets its own answer."""
    from privacy_kit.model import retention_choices, rule_for_record_type

    bookings = DATAMAP.record_type("bookings")
    first = retention_choices(POLICY, bookings)
    assert retention_choices(POLICY, bookings) is first
    assert rule_for_record_type(POLICY, bookings) is first[0].rule
    doc = POLICY.model_dump(mode="json", exclude_defaults=True)
    for rule in doc["retention"]:
        if rule["key"] == "booking_data":
            rule["duration"] = "P2Y"
    changed = pk.load_policy(doc)
    assert str(retention_choices(changed, bookings)[0].rule.duration) != str(first[0].rule.duration)
    same_content = pk.load_policy(POLICY.model_dump(mode="json", exclude_defaults=True))
    assert retention_choices(same_content, bookings) is not first
    assert retention_choices(same_content, bookings) == first
