"""The legal figures privacy_kit computes with are those of the LAW_FACTS brief, each cited; the
figures the brief itself leaves unconfirmed are kept, and say so in a field of the data."""

from __future__ import annotations

import datetime as dt

import pytest

import privacy_kit as pk
from privacy_kit.lifecycle import BREACH_RULES
from privacy_kit.rights import STOP_THE_CLOCK, ClockRule


@pytest.mark.parametrize(
    ("key", "within", "business_days", "extension", "citation"),
    [
        ("gdpr", "P1M", False, "P2M", "GDPR Art. 12(3)"),
        ("uk_gdpr", "P1M", False, "P2M", "UK GDPR Art. 12(3)"),
        ("ccpa", "P45D", False, "P45D", "Cal. Civ. Code 1798.130(a)(2)"),
        ("lgpd", "P15D", False, None, "LGPD Art. 19 II"),
        ("pipeda", "P30D", False, "P30D", "PIPEDA s. 8(3)-(4)"),
    ],
)
def test_request_deadlines(
    key: str, within: str, business_days: bool, extension: str | None, citation: str
) -> None:
    deadline = pk.get_jurisdiction(key).request_deadline
    assert str(deadline.respond_within) == within
    assert deadline.business_days is business_days
    assert (str(deadline.extension) if deadline.extension else None) == extension
    assert deadline.max_extensions == (1 if extension else 0)
    assert deadline.citation == citation


def test_stop_the_clock_marks_the_unconfirmed_uk_provision() -> None:
    uk = STOP_THE_CLOCK["uk_gdpr"]
    assert isinstance(uk, ClockRule)
    assert (uk.stops, uk.confirmed) == (True, False)
    assert "Data (Use and Access) Act 2025" in uk.source
    assert "not confirmed" in uk.source
    assert uk[0] is True  # still readable as the (stops, source) tuple
    for key in ("gdpr", "ccpa", "lgpd", "pipeda"):
        rule = STOP_THE_CLOCK[key]
        assert (rule.stops, rule.confirmed) == (False, True)
    assert "check)" not in " ".join(r.source for r in STOP_THE_CLOCK.values())


def test_only_the_figures_the_brief_leaves_unconfirmed_are_marked() -> None:
    marked = {(r.key, r.from_date) for r in BREACH_RULES if r.to_check}
    assert marked == {
        ("lgpd.authority", None),
        ("lgpd.subjects", None),
        ("ccpa.residents", dt.date(2026, 1, 1)),
    }
    lgpd = next(r for r in BREACH_RULES if r.key == "lgpd.authority")
    assert (lgpd.timing, lgpd.business_days) == ("business_days", 3)  # the value is kept
    ca = next(r for r in BREACH_RULES if r.key == "ccpa.residents" and r.to_check)
    assert (ca.timing, str(ca.within)) == ("calendar", "P30D")
    gdpr = next(r for r in BREACH_RULES if r.key == "gdpr.authority")
    assert (str(gdpr.within), gdpr.citation, gdpr.to_check) == ("PT72H", "GDPR Art. 33(1)", False)
    pipeda = next(r for r in BREACH_RULES if r.key == "pipeda.records")
    assert (str(pipeda.within), pipeda.citation) == ("P24M", "PIPEDA s. 10.3")
    assert all(r.citation for r in BREACH_RULES)
