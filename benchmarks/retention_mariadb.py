"""Scenario 9: the retention sweep of scenarios 1 and 2 on MariaDB, through the SQLAlchemy adapter.

The same data (the per-row formulas of :mod:`.retention_pg`, generated from MariaDB's sequence
engine, ``seq_1_to_<n>``), the same policy and holds, the same growth sizes. The data set is built
once in a database of its own, ``pk_bench_<pid>_<random>_base``; before every run (and before the
clock starts) the run database ``..._run`` is dropped, made again with the adapter's
``create_schema`` and filled with ``INSERT ... SELECT`` from the base (MariaDB has no template
databases). The names are unique to the run, so two benchmark runs on one server never touch each
other's databases; both are dropped at the end. privacy_kit keeps its audit log in an SQLite file
and its retention journal in a JSON-lines file (durable, fresh for each run). Baseline:
``DELETE FROM bookings WHERE end_at <= %s AND host_id NOT IN (...)`` and one commit, through
PyMySQL. The server is ``mysql+pymysql://root@127.0.0.1:3306`` (``PRIVACY_KIT_BENCH_MARIADB``
overrides it); when it cannot be reached the scenario is skipped and the table says why.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from . import _data
from ._harness import (
    Config,
    Row,
    Skip,
    durable,
)
from .retention import engine_for, held_hosts, retention_policy
from .retention_pg import BOOKINGS_PER_HOST, database_names, server_sweep_rows

NAME = "retention-mariadb"
GROWS = True
SERVER = os.environ.get("PRIVACY_KIT_BENCH_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")


def connect(dbname: str | None = None, *, autocommit: bool = False) -> Any:
    """A PyMySQL connection to database ``dbname`` (none: the server only)."""
    import pymysql

    parts = urlsplit(SERVER)
    return pymysql.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 3306,
        user=parts.username or "root",
        password=parts.password or "",
        database=dbname,
        autocommit=autocommit,
        connect_timeout=3,
    )


def admin() -> Any:
    """An autocommit connection to the server (for CREATE/DROP DATABASE), or :class:`Skip`."""
    try:
        return connect(autocommit=True)
    except ImportError as exc:
        raise Skip(f"PyMySQL is not installed ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - any connection failure means "skip, saying why"
        raise Skip(f"MariaDB unreachable at {SERVER}: {type(exc).__name__}: {exc}") from None


def utc(instant: dt.datetime) -> dt.datetime:
    """``instant`` as the adapter stores it on MariaDB: naive UTC.

    Example:
        >>> utc(dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))))
        datetime.datetime(2026, 1, 1, 0, 0)
    """
    return instant.astimezone(dt.UTC).replace(tzinfo=None)


def new_schema(dbname: str) -> None:
    """(Re)create database ``dbname`` with the example's tables (``create_schema``), empty."""
    from privacy_kit.adapters import SQLAlchemyAdapter

    conn = admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{dbname}`")
            cur.execute(f"CREATE DATABASE `{dbname}`")
    finally:
        conn.close()
    adapter = SQLAlchemyAdapter(f"{SERVER}/{dbname}")
    try:
        adapter.create_schema(_data.example_datamap())
    finally:
        adapter.close()


def fill(cur: Any, bookings: int, hosts: int) -> None:
    """Insert ``hosts`` open accounts and ``bookings`` bookings (no commit): each value the same
    function of the row number as :func:`.retention_pg.fill`."""
    now = utc(_data.NOW)
    span = _data.SPAN_DAYS * 86400
    cur.execute(
        "INSERT INTO users (id, name, email, time_zone, language, is_admin, created_at, "
        "last_seen_at, closed_at, deactivated_at) SELECT seq, CONCAT('Host ', seq), "
        "CONCAT('host', seq, '@example.com'), 'Europe/Berlin', 'en', false, "
        "%(now)s - INTERVAL 900 DAY, %(now)s - INTERVAL 1 HOUR, NULL, NULL "
        f"FROM seq_1_to_{hosts}",
        {"now": now},
    )
    end = f"(%(now)s - INTERVAL MOD(seq * 2654435761, {span}) SECOND)"
    cur.execute(
        "INSERT INTO bookings (id, host_id, service_id, invitee_email, invitee_name, "
        "invitee_phone, invitee_notes, host_notes, start_at, end_at, conferencing_provider, "
        "meeting_url, created_at) SELECT seq, MOD(seq, %(hosts)s) + 1, MOD(seq, 7) + 1, "
        "CONCAT('invitee', MOD(seq * 7919, 50000), '@example.com'), CONCAT('Invitee ', seq), "
        "CONCAT('+1555', LPAD(MOD(seq * 31, 10000000), 7, '0')), "
        "CONCAT('Looking forward to meeting number ', seq), "
        "CONCAT('Private notes on booking ', seq), "
        f"{end} - INTERVAL 30 MINUTE, {end}, "
        "ELT(MOD(seq, 3) + 1, 'zoom', 'google_meet', 'teams'), "
        f"CONCAT('https://meet.example.com/', seq), {end} - INTERVAL 14 DAY "
        f"FROM seq_1_to_{bookings}",
        {"now": now, "hosts": hosts},
    )


def delete_expired(conn: Any, limit: dt.datetime, held: list[int]) -> int:
    """The baseline: the expired bookings of hosts not held, one ``DELETE`` and one commit."""
    marks = ",".join(["%s"] * len(held))
    with conn.cursor() as cur:
        deleted = cur.execute(
            f"DELETE FROM bookings WHERE end_at <= %s AND host_id NOT IN ({marks})",
            [limit, *held],
        )
    conn.commit()
    return int(deleted)


def cutoff_utc() -> dt.datetime:
    """The booking rule's cutoff at :data:`~benchmarks._data.NOW`, as stored (naive UTC)."""
    from privacy_kit.retention import cutoff

    rule = next(r for r in retention_policy().retention if r.key == "booking_data")
    return utc(cutoff(rule.duration, _data.NOW))


def build(bookings: int, base_db: str) -> tuple[int, int]:
    """Write the data set into the base database; return (hosts, bookings left after the sweep)."""
    hosts = max(bookings // BOOKINGS_PER_HOST, 100)
    new_schema(base_db)
    held = held_hosts(hosts)
    marks = ",".join(["%s"] * len(held))
    conn = connect(base_db)
    try:
        with conn.cursor() as cur:
            fill(cur, bookings, hosts)
            cur.execute(
                f"SELECT COUNT(*) FROM bookings WHERE end_at <= %s AND host_id NOT IN ({marks})",
                [cutoff_utc(), *held],
            )
            (expired,) = cur.fetchone()
        conn.commit()
    finally:
        conn.close()
    return hosts, bookings - int(expired)


def copy_database(base_db: str, run_db: str) -> None:
    """Make ``run_db`` a fresh copy of ``base_db``: its schema by the adapter, its rows by
    ``INSERT ... SELECT`` per table, then ``ANALYZE TABLE`` (the base's statistics)."""
    new_schema(run_db)
    conn = connect(run_db)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [base_db],
            )
            tables = [name for (name,) in cur.fetchall()]
            cur.execute("SET foreign_key_checks = 0")
            for name in tables:
                cur.execute(f"INSERT INTO `{name}` SELECT * FROM `{base_db}`.`{name}`")
            cur.execute("SET foreign_key_checks = 1")
        conn.commit()
        with conn.cursor() as cur:
            cur.execute(f"ANALYZE TABLE {', '.join(f'`{n}`' for n in tables)}")
            cur.fetchall()
    finally:
        conn.close()


def bookings_left(remaining: int) -> Callable[[str, dict[str, Any], Any], None]:
    """The harness's ``check``: the run's ``state["conn"]`` sees ``remaining`` bookings."""

    def check(name: str, state: dict[str, Any], _result: Any) -> None:
        conn = state["conn"]
        conn.rollback()  # a fresh snapshot: the sweep committed on other connections
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM bookings")
            (left,) = cur.fetchone()
        conn.rollback()
        if left != remaining:
            raise AssertionError(f"{name} left {left} bookings, expected {remaining}")

    return check


def require_mariadb() -> None:
    """Raise :class:`Skip`, saying why, unless sweeps, SQLAlchemy and the server are there."""
    import privacy_kit as pk

    if not hasattr(pk.Engine, "plan_retention"):
        raise Skip("privacy_kit has no Engine.plan_retention yet")
    try:
        from privacy_kit.adapters import SQLAlchemyAdapter  # noqa: F401 - only: is it there?
    except ImportError as exc:
        raise Skip(f"SQLAlchemy is not installed ({exc})") from None
    admin().close()  # skips, saying why, when the server (or PyMySQL) is not there


def run(config: Config) -> list[Row]:
    """Build once, then alternate privacy_kit's sweep and the hand-written DELETE."""
    require_mariadb()
    bookings = config.size(1_000_000, 20_000)
    base_db, run_db = database_names()
    try:
        return _run(config, bookings, base_db, run_db)
    finally:
        conn = admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{run_db}`")
                cur.execute(f"DROP DATABASE IF EXISTS `{base_db}`")
        finally:
            conn.close()


def _run(config: Config, bookings: int, base_db: str, run_db: str) -> list[Row]:
    from privacy_kit.adapters import SQLAlchemyAdapter

    hosts, remaining = build(bookings, base_db)
    held = held_hosts(hosts)
    limit = cutoff_utc()

    def prepare() -> dict[str, Any]:
        copy_database(base_db, run_db)
        adapter = SQLAlchemyAdapter(f"{SERVER}/{run_db}")
        files = durable(config.workdir, NAME)
        engine = engine_for(adapter, hosts, files["audit"])
        with adapter.engine.connect():  # the pool's connection is made before the clock starts
            pass
        return {
            "adapter": adapter,
            "engine": engine,
            "conn": connect(run_db),
            "journal": files["journal"],
        }

    def baseline(state: dict[str, Any]) -> Any:
        return delete_expired(state["conn"], limit, held)

    return server_sweep_rows(
        config,
        prepare,
        baseline,
        bookings_left(remaining),
        "9. retention sweep, MariaDB",
        bookings,
        remaining,
    )
