"""The SQLAlchemy adapter's blocks: ``atomic()`` (writes with a ``batch_size`` join it; partition
drops are refused inside it) and ``reading()`` (one read-only transaction; writes refused)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import where
from privacy_kit.testing import conformance_datamap, conformance_records, populate

sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed")
from privacy_kit.adapters import SQLAlchemyAdapter  # noqa: E402 - needs SQLAlchemy


def _sqlite() -> Any:
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    return populate(SQLAlchemyAdapter(engine), conformance_datamap(), conformance_records())


def test_a_batched_delete_inside_atomic_joins_the_block_and_rolls_back_with_it() -> None:
    db = _sqlite()
    events = conformance_datamap().record_type("events")
    with pytest.raises(RuntimeError, match="stop"), db.atomic():  # noqa: PT012 - the block is the test
        assert db.delete(events, where.all(), batch_size=7) == 30
        assert db.count(events, where.all()) == 0  # reads in the block see its writes
        raise RuntimeError("stop")
    assert db.count(events, where.all()) == 30
    assert not db.in_block()


def test_nested_atomic_blocks_join_the_outer_one() -> None:
    db = _sqlite()
    events = conformance_datamap().record_type("events")
    with pytest.raises(RuntimeError), db.atomic():  # noqa: PT012 - the block is the test
        with db.atomic():
            db.delete(events, where.all())
        raise RuntimeError("the outer block fails after the inner one ended")
    assert db.count(events, where.all()) == 30


def test_reading_refuses_writes_and_atomic() -> None:
    db = _sqlite()
    events = conformance_datamap().record_type("events")
    with db.reading():
        assert db.count(events, where.all()) == 30
        # the adapter's AdapterError, naming the write, caused by the ConfigurationError
        with pytest.raises(pk.AdapterError, match=r"delete on events.*inside reading"):
            db.delete(events, where.all())
        with pytest.raises(pk.ConfigurationError, match="atomic"), db.atomic():
            pass
    assert db.count(events, where.all()) == 30
    assert not db.in_block()


@pytest.mark.postgres
def test_partition_drops_are_refused_inside_a_block(postgres_engine: Any) -> None:
    schema = f"w_blk_{uuid.uuid4().hex[:10]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        db = SQLAlchemyAdapter(postgres_engine, schema=schema)
        dm = conformance_datamap()
        populate(db, dm, conformance_records())
        events = dm.record_type("events")
        for block in (db.atomic, db.reading):
            with pytest.raises(pk.ConfigurationError, match="drop_partitions"), block():
                db.drop_partitions(events, where.all())
        assert db.drop_partitions(events, where.all()).dropped == ()  # outside: not refused
        assert db.count(events, where.all()) == 30
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.mark.postgres
def test_reading_on_postgres_is_one_repeatable_read_snapshot(postgres_engine: Any) -> None:
    schema = f"w_blk_{uuid.uuid4().hex[:10]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        db = SQLAlchemyAdapter(postgres_engine, schema=schema)
        other = SQLAlchemyAdapter(postgres_engine, schema=schema)
        dm = conformance_datamap()
        populate(db, dm, conformance_records())
        events = dm.record_type("events")
        with db.reading():
            assert db.count(events, where.all()) == 30
            assert other.delete(events, where.all()) == 30  # another session, committed
            assert db.count(events, where.all()) == 30  # the block's snapshot
        assert db.count(events, where.all()) == 0
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))


@pytest.mark.postgres
def test_a_block_belongs_to_its_thread(postgres_engine: Any) -> None:
    """Another thread's reads and writes on the same adapter use connections of their own:
    they do not see the block's uncommitted writes, nor join its transaction."""
    import threading

    schema = f"w_blk_{uuid.uuid4().hex[:10]}"
    with postgres_engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        db = SQLAlchemyAdapter(postgres_engine, schema=schema)
        dm = conformance_datamap()
        populate(db, dm, conformance_records())
        events = dm.record_type("events")
        seen: list[tuple[bool, int]] = []

        def other() -> None:
            seen.append((db.in_block(), db.count(events, where.all())))

        with db.atomic():
            assert db.delete(events, where.all()) == 30
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
            assert db.in_block()
        assert seen == [(False, 30)]
        assert db.count(events, where.all()) == 0
    finally:
        with postgres_engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
