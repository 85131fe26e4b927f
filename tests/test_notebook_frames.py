"""Notebook views of policy diffs, incidents and breach assessments, and ``to_pandas()`` on every
result that has ``to_records()`` (with pandas, and the clear error without it)."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.retention import ReportLine, RetentionReport
from test_export import HANA, NOW, make_adapter, make_engine
from test_notebook import HOSTILE, assert_no_raw, assert_uniform

AWARE = dt.datetime(2025, 3, 2, 10, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


def _incident(**kwargs: Any) -> pk.Incident:
    values: dict[str, Any] = {
        "occurred_at": AWARE - dt.timedelta(hours=25),
        "aware_at": AWARE,
        "categories": ["user.contact.email"],
        "risk": "high",
    }
    return pk.Incident(**{**values, **kwargs})


# == policy diff =================================================================================


def test_policy_diff_views_and_records(policy: pk.Policy) -> None:
    new = policy.replace(
        version="2025.1", children={**policy.children.model_dump(), "minimum_age": 18}
    )
    d = pk.diff(policy, new)
    assert repr(d) == "PolicyDiff(old='2024.1', new='2025.1', changes=1, material=1)"
    (row,) = d.to_records()
    assert row == {
        "old_version": "2024.1",
        "new_version": "2025.1",
        "kind": "minimum_age_changed",
        "key": "children",
        "location": "children",
        "side": "new",
        "material": True,
        "subject_kinds": "; ".join(d.changes[0].subject_kinds),
        "description": d.changes[0].description,
    }
    page = d._repr_html_()
    assert "1 change(s), 1 material" in page
    assert "<td>yes</td><td>minimum_age_changed</td><td>children</td>" in page

    same = pk.diff(policy, policy)
    assert repr(same).endswith("changes=0, material=0)")
    assert same.to_records() == []
    assert "nothing changed" in same._repr_html_()


def test_policy_diff_records_are_uniform_and_escaped(policy: pk.Policy) -> None:
    data = policy.model_dump(mode="json")
    data["version"] = HOSTILE
    data["retention"] = data["retention"][1:]
    data["children"]["minimum_age"] = 18
    new = pk.Policy.model_validate(data)
    d = pk.diff(policy, new)
    rows = d.to_records()
    assert len(rows) == len(d.changes) >= 2
    assert_uniform(rows)
    assert {r["new_version"] for r in rows} == {HOSTILE}
    assert {r["side"] for r in rows} == {"old", "new"}  # a removal points into the old version
    assert_no_raw(d._repr_html_())


# == incidents and assessments ===================================================================


def test_incident_views_and_records() -> None:
    inc = _incident(reference="INC-7", subjects={"gdpr": 120, "uk_gdpr": 3}, description=HOSTILE)
    text = repr(inc)
    assert text == (
        "Incident(reference='INC-7', kind='breach', risk='high', "
        f"occurred_at='{inc.occurred_at.isoformat()}', aware_at='{AWARE.isoformat()}', "
        "categories=1, subjects={'gdpr': 120, 'uk_gdpr': 3})"
    )
    (row,) = inc.to_records()
    assert row["subjects"] == "gdpr=120; uk_gdpr=3"
    assert row["subjects_total"] == 123
    assert row["aware_at"] == AWARE.isoformat()
    assert row["significant_harm"] is True  # the effective value: high risk
    assert row["record_types"] is None  # every record type
    assert_no_raw(inc._repr_html_())

    unknown = _incident(risk="low", significant_harm=None)
    assert "subjects=unknown" in repr(unknown)
    assert "reference" not in repr(unknown)
    (other,) = unknown.to_records()
    assert other["subjects"] is None
    assert other["subjects_total"] is None
    assert other["significant_harm"] is False
    assert "unknown (the policy&#x27;s jurisdictions are assumed)" in unknown._repr_html_()
    assert_uniform([row, other])  # incidents stack into one table


def test_breach_assessment_views_and_records(policy: pk.Policy) -> None:
    inc = _incident(reference=HOSTILE, subjects={"gdpr": 120})
    now = AWARE + dt.timedelta(days=4)
    a = pk.assess(inc, policy, now=now)
    late = a.late[0]
    assert late.deadline is not None
    nxt = a.next_deadline
    assert nxt is not None
    assert nxt.deadline is not None
    assert repr(a) == (
        f"BreachAssessment(policy_version='2024.1', now='{now.isoformat()}', "
        f"jurisdictions=('gdpr',), duties={len(a.duties)}, required={len(a.required)}, "
        f"late={len(a.late)}, next_deadline='{nxt.deadline.isoformat()}')"
    )
    rows = a.to_records()
    assert_uniform(rows)
    assert [r["key"] for r in rows] == [d.key for d in a.duties]
    by_key = {r["key"]: r for r in rows}
    assert by_key[late.key]["status"] == "late"
    assert by_key[late.key]["required"] is True
    assert by_key[late.key]["deadline"] == late.deadline.isoformat()
    assert by_key["gdpr.documentation"]["deadline"] is None
    page = a._repr_html_()
    assert_no_raw(page)  # the incident's reference, shown in the incident table
    assert f"{len(a.required)} of {len(a.duties)} duties required, {len(a.late)} late" in page
    assert f"<td>late</td><td>{late.key}</td>" in page

    untimed = pk.assess(inc, policy)
    assert "now=None" in repr(untimed)
    assert "lateness not evaluated" in untimed._repr_html_()


# == to_pandas ===================================================================================


def _results(policy: pk.Policy, tmp_path: Path) -> list[Any]:
    """One instance of every result class with ``to_records()`` (empty ones included)."""
    engine = make_engine(make_adapter("memory"))
    later = NOW + dt.timedelta(days=3650)
    plan = engine.plan_retention(now=later)
    erasure = engine.plan_erasure(HANA, now=NOW)
    request = pk.DataSubjectRequest.receive(
        "access", "end_user", {"email": "x@example.com"}, jurisdiction="gdpr", received_at=NOW
    )
    inc = _incident(subjects={"gdpr": 5})
    line = ReportLine(HOSTILE, "t", "delete", "default", 3, 2, 0, False, exact=False)
    return [
        pk.check(policy),
        pk.CheckReport(()),
        plan,
        engine.apply(plan),
        RetentionReport(now=NOW, dry_run=True, lines=(), skipped_units=0),
        RetentionReport(now=NOW, dry_run=False, lines=(line,), skipped_units=0),
        engine.fate("bookings", 100, now=NOW),
        erasure,
        engine.apply(erasure),
        engine.export(pk.Subject.of("customer", user_id=2), tmp_path / "b.zip", now=NOW),
        request,
        pk.records_of_processing(policy),
        pk.diff(policy, policy.replace(version="2030.1", retention=policy.retention[1:])),
        pk.diff(policy, policy),
        inc,
        pk.assess(inc, policy, now=AWARE),
    ]


def _public_class(name: str) -> type | None:
    """The public name's class, or None (also for names whose optional extra is not installed)."""
    try:
        value = getattr(pk, name)
    except ImportError:  # e.g. SQLAlchemyAdapter in the core-only environment
        return None
    return value if isinstance(value, type) else None


def test_every_result_with_records_has_to_pandas() -> None:
    with_records = [
        name
        for name in pk.__all__
        if (cls := _public_class(name)) is not None and hasattr(cls, "to_records")
    ]
    assert len(with_records) >= 12
    assert [n for n in with_records if not hasattr(getattr(pk, n), "to_pandas")] == []


def test_to_pandas_gives_the_records_as_a_frame(policy: pk.Policy, tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed (tests dependency group)")
    seen = set()
    for result in _results(policy, tmp_path):
        rows = result.to_records()
        frame = result.to_pandas()
        assert isinstance(frame, pd.DataFrame)
        assert len(frame) == len(rows), type(result)
        if rows:
            assert list(frame.columns) == list(rows[0]), type(result)
            back = frame.astype(object).where(frame.notna(), None).to_dict("records")
            assert back == rows, type(result)
        else:
            assert len(frame.columns) >= 3, type(result)  # the columns, even with no rows
        seen.add(type(result).__name__)
    assert {"PolicyDiff", "BreachAssessment", "Incident", "ProcessingRecords"} <= seen


def test_to_pandas_without_pandas_says_how_to_install_it(
    policy: pk.Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas -> ImportError
    with pytest.raises(ImportError):
        importlib.import_module("pandas")
    for result in _results(policy, tmp_path):
        name = type(result).__name__
        with pytest.raises(pk.ConfigurationError, match=r"pip install pandas") as err:
            result.to_pandas()
        assert f"{name}.to_pandas() needs pandas" in str(err.value)


def test_importing_privacy_kit_does_not_import_pandas() -> None:
    code = (
        "import sys, privacy_kit as pk; pk.load_policy(pk.example_path()); "
        "pk.Incident; pk.PolicyDiff; print('pandas' in sys.modules)"
    )
    src = str(Path(pk.__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src},
    )
    assert out.stdout.strip() == "False"
