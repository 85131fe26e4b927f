"""An erasure's consecutive steps on one store run in one transaction (``Capability.ATOMIC``):
the journal's ``started`` lines of the group in one sync, ``done`` after the commit; a failure in
the group's last step commits nothing, names the step, and the resume recounts every step of the
group to the right totals. Steps on different stores stay separate transactions; with an
explicit ``batch_size`` each step commits on its own, as before."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.audit import _journal
from privacy_kit.audit._journal import FileJournal
from test_export import (
    HANA,
    NOW,
    example_rows,
    make_adapter,
    make_engine,
    policy_and_datamap,
    snapshot,
)
from test_export_parts import deployment


def fail_after_writing(adapter: Any, record_type: str) -> dict[str, bool]:
    """Wrap ``adapter``'s writes: the first write on ``record_type`` is made, then raises."""
    armed = {"on": True}
    for method in ("delete", "update", "update_by_key"):
        original = getattr(adapter, method)

        def write(rt: pk.RecordType, *args: Any, _original: Any = original, **kw: Any) -> Any:
            n = _original(rt, *args, **kw)
            if armed["on"] and rt.name == record_type:
                armed["on"] = False
                raise OSError("disk full half-way")
            return n

        setattr(adapter, method, write)
    return armed


def count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _journal.os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(_journal.os, "fsync", fsync)
    return calls


def lines(path: Path) -> list[dict[str, Any]]:
    return list(FileJournal(path).entries())


@pytest.fixture
def adapters(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A maker of adapters of a kind holding the example; on PostgreSQL (a schema) and MariaDB
    (a database) each a ``SQLAlchemyAdapter`` in a namespace of its own, dropped afterwards."""
    made: list[tuple[Any, str]] = []

    def make(kind: str) -> Any:
        if kind not in {"postgres", "mariadb"}:
            return make_adapter(kind)
        sa = pytest.importorskip("sqlalchemy", reason="SQLAlchemy is not installed")
        from privacy_kit.adapters import SQLAlchemyAdapter

        engine = request.getfixturevalue(f"{kind}_engine")
        schema = f"w_atomic_{uuid.uuid4().hex[:10]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        made.append((engine, schema))
        db = SQLAlchemyAdapter(engine, schema=schema)
        _, datamap = policy_and_datamap()
        db.create_schema(datamap)
        for table, items in example_rows().items():
            db.insert(datamap.record_type(table), items)
        return db

    yield make
    for engine, schema in made:
        import sqlalchemy as sa

        cascade = " CASCADE" if engine.dialect.name == "postgresql" else ""
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema}{cascade}"))


@pytest.mark.parametrize(
    "kind",
    [
        "memory",
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ],
)
def test_a_failure_in_the_last_step_of_a_group_commits_nothing_and_the_resume_recounts(
    kind: str, tmp_path: Path, adapters: Any
) -> None:
    reference = make_engine(adapters(kind))
    expected = reference.apply(reference.plan_erasure(HANA, now=NOW))
    adapter = adapters(kind)
    engine = make_engine(adapter)
    before = snapshot(engine)
    plan = engine.plan_erasure(HANA, now=NOW)
    assert len(plan.steps) >= 3
    last = plan.steps[-1]
    fail_after_writing(adapter, last.record_type)
    path = tmp_path / "journal.jsonl"
    with pytest.raises(pk.AdapterError, match=rf"step {last.id} failed.*disk full half-way"):
        engine.apply(plan, journal=path)
    assert snapshot(engine) == before  # nothing of the group, not even the last step's write
    ids = [s.id for s in plan.steps]
    assert FileJournal(path).interrupted_steps(plan.plan_id) == ids
    (entry,) = [e for e in engine.audit.entries() if e.action == "erasure.interrupted"]
    assert entry.details["step"] == last.id
    assert entry.details["rolled_back"] == ids

    report = engine.apply(plan, journal=path)
    assert report.resumed_steps == ()
    assert report.deleted == expected.deleted
    assert report.anonymised == expected.anonymised
    assert snapshot(engine) == snapshot(reference)
    recounts = [n for n in report.notes if "resumed after an interrupted attempt" in n]
    assert len(recounts) == len(ids)
    assert all("the interrupted attempt changed 0 and this run" in n for n in recounts)


def test_the_group_journals_started_in_one_sync_before_the_commit_and_done_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(make_adapter("sqlite"))
    plan = engine.plan_erasure(HANA, now=NOW)
    path = tmp_path / "journal.jsonl"
    fsyncs = count_fsyncs(monkeypatch)
    report = engine.apply(plan, journal=path)
    events = [(e["event"], e.get("step")) for e in lines(path)]
    ids = [s.id for s in plan.steps]
    assert events == (
        [("started", i) for i in ids] + [("done", i) for i in ids] + [("finished", None)]
    )
    assert len(fsyncs) == 2  # the group's started lines, then finished (with the done lines)
    assert sum(report.deleted.values()) > 0


def test_with_a_batch_size_each_step_commits_and_journals_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = make_adapter("sqlite")
    engine = make_engine(adapter)
    plan = engine.plan_erasure(HANA, now=NOW, batch_size=1)
    path = tmp_path / "journal.jsonl"
    fsyncs = count_fsyncs(monkeypatch)
    engine.apply(plan, journal=path)
    events = [e["event"] for e in lines(path)]
    assert events == ["started", "done"] * len(plan.steps) + ["finished"]
    assert len(fsyncs) == len(plan.steps) + 1

    # A failure in the last step keeps the earlier steps' commits (today's behaviour).
    again = make_adapter("sqlite")
    other = make_engine(again)
    before = snapshot(other)
    batched = other.plan_erasure(HANA, now=NOW, batch_size=1)
    fail_after_writing(again, batched.steps[-1].record_type)
    with pytest.raises(OSError, match="disk full"):
        other.apply(batched, journal=tmp_path / "batched.jsonl")
    assert snapshot(other) != before


def test_steps_on_different_stores_are_separate_transactions(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    whole = deployment("sqlite", tmp_path, request)
    expected = whole.apply(whole.plan_erasure(HANA, now=now))
    engine = deployment("sqlite", tmp_path, request)
    plan = engine.plan_erasure(HANA, now=now)
    store_of = {s.id: engine.datamap.record_type(s.record_type).store for s in plan.steps}
    # The analytics store's consecutive steps (sessions, then usage events) form one group.
    at = next(
        i
        for i in range(1, len(plan.steps))
        if store_of[plan.steps[i].id] == store_of[plan.steps[i - 1].id] == "analytics"
    )
    failing = plan.steps[at]
    analytics = engine.adapter_for(engine.datamap.record_type(failing.record_type))
    fail_after_writing(analytics, failing.record_type)
    path = tmp_path / "journal.jsonl"
    with pytest.raises(pk.AdapterError, match=rf"step {failing.id} failed"):
        engine.apply(plan, journal=path)
    journal = FileJournal(path)
    earlier = [s.id for s in plan.steps[: at - 1]]
    assert list(journal.completed_steps(plan.plan_id)) == earlier  # committed, store by store
    assert journal.interrupted_steps(plan.plan_id) == [plan.steps[at - 1].id, failing.id]
    sessions = engine.datamap.record_type(plan.steps[at - 1].record_type)
    assert engine.adapter_for(sessions).count(sessions, plan.steps[at - 1].selection) > 0

    report = engine.apply(plan, journal=path)
    assert set(report.resumed_steps) == set(earlier)
    assert report.deleted == expected.deleted
    assert report.anonymised == expected.anonymised


def test_a_unit_of_one_store_is_one_transaction_too(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    engine = deployment("sqlite", tmp_path, request)
    plan = engine.plan_erasure(HANA, now=now)
    units = engine.begin_erasure(plan)
    unit = next(u for u in units if len(u.steps) >= 2)
    steps = [s for s in plan.steps if s.id in unit.steps]
    adapter = engine.adapter_for(engine.datamap.record_type(steps[0].record_type))
    fail_after_writing(adapter, steps[-1].record_type)
    for earlier in units:
        if earlier.wave < unit.wave:
            engine.apply_erasure_unit(plan, earlier)
    first = engine.datamap.record_type(steps[0].record_type)
    before = adapter.count(first, steps[0].selection)
    assert before > 0
    with pytest.raises(pk.AdapterError, match=rf"step {steps[-1].id} failed"):
        engine.apply_erasure_unit(plan, unit)
    assert adapter.count(first, steps[0].selection) == before  # rolled back with the last step
    engine.apply_erasure_unit(plan, unit)
    assert adapter.count(first, steps[0].selection) == 0


@pytest.mark.postgres
def test_an_erasure_on_postgres_plans_in_one_read_only_transaction_and_applies_in_one(
    adapters: Any,
) -> None:
    """On PostgreSQL the plan's reads share one transaction (one BEGIN, one ROLLBACK) and the
    steps of the one store one more (one COMMIT), whatever the number of steps."""
    sa = pytest.importorskip(
        "sqlalchemy", reason="the PostgreSQL adapter needs the sqlalchemy extra"
    )

    adapter = adapters("postgres")
    engine = make_engine(adapter)
    counted = dict.fromkeys(("begin", "commit", "rollback"), 0)

    def counter(event: str) -> Any:
        def count(*_args: Any) -> None:
            counted[event] += 1

        return count

    listeners = {event: counter(event) for event in counted}
    for event, listener in listeners.items():
        sa.event.listen(adapter.engine, event, listener)
    try:
        plan = engine.plan_erasure(HANA, now=NOW)
        planning = dict(counted)
        counted.update(dict.fromkeys(counted, 0))
        report = engine.apply(plan)
        applying = dict(counted)
    finally:
        for event, listener in listeners.items():
            sa.event.remove(adapter.engine, event, listener)
    assert len(plan.steps) >= 3
    assert report.deleted
    assert planning == {"begin": 1, "commit": 0, "rollback": 1}, planning
    # every write in one transaction; before it, two reads of their own (the subject's account
    # read again, and a count)
    assert applying == {"begin": 3, "commit": 1, "rollback": 2}, applying
