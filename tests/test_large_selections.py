"""Selections with 100,000 keys on every SQL backend: no statement exceeds a bind-parameter limit.

PostgreSQL binds at most 65,535 parameters per statement and SQLite 32,766 in its default build
(the tests lower this machine's SQLite to that); an ``In`` binds one array (PostgreSQL) or one JSON
array (SQLite) instead, wherever it is nested. MariaDB through PyMySQL has no placeholder limit
(values are written into the statement on the client). Lists that name values of another type
than the column's must not match records through the database's own conversions.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import And, BaseAdapter, Eq, In, IsNull, Not, Or, SQLiteAdapter
from privacy_kit.model._datamap import DataMap, RecordType

UTC = dt.UTC
N = 100_000
KEYS = list(range(2, 2 * N + 1, 2))  # 100,000 keys; the even half of the rows' owners match
START = dt.datetime(2020, 1, 1, tzinfo=UTC)
SQLITE_DEFAULT_LIMIT = 32_766


def _datamap(table: str) -> DataMap:
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


Load = Callable[[RecordType], None]


def _insert_rows(adapter: Any) -> Load:
    def load(items: RecordType) -> None:
        rows = (
            {"id": i, "owner": i, "at": START + dt.timedelta(minutes=i), "label": f"r{i}"}
            for i in range(1, N + 1)
        )
        adapter.insert(items, rows, batch_size=N)

    return load


def _server_load(engine: Any) -> Load:
    sa = pytest.importorskip("sqlalchemy")

    def load(items: RecordType) -> None:
        table = '"' + items.table_name + '"'
        if engine.dialect.name == "postgresql":
            sql = (
                f"INSERT INTO {table} (id, owner, at, label) SELECT i, i, "
                "timestamptz '2020-01-01 00:00:00+00' + i * interval '1 minute', 'r' || i "
                f"FROM generate_series(1, {N}) AS i"
            )
        else:
            table = table.replace('"', "`")
            sql = (
                f"INSERT INTO {table} (id, owner, at, label) SELECT seq, seq, "
                "TIMESTAMP'2020-01-01 00:00:00' + INTERVAL seq MINUTE, CONCAT('r', seq) "
                f"FROM seq_1_to_{N}"
            )
        with engine.begin() as conn:
            conn.execute(sa.text(sql))

    return load


@pytest.fixture(
    params=[
        "sqlite",
        "sqlalchemy-sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def store(request: pytest.FixtureRequest) -> Iterator[tuple[BaseAdapter, RecordType, Load]]:
    """An adapter with an empty ``items`` table, and how to bulk-load its 100,000 rows."""
    dm = _datamap(f"large_{uuid.uuid4().hex[:8]}")
    items = dm.record_type("items")
    if request.param == "sqlite":
        connection = sqlite3.connect(":memory:")
        connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_LIMIT)
        db = SQLiteAdapter(connection)
        db.create_schema(dm)
        yield db, items, _insert_rows(db)
        return
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    if request.param == "sqlalchemy-sqlite":
        engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)

        @sa.event.listens_for(engine, "connect")
        def _limit(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, SQLITE_DEFAULT_LIMIT)

        adapter = SQLAlchemyAdapter(engine)
        adapter.create_schema(dm)
        yield adapter, items, _insert_rows(adapter)
        engine.dispose()
        return
    engine = request.getfixturevalue(f"{request.param}_engine")
    adapter = SQLAlchemyAdapter(engine)
    adapter.create_schema(dm)
    try:
        yield adapter, items, _server_load(engine)
    finally:
        adapter.drop_schema(dm)


def _ids(adapter: BaseAdapter, items: RecordType, selection: Any, batch_size: int) -> list[int]:
    return [
        r["id"] for b in adapter.iter_records(items, selection, batch_size=batch_size) for r in b
    ]


def test_large_in_count_iter_update_delete(store: tuple[BaseAdapter, RecordType, Load]) -> None:
    adapter, items, load = store
    load(items)
    evens = list(range(2, N + 1, 2))
    odds = list(range(1, N + 1, 2))
    matching = In("owner", KEYS)
    assert adapter.count(items, matching) == N // 2
    assert adapter.count(items, Not(matching)) == N // 2
    assert adapter.count(items, Or((matching, Eq("id", 1)))) == N // 2 + 1
    assert adapter.count(items, In("label", [f"r{k}" for k in KEYS])) == N // 2
    # A NULL among the keys makes NOT IN unknown for every record the list does not name.
    with_null = In("owner", [*KEYS, None])
    assert adapter.count(items, with_null) == N // 2
    assert adapter.count(items, Not(with_null)) == 0
    # Read in pages: concatenated, in key order, each record once.
    assert _ids(adapter, items, matching, 20_000) == evens
    assert _ids(adapter, items, Or((IsNull("owner"), Not(matching))), 30_000) == odds
    # Updates and deletes walk batches; each returns the sum over its batches.
    assert adapter.update(items, Not(matching), {"label": "odd"}, batch_size=20_000) == N // 2
    assert adapter.count(items, Eq("label", "odd")) == N // 2
    assert adapter.count(items, And((Eq("label", "odd"), matching))) == 0
    assert adapter.delete(items, Or((matching, Eq("id", 1))), batch_size=20_000) == N // 2 + 1
    assert adapter.count(items, Not(In("id", odds))) == 0
    assert adapter.count(items, In("id", odds)) == N // 2 - 1


@pytest.mark.parametrize("many", [False, True], ids=["short", "long"])
def test_strings_never_match_integers_through_coercion(
    store: tuple[BaseAdapter, RecordType, Load], many: bool
) -> None:
    adapter, items, _ = store
    adapter.insert(
        items,
        [{"id": i, "owner": i, "at": START, "label": f"r{i}"} for i in (1, 2, 3)]
        + [{"id": 4, "owner": None, "at": START, "label": "1"}],
    )
    # MariaDB reads '2abc' as 2 and PostgreSQL cannot read '1.5' as a bigint: neither matches.
    strings = ["1.5", "2abc", "3"] * (200 if many else 1)
    assert adapter.count(items, In("owner", strings)) == 0
    assert adapter.count(items, In("id", strings)) == 0
    # Not matching is false, not unknown: NOT IN selects every record with an owner.
    assert _ids(adapter, items, Not(In("owner", strings)), 10) == [1, 2, 3]
    assert adapter.count(items, Or((In("owner", strings), Eq("id", 4)))) == 1
    assert adapter.delete(items, In("owner", strings)) == 0
    assert adapter.update(items, In("id", strings), {"label": "x"}) == 0
    # Numbers a column holds exactly still match: 2.0 is 2, 2.5 is nothing.
    assert adapter.count(items, In("owner", [2.0, 2.5, *strings])) == 1
    # An update by a key that is not an integer writes nothing (MariaDB would write record 2).
    assert adapter.update_by_key(items, [("2abc", {"label": "evil"})]) == 0
    assert adapter.count(items, Eq("label", "evil")) == 0
    assert adapter.count(items, Eq("label", "x")) == 0


def test_retention_with_100000_overrides_on_postgres(postgres_engine: Any) -> None:
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter
    from privacy_kit.retention import RetentionSettings

    policy = pk.load_policy(pk.example_path())
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"))
    schema = f"large_{uuid.uuid4().hex[:8]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    adapter = SQLAlchemyAdapter(postgres_engine, schema=schema)
    try:
        adapter.create_schema(datamap)
        with postgres_engine.begin() as conn:
            # Open accounts 1..N, each with one booking; even ones ended 2025-11-01 (past a
            # 30-day choice on 2026-01-01), odd ones 2025-12-15 (not yet). Account N + 1 closed
            # in 2019 without a choice: its 2018 booking goes by the default rule.
            conn.execute(
                sa.text(
                    f'INSERT INTO "{schema}".users (id, name, created_at) '
                    f"SELECT i, 'User ' || i, timestamptz '2015-01-01 00:00:00+00' "
                    f"FROM generate_series(1, {N}) AS i"
                )
            )
            conn.execute(
                sa.text(
                    f'INSERT INTO "{schema}".users (id, name, created_at, closed_at) VALUES '
                    f"({N + 1}, 'Closed', timestamptz '2015-01-01 00:00:00+00', "
                    "timestamptz '2019-01-02 00:00:00+00')"
                )
            )
            conn.execute(
                sa.text(
                    f'INSERT INTO "{schema}".bookings (id, host_id, start_at, end_at, created_at) '
                    "SELECT i, i, e - interval '1 hour', e, e - interval '3 days' FROM ("
                    "SELECT i, CASE WHEN i % 2 = 0 THEN timestamptz '2025-11-01 00:00:00+00' "
                    "ELSE timestamptz '2025-12-15 00:00:00+00' END AS e "
                    f"FROM generate_series(1, {N + 1}) AS i) AS s"
                )
            )
            conn.execute(
                sa.text(
                    f'UPDATE "{schema}".bookings SET end_at = timestamptz '
                    f"'2018-05-01 00:00:00+00' WHERE id = {N + 1}"
                )
            )
        settings = RetentionSettings(policy)
        thirty_days = pk.Duration.parse("P30D")
        for account in range(1, N + 1):
            settings.set(account, "booking_data", thirty_days)
        engine = pk.Engine(policy, datamap, adapter, secret=b"s" * 32)
        now = dt.datetime(2026, 1, 1, tzinfo=UTC)
        plan = engine.plan_retention(now=now, settings=settings, batch_size=10_000)
        counts = {(e.record_type, e.action, e.group): e.count for e in plan.entries}
        assert counts[("bookings", "delete", f"override P30D ({N} accounts)")] == N // 2
        assert counts[("bookings", "delete", "default")] == 1
        report = engine.apply(plan)
        assert report.total == plan.total
        bookings = datamap.record_type("bookings")
        assert adapter.count(bookings, In("id", list(range(1, N + 2)))) == N // 2
        assert adapter.count(bookings, In("id", list(range(2, N + 1, 2)))) == 0
        assert adapter.count(bookings, Eq("id", N + 1)) == 0
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
