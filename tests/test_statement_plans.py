"""Statement plans per store (issue 15): what each adapter runs for a delete, an update and the
counts of a plan, with and without an explicit ``batch_size``, counted statement by statement."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter, count_each, where
from privacy_kit.adapters._sql import factor_common
from privacy_kit.model._datamap import DataMap

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
    return db


@pytest.mark.parametrize("bookings", [200, 2_000])
def test_sqlite_sweep_is_one_delete_per_unit_and_few_planning_statements(bookings: int) -> None:
    db = _store(bookings)
    engine = pk.Engine(POLICY, DATAMAP, db, secret=b"s" * 32)
    engine.place_hold(
        reason="Dispute",
        placed_by="legal",
        now=NOW,
        subject=pk.Subject.of("customer", user_id=3),
    )
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


def test_mariadb_delete_of_a_long_list_locks_keys_first(
    maria_items: tuple[Any, Any, list[str]],
) -> None:
    db, items, seen = maria_items
    assert db.delete(items, where.in_("id", list(range(1, 1_001)))) == 1_000
    assert [s for s in seen if "FOR UPDATE" in s]
    assert db.count(items, where.all()) == 1_000
