"""Data-subject requests on Celery, store by store, by two real worker processes through Redis
(PostgreSQL and a SQLite file), one killed in the middle: an export (a part per store, in
parallel; the bundle equal to one process's) and an erasure (units in waves; the stores equal,
row for row, to one process's apply); and the same tasks run eagerly."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery", reason="privacy_kit.contrib.celery needs the 'celery' extra")

from celery import Celery

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, SQLiteAdapter
from privacy_kit.audit import MemoryStateStore
from privacy_kit.contrib.celery import erasure_data, export_data, register_request_tasks
from test_contrib_celery import (  # the sweep test's workers, databases and Redis run
    NOW,
    Workers,
    _result,
    _rows,
    _wait_for,
    databases,  # noqa: F401 - a fixture
    redis_run,  # noqa: F401 - a fixture
)
from two_stores import ANALYTICS, two_stores

SUBJECT = pk.Subject.of("customer", user_id=4)


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _memory_engine() -> pk.Engine:
    policy = pk.load_policy(pk.example_path())
    datamap = two_stores(pk.load_datamap(pk.example_path("datamap.yaml")))
    stores = {}
    for store in ("main", "analytics"):
        mem = InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types})
        for table, items in _rows(datamap).items():
            if datamap.record_type(table).store == store:
                mem.insert(table, items)
        stores[store] = mem
    return pk.Engine(policy, datamap, stores, state=MemoryStateStore(), verify=False)


def test_an_eager_export_over_stores_equals_a_direct_export(tmp_path: Path) -> None:
    engine = _memory_engine()
    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True
    tasks = register_request_tasks(app, lambda: engine)
    data = tasks.export(SUBJECT, tmp_path / "fanned.zip", now=NOW, parts=tmp_path / "parts").get()
    direct = engine.export(SUBJECT, tmp_path / "direct.zip", now=NOW)
    assert data == {
        **export_data(direct),
        "path": str(tmp_path / "fanned.zip"),
        "sha256": data["sha256"],
        "size": data["size"],
        "parts": data["parts"],
    }
    assert sorted(p["store"] for p in data["parts"]) == ["analytics", "main"]
    assert _members(tmp_path / "fanned.zip") == _members(tmp_path / "direct.zip")
    with pytest.raises(pk.ConfigurationError, match="unknown export option"):
        tasks.export(SUBJECT, tmp_path / "x.zip", now=NOW, parts=tmp_path, colour="red")
    with pytest.raises(pk.ConfigurationError, match="already registered"):
        register_request_tasks(app, lambda: engine)


def test_a_job_without_parts_is_refused_by_the_chord(tmp_path: Path) -> None:
    engine = _memory_engine()
    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True
    tasks = register_request_tasks(app, lambda: engine)
    job = engine.export_job(SUBJECT, tmp_path / "o.zip", now=NOW)
    with pytest.raises(pk.ConfigurationError, match="no parts folder"):
        tasks.run(job)


def _analytics(path: Path) -> str:
    """The SQLite file of the store ``analytics``, with the sweep test's rows of its tables."""
    import celery_app

    datamap = two_stores(celery_app.DATAMAP)
    db = SQLiteAdapter(str(path))
    try:
        db.create_schema(datamap)
        for table, items in _rows(datamap).items():
            if table in ANALYTICS:
                db.insert(datamap.record_type(table), items)
    finally:
        db.close()
    return str(path)


def _close(engine: pk.Engine) -> None:
    engine.audit.sink.close()  # type: ignore[attr-defined]
    engine.state.close()  # type: ignore[union-attr]
    for adapter in engine.adapters.values():
        adapter.close()
        with contextlib.suppress(AttributeError):  # a SQLAlchemy engine given to the adapter
            adapter.engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_two_workers_one_killed_mid_part_export_as_one_process(
    databases: tuple[str, str],  # noqa: F811 - the fixture imported above
    redis_run: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import celery_app

    url, _copy = databases
    analytics = _analytics(tmp_path / "analytics.db")
    stalls = tmp_path / "stalls"
    stalls.mkdir()
    shared = tmp_path / "shared"  # the workers' shared volume
    with Workers(
        redis_run,
        url,
        tmp_path,
        PK_CELERY_ANALYTICS=analytics,
        PK_CELERY_STALL_DIR=str(stalls),
        PK_CELERY_STALL_TABLE="bookings",
        PK_CELERY_STALLS="2",
    ) as workers:
        tasks = register_request_tasks(
            workers.app, lambda: celery_app.engine_for(url, analytics=analytics)
        )
        started = time.monotonic()
        result = tasks.export(SUBJECT, shared / "fanned.zip", now=NOW, parts=shared / "parts")
        # 1. the pool child collecting the main store dies mid-part: the message is requeued
        child, _parent = _wait_for(stalls / "readstall-1", workers)
        os.kill(child, signal.SIGKILL)
        # 2. then a whole worker dies mid-part: Redis hands the message to the other worker
        _child, parent = _wait_for(stalls / "readstall-2", workers)
        workers.kill_group(parent)
        data: dict[str, Any] = _result(result, workers)
        elapsed = time.monotonic() - started
        logs = workers.text()
    assert elapsed < 60, f"the export took {elapsed:.0f} s"
    assert (stalls / "readfail-1").exists()  # a database error, retried with backoff:
    assert "retry: Retry in" in logs
    assert sorted(p["store"] for p in data["parts"]) == ["analytics", "main"]

    direct = celery_app.engine_for(url, app="celery-direct", analytics=analytics)
    try:
        expected = direct.export(SUBJECT, tmp_path / "direct.zip", now=NOW)
        actions = [e.action for e in direct.audit.entries()]
        verification = direct.audit.verify()
    finally:
        _close(direct)
    assert data["counts"] == expected.counts
    assert data["total"] == expected.total > 0
    assert set(data["counts"]) >= {"bookings", "support_tickets", "sessions"}
    assert _members(shared / "fanned.zip") == _members(tmp_path / "direct.zip")
    assert verification.ok, verification
    assert actions.count("export.completed") == 2  # the workers' one, and the direct one
    assert not any((shared / "parts").rglob("*.part"))  # the parts were removed


def test_an_eager_erasure_over_stores_equals_a_direct_apply() -> None:
    fanned, whole = _memory_engine(), _memory_engine()
    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True
    tasks = register_request_tasks(app, lambda: fanned)
    plan = fanned.plan_erasure(SUBJECT, now=NOW)
    data = tasks.erase(plan.to_json()).get()
    expected = whole.apply(pk.ErasurePlan.from_json(plan.to_json()))
    assert data == erasure_data(expected)
    assert sum(data["deleted"].values()) > 0
    for store in ("main", "analytics"):
        for rt in fanned.datamap.record_types:
            if rt.store == store:
                assert fanned.adapters[store].rows(rt.table_name) == whole.adapters[store].rows(
                    rt.table_name
                )


@pytest.mark.postgres
def test_two_workers_one_killed_mid_unit_erase_as_one_process(
    databases: tuple[str, str],  # noqa: F811 - the fixture imported above
    redis_run: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import celery_app

    url, copy = databases
    analytics = _analytics(tmp_path / "analytics.db")
    analytics_copy = str(tmp_path / "analytics-copy.db")
    shutil.copyfile(analytics, analytics_copy)
    planner = celery_app.engine_for(url, app="celery-planner", analytics=analytics)
    try:
        plan = planner.plan_erasure(SUBJECT, now=NOW)
    finally:
        _close(planner)
    assert any(s.record_type == "bookings" and s.count for s in plan.steps)
    stalls = tmp_path / "stalls"
    stalls.mkdir()
    with Workers(
        redis_run,
        url,
        tmp_path,
        PK_CELERY_ANALYTICS=analytics,
        PK_CELERY_STALL_DIR=str(stalls),
        PK_CELERY_STALL_TABLE="bookings",
        PK_CELERY_STALLS="2",
    ) as workers:
        tasks = register_request_tasks(
            workers.app, lambda: celery_app.engine_for(url, analytics=analytics)
        )
        started = time.monotonic()
        result = tasks.erase(plan.to_json())
        # the bookings' delete has committed, the step is not journalled done: kill the child,
        # then the whole worker running it again
        child, _parent = _wait_for(stalls / "stall-1", workers)
        os.kill(child, signal.SIGKILL)
        _child, parent = _wait_for(stalls / "stall-2", workers)
        workers.kill_group(parent)
        data: dict[str, Any] = _result(result, workers)
        elapsed = time.monotonic() - started
        logs = workers.text()
    assert elapsed < 60, f"the erasure took {elapsed:.0f} s"
    assert (stalls / "fail-1").exists()
    assert "retry: Retry in" in logs

    direct = celery_app.engine_for(copy, app="celery-direct", analytics=analytics_copy)
    try:
        expected = direct.apply(pk.ErasurePlan.from_json(plan.to_json()))
    finally:
        _close(direct)
    assert data["deleted"] == expected.deleted
    assert data["anonymised"] == expected.anonymised
    assert data["commitments"] == [c.id for c in expected.commitments]
    assert data["deleted"]["bookings"] > 0
    # the killed unit's rerun found its bookings step interrupted and counted it exactly
    assert any("interrupted attempt" in note for note in data["notes"]), data["notes"]
    assert _dump(url, celery_app.DATAMAP, skip=ANALYTICS) == _dump(
        copy, celery_app.DATAMAP, skip=ANALYTICS
    )
    assert _sqlite_rows(analytics) == _sqlite_rows(analytics_copy)
    log = pk.AuditLog.sqlalchemy(url, table=celery_app.AUDIT_TABLE, key=celery_app.AUDIT_KEY)
    try:
        actions = [e.action for e in log.entries()]
    finally:
        log.sink.close()  # type: ignore[attr-defined]
    assert actions.count("erasure.applied") == 1


def _dump(url: str, datamap: pk.DataMap, *, skip: tuple[str, ...]) -> dict[str, Any]:
    from test_contrib_celery import _dump as dump

    return {t: rows for t, rows in dump(url, datamap).items() if t not in skip}


def _sqlite_rows(path: str) -> dict[str, list[tuple[Any, ...]]]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as db:
        return {t: db.execute(f'SELECT * FROM "{t}" ORDER BY id').fetchall() for t in ANALYTICS}


def test_request_tasks_refuse_an_engine_whose_state_is_private_to_the_process() -> None:
    engine = _memory_engine()  # a MemoryStateStore and an in-memory audit log
    app = Celery("workers", set_as_current=False)
    tasks = register_request_tasks(app, lambda: engine)
    with pytest.raises(pk.ConfigurationError, match="MemoryStateStore is private"):
        tasks.engine()
    policy = pk.load_policy(pk.example_path())
    bare = pk.Engine(policy, engine.datamap, engine.adapters, secret=b"k" * 32, verify=False)
    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True
    tasks = register_request_tasks(app, lambda: bare)
    with pytest.raises(pk.ConfigurationError, match="no state store"):
        tasks.engine()
    with pytest.raises(pk.ConfigurationError, match="result backend"):
        register_request_tasks(Celery("x", set_as_current=False), lambda: bare).erase("{}")


def test_an_eager_erasure_of_a_plan_without_steps_finishes_and_says_so() -> None:
    import attrs

    engine = _memory_engine()
    app = Celery("eager", set_as_current=False)
    app.conf.task_always_eager = True
    tasks = register_request_tasks(app, lambda: engine)
    empty = attrs.evolve(engine.plan_erasure(SUBJECT, now=NOW), steps=())
    data = tasks.erase(empty).get()
    assert (data["plan"], data["deleted"], data["anonymised"]) == (empty.plan_id, {}, {})
    assert [e.action for e in engine.audit.entries()].count("erasure.applied") == 1


def test_a_registration_refused_for_a_bad_number_leaves_the_names_free() -> None:
    from privacy_kit.contrib.celery import register_tasks

    app = Celery("workers", set_as_current=False)
    with pytest.raises(pk.ConfigurationError, match="max_retries"):
        register_request_tasks(app, lambda: None, max_retries=-1)
    with pytest.raises(pk.ConfigurationError, match="rows_per_shard"):
        register_tasks(app, lambda: None, rows_per_shard=0)
    assert register_request_tasks(app, lambda: None).apply_unit.name == (
        "privacy_kit.request.apply_unit"
    )
    assert register_tasks(app, lambda: None).finish.name == "privacy_kit.sweep.finish"
