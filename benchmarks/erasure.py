"""Scenario 4: erasing one host from SQLite, against the hand-written DELETE and UPDATE statements.

The store of scenario 3 (one host with 100,000 records, 200 other hosts with as many). For a host,
the example policy means: delete their bookings, support tickets, payment methods, sessions and
usage events; keep their name and e-mail address (a six-year legal obligation) and clear the rest
of their account row; keep the company and services (content collaborators still use).

privacy_kit: ``engine.plan_erasure(subject, now=...)`` then ``engine.apply(plan)``. Baseline: the
five ``DELETE`` statements and the one ``UPDATE`` a team would write for that, in one transaction.
Both run on fresh copies of the same file; afterwards the whole store is compared: both sides
must leave exactly the same rows.

privacy_kit runs at its defaults (the default batch size) with its durable records on: the audit
log in an SQLite file and the erasure journal in a directory, both fresh for each run. Growth
sizes: the host has 10,000, 100,000 and 1,000,000 records (quick: 5,000). A third row repeats
both sides with a realistic page cache (``PRAGMA cache_size=-65536``).
"""

from __future__ import annotations

import hashlib
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

NAME = "erasure"
GROWS = True

STATEMENTS = (
    (
        "UPDATE users SET time_zone = NULL, language = NULL, is_admin = NULL, last_seen_at = NULL "
        "WHERE id = ?"
    ),
    "DELETE FROM bookings WHERE host_id = ?",
    "DELETE FROM support_tickets WHERE user_id = ?",
    "DELETE FROM payment_methods WHERE user_id = ?",
    "DELETE FROM sessions WHERE user_id = ?",
    "DELETE FROM usage_events WHERE user_id = ?",
)


def baseline_erase(conn: sqlite3.Connection, host: int) -> int:
    """The hand-written erasure; returns the number of rows changed."""
    with conn:
        return sum(conn.execute(sql, [host]).rowcount for sql in STATEMENTS)


def digest(conn: sqlite3.Connection) -> str:
    """A hash of every row of every table (in key order)."""
    h = hashlib.sha256()
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in sorted(t for t in tables if not t.startswith("sqlite_")):
        h.update(table.encode())
        for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
            h.update(repr(row).encode())
    return h.hexdigest()


def run(config: Config) -> list[Row]:
    """Build once; alternate the two erasures on fresh copies; compare what they leave."""
    import privacy_kit as pk

    if not hasattr(pk.Engine, "plan_erasure"):
        raise Skip("privacy_kit has no Engine.plan_erasure yet")
    from privacy_kit.adapters import SQLiteAdapter

    work = Path(config.workdir)
    total = config.size(100_000, 5_000)
    base = work / "erasure_base.sqlite"
    _data.build_host_store(base, total, others=total)
    run_path = work / "erasure_run.sqlite"
    subject = pk.Subject.of("customer", user_id=_data.HOST)
    policy = pk.load_policy(pk.example_path())
    datamap = _data.example_datamap()
    digests: dict[str, str] = {}

    def prepare() -> dict[str, Any]:
        _data.copy_sqlite(base, run_path)
        adapter = SQLiteAdapter(run_path)
        files = durable(config.workdir, NAME)
        engine = pk.Engine(
            policy,
            datamap,
            adapter,
            secret=b"b" * 32,
            audit=files["audit"],
            journal_dir=files["journal_dir"],
        )
        return {"adapter": adapter, "engine": engine, "conn": adapter.connection}

    def big_batches(state: dict[str, Any]) -> Any:
        engine = state["engine"]
        return engine.apply(engine.plan_erasure(subject, now=_data.NOW, batch_size=BIG_BATCH))

    def privacy_kit(state: dict[str, Any]) -> Any:
        engine = state["engine"]
        return engine.apply(engine.plan_erasure(subject, now=_data.NOW))

    def baseline(state: dict[str, Any]) -> int:
        return baseline_erase(state["conn"], _data.HOST)

    def check(name: str, state: dict[str, Any], _result: Any) -> None:
        got = digest(state["conn"])
        first = digests.setdefault("any", got)
        if got != first:
            raise AssertionError(f"{name} left the store different from the other side")

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
    finally:
        cleanup(state)
    return [
        *batch_rows(
            scenario="4. erasure of one host (SQLite)",
            size=f"{total:,} records",
            big_size=f"{total:,} records",
            times=times,
            baseline_name="5 DELETE + 1 UPDATE",
            target=1.3,
            peak_mb=peak,
            planner="plan_erasure",
        ),
        cache_row(
            scenario="4. erasure of one host (SQLite)",
            size=f"{total:,} records",
            times=times,
            baseline_name="5 DELETE + 1 UPDATE",
            target=1.3,
        ),
    ]
