"""An erasure plan applied store by store: units per store and wave, in any order within a
wave and twice, end as ``engine.apply(plan)`` row for row, with the same report and one
``erasure.applied``; on the in-memory store, SQLite and PostgreSQL, with a second store in a
SQLite file."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.adapters import All
from privacy_kit.rights import ErasurePlan, ErasureUnit
from test_export import HANA
from test_export_parts import KINDS, deployment, postgres_adapter  # noqa: F401 - a fixture


def rows_of(engine: pk.Engine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for rt in engine.datamap.record_types:
        found = [r for b in engine.adapter_for(rt).iter_records(rt, All()) for r in b]
        out[rt.name] = sorted(
            (tuple(r.get(f) for f in rt.field_names) for r in found), key=lambda t: repr(t[0])
        )
    return out


def summary(report: pk.ErasureReport) -> tuple[Any, ...]:
    return (
        report.plan_id,
        report.deleted,
        report.anonymised,
        report.kept,
        report.recipients,
        report.notes,
        sorted(c.id for c in report.commitments),
        report.newly_held,
    )


def applied(engine: pk.Engine) -> list[dict[str, Any]]:
    return [dict(e.details) for e in engine.audit.entries() if e.action == "erasure.applied"]


@pytest.mark.parametrize("kind", KINDS)
def test_units_in_any_order_and_twice_end_as_a_whole_apply(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    import datetime as dt

    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    fanned = deployment(kind, tmp_path, request)
    whole = deployment("memory" if kind == "memory" else "sqlite", tmp_path, request)
    plan = fanned.plan_erasure(HANA, now=now)
    text = plan.to_json()
    units = fanned.begin_erasure(ErasurePlan.from_json(text))
    assert fanned.begin_erasure(plan) == units  # begun again: the same units
    assert {u.store for u in units} == {"main", "analytics"}
    assert max(u.wave for u in units) >= 1  # users wait for their sessions in the other store
    late = next(u for u in units if u.wave == 1)
    with pytest.raises(pk.PlanError, match=rf"unit {late.key} .* must follow unit\(s\) 0\."):
        fanned.apply_erasure_unit(plan, late)
    with pytest.raises(pk.PlanError, match="not done"):
        fanned.finish_erasure(plan)
    rng = random.Random(7)
    for wave in sorted({u.wave for u in units}):
        these = [ErasureUnit.from_json(u.to_json()) for u in units if u.wave == wave]
        rng.shuffle(these)
        for unit in these + these:  # any order, twice
            fanned.apply_erasure_unit(ErasurePlan.from_json(text), unit)
    report = fanned.finish_erasure(plan)
    again = fanned.finish_erasure(plan)
    expected = whole.apply(ErasurePlan.from_json(text))

    assert rows_of(fanned) == rows_of(whole)
    assert summary(report) == summary(expected) == summary(again)
    assert sum(report.deleted.values()) > 0
    assert applied(fanned) == applied(whole)  # one erasure.applied, the same details
    assert len(applied(fanned)) == 1


def test_a_unit_of_another_plan_is_refused(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import datetime as dt

    engine = deployment("memory", tmp_path, request)
    plan = engine.plan_erasure(HANA, now=dt.datetime(2025, 3, 1, tzinfo=dt.UTC))
    with pytest.raises(pk.PlanError, match="was not begun"):
        engine.apply_erasure_unit(plan, ErasureUnit(plan=plan.plan_id, store="main", wave=0,
                                                    steps=()))  # fmt: skip
    units = engine.begin_erasure(plan)
    forged = ErasureUnit(plan=plan.plan_id, store="main", wave=0, steps=(plan.steps[-1].id,))
    assert forged not in units
    with pytest.raises(pk.PlanError, match="is not one of"):
        engine.apply_erasure_unit(plan, forged)
    with pytest.raises(pk.PlanFormatError, match=r"unit\.wave"):
        ErasureUnit.from_json('{"plan": "p", "store": "s", "wave": "x", "steps": []}')
