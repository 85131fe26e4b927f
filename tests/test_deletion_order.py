"""Deletion order: children before the records they reference, so stores enforcing foreign keys
accept erasures and sweeps (SQLite with ``PRAGMA foreign_keys=ON``, PostgreSQL, MariaDB)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit import ConfigurationError
from privacy_kit._scope import Scope, ScopeEntry
from privacy_kit.adapters import (
    BaseAdapter,
    Capability,
    InMemoryAdapter,
    SQLiteAdapter,
    store_deletion_order,
    where,
)
from privacy_kit.cli import generate
from privacy_kit.model import DataMap, ForeignKey, RecordType, deletion_order
from privacy_kit.rights import plan_erasure

UTC = dt.UTC
NOW = dt.datetime(2025, 1, 1, tzinfo=UTC)
WAIVE_ALL = ("shared_content", "legal_obligation")


@pytest.fixture(scope="module")
def dm() -> DataMap:
    return pk.load_datamap(pk.example_path("datamap.yaml"))


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


def _rt(name: str, *fields: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "fields": [{"name": "id"}, *({"name": f} for f in fields)], **extra}


def _map(*record_types: dict[str, Any]) -> DataMap:
    return DataMap.model_validate({"record_types": list(record_types)})


def _honoured(order: pk.model.DeletionOrder) -> None:
    for ref in order.references:
        if ref not in order.broken:
            assert order.rank(ref.record_type) < order.rank(ref.references), ref


# == the ordering function =========================================================================
def test_the_data_maps_references_put_children_before_profiles_and_accounts(dm: DataMap) -> None:
    order = deletion_order(dm)
    assert order.record_types[-1] == "users"
    assert sorted(order.record_types) == sorted(rt.name for rt in dm.record_types)
    vias: dict[tuple[str, str], list[str]] = {}
    for r in order.references:
        vias.setdefault((r.record_type, r.references), []).append(r.via)
    assert vias[("bookings", "users")] == [
        "subject link bookings.host_id -> customer profile users",
        "account link bookings.host_id -> users",
    ]
    assert ("users", "users") not in vias  # users' account link to itself is no dependency
    assert order.broken == ()
    assert order.notes == ()
    _honoured(order)
    # Without references between them, record types keep the data map's order.
    assert order.record_types[:-1] == tuple(rt.name for rt in dm.record_types[1:])


def test_a_subject_link_references_the_subjects_profile_and_an_account_link_its_accounts() -> None:
    profile = {
        "kind": "member",
        "field": "id",
        "owner": True,
        "extra_identities": {"email": "email"},
    }
    datamap = _map(
        _rt(
            "notes", "member_id", subjects=[{"kind": "member", "field": "member_id", "owner": True}]
        ),
        _rt("teams", "x"),
        _rt("seats", "team_id", account={"field": "team_id", "record_type": "teams"}),
        _rt("members", "email", subjects=[profile]),
        _rt("visitors", "email", subjects=[{"kind": "visitor", "field": "email"}]),
    )
    order = deletion_order(datamap)
    assert order.rank("notes") < order.rank("members")
    assert order.rank("seats") < order.rank("teams")
    # a kind without a profile record type references nothing: visitors keep their place
    assert {(r.record_type, r.references) for r in order.references} == {
        ("notes", "members"),
        ("seats", "teams"),
    }
    assert order.record_types == ("notes", "seats", "teams", "members", "visitors")


def test_foreign_keys_the_store_reports_order_children_first(dm: DataMap) -> None:
    without = deletion_order(dm)
    assert without.rank("services") < without.rank("bookings")  # nothing says otherwise
    order = deletion_order(
        dm, foreign_keys=[ForeignKey("bookings", "services", ["service_id"], ["id"])]
    )
    assert order.rank("bookings") < order.rank("services") < order.rank("users")
    assert any(
        r.via == "foreign key bookings(service_id) -> services(id)" for r in order.references
    )
    _honoured(order)


def test_keys_to_record_types_not_ordered_are_ignored(dm: DataMap) -> None:
    some = [dm.record_type("bookings"), dm.record_type("sessions")]
    order = deletion_order(some, foreign_keys=[ForeignKey("bookings", "services")])
    assert order.record_types == ("bookings", "sessions")
    assert order.references == ()


def test_a_cycle_is_broken_deterministically_and_said() -> None:
    datamap = _map(_rt("a", "b_id"), _rt("b", "a_id"), _rt("c"))
    keys = [ForeignKey("a", "b", ["b_id"]), ForeignKey("b", "a", ["a_id"])]
    order = deletion_order(datamap, foreign_keys=keys)
    # c waits for nothing and goes first; then the cycle is broken, and no record type dropped.
    assert order.record_types == ("c", "a", "b")
    assert [(r.record_type, r.references) for r in order.broken] == [("b", "a")]
    assert len(order.notes) == 1
    assert "a, b form a cycle: a is deleted before b" in order.notes[0]
    assert "foreign key b(a_id) -> a" in order.notes[0]
    assert order.cycle_note("a").startswith("deleted before records that still reference it")
    assert order.cycle_note("b") == ""
    again = deletion_order(
        datamap, foreign_keys=reversed(keys)
    )  # the same, whatever the keys' order
    assert (again.record_types, again.broken, again.notes) == (
        order.record_types,
        order.broken,
        order.notes,
    )
    # The tie-break is the given order: list b first and b goes first.
    swapped = deletion_order(
        [datamap.record_type("b"), datamap.record_type("a")], foreign_keys=keys
    )
    assert swapped.record_types == ("b", "a")


def test_a_record_type_waiting_behind_a_cycle_is_not_the_one_broken() -> None:
    # p is referenced by z; y and z reference each other. p is listed first but must wait.
    datamap = _map(_rt("p"), _rt("y", "z_id"), _rt("z", "y_id", "p_id"), _rt("q"))
    keys = [ForeignKey("y", "z"), ForeignKey("z", "y"), ForeignKey("z", "p")]
    order = deletion_order(datamap, foreign_keys=keys)
    assert order.record_types == ("q", "y", "z", "p")
    assert [(r.record_type, r.references) for r in order.broken] == [("z", "y")]
    assert order.rank("z") < order.rank("p")


def test_a_longer_cycle_terminates_with_every_record_type() -> None:
    names = [f"t{i}" for i in range(6)]
    datamap = _map(*(_rt(n) for n in names))
    keys = [ForeignKey(names[i], names[(i + 1) % 6]) for i in range(6)]
    order = deletion_order(datamap, foreign_keys=keys)
    assert sorted(order.record_types) == names
    assert len(order.broken) == 1
    _honoured(order)


def test_a_self_reference_is_noted_not_a_cycle() -> None:
    datamap = _map(_rt("folders", "parent_id"))
    order = deletion_order(datamap, foreign_keys=[ForeignKey("folders", "folders", ["parent_id"])])
    assert order.record_types == ("folders",)
    assert order.broken == ()
    assert len(order.notes) == 1
    assert "folders references itself" in order.notes[0]


def test_rank_of_an_unknown_record_type_is_a_clear_error(dm: DataMap) -> None:
    with pytest.raises(ConfigurationError, match="'nope' is not in this deletion order"):
        deletion_order(dm).rank("nope")


# == adapters: the optional capability =============================================================
class _Plain(BaseAdapter):
    """A custom adapter that does not report foreign keys (it need not)."""


class _Reporting(BaseAdapter):
    capabilities = frozenset({Capability.FOREIGN_KEYS})

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        return (ForeignKey("bookings", "services", ["service_id"], ["id"]),)


def test_an_adapter_without_the_capability_is_ordered_by_the_data_map_and_said(
    dm: DataMap,
) -> None:
    legacy = _Plain(name="legacy")
    order = store_deletion_order((rt, legacy) for rt in dm.record_types)
    assert order.record_types[-1] == "users"
    assert len(order.notes) == 1
    assert "adapter 'legacy' cannot report its store's foreign keys" in order.notes[0]
    assert store_deletion_order((rt, InMemoryAdapter()) for rt in dm.record_types).notes == ()
    reporting = store_deletion_order((rt, _Reporting()) for rt in dm.record_types)
    assert reporting.rank("bookings") < reporting.rank("services")
    assert reporting.notes == ()


def _fk_columns(rt: RecordType) -> list[tuple[str, str]]:
    """The schema's foreign keys: each account link, plus a booking's service."""
    keys = []
    if rt.account is not None and rt.account.record_type != rt.name:
        keys.append((rt.account.field, rt.account.record_type))
    if rt.name == "bookings":
        keys.append(("service_id", "services"))
    return keys


_SQLITE_TYPES = {"integer": "INTEGER", "real": "REAL", "boolean": "INTEGER"}


def _sqlite_with_foreign_keys(dm: DataMap) -> SQLiteAdapter:
    db = SQLiteAdapter(":memory:")
    db.connection.execute("PRAGMA foreign_keys=ON")
    for rt in dm.record_types:
        columns = [
            f'"{f.name}" {_SQLITE_TYPES.get(f.type, "TEXT")}'
            + (" PRIMARY KEY" if f.name == rt.primary_key else "")
            for f in rt.fields
        ]
        columns += [f'FOREIGN KEY ("{c}") REFERENCES "{p}" ("id")' for c, p in _fk_columns(rt)]
        db.connection.execute(f'CREATE TABLE "{rt.table_name}" ({", ".join(columns)})')
    return db


def test_sqlite_reports_its_foreign_keys(dm: DataMap) -> None:
    db = _sqlite_with_foreign_keys(dm)
    keys = set(db.foreign_keys(dm.record_types))
    assert ForeignKey("bookings", "services", ["service_id"], ["id"]) in keys
    assert {(k.record_type, k.references) for k in keys} == {
        (rt.name, parent) for rt in dm.record_types for _, parent in _fk_columns(rt)
    }
    # Only between the record types asked about.
    assert db.foreign_keys([dm.record_type("bookings"), dm.record_type("users")]) == (
        ForeignKey("bookings", "users", ["host_id"], ["id"]),
    )
    plain = SQLiteAdapter(":memory:")
    plain.create_schema(dm)
    assert plain.foreign_keys(dm.record_types) == ()


# == end to end: erasure and sweeps on stores that enforce their foreign keys =======================
def _counts(adapter: Any, dm: DataMap) -> dict[str, int]:
    return {rt.name: adapter.count(rt, where.all()) for rt in dm.record_types}


def _busy_customer(engine: pk.Engine, ids: Sequence[int]) -> int:
    """A customer with records in every record type the erasure deletes."""
    for uid in ids:
        plan = engine.plan_erasure(pk.Subject.of("customer", user_id=uid), now=NOW, waive=WAIVE_ALL)
        if all(plan.deleted.get(n) for n in ("users", "services", "bookings", "companies")):
            return uid
    raise AssertionError("no customer with services, bookings and a company")  # pragma: no cover


def _erase_and_check(engine: pk.Engine, adapter: Any, dm: DataMap, ids: Sequence[int]) -> None:
    uid = _busy_customer(engine, ids)
    before = _counts(adapter, dm)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=uid), now=NOW, waive=WAIVE_ALL)
    steps = [s.record_type for s in plan.steps]
    assert steps.index("bookings") < steps.index("services") < steps.index("users")
    report = engine.apply(plan)
    after = _counts(adapter, dm)
    assert report.deleted == plan.deleted
    assert {n: before[n] - after[n] for n in before} == {n: plan.deleted.get(n, 0) for n in before}
    for step in plan.steps:
        assert adapter.count(dm.record_type(step.record_type), step.selection) == 0


@pytest.mark.parametrize("waive", [(), WAIVE_ALL])
def test_erasure_on_sqlite_with_foreign_keys_enforced(
    dm: DataMap, policy: pk.Policy, waive: tuple[str, ...]
) -> None:
    db = _sqlite_with_foreign_keys(dm)
    summary = generate(db, dm, now=NOW, customers=12, bookings_per_customer=4, seed=3)
    engine = pk.Engine(policy, dm, db, secret=b"s" * 32)
    if waive:
        _erase_and_check(engine, db, dm, summary.customer_ids)
        return
    # With the default exceptions the users row and the shared content are kept.
    before = _counts(db, dm)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=1), now=NOW)
    engine.apply(plan)
    after = _counts(db, dm)
    assert {n: before[n] - after[n] for n in before} == {n: plan.deleted.get(n, 0) for n in before}
    assert after["users"] == before["users"]


def test_retention_sweep_on_sqlite_with_foreign_keys_enforced(
    dm: DataMap, policy: pk.Policy
) -> None:
    db = _sqlite_with_foreign_keys(dm)
    summary = generate(
        db, dm, now=NOW, customers=30, bookings_per_customer=4, closed_fraction=0.3, seed=5
    )
    assert summary.closed_ids
    engine = pk.Engine(policy, dm, db, secret=b"s" * 32)
    at = NOW + dt.timedelta(days=365 * 8)  # every closed account closed more than six years ago
    plan = engine.plan_retention(now=at)
    order = [e.record_type for e in plan.entries]
    assert order.index("bookings") < order.index("services")
    assert max(order.index(n) for n in order if n != "users") < order.index("users")
    deleted_users = sum(e.count for e in plan.entries if e.record_type == "users")
    assert deleted_users == len(summary.closed_ids)
    before = _counts(db, dm)
    report = engine.apply(plan)
    after = _counts(db, dm)
    assert before["users"] - after["users"] == len(summary.closed_ids)
    assert sum(line.done for line in report.lines) == plan.total
    users = dm.record_type("users")
    assert db.count(users, where.in_("id", list(summary.closed_ids))) == 0
    assert db.connection.execute("PRAGMA foreign_key_check").fetchall() == []


class _Cyclic(BaseAdapter):
    """Delegates counting to an SQLite adapter and reports a cycle: sessions <-> usage events."""

    capabilities = frozenset({Capability.COUNT, Capability.FOREIGN_KEYS})

    def __init__(self, inner: SQLiteAdapter) -> None:
        super().__init__(name="cyclic")
        self.inner = inner

    def count(self, record_type: RecordType, selection: Any) -> int:
        return self.inner.count(record_type, selection)

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        return (
            ForeignKey("sessions", "usage_events", ["last_event_id"]),
            ForeignKey("usage_events", "sessions", ["session_id"]),
        )


def test_an_erasure_plan_with_a_cycle_orders_every_step_and_says_so(
    dm: DataMap, policy: pk.Policy
) -> None:
    db = SQLiteAdapter(":memory:")
    db.create_schema(dm)
    engine = pk.Engine(policy, dm, db, secret=b"s" * 32)
    resolved = engine.scope(pk.Subject.of("customer", user_id=1))
    cyclic = _Cyclic(db)
    scope = Scope(
        resolved.subject,
        resolved.resolved,
        resolved.reference,
        resolved.primary_identity,
        tuple(ScopeEntry(e.record_type, e.link, e.selection, cyclic) for e in resolved),
    )
    plan = plan_erasure(scope, policy=policy, now=NOW, waive=WAIVE_ALL)
    steps = [s.record_type for s in plan.steps]
    assert sorted(steps) == sorted(rt.name for rt in dm.record_types)
    assert steps.index("sessions") < steps.index("usage_events") < steps.index("users")
    by_type = {s.record_type: s for s in plan.steps}
    assert "a cycle" in by_type["sessions"].method
    assert "foreign key usage_events(session_id) -> sessions" in by_type["sessions"].method
    assert "cycle" not in by_type["usage_events"].method


# == PostgreSQL and MariaDB ========================================================================
@contextlib.contextmanager
def _server_schema(engine: Any, server: str) -> Iterator[str]:
    """A fresh PostgreSQL schema / MariaDB database, dropped afterwards."""
    sa = pytest.importorskip("sqlalchemy")
    name = f"pk_fk_{uuid.uuid4().hex[:10]}"
    create = "CREATE SCHEMA" if server == "postgres" else "CREATE DATABASE"
    drop = f"DROP SCHEMA {name} CASCADE" if server == "postgres" else f"DROP DATABASE {name}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"{create} {name}"))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(drop))


@pytest.mark.parametrize("server", [pytest.param("postgres", marks=pytest.mark.postgres),
                                    pytest.param("mariadb", marks=pytest.mark.mariadb)])  # fmt: skip
def test_erasure_and_sweep_on_servers_with_foreign_keys(
    server: str, request: pytest.FixtureRequest, dm: DataMap, policy: pk.Policy
) -> None:
    engine = request.getfixturevalue(f"{server}_engine")
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    with _server_schema(engine, server) as schema:
        adapter = SQLAlchemyAdapter(engine, schema=schema)
        adapter.create_schema(dm)
        q = engine.dialect.identifier_preparer.quote
        with engine.begin() as conn:
            for rt in dm.record_types:
                for column, parent in _fk_columns(rt):
                    conn.execute(
                        sa.text(
                            f"ALTER TABLE {q(schema)}.{q(rt.table_name)} ADD FOREIGN KEY "
                            f"({q(column)}) REFERENCES {q(schema)}.{q(parent)} ({q('id')})"
                        )
                    )
        keys = set(adapter.foreign_keys(dm.record_types))
        assert ForeignKey("bookings", "services", ["service_id"], ["id"]) in keys
        assert len(keys) == sum(len(_fk_columns(rt)) for rt in dm.record_types)
        summary = generate(
            adapter, dm, now=NOW, customers=12, bookings_per_customer=4, closed_fraction=0.3, seed=3
        )
        assert summary.closed_ids
        pke = pk.Engine(policy, dm, adapter, secret=b"s" * 32)
        _erase_and_check(pke, adapter, dm, summary.customer_ids)
        plan = pke.plan_retention(now=NOW + dt.timedelta(days=365 * 8))
        order = [e.record_type for e in plan.entries]
        assert order.index("bookings") < order.index("services") < order.index("users")
        deleting = sum(e.count for e in plan.entries if e.action == "delete")
        assert any(e.record_type == "users" and e.action == "delete" for e in plan.entries)
        before = _counts(adapter, dm)
        pke.apply(plan)
        after = _counts(adapter, dm)
        assert sum(before.values()) - sum(after.values()) == deleting
        closed = where.in_("id", list(summary.closed_ids))
        assert adapter.count(dm.record_type("users"), closed) == 0


@pytest.mark.postgres
def test_postgres_reads_composite_and_quoted_foreign_keys_from_its_catalog(
    postgres_engine: Any,
) -> None:
    """The catalog query keeps each key's columns in their declared order, matches mixed-case
    table names exactly, and leaves out keys to tables of another schema or outside the map."""
    sa = pytest.importorskip("sqlalchemy")
    from privacy_kit.adapters import SQLAlchemyAdapter

    with _server_schema(postgres_engine, "postgres") as schema, postgres_engine.begin() as conn:
        conn.execute(sa.text(f'CREATE TABLE {schema}."Parents" (a int, b int, PRIMARY KEY (a, b))'))
        conn.execute(sa.text(f"CREATE TABLE {schema}.outside (id int PRIMARY KEY)"))
        conn.execute(
            sa.text(
                f"CREATE TABLE {schema}.kids (id int PRIMARY KEY, pb int, pa int, o int "
                f'REFERENCES {schema}.outside (id), FOREIGN KEY (pb, pa) REFERENCES {schema}."Parents" (b, a))'
            )
        )
        conn.commit()
        kids = RecordType(
            name="kids", store="main", fields=[{"name": f} for f in ("id", "pb", "pa", "o")]
        )
        parents = RecordType(name="parents", store="main", table="Parents",
                             fields=[{"name": "a"}, {"name": "b"}], primary_key="a")  # fmt: skip
        adapter = SQLAlchemyAdapter(postgres_engine, schema=schema)
        assert adapter.foreign_keys([kids, parents]) == (
            ForeignKey("kids", "parents", ["pb", "pa"], ["b", "a"]),
        )
        assert adapter.foreign_keys([kids]) == ()
