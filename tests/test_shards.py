"""Shards: one retention sweep cut into trigger-time ranges that any worker applies, in any
order, twice, with the end state (row for row) and the report of a whole-plan apply; on the
in-memory store, SQLite, PostgreSQL and MariaDB, in this process and in others."""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import logging
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import privacy_kit as pk
from plan_workers import SWEEP, copy_deployment, engine, prepare, rows, seed, table_rows
from privacy_kit.adapters import All, InMemoryAdapter, Related, SQLiteAdapter
from privacy_kit.audit import MemoryStateStore
from privacy_kit.retention import RetentionJournal, Shard, ShardReport, units
from privacy_kit.retention._sweep import shard_units
from test_export import policy_and_datamap
from test_resume_counts import FailingMemory

TESTS = Path(__file__).parent
SRC = Path(pk.__file__).parent.parent
SECRET = b"shards-test-secret-0123456789abcdef"
UTC = dt.UTC

# == deployments ===================================================================================
Factory = Callable[[], Any]


def _fill(adapter: Any, data: dict[str, list[dict[str, Any]]]) -> Any:
    _, datamap = policy_and_datamap()
    for table, items in data.items():
        adapter.insert(datamap.record_type(table), copy.deepcopy(items))
    return adapter


def _memory() -> Any:
    _, datamap = policy_and_datamap()
    return InMemoryAdapter({rt.table_name: [] for rt in datamap.record_types})


def _sqlite() -> Any:
    _, datamap = policy_and_datamap()
    db = SQLiteAdapter(":memory:")
    db.create_schema(datamap)
    return db


def deployment(adapter: Any, state: Any = None) -> pk.Engine:
    """The example's data plus closed accounts and many bookings (plan_workers.rows), Hana erased
    at ``T`` (her kept records: commitments due before ``SWEEP``), a hold and an override."""
    policy, datamap = policy_and_datamap()
    return prepare(
        pk.Engine(
            policy,
            datamap,
            _fill(adapter, rows()),
            secret=SECRET,
            state=state or MemoryStateStore(),
        )
    )


def rows_of(e: pk.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every record of every record type, ordered by key, values as the adapter reads them."""
    out = {}
    for rt in e.datamap.record_types:
        found = [r for batch in e.adapter_for(rt).iter_records(rt, All()) for r in batch]
        out[rt.name] = sorted(
            (tuple(r.get(f) for f in rt.field_names) for r in found), key=lambda t: repr(t[0])
        )
    return out


def lines(report: pk.RetentionReport) -> list[tuple[Any, ...]]:
    """The report's lines (a commitment's id, random per deployment, left out)."""
    return [
        (
            "commitment" if x.group == "commitment" else x.rule,
            x.record_type,
            x.action,
            x.group,
            x.planned,
            x.done,
            x.held,
            x.newly_held,
        )
        for x in report.lines
    ]


def commitments(e: pk.Engine, text: str = "") -> Any:
    """Each commitment's fulfilment by what it is (its id is random per deployment); or ``text``
    with every commitment id replaced by what it is."""
    named = {
        c.id: f"{c.record_type}:{c.action}:{c.due.isoformat()}:{c.selection!r}"
        for c in e.commitments
    }
    if text:
        for cid, name in named.items():
            text = text.replace(cid, name)
        return text
    return sorted((named[c.id], c.fulfilled) for c in e.commitments)


@pytest.fixture
def server_databases(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Factory]]:
    """``databases(kind)``: a factory of adapters each on a fresh database of the PostgreSQL or
    MariaDB server (dropped afterwards); skips cleanly without the server, driver or extra."""
    made: list[tuple[Any, Any, str]] = []

    def databases(kind: str) -> Factory:
        server = request.getfixturevalue(f"{kind}_engine")
        sa = pytest.importorskip("sqlalchemy")
        from privacy_kit.adapters import SQLAlchemyAdapter

        def factory() -> Any:
            name = f"shards_{uuid.uuid4().hex[:12]}"
            admin = server.execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {name}"))
            url = server.url.set(database=name)
            engine_ = sa.create_engine(url)
            made.append((admin, engine_, name))
            _, datamap = policy_and_datamap()
            db = SQLAlchemyAdapter(engine_)
            db.create_schema(datamap)
            return db

        return factory

    yield databases
    for admin, engine_, name in made:
        engine_.dispose()
        force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(__import__("sqlalchemy").text(f"DROP DATABASE IF EXISTS {name}{force}"))


def _factory(kind: str, server_databases: Callable[[str], Factory]) -> Factory:
    if kind == "memory":
        return _memory
    if kind == "sqlite":
        return _sqlite
    return server_databases(kind)


STORES = [
    "memory",
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mariadb", marks=pytest.mark.mariadb),
]


# == the same end state as a whole-plan apply ======================================================
@pytest.mark.parametrize("kind", STORES)
def test_shards_in_random_order_and_twice_end_as_the_whole_plan(
    kind: str, server_databases: Callable[[str], Factory]
) -> None:
    factory = _factory(kind, server_databases)
    whole, sharded = deployment(factory()), deployment(factory())
    assert rows_of(whole) == rows_of(sharded)
    plan = whole.plan_retention(now=SWEEP, batch_size=4)
    expected = whole.apply(plan)
    assert expected.total > 0
    assert expected.fulfilled
    assert any(x.held for x in plan.entries)

    other = sharded.plan_retention(now=SWEEP, batch_size=4)
    shards = sharded.shards(other, rows_per_shard=3)
    assert len(shards) > len(other.entries), "some entries are cut"
    assert {s.entry for s in shards} == set(range(len(other.entries)))
    assert any(s.on_account and s.of > 1 for s in shards), "an account-triggered entry is cut"
    assert any(not s.on_account and s.of > 1 for s in shards), "an own-field entry is cut"
    store_bounds = "read" if kind == "memory" else "store"
    assert {s.bounds_by for s in shards if s.of > 1} == {store_bounds}
    with pytest.raises(pk.PlanError, match="not finished"):
        sharded.finish_sweep(other, shards)

    order = list(shards)
    random.Random(17).shuffle(order)
    first = {(r.entry, r.index): r for r in (sharded.apply_shard(other, s) for s in order)}
    after_once = rows_of(sharded)
    random.Random(29).shuffle(order)
    again = [sharded.apply_shard(other, s) for s in order]
    assert rows_of(sharded) == after_once  # a finished shard changes nothing
    assert all(r.resumed for r in again)
    assert [r.done for r in again] == [first[(r.entry, r.index)].done for r in again]

    assert rows_of(sharded) == rows_of(whole)  # row for row
    report = sharded.finish_sweep(other, shards)
    assert lines(report) == lines(expected)
    assert report.total == expected.total
    assert commitments(sharded, str(report.counts())) == commitments(whole, str(expected.counts()))
    assert report.exact
    assert len(report.fulfilled) == len(expected.fulfilled)
    assert commitments(sharded) == commitments(whole)
    assert any(done for _c, done in commitments(sharded))
    applied = [e for e in sharded.audit.entries() if e.action == "retention.applied"][-1]
    whole_applied = [e for e in whole.audit.entries() if e.action == "retention.applied"][-1]
    assert applied.details["shards"] == len(shards)

    def details(e: pk.Engine, entry: Any, leave: tuple[str, ...]) -> Any:
        kept = {k: v for k, v in entry.details.items() if k not in leave}
        return orjson.loads(
            commitments(e, orjson.dumps(kept, option=orjson.OPT_SORT_KEYS).decode())
        )

    assert details(sharded, applied, ("plan", "shards")) == details(whole, whole_applied, ("plan",))
    audited = [e.details for e in sharded.audit.entries() if e.action == "retention.shard"]
    fresh = [d for d in audited if not d["already_finished"]]
    assert len(fresh) == len(shards)  # each shard ran once, by whichever call came first
    assert sum(d["count"] for d in fresh) == expected.total


def test_a_shard_waits_for_the_entries_it_must_follow_and_runs_them_first() -> None:
    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    shards = e.shards(plan, rows_per_shard=3)
    users_delete = next(
        s
        for s in shards
        if plan.entries[s.entry].record_type == "users"
        and plan.entries[s.entry].action == "delete"
        and plan.entries[s.entry].commitment is None
    )
    readers = [
        i
        for i, x in enumerate(plan.entries)
        if x.source is not None and x.source.account == "users"
    ]
    assert readers
    assert set(readers) <= set(users_delete.after)
    e.apply_shard(plan, users_delete)  # first of all
    done = {
        (s.entry, s.index) for s in shards if plan.journal.shard_report(plan.id, s.entry, s.key)
    }
    assert {(s.entry, s.index) for s in shards if s.entry in readers} <= done
    audited = [d.details for d in e.audit.entries() if d.action == "retention.shard"]
    assert {d["run_first_for"] for d in audited[:-1]} == {
        f"{users_delete.entry}:{users_delete.key}"
    }
    assert audited[-1]["run_first_for"] is None


# == the union of an entry's shards is the entry ===================================================
_INSTANTS = [dt.datetime(2019, m, 1, tzinfo=UTC) for m in (1, 3, 3, 5, 8)] + [None]


@st.composite
def _people(draw: st.DrawFn) -> dict[str, list[dict[str, Any]]]:
    users = draw(st.lists(st.sampled_from(_INSTANTS), min_size=0, max_size=14))
    data: dict[str, list[dict[str, Any]]] = {
        "users": [
            {"id": i, "name": f"U{i}", "email": f"u{i}@example.org", "closed_at": closed}
            for i, closed in enumerate(users, 1)
        ]
    }
    owners = st.one_of(st.none(), st.integers(1, max(1, len(users) + 2)))
    data["sessions"] = [
        {"id": 100 + j, "user_id": owner, "ip_address": "10.0.0.1"}
        for j, owner in enumerate(draw(st.lists(owners, max_size=20)))
    ]
    ends = st.one_of(st.none(), st.sampled_from(_INSTANTS[:-1]))
    data["bookings"] = [
        {"id": 1000 + j, "host_id": owner, "end_at": end, "invitee_email": f"g{j}@example.org"}
        for j, (owner, end) in enumerate(draw(st.lists(st.tuples(owners, ends), max_size=20)))
    ]
    return data


def _picked(adapter: Any, rt: pk.RecordType, pieces: Iterator[tuple[int, Any]]) -> list[Any]:
    keys = rt.primary_key
    return [r[keys] for _u, sel in pieces for b in adapter.iter_records(rt, sel) for r in b]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=_people(),
    kind=st.sampled_from(["memory", "sqlite"]),
    size=st.integers(1, 4),
    batch=st.integers(1, 5),
)
def test_the_shards_of_an_entry_are_the_entry(
    data: dict[str, list[dict[str, Any]]], kind: str, size: int, batch: int
) -> None:
    policy, datamap = policy_and_datamap()
    adapter = _fill(_memory() if kind == "memory" else _sqlite(), data)
    e = pk.Engine(policy, datamap, adapter, secret=SECRET, state=MemoryStateStore(), verify=False)
    assert e.settings is not None
    if data["users"]:
        e.settings.set(1, "booking_data", "P30D")  # an override group: own-field trigger
    plan = e.plan_retention(now=dt.datetime(2026, 1, 1, tzinfo=UTC), batch_size=batch)
    shards = e.shards(plan, rows_per_shard=size)
    for index, entry in enumerate(plan.entries):
        rt = e.datamap.record_type(entry.record_type)
        mine = [s for s in shards if s.entry == index]
        assert [s.index for s in mine] == list(range(mine[0].of))
        whole = _picked(adapter, rt, units(e.stores, entry, batch))
        parts = [_picked(adapter, rt, shard_units(e.stores, entry, s, batch)) for s in mine]
        flat = [k for part in parts for k in part]
        assert sorted(flat, key=repr) == sorted(whole, key=repr), entry.describe()
        assert len(flat) == len(set(flat)) == entry.count  # disjoint, and all of it
        for left, right in itertools.pairwise(mine):
            assert left.upper == right.lower  # contiguous ranges


# == an entry whose trigger is the account's =======================================================
def test_an_account_triggered_shard_narrows_the_accounts_and_keeps_the_recheck() -> None:
    e = deployment(_sqlite())
    plan = e.plan_retention(now=SWEEP, batch_size=2)
    shards = e.shards(plan, rows_per_shard=4)
    index = next(i for i, x in enumerate(plan.entries) if x.rule == "booking_data" and x.recheck)
    entry = plan.entries[index]
    mine = [s for s in shards if s.entry == index]
    assert len(mine) > 1
    assert all(s.on_account and s.field == "closed_at" for s in mine)
    users = e.datamap.record_type("users")
    closed = {
        r["id"]: r["closed_at"] for b in e.adapter_for(users).iter_records(users, All()) for r in b
    }
    seen = 0
    for shard in mine:
        pieces = list(shard_units(e.stores, entry, shard, plan.read_batch))
        seen += len(pieces)  # none: the range's accounts are another group's (an override)
        for _unit, selection in pieces:
            related = [x for x in selection.items[0].items if isinstance(x, Related)]
            assert len(related) == 1  # each statement re-checks the account, in the range
            assert shard.range_selection() in related[0].selection.items[0].items
            keys = selection.items[0].items[0].values
            for key in keys:
                at = closed[key]
                assert shard.lower is None or at >= shard.lower
                assert shard.upper is None or at < shard.upper
    assert seen >= len(mine) - 1
    before = rows_of(e)
    report = e.apply_shard(plan, mine[-1])  # the latest closures only
    bookings = e.datamap.record_type("bookings")
    gone = {r[0] for r in before["bookings"]} - {r[0] for r in rows_of(e)["bookings"]}
    assert len(gone) == report.done > 0
    hosts = {r[bookings.field_names.index("host_id")] for r in before["bookings"] if r[0] in gone}
    assert all(mine[-1].lower is not None and closed[h] >= mine[-1].lower for h in hosts)


# == holds placed between shards ===================================================================
def test_a_hold_placed_between_shards_keeps_the_later_shards_records() -> None:
    state = MemoryStateStore()
    sweeper = deployment(_memory(), state)
    legal = pk.Engine(
        *policy_and_datamap(), sweeper.adapter_for("users"), secret=SECRET, state=state
    )
    plan = sweeper.plan_retention(now=SWEEP, batch_size=4)
    shards = sweeper.shards(plan, rows_per_shard=2)
    index = next(i for i, x in enumerate(plan.entries) if x.record_type == "sessions")
    mine = [s for s in shards if s.entry == index]
    assert len(mine) >= 2
    sessions = sweeper.datamap.record_type("sessions")
    first = sweeper.apply_shard(plan, mine[0])
    # The latest shard's users: one of them is now held by another process.
    later = [
        r
        for b in sweeper.adapter_for(sessions).iter_records(sessions, All())
        for r in b
        if r["user_id"] is not None
    ]
    users = sweeper.datamap.record_type("users")
    closed = {
        r["id"]: r["closed_at"]
        for b in sweeper.adapter_for(users).iter_records(users, All())
        for r in b
    }
    target = next(
        r["user_id"]
        for r in later
        if closed.get(r["user_id"]) is not None
        and closed[r["user_id"]] >= (mine[-1].lower or SWEEP)
    )
    legal.place_hold(
        reason="Case 9",
        placed_by="legal",
        now=SWEEP + dt.timedelta(minutes=5),
        subject=pk.Subject.of("customer", user_id=target),
        hold_id="h-late",
    )
    reports = [first] + [sweeper.apply_shard(plan, s) for s in mine[1:]]
    kept = {
        r["id"]
        for b in sweeper.adapter_for(sessions).iter_records(sessions, All())
        for r in b
        if r["user_id"] == target
    }
    assert kept, "the held customer's sessions are kept"
    assert reports[-1].newly_held == len(kept)
    assert [n.holds for n in reports[-1].kept_out] == [("h-late",)]
    assert first.newly_held == 0
    for s in shards:
        sweeper.apply_shard(plan, s)
    report = sweeper.finish_sweep(plan, shards)
    line = report.lines[index]
    assert line.newly_held == len(kept)
    assert any(n.holds == ("h-late",) for n in report.newly_held)
    assert "held by a hold placed after the plan" in report.summary()


# == plans and shards that travel ==================================================================
def _apply_elsewhere(db: Path, state: Path, plan: str, shards: list[Shard], tmp: Path) -> Any:
    paths = []
    for shard in shards:
        path = tmp / f"shard-{uuid.uuid4().hex}.json"
        path.write_text(shard.to_json())
        paths.append(str(path))
    plan_path = tmp / f"plan-{uuid.uuid4().hex}.json"
    plan_path.write_text(plan)
    run = subprocess.run(
        [
            sys.executable,
            str(TESTS / "plan_workers.py"),
            "shards",
            str(db),
            str(state),
            str(plan_path),
            *paths,
        ],
        capture_output=True,
        check=True,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
            "PYTHONHASHSEED": "4321",
        },
        timeout=300,
    )
    out = orjson.loads(run.stdout)
    if "error" in out:
        return out["error"]
    return [ShardReport.from_json(r) for r in out["ok"]]


def test_a_plan_and_its_shards_as_json_applied_by_other_processes(tmp_path: Path) -> None:
    db, state = tmp_path / "data.db", tmp_path / "state.db"
    e = seed(db, state)
    db2, state2 = copy_deployment(db, state, tmp_path / "copy")
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    expected = e.apply(plan)

    # Another deployment (the copy): a planner, two workers in two processes, a finisher.
    planner = engine(db2, state2)
    made = planner.plan_retention(now=SWEEP, batch_size=4)
    document = made.to_json()
    shards = [Shard.from_json(s.to_json()) for s in planner.shards(made, rows_per_shard=3)]
    assert len(shards) > len(made.entries)
    order = list(shards)
    random.Random(5).shuffle(order)
    one = _apply_elsewhere(db2, state2, document, order[::2], tmp_path)
    two = _apply_elsewhere(db2, state2, document, order[1::2], tmp_path)
    assert isinstance(one, list), one
    assert isinstance(two, list), two

    finisher = engine(db2, state2)  # a third process would do the same: all is in the state store
    report = finisher.finish_sweep(pk.RetentionPlan.from_json(document), shards)
    assert table_rows(db2) == table_rows(db)  # row for row
    assert lines(report) == lines(expected)
    assert sorted(report.fulfilled) == sorted(expected.fulfilled)
    assert {c.id: c.fulfilled for c in finisher.commitments} == {
        c.id: c.fulfilled for c in e.commitments
    }
    # The workers' reports: what each shard did, read again by the finisher from the journal.
    by_shard = {(r.entry, r.index): r.done for r in one + two}
    assert sum(by_shard.values()) == expected.total
    again = _apply_elsewhere(db2, state2, document, shards[:3], tmp_path)
    assert all(r.resumed for r in again)


# == refusals ======================================================================================
def test_finish_refuses_while_shards_are_unfinished_and_names_them() -> None:
    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    shards = e.shards(plan, rows_per_shard=3)
    for s in shards[:-2]:
        e.apply_shard(plan, s)
    with pytest.raises(pk.PlanError, match=r"2 shard\(s\) not finished") as info:
        e.finish_sweep(plan, shards)
    for s in shards[-2:]:
        assert s.describe() in str(info.value)
    assert not any(c.fulfilled for c in e.commitments)
    assert not any(x.action == "retention.applied" for x in e.audit.entries())
    with pytest.raises(pk.PlanError, match="leave out 1 of the plan's"):
        e.finish_sweep(plan, shards[1:])
    for s in shards[-2:]:
        e.apply_shard(plan, s)
    assert e.finish_sweep(plan, shards).fulfilled


def _all_shards_applied() -> tuple[pk.Engine, pk.RetentionPlan, tuple[Shard, ...]]:
    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    shards = e.shards(plan, rows_per_shard=3)
    for s in shards:
        e.apply_shard(plan, s)
    return e, plan, shards


def test_finishing_twice_records_once_and_says_so() -> None:
    e, plan, shards = _all_shards_applied()
    first = e.finish_sweep(plan, shards)
    again = e.finish_sweep(plan, shards)
    assert not first.already_finished
    assert again.already_finished
    assert lines(again) == lines(first)
    assert again.fulfilled == first.fulfilled
    assert "already finished" in again.summary()
    applied = [x for x in e.audit.entries() if x.action == "retention.applied"]
    assert len(applied) == 1
    # another process on the same state store: the journal says it was finished
    other = pk.RetentionPlan.from_json(plan.to_json())
    assert e.finish_sweep(other, shards).already_finished
    assert sum(x.action == "retention.applied" for x in e.audit.entries()) == 1


def test_a_finish_that_stopped_before_its_audit_entry_is_completed_by_the_next() -> None:
    e, plan, shards = _all_shards_applied()
    plan.journal.finish_sweep(plan.id, {"token": "a-worker-killed-here"})  # then it died
    report = e.finish_sweep(plan, shards)
    assert report.already_finished
    applied = [x for x in e.audit.entries() if x.action == "retention.applied"]
    assert len(applied) == 1
    assert applied[0].details["completed_by_a_later_finish"] is True
    e.finish_sweep(plan, shards)
    assert sum(x.action == "retention.applied" for x in e.audit.entries()) == 1


def test_shards_of_another_plan_out_of_range_or_edited_are_refused() -> None:
    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    shards = e.shards(plan, rows_per_shard=3)
    cut = next(s for s in shards if s.of > 1)
    other = e.plan_retention(now=SWEEP, batch_size=4)  # the same work, another plan (id)
    with pytest.raises(pk.PlanError, match="shard of another plan"):
        e.apply_shard(other, cut)
    with pytest.raises(pk.PlanError, match="journal records no shards"):
        e.apply_shard(other, Shard(other.id, 0, 0, 1, None, False, None, None, False))
    with pytest.raises(pk.PlanError, match="entry 99 out of range"):
        e.apply_shard(plan, Shard(plan.id, 99, 0, 1, None, False, None, None, False))
    with pytest.raises(pk.PlanError, match=r"index: index \d+ out of range"):
        Shard(plan.id, cut.entry, cut.of, cut.of, cut.field, cut.on_account, cut.upper, None, False)
    moved = Shard(
        plan.id,
        cut.entry,
        cut.index,
        cut.of,
        cut.field,
        cut.on_account,
        cut.lower,
        (cut.upper or SWEEP) + dt.timedelta(seconds=1),
        cut.nulls,
        cut.bounds_by,
        cut.after,
        cut.note,
    )
    with pytest.raises(pk.PlanError, match="not one of the plan's shards"):
        e.apply_shard(plan, moved)
    fewer = Shard(plan.id, cut.entry, 0, 1, None, False, None, None, False)
    with pytest.raises(pk.PlanError, match="not one of the plan's shards"):
        e.apply_shard(plan, fewer)
    with pytest.raises(pk.PlanError, match="another plan"):
        e.finish_sweep(plan, [*shards, attrs.evolve(cut, plan=other.id)])


def test_bad_shard_documents_are_refused_naming_the_field() -> None:
    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    cut = next(s for s in e.shards(plan, rows_per_shard=3) if s.of > 2 and s.index == 1)
    text = cut.to_json()
    head = orjson.loads(text)
    assert (head["format"], head["version"], head["kind"]) == ("privacy_kit.shard", 2, "shard")
    assert Shard.from_json(text) == cut
    assert Shard.from_json(text.encode()) == cut

    def edited(change: Callable[[dict[str, Any]], Any]) -> bytes:
        document = orjson.loads(text)
        change(document)
        return orjson.dumps(document)

    cases = {
        "shard.index": lambda d: d["shard"].update(index=cut.of),  # out of range
        "shard.entry": lambda d: d["shard"].update(entry="two"),
        "shard.lower": lambda d: d["shard"].update(lower="2020-01-01T00:00:00"),  # no zone
        "shard.upper": lambda d: d["shard"].update(upper=None),  # only the last shard's
        "shard.of": lambda d: d["shard"].update(
            field=None, on_account=False, lower=None, upper=None, nulls=False
        ),
        "shard.nulls": lambda d: d["shard"].pop("nulls"),
        "shard.bounds_by": lambda d: d["shard"].update(bounds_by="guessed"),
        "shard.after[0]": lambda d: d["shard"].update(after=[-1]),
        "shard": lambda d: d.pop("shard"),
        "kind": lambda d: d.update(kind="shard_report"),
        "version": lambda d: d.update(version=3),
        "format": lambda d: d.update(format="privacy_kit.plan"),
    }
    for location, change in cases.items():
        with pytest.raises(pk.PlanFormatError) as info:
            Shard.from_json(edited(change))
        assert info.value.location.startswith(location), (location, str(info.value))
    with pytest.raises(pk.PlanFormatError, match="not valid JSON"):
        Shard.from_json(text[:-5])
    with pytest.raises(pk.PlanFormatError, match="expected JSON text"):
        Shard.from_json(None)  # type: ignore[arg-type]
    report = e.apply_shard(plan, cut)
    assert ShardReport.from_json(report.to_json()) == report
    document = orjson.loads(report.to_json())
    document["shard_report"]["done"] = -3
    with pytest.raises(pk.PlanFormatError) as info:
        ShardReport.from_json(orjson.dumps(document))
    assert info.value.location == "shard_report.done"
    document["shard_report"].update(done=3, index=9)
    with pytest.raises(pk.PlanFormatError, match="out of range"):
        ShardReport.from_json(orjson.dumps(document))


# == bounds: from the store, or read, and said so ==================================================
def test_bounds_come_from_the_store_or_are_read_and_the_fallback_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    found = {}
    for kind, make in (("memory", _memory), ("sqlite", _sqlite)):
        e = deployment(make())
        plan = e.plan_retention(now=SWEEP, batch_size=4)
        with caplog.at_level(logging.INFO, logger="privacy_kit.retention"):
            caplog.clear()
            shards = e.shards(plan, rows_per_shard=3)
        cut = [s for s in shards if s.of > 1]
        found[kind] = [(s.entry, s.index, s.lower, s.upper) for s in shards]
        sharded = next(x for x in e.audit.entries() if x.action == "retention.sharded")
        if kind == "memory":
            assert {s.bounds_by for s in cut} == {"read"}
            assert all("cannot compute time bounds in the store" in (s.note or "") for s in cut)
            assert "bounds read by privacy_kit" in cut[0].describe()
            assert any("'time_bounds'" in r.getMessage() for r in caplog.records)
            assert {x["bounds_by"] for x in sharded.details["entries"] if x["of"] > 1} == {"read"}
        else:
            assert {s.bounds_by for s in cut} == {"store"}
            assert all(s.note is None for s in cut)
            assert not any("'time_bounds'" in r.getMessage() for r in caplog.records)
        assert {s.bounds_by for s in shards if s.of == 1} <= {"single", "read", "store"}
        assert all(s.field is None for s in shards if plan.entries[s.entry].commitment)
    # The fallback and the store's NTILE cut at the same places (fewer values than the sample).
    assert found["memory"] == found["sqlite"]


def test_an_entry_with_nothing_to_do_still_gets_one_shard() -> None:
    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=4)
    empty = [i for i, x in enumerate(plan.entries) if x.count == 0]
    assert empty
    shards = e.shards(plan)
    assert [s.entry for s in shards] == list(range(len(plan.entries)))  # one each by default
    assert all(s.field is None and s.of == 1 for s in shards)
    for s in shards:
        e.apply_shard(plan, s)
    report = e.finish_sweep(plan, shards)
    assert [report.lines[i].done for i in empty] == [0] * len(empty)


def test_shards_are_fixed_once_made_and_shared_through_the_state_store() -> None:
    state = MemoryStateStore()
    a = deployment(_memory(), state)
    b = pk.Engine(*policy_and_datamap(), a.adapter_for("users"), secret=SECRET, state=state)
    plan = a.plan_retention(now=SWEEP, batch_size=4)
    shards = a.shards(plan, rows_per_shard=3)
    loaded = pk.RetentionPlan.from_json(plan.to_json())
    assert b.shards(loaded, rows_per_shard=3) == shards  # read from the store, not cut again
    made = [x for x in b.audit.entries() if x.action == "retention.sharded"][-1]
    assert made.details["made_now"] == []
    with pytest.raises(pk.PlanError, match="rows_per_shard=3"):
        b.shards(loaded, rows_per_shard=10)
    with pytest.raises(pk.ConfigurationError, match="rows_per_shard"):
        a.shards(plan, rows_per_shard=0)
    # A worker of another deployment (no shared journal) cannot run them: said, not guessed.
    alone = pk.Engine(*policy_and_datamap(), a.adapter_for("users"), secret=SECRET)
    with pytest.raises(pk.PlanError, match="records no shards"):
        alone.apply_shard(pk.RetentionPlan.from_json(plan.to_json()), shards[0])


# == interrupted shards, and the journal ===========================================================
def test_an_interrupted_shard_resumes_and_counts_every_record() -> None:
    adapter = FailingMemory({})
    _, datamap = policy_and_datamap()
    adapter.tables = {rt.table_name: [] for rt in datamap.record_types}
    e = deployment(adapter)
    plan = e.plan_retention(now=SWEEP, batch_size=2)
    shards = e.shards(plan, rows_per_shard=5)
    cut = max(
        (s for s in shards if not s.after),
        key=lambda s: plan.entries[s.entry].count / s.of,
    )
    before = rows_of(e)
    adapter.fail_after = 1
    with pytest.raises(pk.AdapterError, match="injected"):
        e.apply_shard(plan, cut)
    assert plan.journal.shard_report(plan.id, cut.entry, cut.key) is None
    report = e.apply_shard(plan, cut)
    name = plan.entries[cut.entry].record_type
    changed = len({r[0] for r in before[name]} - {r[0] for r in rows_of(e)[name]})
    assert report.done == changed > 0
    assert report.resumed
    assert report.exact
    assert report.earlier > 0


def test_shard_units_are_journalled_apart_from_whole_plan_units(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('["ret_x", 0, 0]\n')  # an old journal line: still read
    j = RetentionJournal(path)
    j.start("ret_x", 0, 0, 5, shard="1/3")
    j.mark("ret_x", 0, 0, count=5, shard="1/3")
    j.register_shards("ret_x", 0, {"bounds": [1]})
    j.register_shards("ret_x", 0, {"bounds": [2]})  # the first record wins
    j.finish_shard("ret_x", 0, "1/3", {"done": 5})
    again = RetentionJournal(path)
    assert again.done("ret_x", 0, 0)
    assert again.done_count("ret_x", 0, 0) is None
    assert again.done("ret_x", 0, 0, shard="1/3")
    assert again.done_count("ret_x", 0, 0, shard="1/3") == 5
    assert not again.done("ret_x", 0, 0, shard="0/3")
    assert again.finished_units("ret_x", 0) == {0: None}
    assert again.finished_units("ret_x", 0, shard="1/3") == {0: 5}
    assert again.shards_of("ret_x", 0) == {"bounds": [1]}
    assert again.shard_report("ret_x", 0, "1/3") == {"done": 5}
    store = MemoryStateStore()
    first = RetentionJournal(state=store).register_shards("ret_y", 2, {"bounds": ["a"]})
    second = RetentionJournal(state=store).register_shards("ret_y", 2, {"bounds": ["b"]})
    assert first == second == {"bounds": ["a"]}


def test_the_read_fallback_samples_a_large_field_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from privacy_kit.adapters import _bounds, time_bounds

    _, datamap = policy_and_datamap()
    users = datamap.record_type("users")
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    people = [
        {"id": i, "closed_at": None if i % 5 == 0 else start + dt.timedelta(hours=(i * 37) % 1000)}
        for i in range(1, 1001)
    ]
    mem = InMemoryAdapter({"users": people})
    exact = time_bounds(mem, users, All(), "closed_at", 4)
    assert exact.note is not None
    assert "read closed_at of 800 record(s)" in exact.note
    assert "sampled" not in exact.note
    monkeypatch.setattr(_bounds, "READ_SAMPLE", 50)  # at 100 values kept, keep every other
    sampled = time_bounds(mem, users, All(), "closed_at", 4, batch_size=64)
    assert sampled.by == "read"
    assert sampled.note is not None
    assert "sampled 1 in 16 (50 values)" in sampled.note  # 800 values, never 100 kept
    assert len(sampled.bounds) == 3
    # A regular sample cuts close to the exact quartiles (within 5% of the records).
    values = sorted(p["closed_at"] for p in people if p["closed_at"] is not None)
    for got, want in zip(sampled.bounds, exact.bounds, strict=True):
        assert abs(values.index(got) - values.index(want)) <= 40


# == account batches named by their keys ===========================================================
def _batch_keys(selection: Any, link: str) -> tuple[Any, ...]:
    """The account keys of a unit's ``link IN (...)`` term."""
    if isinstance(selection, pk.adapters.In) and selection.field == link:
        return tuple(selection.values)
    for item in getattr(selection, "items", ()):
        found = _batch_keys(item, link)
        if found:
            return found
    return ()


def test_reopening_an_account_between_an_interrupted_run_and_its_resume_skips_nothing() -> None:
    from privacy_kit.retention._apply_units import hold_recheck, run_entry

    e = deployment(_memory())
    plan = e.plan_retention(now=SWEEP, batch_size=2)
    index = next(
        i
        for i, x in enumerate(plan.entries)
        if x.record_type == "bookings" and x.account_selection is not None and x.override is None
    )
    entry = plan.entries[index]
    assert entry.source is not None
    assert entry.source.link_field is not None
    link = entry.source.link_field
    batches = [_batch_keys(sel, link) for _u, sel in units(e.stores, entry, 2)]
    assert len(batches) >= 4
    assert batches[0] == (5,)
    # The interrupted run: the first two batches of accounts finished, nothing after them.
    first = itertools.islice(units(e.stores, entry, 2), 2)
    run_entry(plan, e.stores, index, first, secret=SECRET, recheck=hold_recheck(plan))
    users, bookings = e.datamap.record_type("users"), e.datamap.record_type("bookings")
    adapter = e.adapter_for(bookings)

    def bookings_of(account: Any) -> int:
        return adapter.count(bookings, pk.adapters.Eq(link, account))

    shifted, later = batches[1][0], batches[3][0]
    assert bookings_of(shifted) == 0
    assert bookings_of(batches[2][0]) > 0
    kept = bookings_of(later)
    assert kept > 0
    # Reopened: one account of a finished batch (the batches after it shift by one: the first
    # account of the next one moves into a batch of the finished one's size) and one not yet
    # swept (its records must stay).
    for account in (shifted, later):
        e.adapter_for(users).update(users, pk.adapters.Eq("id", account), {"closed_at": None})
    resumed = e.apply(plan)
    assert resumed.skipped_units >= 1
    assert bookings_of(later) == kept  # nothing extra deleted
    for batch in batches[1:]:  # batch 0: customer 5, under a legal hold
        for account in batch:
            if account not in (shifted, later):
                assert bookings_of(account) == 0, f"the bookings of account {account} were skipped"
    again = e.plan_retention(now=SWEEP, batch_size=2)
    assert [x.count for x in again.entries if x.rule == entry.rule and x.group == "default"] == [0]
