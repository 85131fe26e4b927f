"""Notebook views: concise reprs and HTML tables (escaped) for policies, data maps and reports."""

from __future__ import annotations

import pytest

import privacy_kit as pk
from privacy_kit._html import escape, html_table, join_html, text_table


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
