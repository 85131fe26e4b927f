"""The shared state store: one conformance class run against the memory, SQLite, PostgreSQL and
MariaDB stores; schema migrations; bad input; and processes sharing one store (documents, one-time
consumption, the deployment secret, gap-free logs, concurrent migration)."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import state_workers
from conftest import MARIADB_URL, POSTGRES_URL
from privacy_kit import PrivacyKitError
from privacy_kit.audit import (
    MAX_DOCUMENT_BYTES,
    MAX_KEY_BYTES,
    SCHEMA_VERSION,
    MemoryStateStore,
    SchemaMigration,
    SqliteStateStore,
    StateConflictError,
    StateError,
    StateStore,
    StateValueError,
    _state_sqlite,
)
from privacy_kit.audit._state import prefix_end
from privacy_kit.audit._state_base import BaseStateStore


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:12]}_"


def _sqlalchemy_store(engine: Any) -> Iterator[BaseStateStore]:
    from privacy_kit.audit import SQLAlchemyStateStore

    store = SQLAlchemyStateStore(engine, prefix=_prefix())
    try:
        yield store
    finally:
        store.drop_tables()


# -- the conformance class ----------------------------------------------------------------------
class StateStoreConformance:
    """What every state store does; a subclass provides the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> Iterator[BaseStateStore]:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_is_a_state_store(self, store: BaseStateStore) -> None:
        assert isinstance(store, StateStore)

    def test_put_then_get(self, store: BaseStateStore) -> None:
        assert store.get("holds", "h1") is None
        stored = store.put("holds", "h1", {"reason": "case 12", "ids": [1, 2]})
        assert (stored.key, stored.document, stored.version) == (
            "h1",
            {"reason": "case 12", "ids": [1, 2]},
            1,
        )
        found = store.get("holds", "h1")
        assert found is not None
        assert found.document == {"reason": "case 12", "ids": [1, 2]}
        assert found.version == 1

    def test_every_json_value_round_trips(self, store: BaseStateStore) -> None:
        document = {
            "text": "Åsa \u2013 مرحبا 🙂 \x00 \"quoted\" 'single'",
            "ints": [0, -1, 2**63 - 1, -(2**63), 2**64 - 1],
            "floats": [0.5, -1e-300, 1e300],
            "flags": [True, False, None],
            "nested": {"a": {"b": {"c": []}}, "": "empty key"},
        }
        store.put("docs", "all", document)
        found = store.get("docs", "all")
        assert found is not None
        assert found.document == document

    def test_put_replaces_and_counts_versions(self, store: BaseStateStore) -> None:
        store.put("holds", "h1", {"n": 1})
        assert store.put("holds", "h1", {"n": 2}).version == 2
        found = store.get("holds", "h1")
        assert found is not None
        assert (found.document, found.version) == ({"n": 2}, 2)

    def test_put_if_absent(self, store: BaseStateStore) -> None:
        assert store.put("holds", "h1", {"n": 1}, if_absent=True).version == 1
        with pytest.raises(StateConflictError, match="already exists"):
            store.put("holds", "h1", {"n": 2}, if_absent=True)
        found = store.get("holds", "h1")
        assert found is not None
        assert found.document == {"n": 1}

    def test_put_if_version(self, store: BaseStateStore) -> None:
        assert store.put("holds", "h1", {"n": 1}, if_version=0).version == 1
        with pytest.raises(StateConflictError, match="expected version 0, found 1"):
            store.put("holds", "h1", {"n": 9}, if_version=0)
        assert store.put("holds", "h1", {"n": 2}, if_version=1).version == 2
        with pytest.raises(StateConflictError, match="expected version 1, found 2"):
            store.put("holds", "h1", {"n": 9}, if_version=1)

    def test_documents_are_copies(self, store: BaseStateStore) -> None:
        document: dict[str, Any] = {"list": [1]}
        stored = store.put("docs", "k", document)
        document["list"].append(2)
        stored.document["list"].append(3)
        found = store.get("docs", "k")
        assert found is not None
        assert found.document == {"list": [1]}

    def test_update_creates_changes_and_deletes(self, store: BaseStateStore) -> None:
        def bump(d: dict[str, Any] | None) -> dict[str, Any]:
            return {"n": (d or {"n": 0})["n"] + 1}

        first = store.update("counters", "a", bump)
        second = store.update("counters", "a", bump)
        assert first is not None
        assert second is not None
        assert (first.document, first.version) == ({"n": 1}, 1)
        assert (second.document, second.version) == ({"n": 2}, 2)
        assert store.update("counters", "a", lambda d: None) is None
        assert store.get("counters", "a") is None
        assert store.update("counters", "missing", lambda d: None) is None
        assert store.get("counters", "missing") is None

    def test_update_with_an_equal_document_writes_nothing(self, store: BaseStateStore) -> None:
        store.put("docs", "k", {"n": 1})
        same = store.update("docs", "k", lambda d: d)
        assert same is not None
        assert same.version == 1

    def test_update_may_change_its_argument_in_place(self, store: BaseStateStore) -> None:
        store.put("docs", "k", {"n": 1})

        def change(d: dict[str, Any] | None) -> dict[str, Any] | None:
            assert d is not None
            d["n"] = 2
            return d

        changed = store.update("docs", "k", change)
        assert changed is not None
        assert (changed.document, changed.version) == ({"n": 2}, 2)

    def test_an_exception_in_update_changes_nothing(self, store: BaseStateStore) -> None:
        store.put("holds", "h1", {"released": True})

        def release(d: dict[str, Any] | None) -> dict[str, Any]:
            raise PrivacyKitError("hold h1 was already released")

        with pytest.raises(PrivacyKitError, match="already released"):
            store.update("holds", "h1", release)
        found = store.get("holds", "h1")
        assert found is not None
        assert (found.document, found.version) == ({"released": True}, 1)

    def test_update_refuses_a_non_json_result(self, store: BaseStateStore) -> None:
        store.put("docs", "k", {"n": 1})
        with pytest.raises(StateValueError, match="datetime"):
            store.update("docs", "k", lambda d: {"at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)})
        found = store.get("docs", "k")
        assert found is not None
        assert found.document == {"n": 1}

    def test_delete(self, store: BaseStateStore) -> None:
        store.put("docs", "k", {"n": 1})
        with pytest.raises(StateConflictError, match="expected version 2, found version 1"):
            store.delete("docs", "k", if_version=2)
        assert store.delete("docs", "k", if_version=1) is True
        assert store.delete("docs", "k") is False
        assert store.get("docs", "k") is None

    def test_consume_gives_the_document_once(self, store: BaseStateStore) -> None:
        store.put("codes", "c1", {"subject": "subj_1"})
        taken = store.consume("codes", "c1")
        assert taken is not None
        assert taken.document == {"subject": "subj_1"}
        assert store.consume("codes", "c1") is None
        assert store.get("codes", "c1") is None

    def test_items_in_code_point_order(self, store: BaseStateStore) -> None:
        keys = ["b", "a", "A", "a ", "a\t", "é", "z", "Z", "🙂", "a|1", "a|2", "ab"]
        for key in keys:
            store.put("keys", key, {"key": key})
        store.put("other", "a", {"other": True})
        found = store.items("keys")
        assert [d.key for d in found] == sorted(keys)
        assert [d.document["key"] for d in found] == sorted(keys)

    def test_keys_are_exact(self, store: BaseStateStore) -> None:
        # case and trailing spaces matter (MariaDB's text collations would ignore both)
        for key in ("a", "A", "a ", "á"):
            store.put("keys", key, {"key": key})
        for key in ("a", "A", "a ", "á"):
            found = store.get("keys", key)
            assert found is not None
            assert found.document == {"key": key}

    def test_items_under_a_prefix(self, store: BaseStateStore) -> None:
        for key in ["subj_1|a", "subj_1|b", "subj_10|a", "subj_1", "subj_2|a", "SUBJ_1|a"]:
            store.put("preferences", key, {})
        assert [d.key for d in store.items("preferences", prefix="subj_1|")] == [
            "subj_1|a",
            "subj_1|b",
        ]
        assert [d.key for d in store.items("preferences", prefix="subj_1")] == [
            "subj_1",
            "subj_10|a",
            "subj_1|a",
            "subj_1|b",
        ]
        assert store.items("preferences", prefix="nobody") == ()
        assert store.items("empty") == ()

    def test_a_prefix_ending_in_the_last_code_point(self, store: BaseStateStore) -> None:
        top = "\U0010ffff"
        for key in ["a" + top, "a" + top + "x", "b"]:
            store.put("keys", key, {})
        assert [d.key for d in store.items("keys", prefix="a" + top)] == [
            "a" + top,
            "a" + top + "x",
        ]

    def test_append_numbers_entries_without_gaps(self, store: BaseStateStore) -> None:
        assert [store.append("journal", {"i": i}) for i in range(5)] == [1, 2, 3, 4, 5]
        assert store.append("other", {"i": 0}) == 1
        entries = store.entries("journal")
        assert [(e.seq, e.document) for e in entries] == [(i + 1, {"i": i}) for i in range(5)]
        assert [e.seq for e in store.entries("journal", after=2, limit=2)] == [3, 4]
        assert store.entries("journal", after=5) == ()
        assert store.entries("never") == ()

    def test_append_if_last(self, store: BaseStateStore) -> None:
        assert store.append("audit", {"n": 1}, if_last=0) == 1
        assert store.append("audit", {"n": 2}, if_last=1) == 2
        with pytest.raises(StateConflictError, match="expected the last entry to be 1, found 2"):
            store.append("audit", {"n": 3}, if_last=1)
        assert [e.seq for e in store.entries("audit")] == [1, 2]

    def test_documents_and_logs_are_separate(self, store: BaseStateStore) -> None:
        store.put("journal", "k", {"doc": True})
        store.append("journal", {"entry": True})
        assert [d.key for d in store.items("journal")] == ["k"]
        assert [e.document for e in store.entries("journal")] == [{"entry": True}]

    def test_secret_is_created_once(self, store: BaseStateStore) -> None:
        with pytest.raises(StateError, match="no secret 'tokens'"):
            store.secret("tokens", create=False)
        first = store.secret()
        assert len(first) == 32
        assert store.secret() == first
        assert store.secret(create=False) == first
        assert store.secret("tokens") != first

    def test_concurrent_updates_from_threads_are_atomic(self, store: BaseStateStore) -> None:
        def work() -> None:
            for _ in range(10):
                store.update("counters", "n", lambda d: {"n": (d or {"n": 0})["n"] + 1})

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        found = store.get("counters", "n")
        assert found is not None
        assert found.document == {"n": 40}

    # -- bad input ------------------------------------------------------------------------------
    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({1, 2}, r"\['x'\] is a set, not a JSON value \(use a list\)"),
            ((1, 2), r"\['x'\] is a tuple, not a JSON value \(use a list\)"),
            (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), r"is a datetime.*isoformat"),
            (b"raw", r"is a bytes.*hex or base64"),
            (float("nan"), "nan is not a JSON number"),
            (float("inf"), "inf is not a JSON number"),
            (2**64, "does not fit in 64 bits"),
            ({1: "a"}, r"the key 1 is a int; JSON object keys are strings"),
            (object(), "is a object, not a JSON value"),
            ({"a": [1, {"b": {2}}]}, r"\['a'\]\[1\]\['b'\] is a set"),
            ("\udcff", "lone surrogate"),
        ],
    )
    def test_refuses_non_json_values(self, store: BaseStateStore, value: Any, message: str) -> None:
        with pytest.raises(StateValueError, match=message) as caught:
            store.put("docs", "k", {"x": value})
        assert isinstance(caught.value, ValueError)
        assert "docs/'k'" in str(caught.value)
        assert store.get("docs", "k") is None
        with pytest.raises(StateValueError, match=message):
            store.append("log", {"x": value})
        assert store.entries("log") == ()

    @pytest.mark.parametrize("document", [[1, 2], "text", None, 3])
    def test_refuses_a_document_that_is_not_an_object(
        self, store: BaseStateStore, document: Any
    ) -> None:
        with pytest.raises(StateValueError, match="a document must be a dict"):
            store.put("docs", "k", document)

    def test_refuses_deep_and_large_documents(self, store: BaseStateStore) -> None:
        deep: dict[str, Any] = {}
        node = deep
        for _ in range(70):
            node["x"] = {}
            node = node["x"]
        with pytest.raises(StateValueError, match="nested deeper than 64 levels"):
            store.put("docs", "deep", deep)
        with pytest.raises(StateValueError, match=f"at most {MAX_DOCUMENT_BYTES} are allowed"):
            store.put("docs", "big", {"x": "a" * MAX_DOCUMENT_BYTES})
        assert store.items("docs") == ()

    @pytest.mark.parametrize(
        ("key", "message"),
        [
            ("", "a key must not be empty"),
            ("a\x00b", "must not contain NUL"),
            (
                "k" * (MAX_KEY_BYTES + 1),
                f"{MAX_KEY_BYTES + 1} bytes in UTF-8; at most {MAX_KEY_BYTES}",
            ),
            ("é" * (MAX_KEY_BYTES // 2 + 1), "bytes in UTF-8; at most"),
            ("\ud800", "lone surrogate"),
            (7, "a key must be a string, got int"),
            (None, "a key must be a string, got NoneType"),
        ],
    )
    def test_refuses_bad_keys(self, store: BaseStateStore, key: Any, message: str) -> None:
        for operation in (
            lambda: store.put("docs", key, {}),
            lambda: store.get("docs", key),
            lambda: store.update("docs", key, lambda d: {}),
            lambda: store.delete("docs", key),
            lambda: store.consume("docs", key),
        ):
            with pytest.raises(StateValueError, match=message):
                operation()

    def test_the_longest_key_is_accepted(self, store: BaseStateStore) -> None:
        key = "é" * (MAX_KEY_BYTES // 2)
        store.put("docs", key, {"ok": True})
        assert [d.key for d in store.items("docs")] == [key]

    @pytest.mark.parametrize(
        "name", ["", "Holds", "holds list", "1holds", "holds;drop", "h" * 129, "höld", 7, None]
    )
    def test_refuses_bad_collection_names(self, store: BaseStateStore, name: Any) -> None:
        message = "invalid collection name"
        with pytest.raises(StateValueError, match=message):
            store.put(name, "k", {})
        with pytest.raises(StateValueError, match=message):
            store.items(name)
        with pytest.raises(StateValueError, match=message):
            store.append(name, {})
        with pytest.raises(StateValueError, match=message):
            store.entries(name)
        with pytest.raises(StateValueError, match="invalid secret name"):
            store.secret(name)

    def test_refuses_bad_log_arguments(self, store: BaseStateStore) -> None:
        with pytest.raises(StateValueError, match="limit must be at least 1, got 0"):
            store.entries("log", limit=0)
        with pytest.raises(StateValueError, match="if_last must be 0 or more, got -1"):
            store.append("log", {}, if_last=-1)

    def test_sql_in_keys_is_only_data(self, store: BaseStateStore) -> None:
        key = "x'); DROP TABLE privacy_kit_state; --"
        store.put("docs", key, {"v": "'; DELETE FROM privacy_kit_state_log; --"})
        store.append("log", {"v": 1})
        found = store.get("docs", key)
        assert found is not None
        assert found.document == {"v": "'; DELETE FROM privacy_kit_state_log; --"}
        assert [d.key for d in store.items("docs", prefix="x'")] == [key]
        assert len(store.entries("log")) == 1


class TestMemoryStateStore(StateStoreConformance):
    @pytest.fixture
    def store(self) -> BaseStateStore:
        return MemoryStateStore()


class TestSqliteStateStore(StateStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BaseStateStore]:
        with SqliteStateStore(tmp_path / "state.db") as store:
            yield store

    def test_another_store_on_the_same_file_sees_everything(
        self, store: BaseStateStore, tmp_path: Path
    ) -> None:
        store.put("holds", "h1", {"reason": "case 12"})
        store.append("journal", {"step": 1})
        with SqliteStateStore(tmp_path / "state.db") as other:
            found = other.get("holds", "h1")
            assert found is not None
            assert found.document == {"reason": "case 12"}
            assert other.append("journal", {"step": 2}) == 2
            assert other.secret() == store.secret()


@pytest.mark.postgres
class TestPostgresStateStore(StateStoreConformance):
    @pytest.fixture
    def store(self, postgres_engine: Any) -> Iterator[BaseStateStore]:
        yield from _sqlalchemy_store(postgres_engine)


@pytest.mark.mariadb
class TestMariadbStateStore(StateStoreConformance):
    @pytest.fixture
    def store(self, mariadb_engine: Any) -> Iterator[BaseStateStore]:
        yield from _sqlalchemy_store(mariadb_engine)


# -- small pieces -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prefix", "end"),
    [("a", "b"), ("a|", "a}"), ("\ud7ff", "\ue000"), ("a\U0010ffff", "b"), ("\U0010ffff", None)],
)
def test_prefix_end(prefix: str, end: str | None) -> None:
    assert prefix_end(prefix) == end


def test_schema_migration_says_whether_it_changed_anything() -> None:
    assert SchemaMigration(0, 1).changed
    assert not SchemaMigration(1, 1).changed


def test_every_schema_version_has_a_migration_step() -> None:
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
    from privacy_kit.audit import _state_sqlalchemy

    expected = list(range(1, SCHEMA_VERSION + 1))
    assert sorted(_state_sqlite.MIGRATIONS) == expected
    assert sorted(_state_sqlalchemy.MIGRATIONS) == expected


@pytest.mark.parametrize("prefix", ["", "Privacy_", "1x_", "a-b_", "p" * 32, "x;drop"])
def test_refuses_a_bad_table_prefix(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(StateValueError, match="invalid table prefix"):
        SqliteStateStore(tmp_path / "s.db", prefix=prefix)


# -- SQLite: schema and migration ---------------------------------------------------------------
def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


_TABLES = {
    "privacy_kit_schema",
    "privacy_kit_state",
    "privacy_kit_state_log",
    "privacy_kit_state_sequences",
    "privacy_kit_state_secrets",
}


def test_sqlite_creates_its_tables_in_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        assert store.migration == SchemaMigration(0, SCHEMA_VERSION)
        assert store.schema_version() == SCHEMA_VERSION
    assert _tables(path) == _TABLES
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute(
            "SELECT version FROM privacy_kit_schema WHERE component = 'state'"
        ).fetchall() == [(SCHEMA_VERSION,)]


def test_sqlite_migrates_from_version_zero(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE privacy_kit_schema (component TEXT PRIMARY KEY, version INTEGER)"
        )
        conn.execute("INSERT INTO privacy_kit_schema VALUES ('state', 0)")
        conn.execute("CREATE TABLE hosts_own_table (id INTEGER)")
    with SqliteStateStore(path) as store:
        assert store.migration == SchemaMigration(0, SCHEMA_VERSION)
        store.put("holds", "h1", {"n": 1})
    assert _tables(path) == _TABLES | {"hosts_own_table"}


def test_sqlite_reopening_keeps_the_data_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        store.put("holds", "h1", {"n": 1})
        secret = store.secret()
    with SqliteStateStore(path) as store:
        assert store.migration == SchemaMigration(SCHEMA_VERSION, SCHEMA_VERSION)
        assert not store.migrate().changed
        found = store.get("holds", "h1")
        assert found is not None
        assert found.document == {"n": 1}
        assert store.secret() == secret


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStateStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE privacy_kit_schema SET version = 99 WHERE component = 'state'")
    with pytest.raises(StateError, match="schema version 99, newer than this privacy_kit"):
        SqliteStateStore(path)


def test_sqlite_prefix_names_the_tables(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path, prefix="app_") as one, SqliteStateStore(path) as two:
        one.put("holds", "h1", {"n": 1})
        assert two.get("holds", "h1") is None
    assert {"app_state", "app_schema"} <= _tables(path)


def test_sqlite_database_errors_name_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStateStore(path) as store:
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TABLE privacy_kit_state")
        with pytest.raises(StateError, match=r"SqliteStateStore\(.*state\.db'\): get holds/'h1'"):
            store.get("holds", "h1")
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateError, match="cannot open the database"):
        SqliteStateStore(tmp_path / "file" / "state.db")


def test_sqlite_memory_database(tmp_path: Path) -> None:
    with SqliteStateStore(":memory:") as store:
        store.put("holds", "h1", {"n": 1})
        assert store.get("holds", "h1") is not None


# -- SQLAlchemy: dialects, extras, schema -------------------------------------------------------
def test_sqlalchemy_store_refuses_sqlite() -> None:
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
    from privacy_kit.audit import SQLAlchemyStateStore

    with pytest.raises(StateValueError, match=r"sqlite dialect is not supported.*SqliteStateStore"):
        SQLAlchemyStateStore("sqlite://")
    with pytest.raises(StateValueError, match="not a database URL"):
        SQLAlchemyStateStore("not a url")


def test_sqlalchemy_store_names_an_unreachable_server() -> None:
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    from privacy_kit.audit import SQLAlchemyStateStore

    with pytest.raises(StateError, match=r"SQLAlchemyStateStore\('postgresql\+psycopg://.*migrate"):
        SQLAlchemyStateStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_without_sqlalchemy_the_error_names_the_extra() -> None:
    result = _python(
        "import sys; sys.modules['sqlalchemy'] = None\n"
        "from privacy_kit.audit import MemoryStateStore, SqliteStateStore\n"
        "SqliteStateStore(':memory:').put('holds', 'h', {})\n"
        "try:\n"
        "    from privacy_kit.audit import SQLAlchemyStateStore\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'privacy-kit[sqlalchemy]'" in result.stdout


def test_a_missing_driver_names_the_extra() -> None:
    pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])")
    result = _python(
        "import sys; sys.modules['psycopg'] = None\n"
        "from privacy_kit.audit import SQLAlchemyStateStore\n"
        "try:\n"
        "    SQLAlchemyStateStore('postgresql+psycopg://u@127.0.0.1/db')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "driver 'psycopg' is not installed: pip install 'privacy-kit[postgres]'" in result.stdout


def test_the_memory_and_sqlite_stores_do_not_import_sqlalchemy() -> None:
    result = _python(
        "import sys\n"
        "from privacy_kit.audit import MemoryStateStore, SqliteStateStore, StateStore\n"
        "SqliteStateStore(':memory:').secret()\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def _server_migrations(engine: Any) -> None:
    import sqlalchemy as sa

    from privacy_kit.audit import SQLAlchemyStateStore

    prefix = _prefix()
    store = SQLAlchemyStateStore(engine, prefix=prefix)
    try:
        assert store.migration == SchemaMigration(0, SCHEMA_VERSION)
        assert store.schema_version() == SCHEMA_VERSION
        names = set(sa.inspect(engine).get_table_names())
        assert {prefix + t.removeprefix("privacy_kit_") for t in _TABLES} <= names
        store.put("holds", "h1", {"n": 1})
        again = SQLAlchemyStateStore(engine, prefix=prefix)
        assert again.migration == SchemaMigration(SCHEMA_VERSION, SCHEMA_VERSION)
        found = again.get("holds", "h1")
        assert found is not None
        assert found.document == {"n": 1}
        schema = sa.table(f"{prefix}schema", sa.column("component"), sa.column("version"))
        # from version 0: only the schema table, saying 0
        store.drop_tables()
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"CREATE TABLE {prefix}schema (component VARCHAR(64) PRIMARY KEY, "
                    "version INTEGER NOT NULL)"
                )
            )
            conn.execute(sa.insert(schema).values(component="state", version=0))
        assert SQLAlchemyStateStore(engine, prefix=prefix).migration == SchemaMigration(
            0, SCHEMA_VERSION
        )
        assert store.get("holds", "h1") is None
        # a newer schema is refused
        with engine.begin() as conn:
            conn.execute(sa.update(schema).values(version=99))
        with pytest.raises(StateError, match="schema version 99, newer than this privacy_kit"):
            SQLAlchemyStateStore(engine, prefix=prefix)
    finally:
        store.drop_tables()
    assert store.schema_version() == 0


@pytest.mark.postgres
def test_postgres_schema_and_migration(postgres_engine: Any) -> None:
    _server_migrations(postgres_engine)


@pytest.mark.mariadb
def test_mariadb_schema_and_migration(mariadb_engine: Any) -> None:
    _server_migrations(mariadb_engine)


# -- processes sharing one store ----------------------------------------------------------------
_PROCESSES = 4
_CTX = multiprocessing.get_context("spawn")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[state_workers.Spec]:
    """Where the processes' store lives: a file, or a fresh set of tables on a server."""
    if request.param == "sqlite":
        yield ("sqlite", str(tmp_path / "shared.db"), "privacy_kit_")
        return
    engine = request.getfixturevalue(f"{request.param}_engine")
    url = POSTGRES_URL if request.param == "postgres" else MARIADB_URL
    prefix = _prefix()
    yield ("sqlalchemy", url, prefix)
    from privacy_kit.audit import SQLAlchemyStateStore

    SQLAlchemyStateStore(engine, prefix=prefix).drop_tables()


def _run(target: Callable[..., None], argsets: list[tuple[Any, ...]]) -> list[Any]:
    """Run one process per argument tuple (each gets the result queue last); their results."""
    queue = _CTX.Queue()
    processes = [_CTX.Process(target=target, args=(*args, queue)) for args in argsets]
    for p in processes:
        p.start()
    try:
        results = [queue.get(timeout=120) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover - only when a child hangs
                p.kill()
                p.join(timeout=5)
    failures = [body for status, body in results if status != "ok"]
    assert not failures, failures
    assert [p.exitcode for p in processes] == [0] * len(processes)
    return [body for _status, body in results]


def test_a_document_put_in_one_process_is_read_in_another(spec: state_workers.Spec) -> None:
    assert _run(state_workers.put, [(spec, "holds", "hold_1", {"reason": "case 12"})]) == [1]
    assert _run(state_workers.get, [(spec, "holds", "hold_1")]) == [{"reason": "case 12"}]
    with state_workers.open_store(spec) as store:
        found = store.get("holds", "hold_1")
        assert found is not None
        assert found.document == {"reason": "case 12"}


_COUNT = 12


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def raced(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[state_workers.Spec, list[dict[str, Any]]]]:
    """Processes that raced on a store none of them had created: the store and their results."""
    if request.param == "sqlite":
        spec = ("sqlite", str(tmp_path_factory.mktemp("raced") / "shared.db"), "privacy_kit_")
        yield spec, _run_together(spec)
        return
    engine = request.getfixturevalue(f"{request.param}_engine")
    url = POSTGRES_URL if request.param == "postgres" else MARIADB_URL
    spec = ("sqlalchemy", url, _prefix())
    try:
        yield spec, _run_together(spec)
    finally:
        from privacy_kit.audit import SQLAlchemyStateStore

        SQLAlchemyStateStore(engine, prefix=spec[2]).drop_tables()


def _run_together(spec: state_workers.Spec) -> list[dict[str, Any]]:
    barrier = _CTX.Barrier(_PROCESSES)
    argsets = [(spec, barrier, worker, _COUNT) for worker in range(_PROCESSES)]
    return _run(state_workers.together, argsets)


Raced = tuple[state_workers.Spec, list[dict[str, Any]]]


def test_processes_opening_a_new_store_together_migrate_once(raced: Raced) -> None:
    _spec, results = raced
    assert sorted(r["migrated_from"] for r in results) == [0] + [SCHEMA_VERSION] * (_PROCESSES - 1)


def test_consume_from_many_processes_succeeds_exactly_once(raced: Raced) -> None:
    spec, results = raced
    consumed = [r["consumed"] for r in results]
    assert consumed.count({"subject": "subj_1"}) == 1
    assert consumed.count(None) == _PROCESSES - 1
    with state_workers.open_store(spec) as store:
        assert store.get("codes", "challenge_1") is None


def test_the_secret_created_by_many_processes_at_once_is_one(raced: Raced) -> None:
    spec, results = raced
    secrets = {r["secret"] for r in results}
    assert len(secrets) == 1
    with state_workers.open_store(spec) as store:
        assert {store.secret(create=False).hex()} == secrets


def test_appends_from_many_processes_have_no_gaps(raced: Raced) -> None:
    spec, results = raced
    total = _PROCESSES * _COUNT
    assert sorted(seq for r in results for seq in r["appended"]) == list(range(1, total + 1))
    with state_workers.open_store(spec) as store:
        entries = store.entries("journal")
    assert [e.seq for e in entries] == list(range(1, total + 1))
    # each process's entries are in its own order, and each seq holds what its process wrote
    workers = set()
    for r in results:
        documents = [entries[s - 1].document for s in r["appended"]]
        worker = documents[0]["worker"]
        workers.add(worker)
        assert documents == [{"worker": worker, "i": i} for i in range(_COUNT)]
    assert workers == set(range(_PROCESSES))


def test_updates_from_many_processes_lose_nothing(raced: Raced) -> None:
    spec, _results = raced
    with state_workers.open_store(spec) as store:
        found = store.get("counters", "n")
    assert found is not None
    assert found.document == {"n": _PROCESSES * _COUNT}


def test_the_examples_in_docs_state_md_run() -> None:
    import doctest
    import re

    text = (Path(__file__).resolve().parents[1] / "docs" / "state.md").read_text("utf-8")
    blocks = re.findall(r"```pycon\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(verbose=False)
    for number, block in enumerate(blocks, 1):
        runner.run(parser.get_doctest(block, {}, f"docs/state.md[{number}]", None, 0))
    assert runner.summarize(verbose=False).failed == 0
