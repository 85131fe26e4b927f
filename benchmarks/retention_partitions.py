"""Scenario 7: a retention sweep of a partitioned PostgreSQL table, against ``DELETE`` of the same rows.

The bookings of scenario 2 (the same ``generate_series`` formulas, end times spread over the two
years before ``now``), in a table range-partitioned by month on ``end_at`` (the rule's trigger
time), with a default partition; the policy deletes a booking one year after its end, and no
legal hold is in force (a hold on the record type sends every step row by row, see
docs/retention.md). The sweep runs a fortnight into the month, so twelve monthly partitions are
wholly expired and one partly: about 52% of the rows go.

privacy_kit: ``engine.plan_retention(now=...)`` then ``engine.apply(plan)`` through the
SQLAlchemy adapter, which drops the twelve partitions whole (each locked, counted, detached and
dropped in one transaction) and deletes the partly expired month's rows row by row; the rows
``partitions="truncate"`` and ``partitions="off"`` (every row deleted by statements, as on an
unpartitioned table) run the same sweep. Baseline: ``DELETE FROM bookings WHERE end_at <= %s``
and one commit, through psycopg, on the same partitioned table. Every run starts from a fresh
copy (``CREATE DATABASE ..._run TEMPLATE ..._base``, made before the clock starts), databases
named uniquely for the run (see :func:`benchmarks.retention_pg.database_names`) and dropped at the
end; each run's rows left are checked.

Not a growth scenario: a full run measures 1,000,000 and 10,000,000 bookings, ``--quick`` 20,000.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from . import _data
from ._harness import Config, Row, Skip, alternate, durable, median, peak_python_memory
from .retention_pg import (
    BOOKINGS_PER_HOST,
    SERVER,
    admin,
    bookings_left,
    connect,
    database_names,
    fill,
    new_schema,
    recreate,
    require_postgres,
)

NAME = "partitioned-postgres"
GROWS = False
FULL_SIZES = (1_000_000, 10_000_000)
QUICK_SIZE = 20_000
NOW = _data.NOW + dt.timedelta(days=15)
"""The sweep's instant: mid-month, so one monthly partition is partly expired."""


def policy() -> Any:
    """The example policy with bookings deleted one year after the meeting ended."""
    return _data.retention_policy("P1Y")


def months() -> list[tuple[dt.datetime, dt.datetime]]:
    """Monthly bounds covering every end time (the two years before ``_data.NOW``) and a month
    either side."""
    first = _data.NOW - dt.timedelta(days=_data.SPAN_DAYS + 31)
    start = dt.datetime(first.year, first.month, 1, tzinfo=dt.UTC)
    bounds = []
    while start <= _data.NOW:
        nxt = dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=dt.UTC)
        bounds.append((start, nxt))
        start = nxt
    return bounds


def build(bookings: int, base_db: str) -> tuple[int, int]:
    """Write the partitioned data set into the base database; return (hosts, rows left)."""
    from privacy_kit.retention import cutoff

    hosts = max(bookings // BOOKINGS_PER_HOST, 100)
    new_schema(base_db)  # its bookings table is replaced by a partitioned one below
    limit = cutoff(_duration(), NOW)
    with connect(base_db) as conn:
        conn.execute("ALTER TABLE bookings RENAME TO bookings_shape")
        conn.execute(
            "CREATE TABLE bookings (LIKE bookings_shape INCLUDING DEFAULTS) "
            "PARTITION BY RANGE (end_at)"
        )
        conn.execute("DROP TABLE bookings_shape")
        for lo, hi in months():
            conn.execute(
                f"CREATE TABLE bookings_{lo:%Y_%m} PARTITION OF bookings "
                f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
            )
        conn.execute("CREATE TABLE bookings_default PARTITION OF bookings DEFAULT")
        fill(conn, bookings, hosts)
        # Keys and indexes after the rows: one sorted build each, not millions of inserts.
        conn.execute("ALTER TABLE bookings ADD PRIMARY KEY (id, end_at)")
        for column in ("host_id", "invitee_email", "start_at", "end_at", "created_at"):
            conn.execute(f"CREATE INDEX ON bookings ({column})")  # create_schema's lookups
        (expired,) = conn.execute(
            "SELECT COUNT(*) FROM bookings WHERE end_at <= %s", [limit]
        ).fetchone()
        conn.commit()
    with connect(base_db, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return hosts, bookings - expired


def _duration() -> Any:
    return next(r for r in policy().retention if r.key == "booking_data").duration


def run(config: Config) -> list[Row]:
    """Build each size once, then alternate privacy_kit's sweeps and the hand-written DELETE."""
    require_postgres()
    from privacy_kit.adapters import Capability

    if not hasattr(Capability, "PARTITIONS"):
        raise Skip("privacy_kit has no partition-aware sweeps yet")
    rows: list[Row] = []
    for bookings in (QUICK_SIZE,) if config.quick else FULL_SIZES:
        base_db, run_db = database_names()
        try:
            rows.extend(_run(config, bookings, base_db, run_db))
        finally:
            with admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{run_db}"')
                conn.execute(f'DROP DATABASE IF EXISTS "{base_db}"')
    return rows


def _run(config: Config, bookings: int, base_db: str, run_db: str) -> list[Row]:
    import privacy_kit as pk
    from privacy_kit.adapters import SQLAlchemyAdapter
    from privacy_kit.retention import cutoff

    _hosts, remaining = build(bookings, base_db)
    limit = cutoff(_duration(), NOW)
    url = f"{SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{run_db}"
    expired_months = sum(1 for _lo, hi in months() if hi <= limit)

    rules, datamap = policy(), _data.example_datamap()

    def prepare() -> dict[str, Any]:
        with admin() as conn:
            recreate(conn, run_db, template=base_db)
        engines = {}
        for mode in ("drop", "truncate", "off"):
            adapter = SQLAlchemyAdapter(url, partitions=mode)
            files = durable(config.workdir, f"{NAME}-{mode}")
            engine = pk.Engine(rules, datamap, adapter, secret=b"b" * 32, audit=files["audit"])
            with adapter.engine.connect():  # the pool's connection is made before the clock
                pass
            engines[mode] = (engine, adapter, files["journal"])
        return {"engines": engines, "conn": connect(run_db)}

    def sweep(mode: str) -> Any:
        def run_sweep(state: dict[str, Any]) -> Any:
            engine, _adapter, journal = state["engines"][mode]
            report = engine.apply(engine.plan_retention(now=NOW, journal=journal))
            line = next(x for x in report.lines if x.record_type == "bookings")
            whole = 0 if mode == "off" else expired_months
            if len(line.partitions) != whole:
                raise AssertionError(f"{mode}: {len(line.partitions)} partitions, not {whole}")
            return report

        return run_sweep

    def baseline(state: dict[str, Any]) -> Any:
        conn = state["conn"]
        deleted = conn.execute("DELETE FROM bookings WHERE end_at <= %s", [limit]).rowcount
        conn.commit()
        return deleted

    check = bookings_left(remaining)

    def cleanup(state: dict[str, Any]) -> None:
        state["conn"].close()
        for _engine, adapter, _journal in state["engines"].values():
            adapter.close()

    times = alternate(
        prepare,
        [
            ("pk", sweep("drop")),
            ("base", baseline),
            ("pk_truncate", sweep("truncate")),
            ("pk_off", sweep("off")),
        ],
        config.repetitions,
        cleanup=cleanup,
        check=check,
    )
    state = prepare()
    try:
        peak, _ = peak_python_memory(lambda: sweep("drop")(state))
        check("pk (memory run)", state, None)
    finally:
        cleanup(state)
    scenario = "7. retention sweep, PostgreSQL, partitioned table"
    size = f"{bookings:,} bookings, {bookings - remaining:,} expired"
    base = median(times["base"])
    whole = f"{expired_months} of {len(months())} monthly partitions"
    return [
        Row(
            scenario=scenario,
            size=size,
            pk=median(times["pk"]),
            baseline=base,
            baseline_name="one DELETE",
            target=1.0,
            peak_mb=peak,
            note=f"{whole} dropped whole, the partly expired month row by row",
            samples=times,
        ),
        Row(
            scenario=f"{scenario}, partitions='truncate'",
            size=size,
            pk=median(times["pk_truncate"]),
            baseline=base,
            baseline_name="one DELETE",
            target=1.0,
            note=f"{whole} truncated",
        ),
        Row(
            scenario=f"{scenario}, partitions='off'",
            size=size,
            pk=median(times["pk_off"]),
            baseline=base,
            baseline_name="one DELETE",
            target=1.25,
            note="every row deleted by statements, as on an unpartitioned table",
        ),
    ]
