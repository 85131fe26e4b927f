"""Every built-in adapter passes privacy_kit.testing's conformance suite.

Memory and SQLite always run; the SQLAlchemy adapter runs on SQLite (no server needed), and on
the PostgreSQL and MariaDB servers when they are reachable (otherwise those tests skip, saying
why). Each test uses its own uniquely named tables, dropped afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import privacy_kit
from conftest import PLUGIN, PLUGIN_INSTALLED
from privacy_kit.adapters import InMemoryAdapter, Record, SQLiteAdapter
from privacy_kit.model._datamap import DataMap
from privacy_kit.testing import AdapterConformance, AdapterFactory, populate


class TestInMemoryConformance(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self) -> AdapterFactory:
        def factory(datamap: DataMap, records: Mapping[str, Sequence[Record]]) -> InMemoryAdapter:
            return InMemoryAdapter(
                {rt.table_name: records.get(rt.name, []) for rt in datamap.record_types}
            )

        return factory


class TestSQLiteConformance(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self) -> AdapterFactory:
        return lambda datamap, records: populate(SQLiteAdapter(":memory:"), datamap, records)


class TestSQLiteFileConformance(AdapterConformance):
    """On a file, through a connection the test owns (the adapter must leave it open)."""

    @pytest.fixture
    def adapter_factory(self, tmp_path: Any) -> Iterator[AdapterFactory]:
        import sqlite3

        connections: list[sqlite3.Connection] = []

        def factory(datamap: DataMap, records: Mapping[str, Sequence[Record]]) -> SQLiteAdapter:
            connection = sqlite3.connect(tmp_path / f"store{len(connections)}.db")
            connections.append(connection)
            return populate(SQLiteAdapter(connection, name="sqlite-file"), datamap, records)

        yield factory
        for connection in connections:
            connection.execute("SELECT 1")  # still open after adapter.close()
            connection.close()


def _sqlalchemy_factory(engine: Any) -> Iterator[AdapterFactory]:
    from privacy_kit.adapters import SQLAlchemyAdapter

    created: list[tuple[Any, DataMap]] = []

    def factory(datamap: DataMap, records: Mapping[str, Sequence[Record]]) -> Any:
        adapter = SQLAlchemyAdapter(engine)
        created.append((adapter, datamap))
        return populate(adapter, datamap, records)

    yield factory
    for adapter, datamap in created:
        adapter.drop_schema(datamap)


class TestSQLAlchemySQLiteConformance(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self) -> Iterator[AdapterFactory]:
        sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed")
        engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
        yield from _sqlalchemy_factory(engine)
        engine.dispose()


@pytest.mark.postgres
class TestPostgresConformance(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, postgres_engine: Any) -> Iterator[AdapterFactory]:
        yield from _sqlalchemy_factory(postgres_engine)


@pytest.mark.mariadb
class TestMariaDBConformance(AdapterConformance):
    @pytest.fixture
    def adapter_factory(self, mariadb_engine: Any) -> Iterator[AdapterFactory]:
        yield from _sqlalchemy_factory(mariadb_engine)


def test_forgetting_the_fixture_fails_with_a_clear_message(tmp_path: Any) -> None:
    """A host subclass that forgets ``adapter_factory`` errors, naming the fix; nothing passes."""
    test_file = tmp_path / "test_host.py"
    test_file.write_text(
        "from privacy_kit.testing import CountConformance\n"
        "class TestForgot(CountConformance):\n"
        "    pass\n"
    )
    plugin = [] if PLUGIN_INSTALLED else ["-p", PLUGIN]  # the pytest plugin gives the message
    src = str(Path(privacy_kit.__file__).resolve().parents[1])  # this checkout, from any cwd
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, str(test_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        env={**os.environ, "PYTHONPATH": src},
    )
    assert result.returncode != 0
    assert "TestForgot must override the 'adapter_factory' fixture" in result.stdout
    assert " passed" not in result.stdout


def test_mixins_are_not_collected_by_themselves() -> None:
    import privacy_kit.testing as kit

    assert not any(name.startswith("Test") for name in kit.__all__)
