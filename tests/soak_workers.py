"""Process bodies for tests/test_soak.py: engines in several processes on one PostgreSQL database.

They live in an importable module because the test starts processes with ``spawn`` (see
tests/state_workers.py). Every process builds its own ``Engine`` on one shared
:class:`~privacy_kit.audit.SQLAlchemyStateStore` and one keyed :class:`~privacy_kit.AuditLog` in
the database, with its own connection pool whose ``application_name`` names the process, so the
triggers the test installs attribute every row change to the process that made it.

Each process writes down what it did, with the database's clock before and after, in the
``soak_truth`` table (one committed row per operation): the ground truth the test checks the
changed rows, the exports and the audit log against.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

import privacy_kit as pk
from privacy_kit.adapters import SQLAlchemyAdapter
from privacy_kit.audit import SQLAlchemyStateStore

UTC = dt.UTC
POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"))
AUDIT_KEY = b"soak-test-audit-chain-key-0123456789"
STATE_PREFIX = "soak_state_"
AUDIT_TABLE = "soak_audit"
PURPOSE = "marketing.email"
CLOSED = dt.datetime(2024, 1, 1, tzinfo=UTC)  # long enough ago for every account-closed rule
USERS = 240  # accounts 1..USERS exist at the start; the reopener adds accounts from NEW_IDS on
NEW_IDS = 100_000
HELD_AT_START = (1, 2, 3, 4, 5, 6)  # held before any process starts
# What the workers do, and how often (a weighted choice per step, from a seeded generator).
WORK = {"hold": 1, "objection": 2, "export": 3, "erasure": 2, "sweep": 2}

TRUTH = """
CREATE TABLE soak_truth (
    seq BIGSERIAL PRIMARY KEY, worker TEXT NOT NULL, kind TEXT NOT NULL, subject BIGINT,
    started TIMESTAMPTZ NOT NULL, ended TIMESTAMPTZ NOT NULL, info JSONB NOT NULL
)"""
CHANGES = """
CREATE TABLE soak_changes (
    seq BIGSERIAL PRIMARY KEY, tbl TEXT NOT NULL, op TEXT NOT NULL, id BIGINT, owner BIGINT,
    email TEXT, app TEXT NOT NULL, stmt_at TIMESTAMPTZ NOT NULL, at TIMESTAMPTZ NOT NULL
)"""
# One row per changed (updated or deleted) row of the application's tables: which row, whose
# (bookings: the host; sessions: the user; users: the account), which process (its
# application_name), when its statement started and when the row changed.
LOG_FUNCTION = """
CREATE FUNCTION soak_log() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE old_row jsonb := to_jsonb(OLD);
BEGIN
    INSERT INTO soak_changes (tbl, op, id, owner, email, app, stmt_at, at) VALUES (
        TG_TABLE_NAME, TG_OP, (old_row->>'id')::bigint,
        COALESCE(old_row->>'host_id', old_row->>'user_id', old_row->>'id')::bigint,
        COALESCE(old_row->>'invitee_email', old_row->>'email'),
        current_setting('application_name'), statement_timestamp(), clock_timestamp());
    RETURN NULL;
END $f$"""
LOGGED_TABLES = ("users", "bookings", "sessions")


def email(user: int) -> str:
    return f"u{user}@example.org"


def customer(user: int) -> pk.Subject:
    return pk.Subject.of("customer", user_id=user)


def _row(record_type: str, **values: Any) -> dict[str, Any]:
    return {**dict.fromkeys(DATAMAP.record_type(record_type).field_names), **values}


def user_row(user: int, *, closed: bool) -> dict[str, Any]:
    return _row(
        "users",
        id=user,
        name=f"User {user}",
        email=email(user),
        time_zone="UTC",
        language="en",
        last_seen_at=dt.datetime(2023, 6, 1, tzinfo=UTC),
        closed_at=CLOSED if closed else None,
    )


def booking_row(booking: int, host: int, invitee: str) -> dict[str, Any]:
    end = dt.datetime(2023, 3, 1, tzinfo=UTC) + dt.timedelta(hours=booking % 1000)
    return _row(
        "bookings",
        id=booking,
        host_id=host,
        invitee_email=invitee,
        invitee_name=f"Guest {booking}",
        host_notes=f"notes of {host}",
        start_at=end - dt.timedelta(hours=1),
        end_at=end,
    )


def session_row(session: int, user: int) -> dict[str, Any]:
    return _row("sessions", id=session, user_id=user, ip_address="192.0.2.1", browser="soak")


def initial_rows() -> dict[str, list[dict[str, Any]]]:
    """Accounts 1..USERS (two in three closed), four bookings and two sessions each.

    A booking's invitee is a guest, except every fourth, whose invitee is another account's
    holder (the same e-mail address): that person's export holds it in their invitee role.
    """
    users = [user_row(u, closed=u % 3 != 0) for u in range(1, USERS + 1)]
    bookings = [
        booking_row(u * 100 + j, u, email((u + 6) % USERS + 1) if j == 3 else f"g{u}.{j}@x.net")
        for u in range(1, USERS + 1)
        for j in range(4)
    ]
    sessions = [session_row(u * 100 + j, u) for u in range(1, USERS + 1) for j in range(2)]
    return {"users": users, "bookings": bookings, "sessions": sessions}


def wall() -> dt.datetime:
    return dt.datetime.now(UTC)


class Truth:
    """The ground-truth table: what this process did, timed by the database's clock."""

    def __init__(self, url: str, worker: str) -> None:
        self.worker = worker
        self.engine = sa.create_engine(url, connect_args={"application_name": "soak-truth"})

    def clock(self) -> dt.datetime:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()  # type: ignore[no-any-return]

    def record(
        self, kind: str, subject: int | None, started: dt.datetime, info: dict[str, Any]
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO soak_truth (worker, kind, subject, started, ended, info) "
                    "VALUES (:w, :k, :s, :started, clock_timestamp(), CAST(:info AS JSONB))"
                ),
                {
                    "w": self.worker,
                    "k": kind,
                    "s": subject,
                    "started": started,
                    "info": orjson.dumps(info).decode(),
                },
            )

    def close(self) -> None:
        self.engine.dispose()


@contextmanager
def engine_for(url: str, app: str) -> Iterator[tuple[pk.Engine, sa.Engine]]:
    """A privacy_kit engine as a host's process builds it: shared state store and audit log."""
    app_db = sa.create_engine(url, connect_args={"application_name": app})
    store = SQLAlchemyStateStore(url, prefix=STATE_PREFIX)
    audit = pk.AuditLog.sqlalchemy(url, table=AUDIT_TABLE, key=AUDIT_KEY)
    try:
        yield (
            pk.Engine(POLICY, DATAMAP, SQLAlchemyAdapter(app_db), state=store, audit=audit),
            app_db,
        )
    finally:
        audit.sink.close()  # type: ignore[attr-defined]
        store.close()
        app_db.dispose()


def report(queue: Any, name: str, body: Callable[[], Any]) -> None:
    """Put ``(name, "ok", result)`` or ``(name, "error", traceback)`` on the queue."""
    try:
        queue.put((name, "ok", body()))
    except BaseException:  # the parent fails the test with the child's traceback
        queue.put((name, "error", traceback.format_exc()))
        raise


# == the workers ===================================================================================
def worker(
    url: str, n: int, seed: int, seconds: float, folder: str, barrier: Any, queue: Any
) -> None:
    """Holds, objections, exports, erasures and sweeps, one at a time, chosen at random."""
    name = f"soak-w{n}"

    def body() -> dict[str, int]:
        rng = random.Random(seed * 1000 + n)
        done: dict[str, int] = dict.fromkeys(WORK, 0)
        truth = Truth(url, name)
        try:
            with engine_for(url, name) as (engine, _db):
                barrier.wait(timeout=300)
                deadline = time.monotonic() + seconds
                step = 0
                first = list(WORK)  # every kind at least once, however slow the machine
                rng.shuffle(first)
                while first or time.monotonic() < deadline:
                    step += 1
                    kind = (
                        first.pop()
                        if first
                        else rng.choices(list(WORK), weights=list(WORK.values()))[0]
                    )
                    _step(engine, truth, rng, kind, n, step, Path(folder))
                    done[kind] += 1
                    time.sleep(rng.uniform(0, 0.05))
        finally:
            truth.close()
        return done

    report(queue, name, body)


def _step(
    engine: pk.Engine, truth: Truth, rng: random.Random, kind: str, n: int, step: int, out: Path
) -> None:
    user = rng.randint(1, USERS)
    started = truth.clock()
    if kind == "hold":
        hold_id = f"hold_soak_w{n}_{step}"
        engine.place_hold(
            reason="Soak dispute",
            placed_by=f"worker {n}",
            now=wall(),
            subject=customer(user),
            hold_id=hold_id,
        )
        truth.record(kind, user, started, {"hold": hold_id})
    elif kind == "objection":
        engine.object_to(customer(user), PURPOSE, now=wall())
        truth.record(kind, user, started, {})
    elif kind == "export":
        path = out / f"w{n}_{step}_{user}.zip"
        result = engine.export(customer(user), path, now=wall())
        truth.record(
            kind,
            user,
            started,
            {
                "path": str(result.path),
                "sha256": result.sha256,
                "counts": result.counts,
                "reference": result.subject_reference,
            },
        )
    elif kind == "erasure":
        plan = engine.plan_erasure(customer(user), now=wall())
        done = engine.apply(plan)
        truth.record(
            kind,
            user,
            started,
            {"plan": plan.plan_id, "deleted": done.deleted, "anonymised": done.anonymised},
        )
    else:
        sweep = engine.plan_retention(now=wall(), batch_size=rng.choice((5, 20, 100)))
        done = engine.apply(sweep)
        truth.record(kind, None, started, {"plan": sweep.id, "total": done.total})


def reopener(url: str, seed: int, seconds: float, barrier: Any, queue: Any) -> None:
    """Reopens closed accounts, each in its own committed transaction, and adds new accounts
    (half of them closed) with their bookings and sessions."""
    name = "soak-reopener"

    def body() -> dict[str, int]:
        rng = random.Random(seed * 1000 + 999)
        truth = Truth(url, name)
        db = sa.create_engine(url, connect_args={"application_name": name})
        adapter = SQLAlchemyAdapter(db)
        users, bookings, sessions = (
            adapter.table(DATAMAP.record_type(t)) for t in ("users", "bookings", "sessions")
        )
        closed = [u for u in range(1, USERS + 1) if u % 3 != 0]
        rng.shuffle(closed)
        done = {"reopened": 0, "gone": 0, "inserted": 0}
        try:
            barrier.wait(timeout=300)
            deadline = time.monotonic() + seconds
            new = NEW_IDS
            while time.monotonic() < deadline:
                started = truth.clock()
                if closed and rng.random() < 0.5:
                    user = closed.pop()
                    with db.begin() as conn:
                        changed = conn.execute(
                            sa.update(users)
                            .where(users.c.id == user, users.c.closed_at.is_not(None))
                            .values(closed_at=None)
                        ).rowcount
                    if changed:  # committed: its record's end time is after the commit
                        truth.record("reopen", user, started, {})
                        done["reopened"] += 1
                    else:  # erased meanwhile
                        done["gone"] += 1
                else:
                    new += 1
                    shut = rng.random() < 0.5
                    rows = [new * 100 + j for j in range(3)]
                    with db.begin() as conn:
                        conn.execute(sa.insert(users), [user_row(new, closed=shut)])
                        conn.execute(
                            sa.insert(bookings),
                            [booking_row(b, new, f"g{b}@x.net") for b in rows],
                        )
                        conn.execute(sa.insert(sessions), [session_row(new * 100, new)])
                    if shut:  # to be reopened later, perhaps while a sweep deletes its rows
                        closed.insert(rng.randint(0, len(closed)), new)
                    truth.record(
                        "insert",
                        new,
                        started,
                        {"closed": shut, "bookings": rows, "sessions": [new * 100]},
                    )
                    done["inserted"] += 1
                time.sleep(rng.uniform(0, 0.03))
        finally:
            truth.close()
            db.dispose()
        return done

    report(queue, name, body)
