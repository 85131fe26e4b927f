"""Absent means no promise: defaults never put a statement into a notice the policy did not make."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.strategies import minimal_policy_data

import privacy_kit as pk
from privacy_kit.notices import render_notice


def _policy(**changes: Any) -> pk.Policy:
    data = minimal_policy_data()
    data.update(changes)
    return pk.load_policy(data)


def test_absent_fields_are_none_or_empty() -> None:
    policy = _policy(children={"minimum_age": 16, "description": "Not for children."})
    assert policy.requests.free_of_charge is None
    assert policy.breach is not None
    assert policy.breach.notify == ()
    assert policy.breach.from_awareness is None
    assert policy.children is not None
    assert policy.children.knowingly_collects is None


def test_a_notice_says_nothing_the_policy_did_not() -> None:
    policy = _policy(children={"minimum_age": 16, "description": "Not for children."})
    md = render_notice(policy)
    assert "free of charge" not in md
    assert "fee" not in md
    assert "those affected (" not in md  # whom: not said, so not named
    assert "of becoming aware" not in md
    assert "of it happening" not in md
    assert "knowingly" not in md
    assert "we notify those affected within" in md
    ar = render_notice(_policy(languages=["en", "ar"]), lang="ar")
    assert "المتأثرين (" not in ar
    assert "من علمنا بذلك" not in ar


def test_what_the_policy_says_is_rendered() -> None:
    data = minimal_policy_data()
    data["requests"]["free_of_charge"] = False
    data["breach"].update(notify=["customer"], from_awareness=False)
    data["children"] = {"minimum_age": 16, "description": "x", "knowingly_collects": False}
    md = render_notice(pk.load_policy(data))
    assert "We may charge a reasonable fee for a request." in md
    assert "those affected (" in md
    assert "of it happening" in md
    assert "We do not knowingly collect data about children below this age." in md
    data["requests"]["free_of_charge"] = True
    data["breach"]["from_awareness"] = True
    md = render_notice(pk.load_policy(data))
    assert "Making a request is free of charge." in md
    assert "of becoming aware of it" in md


def test_a_breach_promise_naming_no_kind_covers_every_kind() -> None:
    policy = _policy()
    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    incident = pk.Incident(
        occurred_at=at,
        aware_at=at + dt.timedelta(hours=5),
        categories=["user.contact.email"],
        risk="low",
    )
    duties = [d for d in pk.assess(incident, policy).duties if d.regime == "policy"]
    assert {d.to for d in duties} == {s.kind for s in policy.subjects}
    assert all("does not say when the time starts" in d.timing for d in duties)
    assert all(d.deadline == at + dt.timedelta(hours=5 + 72) for d in duties)
