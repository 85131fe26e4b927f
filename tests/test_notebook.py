"""Notebook views: concise reprs and HTML tables (escaped) for policies, data maps and reports."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit._html import escape, html_table, join_html, text_table
from privacy_kit.retention import ReportLine, RetentionReport
from privacy_kit.retention._fate import FateStage
from privacy_kit.rights._erasure import ErasureReport, KeepReason, KeptItem
from privacy_kit.rights._export import ExportResult
from test_export import ANN, HANA, NOW, make_adapter, make_engine


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


def test_html_table_escapes_and_checks_shape() -> None:
    out = html_table("T<1>", ["a&b", "c"], [("<x>", None), (("p", "q"), True)], caption="cap<")
    assert "T&lt;1&gt;" in out
    assert "<th>a&amp;b</th>" in out
    assert "<td>&lt;x&gt;</td><td></td>" in out
    assert "<td>p, q</td><td>yes</td>" in out
    assert "<caption>cap&lt;</caption>" in out
    with pytest.raises(ValueError, match="row 0 of table 'T' has 1 cells, expected 2"):
        html_table("T", ["a", "b"], [("only",)])
    assert escape("'") == "&#x27;"
    assert join_html("a", "b") == '<div class="pk-views">ab</div>'


def test_text_table_wraps() -> None:
    out = text_table(["k", "v"], [("key", "a long value that wraps")], max_width=10)
    lines = out.splitlines()
    assert len({len(line) for line in lines}) == 1  # a rectangle
    assert "| key | a long     |" in lines
    with pytest.raises(ValueError, match="expected 2"):
        text_table(["k", "v"], [("x",)])
    with pytest.raises(ValueError, match="max_width"):
        text_table(["k"], [], max_width=2)


def test_policy_views(policy: pk.Policy) -> None:
    assert repr(policy) == (
        "Policy(title='Appointlet privacy notice', version='2024.1', collection=18, "
        "recipients=5, retention=4, rights=7)"
    )
    page = policy._repr_html_()
    assert page.count("<table>") == 3
    assert "<td>user.contact.email</td><td>Email address</td><td>provided</td>" in page
    assert "<td>authorities</td>" in page
    assert "<td>booking_data</td>" in page


def test_datamap_views(policy: pk.Policy) -> None:
    datamap = pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)
    assert repr(datamap).startswith("DataMap(record_types=['users', 'companies'")
    page = datamap._repr_html_()
    assert (
        "<td>bookings</td><td>main</td><td>bookings</td><td>host: customer (host_id), invitee: end_user (invitee_email)</td>"
        in page
    )
    assert (
        "<td>invitee_email</td><td>text</td><td>user.contact.email</td><td>invitee</td><td>pseudonym</td>"
        in page
    )
    assert "not personal" in page


def test_report_and_finding_views(policy: pk.Policy) -> None:
    data = policy.model_dump(mode="json")
    data["summary"] = {"en": "<b>only English</b>"}
    report = pk.check(pk.Policy.model_validate(data))
    assert (
        repr(report) == f"CheckReport(ok=True, errors=0, warnings={len(report.warnings)}, info=0)"
    )
    page = report._repr_html_()
    assert "<td>missing-translation</td><td>policy:summary</td>" in page
    finding = report.findings[0]
    assert "<td>warning</td>" in finding._repr_html_()
    assert len(report.to_records()) == len(report)
    bad = pk.CheckReport((pk.Finding("x-y", pk.Severity.ERROR, "here", "a <tag>"),))
    assert repr(bad) == "CheckReport(ok=False, errors=1, warnings=0, info=0)"
    assert "a &lt;tag&gt;" in bad._repr_html_()
    assert "errors found" in bad._repr_html_()


# == result objects: short reprs, escaped HTML, uniform records ===================================
HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


def assert_uniform(rows: list[dict[str, Any]]) -> None:
    """What a data frame needs (checked without pandas): the same keys in every row, and one
    type per column besides ``None`` (no ints mixed with text, no lists, no datetimes)."""
    assert rows, "nothing to check"
    keys = list(rows[0])
    for row in rows:
        assert list(row) == keys
    for key in keys:
        kinds = {type(row[key]) for row in rows if row[key] is not None}
        assert len(kinds) <= 1, (key, kinds)
        assert kinds <= {str, int, bool, float}, (key, kinds)


def assert_no_raw(page: str) -> None:
    assert "<script>" not in page.replace("<style>", "")
    assert ESCAPED in page


def test_erasure_plan_and_report_views() -> None:
    engine = make_engine(make_adapter("memory"))
    plan = engine.plan_erasure(HANA, now=NOW)
    text = repr(plan)
    assert text.startswith("ErasurePlan(subject=customer ")
    assert f"deleted={sum(plan.deleted.values())}" in text
    assert "\n" not in text
    rows = plan.to_records()
    assert_uniform(rows)
    assert {r["outcome"] for r in rows} >= {"deleted", "anonymised", "kept"}
    kept = next(r for r in rows if r["outcome"] == "kept" and r["until"] is not None)
    assert dt.datetime.fromisoformat(str(kept["until"])) > NOW
    assert isinstance(kept["fields"], str)
    page = plan._repr_html_()
    assert "Erasure plan for customer" in page
    assert "<td>kept</td><td>users</td>" in page

    report = engine.apply(plan)
    assert repr(report).startswith(f"ErasureReport(plan_id={plan.plan_id!r}, dry_run=False")
    rows = report.to_records()
    assert_uniform(rows)
    assert {"record_type": "sessions", "outcome": "deleted", "count": 1}.items() <= next(
        r for r in rows if r["record_type"] == "sessions"
    ).items()
    assert "<td>deleted</td><td>sessions</td>" in report._repr_html_()


def test_erasure_views_escape_and_say_when_nothing_is_held() -> None:
    engine = make_engine(make_adapter("memory"))
    nobody = engine.plan_erasure(pk.Subject.of("end_user", email="nobody@example.com"), now=NOW)
    assert "nothing is held about this subject; searched: " in nobody._repr_html_()
    report = ErasureReport(
        plan_id=HOSTILE,
        subject_reference="ref",
        deleted={HOSTILE: 2},
        anonymised={},
        kept=(KeptItem("t", "r", 1, KeepReason.LEGAL_HOLD, HOSTILE),),
        recipients=(HOSTILE,),
        notes=(HOSTILE,),
    )
    page = report._repr_html_()
    assert_no_raw(page)
    assert page.count(ESCAPED) >= 5
    assert_uniform(report.to_records())


def test_export_result_views(tmp_path: Path) -> None:
    engine = make_engine(make_adapter("memory"))
    result = engine.export(ANN, tmp_path / "ann.zip", now=NOW)
    assert repr(result).startswith(f"ExportResult(path={str(tmp_path / 'ann.zip')!r}, format='zip'")
    rows = result.to_records()
    assert_uniform(rows)
    assert sum(int(str(r["records"])) for r in rows) == result.total
    assert any(r["redacted"] for r in rows)  # another party's fields, named
    assert f"<td>{result.sha256}</td>" in result._repr_html_()
    hostile = ExportResult(
        path=tmp_path / "x.zip",
        format="zip",
        subject_reference=HOSTILE,
        generated_at=NOW,
        counts={HOSTILE: 1},
        redacted={"other": (HOSTILE,)},
        files=(),
        sha256="0" * 64,
    )
    assert_no_raw(hostile._repr_html_())
    rows = hostile.to_records()
    assert rows == [
        {"entry": HOSTILE, "records": 1, "redacted": ""},
        {"entry": "other", "records": 0, "redacted": HOSTILE},
    ]


def test_retention_plan_report_and_fate_views() -> None:
    engine = make_engine(make_adapter("memory"))
    later = NOW + dt.timedelta(days=3650)
    plan = engine.plan_retention(now=later)
    assert repr(plan).startswith(f"RetentionPlan(now={later.isoformat()!r}, entries=")
    assert repr(plan.entries[0]).startswith("RetentionEntry(rule=")
    rows = plan.to_records()
    assert_uniform(rows)
    assert len(rows) == len(plan.entries)
    assert sum(int(str(r["count"])) for r in rows) == plan.total
    assert {r["cutoff"] for r in rows} <= {e.cutoff.isoformat() for e in plan.entries}
    page = plan._repr_html_()
    assert page.count("<tr>") >= len(plan.entries) + 1
    assert plan.entries[0].selection_text().replace("<", "&lt;").split(" ")[0] in page

    report = engine.apply(plan)
    assert isinstance(report, RetentionReport)
    assert repr(report).startswith(f"RetentionReport(now={later.isoformat()!r}, dry_run=False")
    rows = report.to_records()
    assert_uniform(rows)
    assert sum(int(str(r["done"])) for r in rows) == report.total
    assert repr(report.lines[0]).startswith("ReportLine(rule=")

    fate = engine.fate("bookings", 100, now=NOW)
    assert repr(fate).startswith("RecordFate(record_type='bookings', key=100, rule=")
    (row,) = fate.to_records()
    assert_uniform([row, *engine.fate("users", 1, now=NOW).to_records()])
    assert row["key"] == "100"
    assert row["sentence"] == fate.sentence
    assert fate.sentence.split(" ")[0] in fate._repr_html_()


def test_retention_views_escape_hostile_values() -> None:
    line = ReportLine(HOSTILE, "t", "delete", "default", 3, 2, 0, False, exact=False)
    report = RetentionReport(
        now=NOW, dry_run=False, lines=(line,), skipped_units=0, fulfilled=(HOSTILE,)
    )
    assert_no_raw(report._repr_html_())
    assert "exact=False" in repr(line)
    assert report.to_records()[0]["exact"] is False
    empty = RetentionReport(now=NOW, dry_run=True, lines=(), skipped_units=0)
    assert "nothing to do" in empty._repr_html_()
    assert empty.to_records() == []
    fate = pk.RecordFate(
        record_type="t",
        key=HOSTILE,
        sentence=HOSTILE,
        stages=(FateStage(NOW, "delete", ()),),
    )
    assert_no_raw(fate._repr_html_())
    assert fate.to_records()[0]["stages"] == f"delete at {NOW.isoformat()}"


def test_request_views_never_show_identities() -> None:
    request = pk.DataSubjectRequest.receive(
        "access",
        "end_user",
        {"email": "ann@example.com"},
        jurisdiction="gdpr",
        received_at=NOW,
    ).verify(now=NOW + dt.timedelta(hours=1), note=HOSTILE, pieces=["email"])
    for text in (repr(request), str(request), request._repr_html_()):
        assert "ann@example.com" not in text
    assert repr(request).startswith(f"DataSubjectRequest(id='{request.id}', type='access'")
    assert "identities=['email']" in repr(request)
    assert_no_raw(request._repr_html_())
    rows = request.to_records()
    assert_uniform(rows)
    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        (None, "received"),
        ("received", "verified"),
    ]


def test_check_report_records_are_uniform(policy: pk.Policy) -> None:
    bad = pk.CheckReport(
        (
            pk.Finding("x-y", pk.Severity.ERROR, HOSTILE, "m"),
            pk.Finding("a-b", pk.Severity.INFO, "here", HOSTILE),
        )
    )
    assert_uniform(bad.to_records())
    assert_no_raw(bad._repr_html_())


def test_records_helper_refuses_unknown_keys() -> None:
    from privacy_kit._html import records

    with pytest.raises(ValueError, match=r"row 0 has keys \['z'\]"):
        records(["a"], [{"z": 1}])
