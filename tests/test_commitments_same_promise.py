"""A second erasure of the same subject that keeps the same records until the same date does not
record the promise twice: the registry keeps the pending commitment that makes it (same record
type, selection, fields, date, action, rule, reason and subject), in memory, in a file and in a
shared state store, and the second erasure's report names that commitment."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest

import privacy_kit as pk
from privacy_kit.adapters import InMemoryAdapter, where
from privacy_kit.audit import MemoryStateStore
from privacy_kit.retention import Commitment, CommitmentRegistry

T = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
SECRET = b"s" * 32


def _engine(commitments: CommitmentRegistry, state: MemoryStateStore | None = None) -> pk.Engine:
    dm = pk.load_datamap(pk.example_path("datamap.yaml"))
    tables: dict[str, list[dict[str, Any]]] = {rt.table_name: [] for rt in dm.record_types}
    tables["users"].append({"id": 7, "name": "Hana", "email": "hana@example.org"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pk.Engine(
            pk.load_policy(pk.example_path()),
            dm,
            InMemoryAdapter(tables),
            verify=False,
            secret=SECRET,
            commitments=commitments,
            state=state,
        )


def _erase(engine: pk.Engine, now: dt.datetime) -> Any:
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=7), now=now)
    return plan, engine.apply(plan)


@pytest.mark.parametrize("where_kept", ["memory", "file", "state"])
def test_a_second_erasure_with_the_same_promise_records_nothing(
    where_kept: str, tmp_path: Path
) -> None:
    state = MemoryStateStore()

    def registry() -> CommitmentRegistry:
        if where_kept == "file":
            return CommitmentRegistry(tmp_path / "commitments.json")
        if where_kept == "state":
            return CommitmentRegistry.shared(state)
        return shared_memory

    shared_memory = CommitmentRegistry()
    first_plan, first = _erase(_engine(registry()), T)
    engine = _engine(registry())  # another process, reading the same registry
    second_plan, second = _erase(engine, T)
    assert first_plan.plan_id != second_plan.plan_id  # two plans, two origins
    pending = engine.commitments.pending()
    assert [(c.record_type, c.action, c.fields, c.due.date()) for c in pending] == [
        ("users", "delete", ("name", "email"), dt.date(2031, 6, 1))
    ]
    assert [c.id for c in first.commitments] == [pending[0].id]
    # The second report names the promise it relies on: the first erasure's commitment.
    assert [c.id for c in second.commitments] == [pending[0].id]
    assert second.commitments[0].origin == f"erasure {first_plan.plan_id}"
    # A sweep at the date fulfils it once, and nothing is left pending.
    report = engine.apply(engine.plan_retention(now=dt.datetime(2031, 6, 1, tzinfo=dt.UTC)))
    assert list(report.fulfilled) == [pending[0].id]
    assert engine.commitments.pending() == ()


def test_another_date_is_another_promise() -> None:
    registry = CommitmentRegistry()
    _erase(_engine(registry), T)
    _erase(_engine(registry), T + dt.timedelta(days=30))
    dues = sorted(c.due.date() for c in registry.pending())
    assert dues == [dt.date(2031, 6, 1), dt.date(2031, 7, 1)]


def _commitment(**changes: Any) -> Commitment:
    base = Commitment(
        id="kept_1",
        record_type="users",
        selection=where.eq("id", 7),
        fields=("name",),
        due=dt.datetime(2031, 6, 1, tzinfo=dt.UTC),
        action="delete",
        reason="legal_obligation",
        explanation="tax",
        origin="erasure p1",
        made_at=T,
        subject_reference="subj_1",
        rule="account_data",
    )
    return attrs.evolve(base, **changes)


@pytest.mark.parametrize(
    "change",
    [
        {"selection": where.eq("id", 8)},
        {"fields": ("name", "email")},
        {"action": "clear"},
        {"rule": "other"},
        {"reason": "account_removed"},
        {"subject_reference": "subj_2"},
        {"record_type": "companies"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_what_differs_in_substance_is_recorded(change: dict[str, Any]) -> None:
    registry = CommitmentRegistry()
    registry.record([_commitment()])
    other = _commitment(id="kept_2", origin="erasure p2", **change)
    assert registry.record([other]) == (other,)
    assert len(registry.pending()) == 2


def test_only_a_pending_promise_stands_for_a_new_one() -> None:
    registry = CommitmentRegistry()
    registry.record([_commitment()])
    registry.fulfil("kept_1", now=dt.datetime(2031, 6, 1, tzinfo=dt.UTC), by="ret_x")
    again = _commitment(id="kept_2", origin="erasure p2", explanation="in other words", count=3)
    assert registry.record([again]) == (again,)
    assert [c.id for c in registry.pending()] == ["kept_2"]
    # A third erasure with the same promise now relies on kept_2 (pending), not on kept_1.
    third = _commitment(id="kept_3", origin="erasure p3")
    assert [c.id for c in registry.record([third])] == ["kept_2"]
    assert len(registry) == 2


def test_an_erasure_by_units_names_the_earlier_same_promise_too() -> None:
    """Applied store by store (begin, units, finish), the second erasure's report also names the
    first erasure's commitment, as a whole apply's does."""
    state = MemoryStateStore()
    registry = CommitmentRegistry.shared(state)
    first_plan, first = _erase(_engine(registry), T)
    engine = _engine(registry, state)
    plan = engine.plan_erasure(pk.Subject.of("customer", user_id=7), now=T)
    for unit in engine.begin_erasure(plan):
        engine.apply_erasure_unit(plan, unit)
    report = engine.finish_erasure(plan)
    pending = engine.commitments.pending()
    assert [c.id for c in pending] == [c.id for c in first.commitments]
    assert [c.id for c in report.commitments] == [pending[0].id]
    assert report.commitments[0].origin == f"erasure {first_plan.plan_id}"
