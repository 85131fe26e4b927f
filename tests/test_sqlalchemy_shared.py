"""What SQLAlchemy adapters of one process share (issue 15, a sweep's fixed cost): table
descriptions, and for engines made from a URL the compiled statements. Values are never shared:
an adapter reusing another's compiled statement binds its own."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest

sa = pytest.importorskip("sqlalchemy", reason="the SQLAlchemy adapter needs the sqlalchemy extra")

from privacy_kit.adapters import SQLAlchemyAdapter, where  # noqa: E402
from privacy_kit.adapters._sqlalchemy_cache import compiled_statements  # noqa: E402
from privacy_kit.model._datamap import DataMap  # noqa: E402

UTC = dt.UTC


def _datamap(table: str, *, label_type: str = "text") -> DataMap:
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
                        {"name": "label", "type": label_type},
                    ],
                }
            ]
        }
    )


def _rows(n: int) -> list[dict[str, Any]]:
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    return [
        {"id": i, "owner": i % 10, "at": start + dt.timedelta(days=i), "label": f"r{i}"}
        for i in range(1, n + 1)
    ]


def _shared_work(url: str, schema: str | None, table: str) -> None:
    """Two adapters made from ``url`` in turn: the second compiles nothing the first compiled,
    and every answer is its own values' answer."""
    items = _datamap(table).record_type("items")
    with SQLAlchemyAdapter(url, schema=schema) as setup:
        setup.create_schema(_datamap(table))
        setup.insert(items, _rows(100))
    before = len(compiled_statements())
    first = SQLAlchemyAdapter(url, schema=schema)
    try:
        cutoff = dt.datetime(2020, 1, 1, tzinfo=UTC) + dt.timedelta(days=30)
        assert first.count(items, where.before("at", cutoff)) == 29
        assert first.counts(items, [where.eq("owner", 1), where.in_("owner", [2, 3])]) == [10, 20]
        assert first.delete(items, where.eq("owner", 9) & where.before("at", cutoff)) == 3
        known = len(compiled_statements())
        assert known > before  # the first adapter's statements went to the shared cache
        table_object = first.table(items)
    finally:
        first.close()
    second = SQLAlchemyAdapter(url, schema=schema)
    try:
        assert second.table(items) is table_object
        later = dt.datetime(2020, 1, 1, tzinfo=UTC) + dt.timedelta(days=60)
        # The same statements with other values: reused, each bound with its own values.
        assert second.count(items, where.before("at", later)) == 59 - 3
        assert second.counts(items, [where.eq("owner", 4), where.in_("owner", [5, 9])]) == [
            10,
            17,
        ]
        assert second.delete(items, where.eq("owner", 8) & where.before("at", later)) == 6
        assert len(compiled_statements()) == known  # nothing compiled again
        assert second.count(items, where.all()) == 100 - 3 - 6
    finally:
        second.drop_schema(_datamap(table))
        second.close()


def test_adapters_made_from_a_url_share_tables_and_compiled_statements(tmp_path: Path) -> None:
    _shared_work(f"sqlite:///{tmp_path / 'shared.db'}", None, f"items_{uuid.uuid4().hex[:8]}")


@pytest.mark.postgres
def test_adapters_made_from_a_url_share_compiled_statements_on_postgres(
    postgres_engine: Any,
) -> None:
    schema = f"w_shared_{uuid.uuid4().hex[:10]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        url = postgres_engine.url.render_as_string(hide_password=False)
        _shared_work(url, schema, "items")
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


def test_a_table_is_shared_only_by_the_same_description() -> None:
    one, two, three = (SQLAlchemyAdapter("sqlite://") for _ in range(3))
    other_schema = SQLAlchemyAdapter("sqlite://", schema="main")
    try:
        items = _datamap("things").record_type("items")
        assert one.table(items) is two.table(items)
        # Another type for a column, or another schema: a table of its own.
        retyped = _datamap("things", label_type="integer").record_type("items")
        assert three.table(retyped) is not one.table(items)
        assert str(three.table(retyped).c.label.type) != str(one.table(items).c.label.type)
        assert other_schema.table(items) is not one.table(items)
        assert other_schema.table(items).schema == "main"
    finally:
        for adapter in (one, two, three, other_schema):
            adapter.close()


def test_one_adapter_gives_each_record_type_over_one_table_its_own_column_kinds() -> None:
    """Two record types over one table naming the same columns with other kinds: the adapter's
    own table cache answers each with its own description, never the first one asked for."""
    adapter = SQLAlchemyAdapter("sqlite://")
    try:
        as_text = _datamap("shared").record_type("items")
        as_number = _datamap("shared", label_type="integer").record_type("items")
        assert adapter.table(as_text).c.label.info["kind"] == "text"
        assert adapter.table(as_number).c.label.info["kind"] == "integer"
        assert adapter.table(as_text).c.label.info["kind"] == "text"
    finally:
        adapter.close()


def test_an_engine_passed_in_keeps_its_own_compiled_cache() -> None:
    engine = sa.create_engine("sqlite://")
    adapter = SQLAlchemyAdapter(engine)
    assert adapter.engine is engine
    assert "compiled_cache" not in engine.get_execution_options()
    owned = SQLAlchemyAdapter("sqlite://")
    assert owned.engine.get_execution_options()["compiled_cache"] is compiled_statements()
    owned.close()
    engine.dispose()
