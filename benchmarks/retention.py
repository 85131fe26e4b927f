"""Scenario 1: a retention sweep on SQLite, against one hand-written DELETE.

One million bookings (growth sizes 10,000, 100,000, 1,000,000; quick: 20,000) of 2,000 hosts (500 bookings each), their end times spread
over two years before ``now``; the policy deletes a booking one year after its end (the example's
``booking_data`` rule with ``trigger: event, duration: P1Y``), so about half are expired. One host
in a hundred is under a legal hold (a subject hold per held host, 1% of the bookings).

privacy_kit: ``engine.plan_retention(now=...)`` then ``engine.apply(plan)`` (the plan counts what
it will delete and what the holds keep, for every record type of the data map; applying deletes in
batches). Baseline: ``DELETE FROM bookings WHERE end_at <= ? AND host_id NOT IN (held hosts)`` and
one commit. Both run on fresh byte-for-byte copies of the same file; the rows left afterwards are
checked to be the same number on both sides.

privacy_kit runs at its defaults (the default batch size) with its durable records on: the audit
log in an SQLite file and the retention journal in a JSON-lines file, both fresh for each run. A
third row repeats both sides with a realistic page cache (``PRAGMA cache_size=-65536``, 64 MiB,
instead of SQLite's 2 MiB default).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from . import _data
from ._harness import (
    BIG_BATCH,
    Config,
    Row,
    Skip,
    alternate,
    batch_rows,
    cache_row,
    durable,
    peak_python_memory,
    with_cache,
)

NAME = "retention-sqlite"
GROWS = True
BOOKINGS_PER_HOST = 500
HELD_EVERY = 100  # one host in a hundred is under a legal hold


def held_hosts(hosts: int) -> list[int]:
    """The hosts under a legal hold (1%).

    Example:
        >>> held_hosts(300)
        [100, 200, 300]
    """
    return list(range(HELD_EVERY, hosts + 1, HELD_EVERY))


def build(path: Path, bookings: int) -> tuple[int, int]:
    """Write the data set; return (hosts, bookings expected to remain after the sweep)."""
    from privacy_kit.retention import cutoff

    datamap = _data.example_datamap()
    hosts = max(bookings // BOOKINGS_PER_HOST, HELD_EVERY)
    conn = _data.new_sqlite(path, datamap)
    with conn:
        _data.add_users(conn, hosts)
        _data.add_bookings(conn, bookings, hosts=hosts)
    policy = retention_policy()
    rule = next(r for r in policy.retention if r.key == "booking_data")
    limit = format_cutoff(cutoff(rule.duration, _data.NOW))
    held = held_hosts(hosts)
    marks = ",".join("?" * len(held))
    (expired,) = conn.execute(
        f"SELECT COUNT(*) FROM bookings WHERE end_at <= ? AND host_id NOT IN ({marks})",
        [limit, *held],
    ).fetchone()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    return hosts, bookings - expired


def format_cutoff(instant: Any) -> str:
    """The cutoff in the adapter's storage form."""
    from privacy_kit.adapters._sqlite import format_timestamp

    return str(format_timestamp(instant))


def retention_policy() -> Any:
    """The example policy with the one-year booking rule."""
    return _data.retention_policy("P1Y")


def engine_for(adapter: Any, hosts: int, audit: Any = None) -> Any:
    """An engine over ``adapter`` with the 1% of hosts under a legal hold (``audit``: its log)."""
    import privacy_kit as pk

    engine = pk.Engine(
        retention_policy(), _data.example_datamap(), adapter, secret=b"b" * 32, audit=audit
    )
    place_holds(engine, hosts)
    return engine


def place_holds(engine: Any, hosts: int) -> None:
    """Place the scenario's legal holds (one per held host) through ``engine``."""
    import privacy_kit as pk

    placed = _data.NOW.replace(year=2025)
    for host in held_hosts(hosts):
        engine.place_hold(
            reason=f"Dispute {host}",
            placed_by="legal",
            now=placed,
            subject=pk.Subject.of("customer", user_id=host),
        )


def run(config: Config) -> list[Row]:
    """Build once, then alternate privacy_kit's sweep and the hand-written DELETE."""
    import privacy_kit as pk

    if not hasattr(pk.Engine, "plan_retention"):
        raise Skip("privacy_kit has no Engine.plan_retention yet")
    from privacy_kit.adapters import SQLiteAdapter

    bookings = config.size(1_000_000, 20_000)
    work = Path(config.workdir)
    base = work / "retention_base.sqlite"
    hosts, remaining = build(base, bookings)
    held = held_hosts(hosts)
    policy = retention_policy()
    rule = next(r for r in policy.retention if r.key == "booking_data")
    from privacy_kit.retention import cutoff

    limit = format_cutoff(cutoff(rule.duration, _data.NOW))
    run_path = work / "retention_run.sqlite"

    def prepare() -> dict[str, Any]:
        _data.copy_sqlite(base, run_path)
        adapter = SQLiteAdapter(run_path)
        files = durable(config.workdir, NAME)
        return {
            "adapter": adapter,
            "engine": engine_for(adapter, hosts, files["audit"]),
            "conn": adapter.connection,
            "journal": files["journal"],
        }

    def big_batches(state: dict[str, Any]) -> Any:
        engine = state["engine"]
        plan = engine.plan_retention(now=_data.NOW, batch_size=BIG_BATCH, journal=state["journal"])
        return engine.apply(plan)

    def privacy_kit(state: dict[str, Any]) -> Any:
        engine = state["engine"]
        plan = engine.plan_retention(now=_data.NOW, journal=state["journal"])
        return engine.apply(plan)

    def baseline(state: dict[str, Any]) -> Any:
        conn: sqlite3.Connection = state["conn"]
        marks = ",".join("?" * len(held))
        with conn:
            return conn.execute(
                f"DELETE FROM bookings WHERE end_at <= ? AND host_id NOT IN ({marks})",
                [limit, *held],
            ).rowcount

    def check(name: str, state: dict[str, Any], _result: Any) -> None:
        (left,) = state["conn"].execute("SELECT COUNT(*) FROM bookings").fetchone()
        if left != remaining:
            raise AssertionError(f"{name} left {left} bookings, expected {remaining}")

    def cleanup(state: dict[str, Any]) -> None:
        state["adapter"].close()

    def conn(state: dict[str, Any]) -> Any:
        return state["conn"]

    times = alternate(
        prepare,
        [
            ("pk", privacy_kit),
            ("base", baseline),
            ("pk_big", big_batches),
            ("pk_cache", with_cache(privacy_kit, conn)),
            ("base_cache", with_cache(baseline, conn)),
        ],
        config.repetitions,
        cleanup=cleanup,
        check=check,
    )
    state = prepare()
    try:
        peak, _ = peak_python_memory(lambda: privacy_kit(state))
        check("pk (memory run)", state, None)
    finally:
        cleanup(state)
    return [
        *batch_rows(
            scenario="1. retention sweep, SQLite",
            size=f"{bookings:,} bookings, {bookings - remaining:,} expired",
            big_size=f"{bookings:,} bookings",
            times=times,
            baseline_name="one DELETE",
            target=1.25,
            peak_mb=peak,
            planner="plan_retention",
        ),
        cache_row(
            scenario="1. retention sweep, SQLite",
            size=f"{bookings:,} bookings",
            times=times,
            baseline_name="one DELETE",
            target=1.25,
        ),
    ]
