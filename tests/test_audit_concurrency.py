"""Several processes appending to one audit log: the chain stays one chain, no entry is lost.

Each test starts real processes ('spawn' context: a fresh interpreter each, like the worker
processes of a web application), each with its own ``AuditLog`` on the same store, released
together by a barrier; afterwards the log verifies and holds exactly the sum of their entries.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from audit_writers import NOW, append_many, open_log
from privacy_kit.audit import AuditLog

KEY = b"0123456789abcdef0123456789abcdef"

WORKERS = 4
PER_WORKER = 300


def _run_writers(kind: str, target: str, *, key: bytes | None = None) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WORKERS)
    processes = [
        ctx.Process(target=append_many, args=(kind, target, w, PER_WORKER, start, key))
        for w in range(WORKERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=240)
    for process in processes:
        if process.is_alive():  # pragma: no cover - only on a hang
            process.kill()
            process.join()
    assert [p.exitcode for p in processes] == [0] * WORKERS, "a writer process failed"


def _check(log: Any, *, key: bytes | None = None) -> None:
    result = log.verify() if key is None else log.verify(key=key)
    assert result.ok, str(result)[:2000]
    assert result.count == WORKERS * PER_WORKER
    entries = list(log.entries())
    assert [e.sequence for e in entries] == list(range(1, WORKERS * PER_WORKER + 1))
    per_worker = {f"worker_{w}": 0 for w in range(WORKERS)}
    for entry in entries:
        per_worker[entry.subject] += 1
    assert per_worker == {f"worker_{w}": PER_WORKER for w in range(WORKERS)}


def test_jsonl_several_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    _run_writers("jsonl", path)
    _check(open_log("jsonl", path, None))


def test_jsonl_several_processes_keyed(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.jsonl")
    _run_writers("jsonl", path, key=KEY)
    _check(open_log("jsonl", path, KEY), key=KEY)


def test_sqlite_several_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "audit.db")
    _run_writers("sqlite", path)
    _check(open_log("sqlite", path, None))


def _server_target(engine: Any) -> str:
    table = f"audit_mp_{uuid.uuid4().hex[:10]}"
    return f"{engine.url.render_as_string(hide_password=False)}#{table}"


def _drop(engine: Any, target: str) -> None:
    import sqlalchemy as sa

    table = target.partition("#")[2]
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))


@pytest.mark.postgres
def test_postgres_several_processes(postgres_engine: Any) -> None:
    target = _server_target(postgres_engine)
    try:
        _run_writers("sqlalchemy", target)
        log = open_log("sqlalchemy", target, None)
        _check(log)
        log.sink.close()
    finally:
        _drop(postgres_engine, target)


@pytest.mark.mariadb
def test_mariadb_several_processes(mariadb_engine: Any) -> None:
    target = _server_target(mariadb_engine)
    try:
        _run_writers("sqlalchemy", target)
        log = open_log("sqlalchemy", target, None)
        _check(log)
        log.sink.close()
    finally:
        _drop(mariadb_engine, target)


# -- several AuditLog objects in one process (threads) ---------------------------------------------
@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_several_logs_in_threads_share_one_chain(tmp_path: Path, kind: str) -> None:
    target = str(tmp_path / ("audit.jsonl" if kind == "jsonl" else "audit.db"))
    logs = [open_log(kind, target, None) for _ in range(4)]
    barrier = threading.Barrier(len(logs))

    def write(log: Any, worker: int) -> None:
        barrier.wait(timeout=30)
        for i in range(60):
            log.record("threads.append", now=NOW, subject=f"worker_{worker}", details={"i": i})

    threads = [threading.Thread(target=write, args=(log, w)) for w, log in enumerate(logs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    result = open_log(kind, target, None).verify(expected_count=240)
    assert result.ok, str(result)[:2000]
    assert result.count == 240


# -- the SQLAlchemy sink ---------------------------------------------------------------------------
def test_sqlalchemy_sink_names_the_extra_when_sqlalchemy_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    monkeypatch.delitem(sys.modules, "privacy_kit.audit._sink_sqlalchemy", raising=False)
    with pytest.raises(ImportError, match=r"privacy-kit\[sqlalchemy\]"):
        AuditLog.sqlalchemy("sqlite://")
    with pytest.raises(ImportError, match=r"privacy-kit\[sqlalchemy\]"):
        importlib.import_module("privacy_kit.audit._sink_sqlalchemy")


def _exercise_sqlalchemy_sink(engine: Any, table: str) -> None:
    """Record, verify, tamper, key: what every dialect must do."""
    sa = pytest.importorskip(
        "sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])"
    )
    log = AuditLog.sqlalchemy(engine, table=table)
    assert log.sink.multiprocess_safe
    for i in range(3):
        log.record("sa.step", now=NOW, subject=f"subj_{i}", details={"n": i})
    assert log.verify(expected_count=3).ok
    anchor = log.anchor()
    assert [e.sequence for e in log.entries()] == [1, 2, 3]
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {table} SET action = 'other.thing' WHERE sequence = 2"))
    result = log.verify(expected_head=anchor)
    assert [(p.location, p.sequence) for p in result.problems] == [("row 2", 2)]
    with engine.begin() as conn:
        conn.execute(
            sa.text(f"UPDATE {table} SET details = :d WHERE sequence = 3"), {"d": '{"n":5,"n":2}'}
        )
    result = log.verify()
    assert [(p.location, p.sequence) for p in result.problems] == [("row 2", 2), ("row 3", 3)]
    assert "duplicated JSON key 'n'" in result.problems[1].message
    with pytest.raises(pk.AuditIntegrityError, match=r"row 3\) is ambiguous"):
        log.record("sa.next", now=NOW)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DELETE FROM {table}"))
    keyed = AuditLog.sqlalchemy(engine, table=table, key=KEY)
    for i in range(3):
        keyed.record("sa.keyed", now=NOW, details={"n": i})
    assert keyed.verify().ok
    assert not AuditLog.sqlalchemy(engine, table=table).verify().ok
    with pytest.raises(pk.AuditIntegrityError, match="has no key"):
        AuditLog.sqlalchemy(engine, table=table).record("forged.entry", now=NOW)
    with pytest.raises(pk.audit.AuditSinkError, match=rf"SQLAlchemySink\(.*table {table}\)"):
        keyed.sink.append(next(iter(keyed.entries())))


def test_sqlalchemy_sink_on_sqlite() -> None:
    sa = pytest.importorskip(
        "sqlalchemy", reason="SQLAlchemy is not installed (extra [sqlalchemy])"
    )
    engine = sa.create_engine("sqlite://")
    _exercise_sqlalchemy_sink(engine, "audit_sa")
    engine.dispose()


@pytest.mark.postgres
def test_sqlalchemy_sink_on_postgres(postgres_engine: Any) -> None:
    target = _server_target(postgres_engine)
    try:
        _exercise_sqlalchemy_sink(postgres_engine, target.partition("#")[2])
    finally:
        _drop(postgres_engine, target)


@pytest.mark.mariadb
def test_sqlalchemy_sink_on_mariadb(mariadb_engine: Any) -> None:
    target = _server_target(mariadb_engine)
    try:
        _exercise_sqlalchemy_sink(mariadb_engine, target.partition("#")[2])
    finally:
        _drop(mariadb_engine, target)


@pytest.mark.postgres
def test_postgres_lock_wait_past_the_timeout_is_a_sink_error(postgres_engine: Any) -> None:
    sa = pytest.importorskip("sqlalchemy")
    target = _server_target(postgres_engine)
    table = target.partition("#")[2]
    try:
        log = AuditLog.sqlalchemy(postgres_engine, table=table, timeout=0.3)
        log.record("a.b", now=NOW)
        with postgres_engine.connect() as holder:
            holder.execute(sa.text("BEGIN"))
            holder.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": log.sink._pg_key})
            with pytest.raises(pk.audit.AuditSinkError, match="append failed"):
                log.record("c.d", now=NOW)
            holder.rollback()
        assert log.record("e.f", now=NOW).sequence == 2
    finally:
        _drop(postgres_engine, target)
