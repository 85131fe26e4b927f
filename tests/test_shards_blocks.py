"""Shards by block range on PostgreSQL: an entry of a plain table is cut into ranges of the
table's blocks, so each shard reads only its part (a TID range scan, never the whole table), and
the shards keep every promise of tests/test_shards.py: disjoint, together the entry, in any order,
twice, from JSON in another process, with the end state of a whole-plan apply row for row."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import privacy_kit as pk
from plan_workers import SWEEP, prepare, rows
from privacy_kit.adapters import BlockRange, block_bounds
from privacy_kit.audit import SqliteStateStore
from privacy_kit.retention import Shard, units
from privacy_kit.retention._sweep import shard_units
from test_export import policy_and_datamap
from test_shards import SECRET, _apply_elsewhere, lines, rows_of

pytestmark = pytest.mark.postgres

TESTS = Path(__file__).parent
SRC = Path(pk.__file__).parent.parent
UTC = dt.UTC


def _data() -> dict[str, list[dict[str, Any]]]:
    """plan_workers.rows plus 3,000 bookings over six years (a table of dozens of blocks), some
    of customer 5 (under a legal hold) and some with no end time."""
    data = rows()
    template = data["bookings"][2]
    for j in range(3000):
        end = None if j % 97 == 0 else dt.datetime(2017 + j % 6, 1 + j % 12, 1 + j % 27, tzinfo=UTC)
        data["bookings"].append(
            dict(
                template,
                id=10_000 + j,
                host_id=3 + j % 12,
                invitee_email=f"g{j}@example.com",
                invitee_name=f"Guest {j}",
                end_at=end,
            )
        )
    return data


@pytest.fixture
def databases(postgres_engine: Any) -> Iterator[Callable[[], str]]:
    """``make()``: the URL of a fresh PostgreSQL database with the data map's tables (dropped
    afterwards)."""
    sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed")
    admin = postgres_engine.execution_options(isolation_level="AUTOCOMMIT")
    made: list[str] = []
    _OPENED.clear()

    def make() -> str:
        name = f"blocks_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        made.append(name)
        return str(postgres_engine.url.set(database=name).render_as_string(hide_password=False))

    yield make
    for adapter in _OPENED:
        adapter.close()
    for name in made:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


_OPENED: list[Any] = []  # the adapters a test opened, closed by ``databases``


def _deployment(url: str, state: Path) -> pk.Engine:
    from privacy_kit.adapters import SQLAlchemyAdapter

    policy, datamap = policy_and_datamap()
    db = SQLAlchemyAdapter(url)
    _OPENED.append(db)
    db.create_schema(datamap)
    for table, items in _data().items():
        db.insert(datamap.record_type(table), items)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    e = pk.Engine(policy, datamap, db, secret=SECRET, state=SqliteStateStore(state))
    return prepare(e)


def _keys(adapter: Any, rt: pk.RecordType, pieces: Iterator[tuple[int, Any]]) -> list[Any]:
    key = rt.primary_key
    return [r[key] for _u, sel in pieces for b in adapter.iter_records(rt, sel) for r in b]


def test_block_shards_are_the_entry_in_any_order_twice_and_end_as_the_whole_plan(
    databases: Callable[[], str], tmp_path: Path
) -> None:
    whole = _deployment(databases(), tmp_path / "whole.db")
    sharded = _deployment(databases(), tmp_path / "sharded.db")
    assert rows_of(whole) == rows_of(sharded)
    expected = whole.apply(whole.plan_retention(now=SWEEP))
    plan = sharded.plan_retention(now=SWEEP)
    shards = sharded.shards(plan, rows_per_shard=200)

    by_blocks = [s for s in shards if s.blocks is not None]
    assert by_blocks, "the bookings entries are cut by block ranges"
    assert {plan.entries[s.entry].record_type for s in by_blocks} == {"bookings"}
    assert all(s.field is None and s.bounds_by == "store" for s in by_blocks)
    triggers = {plan.entries[s.entry].source.account is None for s in by_blocks}  # type: ignore[union-attr]
    assert triggers == {True, False}, "own-field and account-triggered entries are cut"
    bookings = sharded.datamap.record_type("bookings")
    adapter = sharded.adapter_for(bookings)
    for index in sorted({s.entry for s in by_blocks}):
        entry = plan.entries[index]
        mine = [s for s in shards if s.entry == index]
        assert [s.index for s in mine] == list(range(mine[0].of))
        assert mine[0].blocks is not None
        assert mine[0].blocks[0] == 0
        assert mine[-1].blocks is not None
        assert mine[-1].blocks[1] is None
        for left, right in itertools.pairwise(mine):
            assert left.blocks is not None
            assert right.blocks is not None
            assert left.blocks[1] == right.blocks[0]  # contiguous
        whole_keys = _keys(adapter, bookings, units(sharded.stores, entry, None))
        parts = [
            _keys(adapter, bookings, shard_units(sharded.stores, entry, s, None)) for s in mine
        ]
        flat = [k for part in parts for k in part]
        assert sorted(flat) == sorted(whole_keys)
        assert len(flat) == len(set(flat)) == entry.count  # disjoint, and all of it
        assert sum(1 for part in parts if part) > 1  # really spread over the ranges

    order = list(shards)
    random.Random(3).shuffle(order)
    half = len(order) // 2
    for s in order[:half]:
        sharded.apply_shard(plan, s)
    # the rest from JSON, in another process, on the same database and state store
    document = plan.to_json()
    adapter_url = adapter.engine.url.render_as_string(hide_password=False)
    other = _apply_elsewhere(adapter_url, tmp_path / "sharded.db", document, order[half:], tmp_path)
    assert isinstance(other, list), other
    after_once = rows_of(sharded)
    random.Random(11).shuffle(order)
    again = [sharded.apply_shard(plan, s) for s in order]
    assert all(r.resumed for r in again)
    assert rows_of(sharded) == after_once == rows_of(whole)  # row for row
    report = sharded.finish_sweep(plan, shards)
    assert lines(report) == lines(expected)
    assert report.total == expected.total
    assert report.exact
    audited = [e.details for e in sharded.audit.entries() if e.action == "retention.shard"]
    assert any(d["blocks"] is not None for d in audited)


def test_each_block_shard_reads_only_its_blocks(
    databases: Callable[[], str], tmp_path: Path
) -> None:
    sa = pytest.importorskip("sqlalchemy")
    e = _deployment(databases(), tmp_path / "state.db")
    plan = e.plan_retention(now=SWEEP)
    shards = [s for s in e.shards(plan, rows_per_shard=200) if s.blocks is not None]
    bookings = e.datamap.record_type("bookings")
    adapter: Any = e.adapter_for(bookings)
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if '"bookings"' in statement or " bookings" in statement:
            seen.append((statement, parameters))

    sa.event.listen(adapter.engine, "before_cursor_execute", record)
    try:
        e.apply_shard(plan, shards[1])
    finally:
        sa.event.remove(adapter.engine, "before_cursor_execute", record)
    reads = [(s, p) for s, p in seen if s.lstrip().upper().startswith(("DELETE", "SELECT"))]
    assert reads
    with adapter.engine.connect() as conn:
        for statement, parameters in reads:
            if "ctid" not in statement:
                continue
            text = "\n".join(
                row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            )
            assert "Seq Scan on bookings" not in text, text
    assert all("ctid" in s for s, _p in reads if "FROM bookings" in s or "DELETE" in s), reads


def test_block_bounds_cut_plain_tables_only_and_others_refuse_a_block_range(
    databases: Callable[[], str], tmp_path: Path
) -> None:
    sa = pytest.importorskip("sqlalchemy")
    e = _deployment(databases(), tmp_path / "state.db")
    bookings = e.datamap.record_type("bookings")
    adapter: Any = e.adapter_for(bookings)
    cuts = block_bounds(adapter, bookings, 4)
    assert len(cuts) == 3
    assert list(cuts) == sorted(cuts)
    assert cuts[0] > 0
    assert block_bounds(adapter, bookings, 1) == ()
    total = adapter.count(bookings, pk.adapters.All())
    ranges = [BlockRange(0, cuts[0]), BlockRange(cuts[0], cuts[1]), BlockRange(cuts[1], cuts[2])]
    counted = [adapter.count(bookings, r) for r in [*ranges, BlockRange(cuts[2])]]
    assert sum(counted) == total
    assert all(counted)
    with adapter.engine.begin() as conn:  # a partitioned table is not cut by blocks
        conn.execute(
            sa.text("CREATE TABLE parted (id int, at timestamptz) PARTITION BY RANGE (at)")
        )
    parted = pk.RecordType(
        name="parted", store="main", fields=[{"name": "id"}, {"name": "at", "type": "timestamp"}]
    )
    assert block_bounds(adapter, parted, 4) == ()
    memory = pk.adapters.InMemoryAdapter({"bookings": [{"id": 1}]})
    with pytest.raises(pk.adapters.UnsupportedSelectionError, match="block_ranges"):
        memory.count(bookings, BlockRange(0, 2))
    lite = pk.adapters.SQLiteAdapter(":memory:")
    lite.create_schema(e.datamap)
    with pytest.raises(pk.AdapterError, match="BlockRange"):  # never asked: no capability
        lite.count(bookings, BlockRange(0, 2))
    assert pk.adapters.Capability.BLOCK_RANGES not in lite.capabilities


def test_a_version_1_shard_document_is_read_and_block_shards_round_trip() -> None:
    shard = Shard("p", 2, 1, 3, None, False, None, None, False, "store", (), None, (10, 20))
    assert Shard.from_json(shard.to_json()) == shard
    assert shard.range_selection() == BlockRange(10, 20)
    assert "table blocks from 10 to block 20" in shard.describe()
    head = orjson.loads(shard.to_json())
    assert head["version"] == 2
    assert head["shard"]["blocks"] == [10, 20]
    timed = Shard("p", 0, 0, 1, None, False, None, None, False)
    old = orjson.loads(timed.to_json())
    old["version"] = 1
    del old["shard"]["blocks"]
    assert Shard.from_json(orjson.dumps(old)) == timed
    for bad, field in (
        ((0, 20), "blocks"),  # only the first starts at 0
        ((10, None), "blocks"),  # only the last is open
        ((20, 10), "blocks"),
    ):
        doc = orjson.loads(shard.to_json())
        doc["shard"]["blocks"] = list(bad)
        with pytest.raises(pk.PlanFormatError, match=rf"shard\.{field}"):
            Shard.from_json(orjson.dumps(doc))
    with pytest.raises(pk.PlanError, match="no time range"):
        Shard("p", 2, 1, 3, "end_at", False, None, None, False, "store", (), None, (10, 20))
