"""Statements built once per shape of selection (``adapters._sqlalchemy_where``).

The SQLAlchemy adapter keeps one statement per shape of selection (the selection with its values
taken out) and binds each call's values by name. A value bound under the wrong name would count,
delete or update other records, so these tests run a statement first built for one selection
with the values of another of the same shape, and compare what it selects with what the
in-memory adapter (the reference semantics) selects for that other selection.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason="the SQLAlchemy adapter needs the sqlalchemy extra")

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privacy_kit.adapters import InMemoryAdapter, SQLAlchemyAdapter, where
from privacy_kit.adapters._selection import (
    After,
    All,
    And,
    Before,
    Eq,
    In,
    IsNull,
    Not,
    Or,
    Related,
    Selection,
)
from privacy_kit.adapters._sqlalchemy_in import Binder
from privacy_kit.adapters._sqlalchemy_where import cached, shape_of
from privacy_kit.model._datamap import DataMap

UTC = dt.UTC
START = dt.datetime(2024, 1, 1, tzinfo=UTC)
SUFFIX = f"{os.getpid()}_{secrets.token_hex(3)}"  # the servers' tables, unique to this run
OWNERS_TABLE, ITEMS_TABLE = f"shape_owners_{SUFFIX}", f"shape_items_{SUFFIX}"

DATAMAP = DataMap.model_validate(
    {
        "record_types": [
            {
                "name": "owners",
                "table": OWNERS_TABLE,
                "subjects": [{"kind": "customer", "field": "id"}],
                "fields": [
                    {"name": "id", "type": "integer"},
                    {"name": "region", "type": "text"},
                ],
            },
            {
                "name": "items",
                "table": ITEMS_TABLE,
                "subjects": [{"kind": "customer", "field": "owner"}],
                "fields": [
                    {"name": "id", "type": "integer"},
                    {"name": "owner", "type": "integer"},
                    {"name": "at", "type": "timestamp"},
                    {"name": "label", "type": "text"},
                ],
            },
        ]
    }
)
OWNERS = DATAMAP.record_type("owners")
ITEMS = DATAMAP.record_type("items")
OWNER_ROWS = [{"id": i, "region": "eu" if i % 2 else "us"} for i in range(8)]
ITEM_ROWS = [
    {
        "id": i,
        "owner": i % 9,  # owner 8 has no row in owners
        "at": None if i % 11 == 0 else START + dt.timedelta(hours=i),
        "label": None if i % 7 == 0 else f"l{i % 5}",
    }
    for i in range(1, 120)
]

owners = st.integers(-1, 9)
instants = st.integers(-5, 130).map(lambda h: START + dt.timedelta(hours=h))
labels = st.sampled_from(["l0", "l1", "l2", "l3", "zz", ""])


def leaves() -> st.SearchStrategy[Selection]:
    return st.one_of(
        st.builds(Eq, st.just("owner"), owners),
        st.builds(Eq, st.just("label"), labels),
        # Short and long IN lists (a long one takes another form on some databases).
        st.builds(In, st.just("owner"), st.lists(owners, max_size=4)),
        st.builds(In, st.just("id"), st.lists(st.integers(0, 130), min_size=0, max_size=140)),
        st.builds(In, st.just("label"), st.lists(labels, max_size=3)),
        st.builds(Before, st.just("at"), instants, st.booleans()),
        st.builds(After, st.just("at"), instants, st.booleans()),
        st.builds(IsNull, st.sampled_from(["at", "label"])),
        st.just(All()),
        st.builds(
            Related,
            st.just("owner"),
            st.just(OWNERS),
            st.just("id"),
            st.one_of(
                st.builds(Eq, st.just("region"), st.sampled_from(["eu", "us", "xx"])),
                st.builds(In, st.just("id"), st.lists(owners, max_size=3)),
            ),
        ),
    )


def selections() -> st.SearchStrategy[Selection]:
    return st.recursive(
        leaves(),
        lambda inner: st.one_of(
            st.builds(And, st.lists(inner, min_size=1, max_size=3).map(tuple)),
            st.builds(Or, st.lists(inner, min_size=1, max_size=3).map(tuple)),
            st.builds(Not, inner),
        ),
        max_leaves=6,
    )


def revalued(selection: Selection, data: st.DataObject) -> Selection:
    """``selection`` with other values (the same nodes and fields; lists may change length)."""
    if isinstance(selection, Eq):
        values = owners if selection.field == "owner" else labels
        return Eq(selection.field, data.draw(values))
    if isinstance(selection, In):
        if selection.field == "id":
            return In("id", data.draw(st.lists(st.integers(0, 130), max_size=140)))
        values = owners if selection.field == "owner" else labels
        return In(selection.field, data.draw(st.lists(values, max_size=4)))
    if isinstance(selection, Before | After):
        return type(selection)(selection.field, data.draw(instants), selection.inclusive)
    if isinstance(selection, And | Or):
        return type(selection)(tuple(revalued(item, data) for item in selection.items))
    if isinstance(selection, Not):
        return Not(revalued(selection.item, data))
    if isinstance(selection, Related):
        return Related(
            selection.field,
            selection.record_type,
            selection.key,
            revalued(selection.selection, data),
        )
    return selection


def _reference() -> InMemoryAdapter:
    memory = InMemoryAdapter()
    memory.insert(OWNERS, OWNER_ROWS)
    memory.insert(ITEMS, ITEM_ROWS)
    return memory


@pytest.fixture(scope="module", params=["sqlite", "postgres", "mariadb"])
def sqlite_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database with the two tables (empty): an SQLite file, or the test servers' ``test``
    databases (skipped, saying why, when a server cannot be had)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('shapes') / 'shapes.sqlite'}"
    else:
        engine = request.getfixturevalue(f"{request.param}_engine")
        url = engine.url.render_as_string(hide_password=False)
    adapter = SQLAlchemyAdapter(url)
    adapter.create_schema(DATAMAP)
    adapter.close()
    yield url
    drop = sa.create_engine(url)
    with drop.begin() as conn:
        for table in (ITEMS_TABLE, OWNERS_TABLE):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
    drop.dispose()


def _fresh(url: str) -> SQLAlchemyAdapter:
    adapter = SQLAlchemyAdapter(url)
    with adapter.engine.begin() as conn:
        for table in (ITEMS_TABLE, OWNERS_TABLE):
            conn.execute(sa.text(f"DELETE FROM {table}"))
    adapter.insert(OWNERS, OWNER_ROWS)
    adapter.insert(ITEMS, ITEM_ROWS)
    return adapter


def _ids_of(adapter: Any, selection: Selection) -> set[int]:
    return {r["id"] for batch in adapter.iter_records(ITEMS, selection) for r in batch}


def _ids(adapter: Any) -> set[int]:
    return {r["id"] for batch in adapter.iter_records(ITEMS, where.all()) for r in batch}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=selections(), other=selections(), data=st.data())
def test_a_statement_reused_for_another_selection_of_its_shape_selects_that_selection(
    sqlite_url: str, first: Selection, other: Selection, data: st.DataObject
) -> None:
    second = revalued(first, data)
    adapter = _fresh(sqlite_url)
    try:
        table = adapter.table(ITEMS)
        assert shape_of(adapter, table, first, []) == shape_of(adapter, table, second, []) or (
            # An IN list may change form with its length or its values' emptiness.
            _has_in(first)
        )
        memory = _reference()
        # The first selection builds (and caches) the statements; the second reuses them.
        assert adapter.count(ITEMS, first) == memory.count(ITEMS, first)
        assert adapter.counts(ITEMS, [first, second]) == [
            memory.count(ITEMS, first),
            memory.count(ITEMS, second),
        ]
        assert adapter.counts_by_type([(ITEMS, [second]), (OWNERS, [where.all()])]) == [
            [memory.count(ITEMS, second)],
            [len(OWNER_ROWS)],
        ]
        assert adapter.count(ITEMS, second) == memory.count(ITEMS, second)
        for selection, size in ((first, 1000), (second, 7), (other, 5)):
            # Pages of records: the first page's query and the next pages' (after a key).
            pages = [
                [r["id"] for r in batch]
                for batch in adapter.iter_records(ITEMS, selection, batch_size=size)
            ]
            found = [i for page in pages for i in page]
            assert found == sorted(_ids_of(memory, selection))
            assert all(len(page) <= size for page in pages)
        # Any selection (another shape, or one whose key would wrongly match): its own count.
        assert adapter.count(ITEMS, other) == memory.count(ITEMS, other)
        assert adapter.update(ITEMS, second, {"label": "changed"}) == memory.update(
            ITEMS, second, {"label": "changed"}
        )
        assert adapter.delete(ITEMS, second) == memory.delete(ITEMS, second)
        assert _ids(adapter) == _ids(memory)
        assert adapter.count(ITEMS, where.eq("label", "changed")) == memory.count(
            ITEMS, where.eq("label", "changed")
        )
    finally:
        adapter.close()


def _has_in(selection: Selection) -> bool:
    if isinstance(selection, In):
        return True
    if isinstance(selection, And | Or):
        return any(_has_in(item) for item in selection.items)
    if isinstance(selection, Not):
        return _has_in(selection.item)
    if isinstance(selection, Related):
        return _has_in(selection.selection)
    return False


def test_selections_of_one_shape_share_one_statement(sqlite_url: str) -> None:
    adapter = _fresh(sqlite_url)
    try:
        table = adapter.table(ITEMS)
        one = where.eq("owner", 1) & where.before("at", START + dt.timedelta(hours=50))
        two = where.eq("owner", 2) & where.before("at", START + dt.timedelta(hours=90))
        built: list[int] = []

        def build_for(selection: Selection) -> Any:
            def build(binder: Binder) -> Any:
                built.append(1)
                from privacy_kit.adapters._sqlalchemy_where import where_clause

                return sa.select(sa.func.count()).where(
                    where_clause(adapter, table, selection, binder)
                )

            return build

        values_one: list[Any] = []
        key_one = ("test-count", shape_of(adapter, table, one, values_one))
        values_two: list[Any] = []
        key_two = ("test-count", shape_of(adapter, table, two, values_two))
        assert key_one == key_two
        assert values_two == [2, START + dt.timedelta(hours=90)]
        first, _params_one = cached(key_one, values_one, build_for(one))
        second, params_two = cached(key_two, values_two, build_for(two))
        assert first is second
        assert len(built) == 1
        assert params_two == {"pk_0": 2, "pk_1": START + dt.timedelta(hours=90)}
        with adapter.engine.connect() as conn:
            assert conn.execute(second, params_two).scalar_one() == _reference().count(ITEMS, two)
        # Another shape (inclusive bound) is another statement.
        three = where.eq("owner", 2) & where.before(
            "at", START + dt.timedelta(hours=90), inclusive=True
        )
        assert shape_of(adapter, table, three, []) != key_two[1]
    finally:
        adapter.close()


def test_a_build_that_binds_values_in_another_order_is_refused(sqlite_url: str) -> None:
    adapter = _fresh(sqlite_url)
    try:
        table = adapter.table(ITEMS)

        def swapped(binder: Binder) -> Any:
            owner = binder.bind(2, table.c.owner.type)
            label = binder.bind("l1", table.c.label.type)
            return sa.select(sa.func.count()).where(table.c.label == label, table.c.owner == owner)

        with pytest.raises(RuntimeError, match="another order"):
            cached(("test-swapped", object()), ["l1", 2], swapped)
    finally:
        adapter.close()


NEAR_MISSES = [
    # Pairs that differ in something other than a value: each must get its own statement.
    (
        where.before("at", START + dt.timedelta(hours=10)),
        where.before("at", START + dt.timedelta(hours=10), inclusive=True),
    ),
    (
        where.after("at", START + dt.timedelta(hours=10)),
        where.after("at", START + dt.timedelta(hours=10), inclusive=True),
    ),
    (
        where.before("at", START + dt.timedelta(hours=10)),
        where.after("at", START + dt.timedelta(hours=10)),
    ),
    (where.eq("owner", 3), where.eq("id", 3)),
    (IsNull("at"), IsNull("label")),
    (where.eq("owner", 3) & where.eq("id", 3), where.eq("owner", 3) | where.eq("id", 3)),
    (where.eq("owner", 3), ~where.eq("owner", 3)),
    (In("id", [1, 2]), In("id", list(range(200)))),
    (In("id", []), In("id", [1])),
    (In("label", [1]), In("label", ["l1"])),
    (
        Related("owner", OWNERS, "id", where.eq("region", "eu")),
        Related("id", OWNERS, "id", where.eq("region", "eu")),
    ),
]


@pytest.mark.parametrize(("one", "two"), NEAR_MISSES)
def test_selections_that_differ_beyond_their_values_get_statements_of_their_own(
    sqlite_url: str, one: Selection, two: Selection
) -> None:
    adapter = _fresh(sqlite_url)
    memory = _reference()
    try:
        for selection in (one, two, one):
            assert adapter.count(ITEMS, selection) == memory.count(ITEMS, selection)
            assert adapter.counts(ITEMS, [selection]) == [memory.count(ITEMS, selection)]
    finally:
        adapter.close()
