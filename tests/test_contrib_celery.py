"""privacy_kit.contrib.celery: a sweep fanned out over two real Celery workers through Redis.

The end-to-end tests start two ``celery worker`` processes (prefork, one child each) on a queue
and Redis key prefix of their own (tests/celery_app.py), against a PostgreSQL database of their
own; a second database, an identical copy made before anything runs, gets the single-process
``engine.apply`` of the same plan. A committed ``delete`` of a shard is followed by a stall the
test ends with SIGKILL: once the pool child only (the worker rejects the message back to the
queue: ``acks_late`` + ``reject_on_worker_lost``), once the whole worker (its unacknowledged
message comes back when Redis's visibility timeout lapses, to the other worker); and the first
``delete`` of that table fails as a lost connection would, so its task retries. Then:

- both databases hold the same rows, row for row, in every table of the data map;
- the chord's report equals the single-process report, line for line, and every count is exact;
- the audit chain verifies under its key, and each shard was journalled as done exactly once.

They skip, saying why, without Celery, without Redis on 127.0.0.1:6379 or without PostgreSQL.
The other tests run the tasks eagerly (``task_always_eager``) over the in-memory adapter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("celery", reason="privacy_kit.contrib.celery needs the 'celery' extra")

from celery import Celery

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter
from privacy_kit.audit import MemoryStateStore
from privacy_kit.contrib.celery import SweepTasks, register_tasks, report_data
from privacy_kit.contrib.celery._tasks import check_shared, parse_now, transient

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)
TESTS = Path(__file__).resolve().parent
REDIS = ("127.0.0.1", 6379)
ROWS_PER_SHARD = 120


# == eager: the tasks in this process ==============================================================
def _memory_engine(policy: pk.Policy | None = None) -> pk.Engine:
    dm = pk.load_datamap(pk.example_path("datamap.yaml"))
    tables: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in dm.record_types}
    tables["users"] = [
        {"id": u, "closed_at": dt.datetime(2025, 1, 1, tzinfo=UTC) if u % 2 else None}
        for u in range(1, 41)
    ]
    tables["payment_methods"] = [{"id": 100 + u, "user_id": u} for u in range(1, 41)]
    tables["sessions"] = [{"id": 200 + u, "user_id": u} for u in range(1, 41)]
    return pk.Engine(
        policy or pk.load_policy(pk.example_path()),
        dm,
        InMemoryAdapter(tables),
        state=MemoryStateStore(),
        verify=False,
    )


def _eager(engine: pk.Engine, **kwargs: Any) -> SweepTasks:
    app = Celery("eager", set_as_current=False)
    app.conf.update(task_always_eager=True, task_eager_propagates=True)
    return register_tasks(app, lambda: engine, **kwargs)


def test_an_eager_sweep_equals_a_direct_apply() -> None:
    swept, direct = _memory_engine(), _memory_engine()
    data = _eager(swept, rows_per_shard=5).sweep(now=NOW).get()
    expected = direct.apply(direct.plan_retention(now=NOW))
    assert expected.total > 0
    assert data["total"] == expected.total
    assert data["exact"] is True
    assert data["lines"] == [dict(r) for r in expected.to_records()]
    for rt in swept.datamap.record_types:
        assert swept.adapter_for(rt).rows(rt.table_name) == direct.adapter_for(rt).rows(
            rt.table_name
        )
    assert json.loads(json.dumps(data)) == data  # what the result backend carries


def test_a_plan_made_under_another_policy_fails_loudly_in_the_shard_task() -> None:
    planner = _memory_engine()
    plan = planner.plan_retention(now=NOW)
    shards = planner.shards(plan, rows_per_shard=5)
    doc = pk.load_policy(pk.example_path()).model_dump(mode="json", exclude_defaults=True)
    doc["version"] = f"{doc['version']}-next"
    tasks = _eager(_memory_engine(pk.load_policy(doc)))
    with pytest.raises(pk.PlanError, match="policy"):
        tasks.apply_shard.apply(args=(plan.to_json(), shards[0].to_json())).get()


def test_finish_refuses_while_a_shard_is_unfinished() -> None:
    engine = _memory_engine()
    plan = engine.plan_retention(now=NOW)
    shards = [s.to_json() for s in engine.shards(plan, rows_per_shard=5)]
    tasks = _eager(engine)
    first = tasks.apply_shard.apply(args=(plan.to_json(), shards[0])).get()
    with pytest.raises(pk.PlanError, match="not finished"):
        tasks.finish.apply(args=([first], plan.to_json(), shards)).get()


def test_a_redelivered_finish_returns_the_same_report_and_records_once() -> None:
    engine = _memory_engine()
    plan = engine.plan_retention(now=NOW)
    shards = [s.to_json() for s in engine.shards(plan, rows_per_shard=5)]
    tasks = _eager(engine)
    reports = [tasks.apply_shard.apply(args=(plan.to_json(), s)).get() for s in shards]
    first = tasks.finish.apply(args=(reports, plan.to_json(), shards)).get()
    again = tasks.finish.apply(args=(reports, plan.to_json(), shards)).get()  # redelivered
    assert first["already_finished"] is False
    assert again["already_finished"] is True
    assert {k: v for k, v in again.items() if k not in ("already_finished", "summary")} == {
        k: v for k, v in first.items() if k not in ("already_finished", "summary")
    }
    applied = [e for e in engine.audit.entries() if e.action == "retention.applied"]
    assert len(applied) == 1
    assert "already finished" in again["summary"]


def test_finish_refuses_a_report_of_another_plan() -> None:
    engine = _memory_engine()
    plan, other = engine.plan_retention(now=NOW), engine.plan_retention(now=NOW)
    shards = [s.to_json() for s in engine.shards(plan, rows_per_shard=5)]
    tasks = _eager(engine)
    stray = tasks.apply_shard.apply(
        args=(other.to_json(), engine.shards(other, rows_per_shard=5)[0].to_json())
    ).get()
    with pytest.raises(pk.PlanError, match="not one of its shards"):
        tasks.finish.apply(args=([stray], plan.to_json(), shards)).get()


def test_an_engine_whose_state_is_private_to_the_process_is_refused() -> None:
    app = Celery("not-eager", set_as_current=False)
    memory = register_tasks(app, _memory_engine, prefix="memory")
    with pytest.raises(pk.ConfigurationError, match="MemoryStateStore is private"):
        memory.engine()
    nothing = _memory_engine()
    nothing.state = None
    with pytest.raises(pk.ConfigurationError, match="no state store"):
        check_shared(nothing)
    with pytest.raises(pk.WrongTypeError, match=r"must return a privacy_kit\.Engine"):
        register_tasks(app, lambda: "engine", prefix="wrong").engine()  # type: ignore[arg-type,return-value]


def test_registering_twice_on_one_app_is_refused() -> None:
    app = Celery("twice", set_as_current=False)
    register_tasks(app, _memory_engine)
    with pytest.raises(pk.ConfigurationError, match="already registered"):
        register_tasks(app, _memory_engine)
    register_tasks(app, _memory_engine, prefix="second")  # another prefix is another set
    with pytest.raises(pk.ConfigurationError, match="rows_per_shard"):
        register_tasks(app, _memory_engine, prefix="third", rows_per_shard=0)


def test_time_is_explicit_and_a_chord_needs_a_result_backend() -> None:
    with pytest.raises(pk.NaiveDatetimeError):
        parse_now("2026-01-01T00:00:00")
    with pytest.raises(pk.ConfigurationError, match="ISO 8601"):
        parse_now("tomorrow")
    with pytest.raises(pk.WrongTypeError):
        parse_now(1767225600)
    tasks = _eager(_memory_engine())
    with pytest.raises(pk.NaiveDatetimeError):
        tasks.sweep(now=dt.datetime(2026, 1, 1))  # naive: the point of the test
    app = Celery("no-backend", set_as_current=False)
    with pytest.raises(pk.ConfigurationError, match="result backend"):
        register_tasks(app, _memory_engine).sweep(now=NOW)


def test_which_errors_are_retried() -> None:
    class OperationalError(Exception):  # a PEP 249 driver's name
        pass

    wrapped = pk.AdapterError("lost", adapter="x", record_type="bookings", operation="delete")
    assert transient(wrapped)
    assert transient(OperationalError("server closed the connection"))
    outer = RuntimeError("wrapped")
    outer.__cause__ = OperationalError("gone")
    assert transient(outer)
    assert not transient(pk.SchemaMismatchError("no table", adapter="x", operation="verify"))
    assert not transient(pk.PlanError("stale"))
    assert not transient(ValueError("bad"))


def test_an_eager_task_raises_a_database_error_at_once() -> None:
    engine = _memory_engine()
    adapter = next(iter(engine.adapters.values()))

    def lost(*_args: Any, **_kwargs: Any) -> int:
        raise pk.AdapterError("lost", adapter="mem", record_type="sessions", operation="delete")

    adapter.delete = lost  # type: ignore[method-assign]
    with pytest.raises(pk.AdapterError, match="lost"):  # not celery's Retry
        _eager(engine, rows_per_shard=5).sweep(now=NOW).get()


def test_report_data_is_json() -> None:
    engine = _memory_engine()
    report = engine.apply(engine.plan_retention(now=NOW))
    data = report_data(report, plan="rp_x")
    assert json.loads(json.dumps(data)) == data
    assert data["total"] == report.total
    assert data["summary"] == report.summary()


# == two real workers over Redis and PostgreSQL ====================================================
def _redis_or_skip() -> Any:
    redis = pytest.importorskip(
        "redis", reason="the redis client is not installed (extra [celery])"
    )
    try:
        socket.create_connection(REDIS, timeout=1).close()
        client = redis.Redis(*REDIS, socket_connect_timeout=2, socket_timeout=5)
        client.ping()
    except (OSError, redis.RedisError) as exc:
        pytest.skip(f"no Redis server at {REDIS[0]}:{REDIS[1]} ({exc})")
    return client


@pytest.fixture
def redis_run() -> Iterator[str]:
    """This run's name (queue and key prefix); its keys are deleted afterwards."""
    client = _redis_or_skip()
    run = f"pkc_{uuid.uuid4().hex[:12]}"
    try:
        yield run
    finally:
        keys = list(client.scan_iter(match=f"{run}:*", count=500))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def databases(postgres_engine: Any) -> Iterator[tuple[str, str]]:
    """Two identical databases (the data, the state store with its secret, holds and overrides,
    the audit log); the second is a copy of the first made before anything is swept."""
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    import sqlalchemy as sa

    import celery_app

    stem = f"pkc_{uuid.uuid4().hex[:12]}"
    server = postgres_engine.execution_options(isolation_level="AUTOCOMMIT")
    names = (f"{stem}_a", f"{stem}_b")

    def url(name: str) -> str:
        return postgres_engine.url.set(database=name).render_as_string(hide_password=False)

    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{names[0]}"'))
        _fill(url(names[0]), celery_app)
        for attempt in range(5):  # another session copying a template at the same moment
            try:
                with server.connect() as conn:
                    conn.execute(sa.text(f'CREATE DATABASE "{names[1]}" TEMPLATE "{names[0]}"'))
                break
            except sa.exc.SQLAlchemyError as exc:
                if attempt == 4 or "being accessed by other users" not in str(exc):
                    raise
                time.sleep(1)
        yield url(names[0]), url(names[1])
    finally:
        with server.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _fill(url: str, app: Any) -> None:
    """Accounts (two in three closed, over eight years), their bookings, sessions, payment
    methods, tickets and usage; overrides for one account in five; a hold on account 1."""
    from privacy_kit.adapters import SQLAlchemyAdapter

    rows = _rows(app.DATAMAP)
    adapter = SQLAlchemyAdapter(url)
    try:
        adapter.create_schema(app.DATAMAP)
        for table, items in rows.items():
            adapter.insert(app.DATAMAP.record_type(table), items)
    finally:
        adapter.close()
    engine = app.engine_for(url, app="celery-setup")
    try:
        for user in range(5, 121, 5):
            engine.settings.set(user, "booking_data", "P1Y")  # type: ignore[union-attr]
        engine.place_hold(
            reason="Dispute",
            placed_by="legal",
            now=NOW - dt.timedelta(days=30),
            subject=pk.Subject.of("customer", user_id=1),
            hold_id="hold_celery_1",
        )
    finally:
        _close(engine)


def _close(engine: pk.Engine) -> None:
    engine.audit.sink.close()  # type: ignore[attr-defined]
    engine.state.close()  # type: ignore[union-attr]
    for adapter in engine.adapters.values():
        adapter.close()
        adapter.engine.dispose()  # type: ignore[attr-defined]  # given to it, so not its to dispose


def _rows(datamap: pk.DataMap) -> dict[str, list[dict[str, Any]]]:
    def row(table: str, **values: Any) -> dict[str, Any]:
        return {**dict.fromkeys(datamap.record_type(table).field_names), **values}

    out: dict[str, list[dict[str, Any]]] = {
        t: [] for t in ("users", "bookings", "sessions", "payment_methods", "support_tickets")
    }
    out["usage_events"] = []
    for u in range(1, 121):
        closed = None if u % 3 == 0 else NOW - dt.timedelta(days=40 + (u * 97) % 2900)
        out["users"].append(
            row(
                "users",
                id=u,
                name=f"User {u}",
                email=f"u{u}@example.org",
                time_zone="UTC",
                language="en",
                is_admin=False,
                created_at=dt.datetime(2017, 1, 1, tzinfo=UTC),
                last_seen_at=dt.datetime(2025, 6, 1, tzinfo=UTC),
                closed_at=closed,
            )
        )
        for j in range(12):
            b = u * 100 + j
            end = NOW - dt.timedelta(hours=(b * 2654435761) % (3 * 365 * 24))
            out["bookings"].append(
                row(
                    "bookings",
                    id=b,
                    host_id=u,
                    service_id=j % 3,
                    invitee_email=f"g{b}@example.net",
                    invitee_name=f"Guest {b}",
                    invitee_phone=f"+155501{b:05d}",
                    invitee_notes="see you",
                    host_notes=f"notes {b}",
                    start_at=end - dt.timedelta(hours=1),
                    end_at=end,
                    created_at=end - dt.timedelta(days=7),
                )
            )
        for j in range(2):
            out["sessions"].append(
                row("sessions", id=u * 10 + j, user_id=u, ip_address="192.0.2.1", browser="b")
            )
            out["usage_events"].append(
                row(
                    "usage_events",
                    id=u * 10 + j,
                    user_id=u,
                    feature="search",
                    occurred_at=dt.datetime(2024, 1 + j, 15, tzinfo=UTC),
                )
            )
        out["payment_methods"].append(
            row("payment_methods", id=u, user_id=u, card_brand="visa", card_last4="4242")
        )
        out["support_tickets"].append(
            row("support_tickets", id=u, user_id=u, subject="help", body="please")
        )
    return out


class Workers:
    """Two ``celery worker`` processes (prefork, one child each) on this run's queue."""

    def __init__(self, run: str, url: str, folder: Path, **env: str) -> None:
        import celery_app

        self.run = run
        self.folder = folder
        self.app = celery_app.make_app(f"redis://{REDIS[0]}:{REDIS[1]}/0", run)
        self.tasks = register_tasks(self.app, lambda: celery_app.engine_for(url))
        source = Path(pk.__file__).resolve().parents[1]  # the privacy_kit this test imports
        path = os.pathsep.join([str(source), str(TESTS), os.environ.get("PYTHONPATH", "")])
        self.env = {
            **os.environ,
            "PYTHONPATH": path,
            "PK_CELERY_BROKER": f"redis://{REDIS[0]}:{REDIS[1]}/0",
            "PK_CELERY_RUN": run,
            "PK_CELERY_DB": url,
            **env,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def __enter__(self) -> Workers:
        for n in (1, 2):
            log = self.folder / f"worker-{n}.log"
            self.logs.append(log)
            with log.open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "celery_app",
                            "worker",
                            "-P",
                            "prefork",
                            "-c",
                            "1",
                            "-Q",
                            self.run,
                            "-n",
                            f"w{n}@{self.run}",
                            "--without-gossip",
                            "--without-mingle",
                            "--without-heartbeat",
                            "-l",
                            "INFO",
                        ],
                        cwd=TESTS,
                        env=self.env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # so the whole worker (parent, child) can be killed
                    )
                )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        names = {f"w{n}@{self.run}" for n in (1, 2)}
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise AssertionError(f"a worker exited while starting\n{self.tail()}")
            answered = {k for reply in self.app.control.ping(timeout=0.5) for k in reply}
            if names <= answered:
                return
        raise AssertionError(f"the workers did not answer a ping within 40 s\n{self.tail()}")

    def kill_group(self, leader: int) -> None:
        """SIGKILL a whole worker (its main process and its pool child): a machine lost."""
        (process,) = [p for p in self.processes if p.pid == leader]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def tail(self) -> str:
        return "\n".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-6000:]}"
            for log in self.logs
            if log.exists()
        )

    def __exit__(self, *_exc: object) -> None:
        for p in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)


def _wait_for(path: Path, workers: Workers, seconds: float = 30) -> tuple[int, int]:
    """The (pid, parent pid) a stalled worker wrote in ``path``, once it is there."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text().split()
            if len(text) == 2:
                return int(text[0]), int(text[1])
        time.sleep(0.02)
    raise AssertionError(
        f"no worker stalled ({path.name}) within {seconds:.0f} s\n{workers.tail()}"
    )


def _dump(url: str, datamap: pk.DataMap) -> dict[str, list[tuple[Any, ...]]]:
    import sqlalchemy as sa

    db = sa.create_engine(url)
    try:
        with db.connect() as conn:
            return {
                rt.table_name: [
                    tuple(r)
                    for r in conn.execute(
                        sa.text(f'SELECT * FROM "{rt.table_name}" ORDER BY "{rt.primary_key}"')
                    )
                ]
                for rt in datamap.record_types
            }
    finally:
        db.dispose()


def _result(async_result: Any, workers: Workers, seconds: float = 60) -> dict[str, Any]:
    try:
        value: dict[str, Any] = async_result.get(timeout=seconds)
    except Exception as exc:  # noqa: BLE001 - failed with the workers' logs attached
        pytest.fail(f"the sweep failed: {exc!r}\n{workers.tail()}")
    return value


def _journal_done(url: str, plan_id: str) -> list[tuple[int, str]]:
    """``(entry, shard key)`` of each ``shard_done`` record in the plan's journal, in order."""
    import celery_app
    from privacy_kit.audit import SQLAlchemyStateStore
    from privacy_kit.audit._journal import journal_collection

    store = SQLAlchemyStateStore(url, prefix=celery_app.STATE_PREFIX)
    try:
        return [
            (e.document["entry"], e.document["shard"])
            for e in store.entries(journal_collection("retention", plan_id))
            if e.document.get("event") == "shard_done"
        ]
    finally:
        store.close()


def _same_report(data: dict[str, Any], expected: pk.RetentionReport) -> None:
    counted = ("rule", "record_type", "action", "group", "planned", "done", "held", "newly_held")
    assert [{k: line[k] for k in counted} for line in data["lines"]] == [
        {k: r[k] for k in counted} for r in expected.to_records()
    ]
    assert data["total"] == expected.total > 0
    assert data["exact"] is True
    assert expected.exact


@pytest.mark.postgres
def test_two_workers_one_killed_mid_shard_end_as_one_process(
    databases: tuple[str, str], redis_run: str, tmp_path: Path
) -> None:
    import celery_app

    swept, copy = databases
    planner = celery_app.engine_for(swept, app="celery-planner")
    try:
        plan = planner.plan_retention(now=NOW)
        shards = planner.shards(plan, rows_per_shard=ROWS_PER_SHARD)
    finally:
        _close(planner)
    text = plan.to_json()  # made here, applied by the workers
    assert len(shards) >= 6
    cut = [plan.entries[s.entry].source for s in shards if s.of > 1]
    # both kinds of trigger are sharded, by ranges of the table's blocks on PostgreSQL
    assert {src is not None and src.account is not None for src in cut} == {True, False}
    assert all(s.blocks is not None for s in shards if s.of > 1)
    stalls = tmp_path / "stalls"
    stalls.mkdir()
    with Workers(
        redis_run,
        swept,
        tmp_path,
        PK_CELERY_STALL_DIR=str(stalls),
        PK_CELERY_STALL_TABLE="bookings",
        PK_CELERY_STALLS="2",
    ) as workers:
        started = time.monotonic()
        result = workers.tasks.run(text, shards=shards)
        # 1. the pool child running a shard dies: the worker rejects the message to the queue
        child, _parent = _wait_for(stalls / "stall-1", workers)
        os.kill(child, signal.SIGKILL)
        # 2. a whole worker dies mid-shard: Redis gives its message to the other one once the
        # visibility timeout has passed
        _child, parent = _wait_for(stalls / "stall-2", workers)
        workers.kill_group(parent)
        data = _result(result, workers)
        elapsed = time.monotonic() - started
        logs = workers.text()
    assert elapsed < 60, f"the sweep took {elapsed:.0f} s"
    assert data["plan"] == plan.id
    assert (stalls / "fail-1").exists()  # a database error, retried with backoff:
    assert "retry: Retry in" in logs

    direct = celery_app.engine_for(copy, app="celery-direct")
    try:
        expected = direct.apply(pk.RetentionPlan.from_json(text))
    finally:
        _close(direct)
    _same_report(data, expected)
    assert sum(s["resumed"] for s in data["shards"]) >= 1  # a killed shard's rerun said so
    before = _rows(celery_app.DATAMAP)
    after, reference = _dump(swept, celery_app.DATAMAP), _dump(copy, celery_app.DATAMAP)
    assert len(after["bookings"]) < len(before["bookings"])  # the stalled table was swept
    for table, rows in reference.items():
        assert after[table] == rows, f"{table} differs from the single-process sweep"

    log = pk.AuditLog.sqlalchemy(swept, table=celery_app.AUDIT_TABLE, key=celery_app.AUDIT_KEY)
    try:
        verification = log.verify()
        actions = [e.action for e in log.entries()]
    finally:
        log.sink.close()  # type: ignore[attr-defined]
    assert verification.ok, verification
    assert actions.count("retention.applied") == 1
    done = _journal_done(swept, plan.id)
    assert sorted(done) == sorted((s.entry, s.key) for s in shards)  # each once, all of them


@pytest.mark.postgres
def test_a_sweep_planned_by_a_worker_equals_a_direct_sweep(
    databases: tuple[str, str], redis_run: str, tmp_path: Path
) -> None:
    import celery_app

    swept, copy = databases
    with Workers(redis_run, swept, tmp_path) as workers:
        data = _result(workers.tasks.sweep(now=NOW, rows_per_shard=ROWS_PER_SHARD), workers)
    direct = celery_app.engine_for(copy, app="celery-direct")
    try:
        expected = direct.apply(direct.plan_retention(now=NOW))
    finally:
        _close(direct)
    _same_report(data, expected)
    assert data["now"] == NOW.isoformat()
    after, reference = _dump(swept, celery_app.DATAMAP), _dump(copy, celery_app.DATAMAP)
    assert after == reference
