"""SQL adapters beyond the conformance suite: statements per batch, injection, storage formats."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import subprocess
import sys
import uuid
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter, where
from privacy_kit.adapters._sql import compile_selection, quote_identifier
from privacy_kit.adapters._sqlite import format_timestamp, parse_timestamp
from privacy_kit.model._datamap import DataMap

UTC = dt.UTC
EVIL = '"; DROP TABLE sentinel; --'


def _datamap(table: str = "items", fields: tuple[str, ...] = ("label",)) -> DataMap:
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
                        *({"name": f} for f in fields),
                    ],
                }
            ]
        }
    )


def _rows(n: int, start: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=UTC)) -> list[dict[str, Any]]:
    return [
        {"id": i, "owner": i % 10, "at": start + dt.timedelta(minutes=i), "label": f"r{i}"}
        for i in range(1, n + 1)
    ]


# -- one statement per batch ----------------------------------------------------------------


@pytest.mark.parametrize(("rows", "batch_size"), [(10_000, 1000), (10_500, 1000), (5, 1)])
def test_delete_is_one_statement_per_batch(rows: int, batch_size: int) -> None:
    connection = sqlite3.connect(":memory:")
    db = SQLiteAdapter(connection)
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(rows))
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    selection = where.before("at", dt.datetime(2030, 1, 1, tzinfo=UTC)) & ~where.eq("owner", -1)
    assert db.delete(items, selection, batch_size=batch_size) == rows
    connection.set_trace_callback(None)
    deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    # Full batches, plus the last partial batch, or an empty one that proves nothing is left.
    assert len(deletes) == rows // batch_size + 1
    assert not [s for s in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]
    assert db.count(items, where.all()) == 0


def test_update_is_one_statement_per_batch() -> None:
    connection = sqlite3.connect(":memory:")
    db = SQLiteAdapter(connection)
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(10_000))
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    # The update changes the field the selection reads: batches must still visit each row once.
    assert db.update(items, where.not_null("label"), {"label": None}, batch_size=1000) == 10_000
    connection.set_trace_callback(None)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 11
    assert db.count(items, where.is_null("label")) == 10_000


def test_each_batch_commits_so_no_giant_transaction(tmp_path: Any) -> None:
    path = tmp_path / "db.sqlite"
    db = SQLiteAdapter(path)
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(50))
    statements: list[str] = []
    db.connection.set_trace_callback(statements.append)
    db.delete(items, where.all(), batch_size=10)
    assert sum(s.strip().upper() == "COMMIT" for s in statements) == 6
    assert not db.connection.in_transaction
    db.close()


def test_a_callers_open_transaction_is_joined_not_committed() -> None:
    connection = sqlite3.connect(":memory:")
    db = SQLiteAdapter(connection)
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(20))
    connection.execute("BEGIN")
    assert db.delete(items, where.all(), batch_size=3) == 20
    assert connection.in_transaction
    connection.rollback()
    assert db.count(items, where.all()) == 20
    db.close()
    connection.execute("SELECT 1")  # a connection the caller passed stays open


# -- storage formats ------------------------------------------------------------------------


def test_timestamps_are_fixed_width_utc_text() -> None:
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    tz = dt.timezone(dt.timedelta(hours=-9, minutes=-30))
    db.insert(items, [{"id": 1, "at": dt.datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)},
                      {"id": 2, "at": dt.datetime(2024, 2, 29, 20, 0, tzinfo=tz)}])  # fmt: skip
    raw = [r[0] for r in db.connection.execute('SELECT "at" FROM "items" ORDER BY "id"')]
    assert raw == ["0999-01-02T03:04:05.000000Z", "2024-03-01T05:30:00.000000Z"]
    (record,) = next(db.iter_records(items, where.eq("id", 2)))
    assert record["at"] == dt.datetime(2024, 3, 1, 5, 30, tzinfo=UTC)
    assert record["at"].tzinfo is UTC


def test_timestamp_helpers() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp(dt.datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        format_timestamp("2024-01-01")
    assert parse_timestamp("2024-01-01 10:00:00") == dt.datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert parse_timestamp(0) == dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_timestamp(None) is None


def test_a_naive_timestamp_is_refused_with_an_adapter_error() -> None:
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    with pytest.raises(pk.AdapterError, match=r"insert on items failed.*timezone-aware"):
        db.insert(items, [{"id": 1, "at": dt.datetime(2024, 1, 1)}])
    assert db.count(items, where.all()) == 0


def test_unknown_column_in_a_selection_is_an_error_not_a_string() -> None:
    # SQLite reads an unknown "quoted" name as a string literal; NOT ('x' = 1) would be true
    # for every row, and a delete would empty the table. Qualified names make it an error.
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(5))
    with pytest.raises(pk.AdapterError, match="no such column"):
        db.delete(items, ~where.eq("no_such_field", 1))
    assert db.count(items, where.all()) == 5


def test_long_in_lists_bind_one_json_parameter() -> None:
    sql, params = compile_selection(where.in_("id", range(1000)), lambda f, v: v, json_in=True)
    assert sql == '"id" IN (SELECT value FROM json_each(?))'
    assert len(params) == 1
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(300))
    keys = list(range(0, 100_000, 2))
    assert db.count(items, where.in_("id", keys)) == 150
    assert db.count(items, ~where.in_("id", [*keys, None])) == 0
    labels = [f"r{i}" for i in range(250)] + [EVIL]
    assert db.count(items, where.in_("label", labels)) == 249


def test_values_json_cannot_carry_exactly_are_bound_beside_the_json_array() -> None:
    # NaN would become JSON null (NOT IN would turn unknown) and 2**70 cannot be a JSON integer.
    values = [*range(300), float("nan"), 2**70]
    sql, params = compile_selection(where.in_("x", values), lambda f, v: v, json_in=True)
    assert sql == '("x" IN (SELECT value FROM json_each(?)) OR "x" IN (?, ?))'
    assert len(params) == 3
    assert math.isnan(params[1])
    assert params[2] == 2**70
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, _rows(5))
    assert db.count(items, ~where.in_("id", [*range(3, 303), float("inf")])) == 2


def test_an_in_list_keeps_only_values_the_field_type_can_equal() -> None:
    kinds = {"id": "integer", "score": "real"}.get
    sql, params = compile_selection(
        where.in_("id", ["1", "2abc", 1.5, 2.0, None]) | where.in_("score", ["1.5", 2, 2**53 + 1]),
        lambda f, v: v,
        kinds=kinds,
    )
    assert sql == '("id" IN (?, ?) OR "score" IN (?))'
    assert params == [2, None, 2.0]
    # Nothing left: false for a value, still unknown for a NULL (so NOT selects only values).
    sql, params = compile_selection(~where.in_("id", ["1"]), lambda f, v: v, kinds=kinds)
    assert sql == 'NOT (CASE WHEN "id" IS NULL THEN NULL ELSE 0 END)'
    assert params == []
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    db.insert(items, [*_rows(3), {"id": 4, "owner": None, "at": None, "label": "x"}])
    assert db.count(items, where.in_("owner", ["1", "2"])) == 0
    assert db.count(items, ~where.in_("owner", ["1", "2"])) == 3
    assert db.count(items, where.in_("owner", [1.0, True])) == 1


def test_create_schema_indexes_subject_and_time_fields() -> None:
    db = SQLiteAdapter()
    db.create_schema(_datamap())
    db.create_schema(_datamap())  # idempotent
    indexed = {
        row[0]
        for row in db.connection.execute(
            "SELECT il.name FROM pragma_index_list('items') AS l, pragma_index_info(l.name) AS il"
        )
    }
    assert {"owner", "at"} <= indexed
    db.drop_schema(_datamap())
    assert db.verify(_datamap())[0].message == "table 'items' does not exist"


def test_bad_batch_sizes() -> None:
    db = SQLiteAdapter()
    dm = _datamap()
    items = dm.record_type("items")
    db.create_schema(dm)
    for call in (
        lambda: db.update(items, where.all(), {"label": "x"}, batch_size=0),
        lambda: db.update_by_key(items, [(1, {"label": "x"})], batch_size=0),
        lambda: db.insert(items, [], batch_size=-1),
    ):
        with pytest.raises(ValueError, match="batch_size"):
            call()


def test_quote_identifier() -> None:
    assert quote_identifier('a"b') == '"a""b"'
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        quote_identifier("")
    with pytest.raises(ValueError, match="invalid SQL identifier"):
        quote_identifier("a\x00b")


def test_importing_privacy_kit_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, privacy_kit, privacy_kit.adapters as a\n"
        "privacy_kit.Engine; a.SQLiteAdapter; a.InMemoryAdapter\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- injection: names and values ------------------------------------------------------------

EVIL_VALUES = [EVIL, "' OR '1'='1", "x'); DELETE FROM items; --", "semi;colon", "名前 🙂", "\\'"]


def _evil_datamap(server: bool) -> DataMap:
    suffix = uuid.uuid4().hex[:8]
    # MariaDB identifiers allow only the Basic Multilingual Plane (no emoji) and 64 characters.
    unicode_name = "名前" if server else "名前 🙂"
    return _datamap(
        table=f'it"em`s; DROP TABLE sentinel; -- {suffix}',
        fields=(EVIL, "it's", "back`tick", unicode_name, "label"),
    )


def _check_injection(adapter: Any, dm: DataMap, sentinel_count: Any) -> None:
    items = dm.record_type("items")
    names = [f.name for f in items.fields if f.name not in {"id", "owner", "at"}]
    rows = [
        {"id": i, "owner": i, "at": dt.datetime(2024, 1, i, tzinfo=UTC), **dict.fromkeys(names, v)}
        for i, v in enumerate(EVIL_VALUES, start=1)
    ]
    adapter.insert(items, rows)
    assert adapter.verify(dm) == []
    for i, value in enumerate(EVIL_VALUES, start=1):
        for name in names:
            assert adapter.count(items, where.eq(name, value)) == 1
        assert [r["id"] for b in adapter.iter_records(items, where.eq(EVIL, value)) for r in b] == [
            i
        ]
    assert adapter.update(items, where.eq("it's", EVIL), {"back`tick": "' OR 1=1 --"}) == 1
    assert adapter.update_by_key(items, [(2, {EVIL: EVIL})]) == 1
    assert adapter.count(items, where.eq(EVIL, EVIL)) == 2
    assert adapter.delete(items, where.in_(EVIL, [EVIL, "nothing"])) == 2
    assert adapter.count(items, where.all()) == len(EVIL_VALUES) - 2
    stored = {r["id"]: r for b in adapter.iter_records(items, where.all()) for r in b}
    assert stored[3][names[-2]] == EVIL_VALUES[2]
    assert sentinel_count() == 1, "the sentinel table was touched"


def test_sqlite_names_and_values_cannot_inject() -> None:
    db = SQLiteAdapter()
    db.connection.execute("CREATE TABLE sentinel (x)")
    db.connection.execute("INSERT INTO sentinel VALUES (1)")
    db.connection.commit()
    dm = _evil_datamap(server=False)
    db.create_schema(dm)
    _check_injection(
        db, dm, lambda: db.connection.execute("SELECT COUNT(*) FROM sentinel").fetchone()[0]
    )


def test_memory_agrees_on_injection_values() -> None:
    dm = _evil_datamap(server=False)
    mem = InMemoryAdapter({dm.record_type("items").table_name: []})
    _check_injection(mem, dm, lambda: 1)


@pytest.mark.parametrize("server", [pytest.param("postgres", marks=pytest.mark.postgres),
                                    pytest.param("mariadb", marks=pytest.mark.mariadb)])  # fmt: skip
def test_server_names_and_values_cannot_inject(server: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(f"{server}_engine")
    from privacy_kit.adapters import SQLAlchemyAdapter

    sa = pytest.importorskip("sqlalchemy")
    sentinel = f"sentinel_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE {sentinel} (x INTEGER)"))
        conn.execute(sa.text(f"INSERT INTO {sentinel} VALUES (1)"))
    dm = _evil_datamap(server=True)
    adapter = SQLAlchemyAdapter(engine)
    try:
        adapter.create_schema(dm)

        def count() -> int:
            with engine.connect() as conn:
                return int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {sentinel}")).scalar_one())

        _check_injection(adapter, dm, count)
    finally:
        adapter.drop_schema(dm)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {sentinel}"))


def test_compiled_sql_never_contains_values() -> None:
    selection = (
        where.eq("a", EVIL) | where.in_("b", EVIL_VALUES) | ~where.eq("c", "' OR 1=1")
    ) & where.after("d", dt.datetime(2024, 1, 1, tzinfo=UTC))
    sql, params = compile_selection(selection, lambda f, v: v, table='t"x')
    for value in EVIL_VALUES:
        assert value not in sql
    assert EVIL in params
    assert sql.count("?") == len(params)
    assert '"t""x"."a"' in sql
