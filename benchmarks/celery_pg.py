"""Scenario 8: the PostgreSQL sweep of scenario 2 at 10,000,000 bookings, on Celery workers.

The data set of scenario 2 (``generate_series``, the same per-row formulas: bookings of 20,000
hosts spread over two years, deleted one year after their end, one host in a hundred under a legal
hold), built once in a database of its own with the holds in privacy_kit's shared state store
there; every run gets a fresh copy (``CREATE DATABASE ... TEMPLATE``), made before the clock
starts. Contenders, each timed from the moment it starts until the report is back:

- **one worker** / **two workers**: ``celery worker -P prefork -c 1`` processes (started and
  answering a ping before the clock starts; stopped after) on a Redis queue and key prefix of
  their own; the benchmark calls ``tasks.sweep(now=...)`` and waits for the report: a worker
  plans, shards (see :data:`SHARDS`), the shards run as a chord, ``finish`` reports.
  Each worker's engine keeps its journal and holds in an ``SQLAlchemyStateStore`` and its audit
  log (keyed) in the same database, as a host's would.
- **one process**: ``engine.apply(engine.plan_retention(now=...))`` in the benchmark's process,
  with the same engine (no Celery), for what the fan-out costs or buys.
- baseline: ``DELETE FROM bookings WHERE end_at <= %s AND host_id <> ALL(%s)`` and one commit.

The machine has few cores, shared with PostgreSQL: two workers help only as far as the database
can run two statements at once. Skipped, saying why, without Celery, Redis on 127.0.0.1:6379,
psycopg or the PostgreSQL server. ``PRIVACY_KIT_BENCH_CELERY_BOOKINGS`` sets another size.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import _data
from ._celery_app import engine_for, make_app
from ._harness import Config, Measured, Row, Skip, alternate, median
from .retention import held_hosts, place_holds, retention_policy
from .retention_pg import (
    SERVER,
    admin,
    build,
    connect,
    database_names,
    delete_expired,
    recreate,
)

NAME = "celery-postgres"
GROWS = False
ROWS_PER_SHARD = 100_000
SHARDS = 10
"""Bookings shards aimed at: ``rows_per_shard`` is the larger of :data:`ROWS_PER_SHARD` and
``bookings // SHARDS`` (half the bookings expire, so about five shards of the bookings entry).
On PostgreSQL the bookings entry is cut by ranges of the table's blocks, so each shard reads only
its fifth of the table."""
REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[1]


def _requirements() -> Any:
    """The Redis client, or a skip naming what is missing."""
    try:
        import celery  # noqa: F401 - only: is it there?
        import redis

        import privacy_kit.contrib.celery  # noqa: F401
    except ImportError as exc:
        raise Skip(f"Celery or redis is not installed (extra [celery]): {exc}") from None
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise Skip(f"SQLAlchemy or psycopg is not installed: {exc}") from None
    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Skip(f"no Redis server at {REDIS} ({exc})") from None
    return client


def run(config: Config) -> list[Row]:
    """Build once, then alternate one worker, two workers, one process and the DELETE."""
    client = _requirements()
    admin().close()  # skips, saying why, when the server is not there
    given = os.environ.get("PRIVACY_KIT_BENCH_CELERY_BOOKINGS")
    bookings = int(given) if given else config.size(10_000_000, 20_000)
    base_db, run_db = database_names()
    stem = f"pkbench_{secrets.token_hex(4)}"
    try:
        return _run(config, bookings, base_db, run_db, stem)
    finally:
        with admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{run_db}"')
            conn.execute(f'DROP DATABASE IF EXISTS "{base_db}"')
        keys = list(client.scan_iter(match=f"{stem}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _url(db: str) -> str:
    return f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{db}"


def _place_holds(url: str, hosts: int) -> None:
    """The scenario's holds, in the base database's shared state store (so every copy has them)."""
    engine = engine_for(url)
    try:
        place_holds(engine, hosts)
    finally:
        _close(engine)


def _close(engine: Any) -> None:
    engine.audit.sink.close()
    engine.state.close()
    for adapter in engine.adapters.values():
        adapter.close()


class _Workers:
    """``count`` celery worker processes on a queue and key prefix of their own."""

    def __init__(self, count: int, url: str, run: str, logs: Path) -> None:
        import privacy_kit as pk

        self.run = run
        self.app = make_app(REDIS, run)
        from privacy_kit.contrib.celery import register_tasks

        self.tasks = register_tasks(self.app, lambda: engine_for(url))
        source = str(Path(pk.__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([source, str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "PK_BENCH_CELERY_BROKER": REDIS,
            "PK_BENCH_CELERY_RUN": run,
            "PK_BENCH_CELERY_DB": url,
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.names = {f"w{n}@{run}" for n in range(1, count + 1)}
        for name in sorted(self.names):
            with (logs / f"{name.replace('@', '_')}.log").open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        [
                            *(sys.executable, "-m", "celery", "-A", "benchmarks._celery_app"),
                            *("worker", "-P", "prefork", "-c", "1", "-Q", run, "-n", name),
                            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
                            *("-l", "WARNING"),
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                self.stop()
                raise RuntimeError(f"a celery worker exited while starting (logs in {logs})")
            if self.names <= {k for r in self.app.control.ping(timeout=0.5) for k in r}:
                return
        self.stop()
        raise RuntimeError(f"the celery workers did not answer within 60 s (logs in {logs})")

    def stop(self) -> None:
        """Kill the workers (each whole: main process and pool child) once the report is back.

        Their queue and key prefix are this run's alone, so a message a killed worker had not
        acknowledged yet (``finish``'s, acknowledged after its result is stored) can never
        reach another run's workers; the keys are deleted at the end.
        """
        for p in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
        for p in self.processes:
            p.wait(timeout=30)


def _run(config: Config, bookings: int, base_db: str, run_db: str, stem: str) -> list[Row]:
    from privacy_kit.retention import cutoff

    hosts, remaining = build(bookings, base_db)
    _place_holds(_url(base_db), hosts)
    held = held_hosts(hosts)
    rule = next(r for r in retention_policy().retention if r.key == "booking_data")
    limit = cutoff(rule.duration, _data.NOW)
    # --quick: each contender once (every run starts its workers and copies the database)
    repetitions = 1 if config.quick else config.repetitions
    logs = Path(config.workdir) / "celery_logs"
    logs.mkdir(parents=True, exist_ok=True)
    runs = iter(range(1_000_000))
    shards: list[int] = []

    def prepare() -> dict[str, Any]:
        with admin() as conn:
            recreate(conn, run_db, template=base_db)
        return {"conn": connect(run_db), "workers": None}

    rows_per_shard = max(ROWS_PER_SHARD, bookings // SHARDS)

    def on_celery(count: int) -> Any:
        def contender(state: dict[str, Any]) -> Measured:
            workers = _Workers(count, _url(run_db), f"{stem}_{next(runs)}", logs)
            state["workers"] = workers
            start = time.perf_counter()
            report = workers.tasks.sweep(now=_data.NOW, rows_per_shard=rows_per_shard).get(
                timeout=3600
            )
            elapsed = time.perf_counter() - start
            shards.append(len(report["shards"]))
            state["total"] = report["total"]
            return Measured(elapsed)

        return contender

    def one_process(state: dict[str, Any]) -> Any:
        engine = engine_for(_url(run_db))
        try:
            report = engine.apply(engine.plan_retention(now=_data.NOW))
        finally:
            _close(engine)
        state["total"] = report.total
        return report

    def baseline(state: dict[str, Any]) -> Any:
        state["total"] = delete_expired(state["conn"], limit, held)
        return state["total"]

    def check(name: str, state: dict[str, Any], _result: Any) -> None:
        conn = state["conn"]
        (left,) = conn.execute("SELECT COUNT(*) FROM bookings").fetchone()
        conn.rollback()
        if left != remaining or state["total"] != bookings - remaining:
            raise AssertionError(
                f"{name} left {left} bookings and reported {state['total']} changed, expected "
                f"{remaining} and {bookings - remaining}"
            )

    def cleanup(state: dict[str, Any]) -> None:
        if state["workers"] is not None:
            state["workers"].stop()
        state["conn"].close()

    times = alternate(
        prepare,
        [
            ("one", on_celery(1)),
            ("two", on_celery(2)),
            ("process", one_process),
            ("base", baseline),
        ],
        repetitions,
        cleanup=cleanup,
        check=check,
    )
    size = f"{bookings:,} bookings, {bookings - remaining:,} expired"
    note = (
        f"{max(shards)} shards (rows_per_shard {rows_per_shard:,}); planning, waves and report "
        f"timed; cold workers (each builds its engine on its first task); {repetitions} run(s) "
        "each"
    )
    base = median(times["base"])

    def row(label: str, key: str, extra: str) -> Row:
        return Row(
            scenario=f"8. sweep on Celery, PostgreSQL, {label}",
            size=size,
            pk=median(times[key]),
            baseline=base,
            baseline_name="one DELETE",
            note=extra,
            samples={key: times[key], "base": times["base"]},
        )

    return [
        row("one worker", "one", note),
        row("two workers", "two", note),
        row("one process (no Celery)", "process", "engine.apply(plan_retention(...))"),
    ]
