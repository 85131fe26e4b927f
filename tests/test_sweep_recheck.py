"""Sweeps of account-triggered rules re-check the account in the statement that deletes.

A sweep reads the keys of the accounts whose closure is old enough, batch by batch, and deletes
their records. An account reopened after its key was read must keep its records: each statement
selects ``host_id IN (SELECT id FROM users WHERE closed_at <= cutoff AND id IN (keys))``, which
the store evaluates when the statement runs (:class:`~privacy_kit.adapters.Related`).

The deterministic tests reopen accounts right after the sweep has read their keys (through another
connection, committed) on every built-in adapter; the racing tests run a reopener thread with its
own connection against PostgreSQL and MariaDB while the sweep runs, and check, with the statement
start times the database logs, that no booking was deleted by a statement that started after its
account's reopening had committed.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import (
    All,
    BaseAdapter,
    Capability,
    Eq,
    In,
    InMemoryAdapter,
    IsNull,
    Not,
    Record,
    Related,
    Selection,
    SQLiteAdapter,
    UnsupportedSelectionError,
    where,
)
from privacy_kit.adapters._sql import compile_selection
from privacy_kit.model._datamap import DataMap
from privacy_kit.retention import units as retention_units

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 1, tzinfo=UTC)
CLOSED = dt.datetime(2024, 1, 1, tzinfo=UTC)
POLICY = pk.load_policy(pk.example_path())
EXAMPLE = pk.load_datamap(pk.example_path("datamap.yaml"))


def datamap(prefix: str = "") -> DataMap:
    """The example's users and bookings only, with table names starting with ``prefix``."""
    kept = [
        {**rt.model_dump(mode="json", exclude_none=True), "table": prefix + rt.table_name}
        for rt in EXAMPLE.record_types
        if rt.name in {"users", "bookings"}
    ]
    return DataMap.model_validate({"record_types": kept})


def user(i: int, closed: dt.datetime | None = CLOSED) -> Record:
    return {
        **dict.fromkeys(EXAMPLE.record_type("users").field_names),
        "id": i,
        "name": f"User {i}",
        "email": f"u{i}@example.org",
        "closed_at": closed,
    }


def booking(i: int, host: int) -> Record:
    end = dt.datetime(2023, 6, 1, tzinfo=UTC) + dt.timedelta(minutes=i)
    return {
        **dict.fromkeys(EXAMPLE.record_type("bookings").field_names),
        "id": i,
        "host_id": host,
        "invitee_email": f"i{i}@example.org",
        "end_at": end,
    }


def records(users: int, per_user: int) -> dict[str, list[Record]]:
    return {
        "users": [user(u) for u in range(1, users + 1)],
        "bookings": [
            booking(u * 1000 + j, u) for u in range(1, users + 1) for j in range(per_user)
        ],
    }


def hosts(adapter: Any, dm: DataMap) -> dict[Any, int]:
    """Bookings left per host."""
    out: dict[Any, int] = {}
    for batch in adapter.iter_records(dm.record_type("bookings"), All(), fields=["host_id"]):
        for r in batch:
            out[r["host_id"]] = out.get(r["host_id"], 0) + 1
    return out


# == the node ======================================================================================
def test_related_checks_its_names_and_refuses_record_by_record_evaluation() -> None:
    dm = datamap()
    users = dm.record_type("users")
    with pytest.raises(pk.UnknownNameError, match="'idd'"):
        Related("host_id", users, "idd", All())
    with pytest.raises(pk.UnknownNameError, match="closed"):
        Related("host_id", users, "id", IsNull("closed"))
    assert where.related("host_id", users, All()) == Related("host_id", users, "id", All())
    related = Related("host_id", users, "id", IsNull("closed_at"))
    assert list(related.fields()) == ["host_id"]  # the other record type's fields are its own
    assert "record_type='users'" in repr(related)
    assert hash(related) == hash(Related("host_id", users, "id", IsNull("closed_at")))
    with pytest.raises(UnsupportedSelectionError, match=r"Capability\.RELATED") as info:
        related.matches({"host_id": 1})
    assert info.value.capability == "related"
    assert isinstance(info.value, pk.PrivacyKitError)


def test_sql_sub_select_quotes_identifiers_and_binds_values() -> None:
    nasty = 'u"; DROP TABLE bookings; --'
    data = EXAMPLE.record_type("users").model_dump(mode="json", exclude_none=True)
    accounts = pk.RecordType.model_validate({**data, "table": nasty})
    selection = Eq("id", 3) & Related(
        "host_id", accounts, "id", where.before("closed_at", NOW) & In("email", ("1'; --", "x"))
    )
    sql, params = compile_selection(selection, lambda f, v: v, table="bookings")
    assert sql == (
        '("bookings"."id" = ? AND "bookings"."host_id" IN (SELECT "u""; DROP TABLE bookings; --".'
        '"id" FROM "u""; DROP TABLE bookings; --" WHERE ("u""; DROP TABLE bookings; --".'
        '"closed_at" < ? AND "u""; DROP TABLE bookings; --"."email" IN (?, ?))))'
    )
    assert params == [3, NOW, "1'; --", "x"]
    # inside the sub-select too, a value the other table's field cannot hold is never compared
    typed = Related("host_id", accounts, "id", In("id", ("1'; --", 2)))
    assert compile_selection(typed, lambda f, v: v, table="bookings")[1] == [2]


def test_memory_reads_the_other_table_when_the_statement_runs() -> None:
    dm = datamap()
    users, bookings = dm.record_type("users"), dm.record_type("bookings")
    mem = InMemoryAdapter(records(3, 2))
    closed = Related("host_id", users, "id", Not(IsNull("closed_at")))
    assert mem.count(bookings, closed) == 6
    mem.update(users, Eq("id", 2), {"closed_at": None})
    assert mem.count(bookings, closed) == 4  # the same selection object, read again
    assert mem.delete(bookings, closed) == 4
    assert hosts(mem, dm) == {2: 2}
    other = users.model_copy(update={"table": "elsewhere"})
    with pytest.raises(pk.AdapterError, match="no table 'elsewhere'"):
        mem.count(bookings, Related("host_id", other, "id", All()))


def test_sqlite_deletes_with_the_sub_select_in_the_statement() -> None:
    dm = datamap()
    users, bookings = dm.record_type("users"), dm.record_type("bookings")
    db = SQLiteAdapter()
    db.create_schema(dm)
    for name, rows in records(4, 3).items():
        db.insert(dm.record_type(name), rows)
    seen: list[str] = []
    db.connection.set_trace_callback(seen.append)
    due = where.before("closed_at", NOW, inclusive=True) & In("id", (1, 2, 3))
    db.update(users, Eq("id", 3), {"closed_at": None})
    assert db.delete(bookings, Related("host_id", users, "id", due), batch_size=2) == 6
    db.connection.set_trace_callback(None)
    deletes = [q for q in seen if q.startswith("DELETE")]
    assert deletes
    assert all('IN (SELECT "users"."id" FROM "users" WHERE' in q for q in deletes)
    assert hosts(db, dm) == {3: 3, 4: 3}


def test_sqlite_timestamps_inside_the_sub_select_use_the_other_record_types_format() -> None:
    dm = datamap()
    users, bookings = dm.record_type("users"), dm.record_type("bookings")
    db = SQLiteAdapter()
    db.create_schema(dm)
    db.insert(users, [user(1, dt.datetime(2024, 1, 1, 12, tzinfo=UTC)), user(2)])
    db.insert(bookings, [booking(10, 1), booking(20, 2)])
    plus_two = dt.timezone(dt.timedelta(hours=2))
    # 13:00+02:00 is 11:00 UTC: user 2 (closed at midnight) only, compared as instants.
    selection = Related(
        "host_id",
        users,
        "id",
        where.before("closed_at", dt.datetime(2024, 1, 1, 13, tzinfo=plus_two)),
    )
    assert [r["id"] for b in db.iter_records(bookings, selection) for r in b] == [20]


# == the sweep =====================================================================================
def test_plans_of_built_in_adapters_recheck_and_say_so() -> None:
    dm = datamap()
    engine = pk.Engine(POLICY, dm, InMemoryAdapter(records(3, 2)), secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW)
    entry = next(e for e in plan.entries if e.record_type == "bookings")
    assert entry.recheck
    assert entry.selection_text().endswith("[re-checked on users by each statement]")
    assert not any("re-check" in note for note in plan.notes)
    units = list(retention_units(engine.stores, entry, plan.batch_size))
    assert len(units) == 1
    (_, unit) = units[0]
    related = [s for s in unit.items[0].items if isinstance(s, Related)]  # type: ignore[attr-defined]
    assert [r.record_type.name for r in related] == ["users"]
    report = engine.apply(plan)
    steps = [e for e in engine.audit.entries() if e.action == "retention.step"]
    assert any(s.details["record_type"] == "bookings" and s.details["recheck"] for s in steps)
    assert report.counts()["booking_data"] == {"delete": 6}


class Plain(BaseAdapter):
    """A host's adapter without Capability.RELATED, delegating to memory."""

    def __init__(self, inner: InMemoryAdapter, capabilities: frozenset[Capability]) -> None:
        super().__init__(name="plain")
        self.inner = inner
        self.capabilities = capabilities

    def iter_records(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        return self.inner.iter_records(record_type, selection, fields=fields, batch_size=batch_size)

    def delete(
        self, record_type: pk.RecordType, selection: Selection, *, batch_size: int = 1000
    ) -> int:
        return self.inner.delete(record_type, selection, batch_size=batch_size)

    def update(
        self,
        record_type: pk.RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int = 1000,
    ) -> int:
        return self.inner.update(record_type, selection, values, batch_size=batch_size)

    def verify(self, datamap: pk.DataMap) -> list[pk.Problem]:
        return self.inner.verify(datamap)


def test_an_adapter_without_the_capability_falls_back_and_the_plan_says_so() -> None:
    dm = datamap()
    mem = InMemoryAdapter(records(3, 2))
    engine = pk.Engine(POLICY, dm, Plain(mem, frozenset()), secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW)
    entry = next(e for e in plan.entries if e.record_type == "bookings")
    assert not entry.recheck
    assert "[NOT re-checked on users when the statement runs]" in entry.selection_text()
    note = next(n for n in plan.notes if "re-check" in n)
    assert "adapter 'plain' does not declare the 'related' capability" in note
    assert "an account reopened in between still loses its bookings" in note
    assert "note: bookings (rule 'booking_data'): the statements cannot re-check" in plan.summary()
    # It still sweeps, with the keys it read (and never hands the adapter a Related).
    assert engine.apply(plan).counts()["booking_data"] == {"delete": 6}
    assert hosts(mem, dm) == {}


def test_accounts_in_another_store_fall_back_and_the_plan_says_so() -> None:
    data = [rt.model_dump(mode="json", exclude_none=True) for rt in datamap().record_types]
    for rt in data:
        if rt["name"] == "bookings":
            rt["store"] = "calendar"
    dm = DataMap.model_validate({"record_types": data})
    rows = records(2, 2)
    main, calendar = (
        InMemoryAdapter({"users": rows["users"]}),
        InMemoryAdapter({"bookings": rows["bookings"]}),
    )
    engine = pk.Engine(POLICY, dm, {"main": main, "calendar": calendar}, secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW)
    assert not next(e for e in plan.entries if e.record_type == "bookings").recheck
    assert any("users is in another store ('main', not 'calendar')" in n for n in plan.notes)
    assert engine.apply(plan).counts()["booking_data"] == {"delete": 4}


def test_a_rechecking_plan_applied_without_the_capability_is_refused() -> None:
    dm = datamap()
    mem = InMemoryAdapter(records(2, 2))
    plan = pk.Engine(POLICY, dm, mem, secret=b"s" * 32).plan_retention(now=NOW)
    lost = pk.Engine(POLICY, dm, Plain(mem, frozenset()), secret=b"s" * 32)
    with pytest.raises(pk.PlanError, match="lacks the 'related' capability"):
        lost.apply(plan)
    assert hosts(mem, dm) == {1: 2, 2: 2}  # nothing changed


def test_a_custom_adapter_declaring_the_capability_it_lacks_fails_loudly() -> None:
    """An adapter that claims RELATED but evaluates record by record raises, never guesses."""
    dm = datamap()

    class Liar(Plain):
        def delete(
            self, record_type: pk.RecordType, selection: Selection, *, batch_size: int = 1000
        ) -> int:
            rows = self.inner.tables[record_type.table_name]
            return sum(1 for r in rows if selection.matches(r))

    mem = InMemoryAdapter(records(2, 2))
    engine = pk.Engine(POLICY, dm, Liar(mem, frozenset({Capability.RELATED})), secret=b"s" * 32)
    with pytest.raises(UnsupportedSelectionError, match="RELATED"):
        engine.apply(engine.plan_retention(now=NOW))
    assert hosts(mem, dm) == {1: 2, 2: 2}


def test_accounts_reopened_between_plan_and_apply_keep_their_bookings() -> None:
    dm = datamap()
    mem = InMemoryAdapter(records(6, 3))
    engine = pk.Engine(POLICY, dm, mem, secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW, batch_size=2)
    assert next(e for e in plan.entries if e.record_type == "bookings").count == 18
    mem.update(dm.record_type("users"), In("id", (2, 5)), {"closed_at": None})
    engine.apply(plan)
    assert hosts(mem, dm) == {2: 3, 5: 3}


# == reopened after the keys were read: every built-in adapter =====================================
class Reopener:
    """Reopens (commits ``closed_at = NULL`` on) some accounts right after the sweep read them."""

    def __init__(self, reopen: Callable[[list[Any]], None]) -> None:
        self.reopen = reopen
        self.armed = False
        self.reopened: list[Any] = []

    def after_read(self, keys: list[Any]) -> None:
        if not self.armed:
            return
        chosen = [k for k in keys[::3] if k not in self.reopened]
        if chosen:
            self.reopen(chosen)
            self.reopened.extend(chosen)


def reopening(base: type[Any]) -> type[Any]:
    """``base`` whose account reads (a sweep's batches of keys) call the reopener after reading."""

    class Reopening(base):  # type: ignore[misc, valid-type]
        reopener: Reopener | None = None

        def iter_records(
            self,
            record_type: pk.RecordType,
            selection: Selection,
            *,
            fields: Sequence[str] | None = None,
            batch_size: int = 1000,
        ) -> Iterator[list[Record]]:
            for batch in super().iter_records(
                record_type, selection, fields=fields, batch_size=batch_size
            ):
                if (
                    self.reopener is not None
                    and record_type.name == "users"
                    and list(fields or ()) == [record_type.primary_key]
                ):
                    self.reopener.after_read([r["id"] for r in batch])
                yield batch

    return Reopening


def _sweep_with_reopens(adapter: Any, dm: DataMap, reopen: Callable[[list[Any]], None]) -> None:
    users, per_user, batch = 30, 4, 7
    for name, rows in records(users, per_user).items():
        adapter.insert(dm.record_type(name), rows)
    engine = pk.Engine(POLICY, dm, adapter, secret=b"s" * 32)
    plan = engine.plan_retention(now=NOW, batch_size=batch)
    entry = next(e for e in plan.entries if e.record_type == "bookings")
    assert entry.recheck
    assert entry.count == users * per_user
    reopener = Reopener(reopen)
    adapter.reopener = reopener
    reopener.armed = True
    report = engine.apply(plan)
    reopener.armed = False
    reopened = set(reopener.reopened)
    assert len(reopened) >= 5
    left = hosts(adapter, dm)
    # Every reopened account keeps all of its bookings; every other one lost them all.
    assert left == dict.fromkeys(sorted(reopened), per_user)
    done = next(line for line in report.lines if line.record_type == "bookings").done
    assert done == (users - len(reopened)) * per_user
    # A later plan sees the reopened accounts as open: nothing left to sweep there.
    again = engine.plan_retention(now=NOW, batch_size=batch)
    assert next(e for e in again.entries if e.record_type == "bookings").count == 0


def test_reopened_after_read_memory() -> None:
    dm = datamap()
    mem = reopening(InMemoryAdapter)({rt.table_name: [] for rt in dm.record_types})

    def reopen(keys: list[Any]) -> None:
        for row in mem.tables["users"]:
            if row["id"] in keys:
                row["closed_at"] = None

    _sweep_with_reopens(mem, dm, reopen)


def test_reopened_after_read_sqlite_other_connection(tmp_path: Path) -> None:
    dm = datamap()
    path = tmp_path / "app.db"
    db = reopening(SQLiteAdapter)(path)
    db.create_schema(dm)
    other = sqlite3.connect(path, timeout=30)

    def reopen(keys: list[Any]) -> None:
        with other:  # commits
            other.execute(
                f"UPDATE users SET closed_at = NULL WHERE id IN ({', '.join('?' * len(keys))})",
                keys,
            )

    try:
        _sweep_with_reopens(db, dm, reopen)
    finally:
        other.close()
        db.close()


def _sqlalchemy_reopens(engine: Any) -> None:
    import sqlalchemy as sa

    from privacy_kit.adapters import SQLAlchemyAdapter

    dm = datamap(f"rck{uuid.uuid4().hex[:8]}_")
    db = reopening(SQLAlchemyAdapter)(engine)
    db.create_schema(dm)
    table = db.table(dm.record_type("users"))

    def reopen(keys: list[Any]) -> None:
        with engine.begin() as conn:  # its own connection and transaction, committed
            conn.execute(sa.update(table).where(table.c.id.in_(keys)).values(closed_at=None))

    try:
        _sweep_with_reopens(db, dm, reopen)
    finally:
        db.drop_schema(dm)


def test_reopened_after_read_sqlalchemy_sqlite(tmp_path: Path) -> None:
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sa.db'}")
    try:
        _sqlalchemy_reopens(engine)
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_reopened_after_read_postgres(postgres_engine: Any) -> None:
    _sqlalchemy_reopens(postgres_engine)


@pytest.mark.mariadb
def test_reopened_after_read_mariadb(mariadb_engine: Any) -> None:
    _sqlalchemy_reopens(mariadb_engine)


# == a racing reopener against the database servers ===============================================
_USERS, _PER_USER, _BATCH = 500, 6, 10


def _race(engine: Any, dialect: str) -> None:
    """Sweep while a thread reopens closed accounts; check against the statements' start times."""
    import sqlalchemy as sa

    from privacy_kit.adapters import SQLAlchemyAdapter

    prefix = f"rcr{uuid.uuid4().hex[:8]}_"
    dm = datamap(prefix)
    db = SQLAlchemyAdapter(engine)
    db.create_schema(dm)
    log = f"{prefix}deleted"
    bookings_table = dm.record_type("bookings").table_name
    users_table = db.table(dm.record_type("users"))
    if dialect == "postgresql":
        setup = [
            f"CREATE TABLE {log} (booking_id BIGINT, host_id BIGINT, stmt_at TIMESTAMPTZ)",
            (
                f"CREATE FUNCTION {prefix}log() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
                f"INSERT INTO {log} VALUES (OLD.id, OLD.host_id, statement_timestamp()); "
                "RETURN OLD; END $f$"
            ),
            (
                f"CREATE TRIGGER {prefix}trg AFTER DELETE ON {bookings_table} FOR EACH ROW "
                f"EXECUTE FUNCTION {prefix}log()"
            ),
        ]
        clock = "SELECT clock_timestamp()"
        teardown = [f"DROP TABLE IF EXISTS {log}", f"DROP FUNCTION IF EXISTS {prefix}log() CASCADE"]
    else:
        setup = [
            f"CREATE TABLE {log} (booking_id BIGINT, host_id BIGINT, stmt_at DATETIME(6))",
            # NOW(6) in a trigger is the start of the statement that fired it.
            (
                f"CREATE TRIGGER {prefix}trg AFTER DELETE ON {bookings_table} FOR EACH ROW "
                f"INSERT INTO {log} VALUES (OLD.id, OLD.host_id, NOW(6))"
            ),
        ]
        clock = "SELECT NOW(6)"
        teardown = [f"DROP TABLE IF EXISTS {log}"]
    try:
        with engine.begin() as conn:
            for statement in setup:
                conn.execute(sa.text(statement))
        for name, rows in records(_USERS, _PER_USER).items():
            db.insert(dm.record_type(name), rows)
        pk_engine = pk.Engine(POLICY, dm, db, secret=b"s" * 32)
        plan = pk_engine.plan_retention(now=NOW, batch_size=_BATCH)
        assert next(e for e in plan.entries if e.record_type == "bookings").recheck

        committed: dict[int, Any] = {}  # account -> a time after its reopening committed
        stop = threading.Event()
        failure: list[BaseException] = []

        def reopener() -> None:
            # It follows the sweep: it reopens accounts just ahead of the last one whose
            # bookings were deleted, i.e. in the batch of keys the sweep is working on, plus a
            # few at random. Each reopening is its own committed transaction.
            rng = random.Random(7)
            deadline = time.monotonic() + 60
            try:
                with engine.connect() as conn:
                    while not stop.is_set() and time.monotonic() < deadline:
                        done = conn.execute(sa.text(f"SELECT MAX(host_id) FROM {log}")).scalar()
                        conn.commit()
                        ahead = [(done or 0) + step for step in (1, 2, 3, 5, 8)]
                        choices = [a for a in ahead if a <= _USERS and a not in committed]
                        account = choices[0] if choices else rng.randint(1, _USERS)
                        if account in committed:
                            time.sleep(0.001)
                            continue
                        conn.execute(
                            sa.update(users_table)
                            .where(users_table.c.id == account)
                            .values(closed_at=None)
                        )
                        conn.commit()
                        committed[account] = conn.execute(sa.text(clock)).scalar_one()
                        conn.commit()
                        time.sleep(0.001)
            except Exception as exc:  # noqa: BLE001 - reported by the main thread
                failure.append(exc)

        thread = threading.Thread(target=reopener)
        thread.start()
        try:
            pk_engine.apply(plan)
        finally:
            stop.set()
            thread.join(timeout=90)
        assert not failure, failure
        assert not thread.is_alive()
        with engine.connect() as conn:
            deleted = conn.execute(sa.text(f"SELECT host_id, stmt_at FROM {log}")).all()
        assert deleted, "the sweep deleted nothing: the race was not exercised"
        starts = [_aware(at) for _, at in deleted]
        first, last = min(starts), max(starts)
        during = [a for a, at in committed.items() if first < _aware(at) < last]
        assert len(during) >= 5, "too few reopenings fell inside the sweep to test anything"
        late = [
            (host, at)
            for host, at in deleted
            if host in committed and _aware(at) > _aware(committed[host])
        ]
        assert late == [], (
            f"{len(late)} booking(s) deleted by statements that started after their account's "
            f"reopening had committed, e.g. {late[:3]}"
        )
    finally:
        with engine.begin() as conn:
            for statement in teardown:
                conn.execute(sa.text(statement))
        db.drop_schema(dm)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@pytest.mark.postgres
def test_racing_reopener_postgres(postgres_engine: Any) -> None:
    _race(postgres_engine, "postgresql")


@pytest.mark.mariadb
def test_racing_reopener_mariadb(mariadb_engine: Any) -> None:
    _race(mariadb_engine, "mariadb")
