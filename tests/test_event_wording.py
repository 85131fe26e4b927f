"""A rule's ``event``: the policy names what starts an ``event`` clock, and notices say it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import privacy_kit as pk
from privacy_kit.notices import describe_retention, render_notice
from strategies import minimal_policy_data

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
GENERIC_EN = "the event it records ends"


def _policy(**rule: Any) -> dict[str, Any]:
    data = minimal_policy_data()
    data["retention"][0].update(rule)
    return data


def test_the_notice_says_the_policys_event_instead_of_the_generic_phrase() -> None:
    policy = pk.load_policy(EXAMPLES / "project_management" / "policy.yaml")
    md = render_notice(policy, lang="en")
    assert "after the item is moved to the trash" in md
    assert GENERIC_EN not in md


def test_without_event_wording_the_generic_phrase_is_used() -> None:
    policy = pk.load_policy(_policy(trigger="event"))
    assert describe_retention(policy.retention[0]) == f"for 1 year after {GENERIC_EN}"
    assert GENERIC_EN in render_notice(policy, lang="en")


def test_event_wording_in_each_language_and_its_fallback_marked() -> None:
    data = _policy(trigger="event", event={"en": "the order is delivered", "ar": "تسليم الطلب"})
    data["languages"] = ["en", "ar", "de"]
    policy = pk.load_policy(data)
    rule = policy.retention[0]
    assert describe_retention(rule) == "for 1 year after the order is delivered"
    assert "تسليم الطلب" in describe_retention(rule, "ar")
    assert "تسليم الطلب" in render_notice(policy, lang="ar")
    # German has no wording: the English one is used and marked as a fallback, once.
    german = render_notice(policy, lang="de")
    assert "the order is delivered" in german
    assert german.count("[en]") >= 1
    assert "[en[en]" not in german


def test_the_override_clock_uses_the_event_wording_too() -> None:
    policy = pk.load_policy(pk.example_path())
    md = render_notice(policy, lang="en")
    assert "between 1 day and 10 years after the meeting ends" in md
    assert GENERIC_EN not in md


def test_event_wording_on_a_rule_without_an_event_trigger_is_a_check_warning() -> None:
    policy = pk.load_policy(_policy(trigger="created", event="the order is delivered"))
    found = [f for f in pk.check(policy).findings if f.code == "retention-event-unused"]
    assert [(f.severity, f.location) for f in found] == [
        (pk.Severity.WARNING, "policy:retention[0].event")
    ]
    assert "counts from created" in found[0].message
    # With an event trigger (the rule's or its override's) nothing is said.
    assert not [
        f
        for f in pk.check(pk.load_policy(pk.example_path())).findings
        if f.code == "retention-event-unused"
    ]
