"""Requests from anywhere: the ``global`` jurisdiction, the policy's own deadline, no deadline
said (never invented), the governing law of a country, and the identity rules verify enforces."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

import privacy_kit as pk
from privacy_kit.audit._log import AuditLog
from privacy_kit.interop.opendsr import from_request, status_response
from privacy_kit.rights import IdentityCheck, identity_check
from strategies import minimal_policy_data

T = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def policy_with(**changes: Any) -> pk.Policy:
    data = minimal_policy_data()
    for key, value in changes.items():
        if key.startswith("requests_"):
            data["requests"][key.removeprefix("requests_")] = value
        else:
            data[key] = value
    return pk.load_policy(data)


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    return {p.location: p.message for p in info.value.problems}


def ask(policy: pk.Policy, country: str, **kw: Any) -> pk.DataSubjectRequest:
    return pk.DataSubjectRequest.for_policy(
        policy, "access", "customer", {"email": "a@example.com"}, country=country,
        received_at=T, **kw,
    )  # fmt: skip


# --- the global jurisdiction and countries --------------------------------------------------


def test_global_is_accepted_in_a_policy_and_unknown_keys_still_refused() -> None:
    assert policy_with(jurisdictions=["gdpr", "global"]).jurisdictions == ("gdpr", "global")
    data = minimal_policy_data()
    data["jurisdictions"] = ["gdpr", "globl"]
    assert "global" in problems(data)["jurisdictions[1]"]


def test_global_is_not_a_law() -> None:
    j = pk.get_jurisdiction("global")
    assert j.request_deadline is None
    assert "global" not in [law.key for law in pk.jurisdictions()]


@pytest.mark.parametrize(
    ("country", "law"),
    [("DE", "gdpr"), ("no", "gdpr"), ("GB", "uk_gdpr"), ("US-CA", "ccpa"), ("BR", "lgpd"),
     ("CA-ON", "pipeda"), ("US", None), ("JP", None), ("US-NY", None)],
)  # fmt: skip
def test_governing_jurisdiction(country: str, law: str | None) -> None:
    found = pk.governing_jurisdiction(country)
    assert (found.key if found else None) == law


@pytest.mark.parametrize("bad", ["Germany", "D", "", "US_CA"])
def test_governing_jurisdiction_refuses_non_codes(bad: str) -> None:
    with pytest.raises(pk.ConfigurationError, match="ISO 3166"):
        pk.governing_jurisdiction(bad)
    with pytest.raises(pk.WrongTypeError):
        pk.governing_jurisdiction(49)  # type: ignore[arg-type]


def test_listed_law_governs_the_requester() -> None:
    policy = policy_with(jurisdictions=["gdpr", "global"], requests_respond_within="P10D")
    r = ask(policy, "fr")
    assert (r.jurisdiction, r.country, r.citation) == ("gdpr", "FR", "GDPR Art. 12(3)")
    assert r.due_at.date() == dt.date(2026, 4, 2)  # the law's month, not the policy's 10 days
    assert r.respond_within is None
    assert "and the policy lists it" in (r.jurisdiction_note or "")


def test_unlisted_country_uses_the_policys_own_deadline() -> None:
    policy = policy_with(jurisdictions=["gdpr", "global"], requests_respond_within="P30D")
    for country in ("JP", "BR"):  # BR: governed by lgpd, which the policy does not list
        r = ask(policy, country)
        assert r.jurisdiction == "global"
        assert r.has_deadline
        assert r.due_at.date() == dt.date(2026, 4, 1)
        assert r.citation == "the policy's own promise (requests.respond_within)"
        assert not r.is_overdue(dt.datetime(2026, 4, 1, 23, tzinfo=dt.UTC))
        assert r.is_overdue(dt.datetime(2026, 4, 2, 1, tzinfo=dt.UTC))
    assert "lgpd governs a requester in BR, but the policy does not list it" in (
        ask(policy, "BR").jurisdiction_note or ""
    )


def test_no_deadline_is_said_never_invented() -> None:
    log = AuditLog.memory()
    policy = policy_with(jurisdictions=["gdpr", "global"])
    r = ask(policy, "JP", audit=log)
    assert r.jurisdiction == "global"
    assert not r.has_deadline
    assert r.deadline is None
    assert r.deadline_basis.startswith("no deadline:")
    assert not r.is_overdue(T + dt.timedelta(days=3650))
    with pytest.raises(pk.RequestError, match="no deadline"):
        _ = r.due_at
    with pytest.raises(pk.RequestError, match="no deadline"):
        r.time_left(T)
    with pytest.raises(pk.RequestError, match="nothing to extend"):
        r.verify(now=T).extend("complex", now=T)
    assert r.extension_notice_due_at is None
    entry = list(log.entries())[-1]
    assert entry.action == "request.received"
    assert entry.details["due_at"] is None
    assert entry.details["deadline_basis"].startswith("no deadline:")
    assert entry.details["country"] == "JP"


def test_policy_without_global_still_records_the_request_and_says_so() -> None:
    r = ask(policy_with(), "JP")
    assert r.jurisdiction == "global"
    assert not r.has_deadline
    assert "does not list 'global' either" in (r.jurisdiction_note or "")


def test_global_request_round_trips_through_json() -> None:
    policy = policy_with(jurisdictions=["global"], requests_respond_within="P2W")
    r = ask(policy, "AU").verify(now=T)
    back = pk.DataSubjectRequest.from_json(r.to_json())
    assert back == r
    assert back.due_at == r.due_at


def test_respond_within_only_for_global_requests() -> None:
    with pytest.raises(pk.RequestError, match="law's deadline applies"):
        pk.DataSubjectRequest.receive(
            "access", "customer", {"email": "a@example.com"}, jurisdiction="gdpr",
            received_at=T, respond_within=pk.Duration(days=10),
        )  # fmt: skip
    data = minimal_policy_data()
    data["requests"]["respond_within"] = "P0D"
    assert problems(data)["requests.respond_within"] == "duration must be positive"


def test_opendsr_refuses_what_it_cannot_say() -> None:
    policy = policy_with(jurisdictions=["gdpr", "global"])
    with pytest.raises(pk.RequestError, match="no regulation for 'global'"):
        from_request(ask(policy, "JP"))
    with pytest.raises(pk.RequestError, match="no deadline"):
        status_response(ask(policy, "JP"), controller_id="c1")
    for kind, hint in (("know", "record it as 'access'"), ("automated_decisions", "")):
        r = pk.DataSubjectRequest.receive(
            kind, "customer", {"email": "a@example.com"}, jurisdiction="ccpa", received_at=T
        )
        with pytest.raises(pk.RequestError, match=f"OpenDSR has no '{kind}' request.*{hint}"):
            from_request(r)


# --- identity rules ---------------------------------------------------------------------------

RULES: dict[str, Any] = {
    "methods": ["account_email"],
    "min_pieces": 2,
    "required_pieces": ["email"],
    "agents": {"allowed": True, "proof": ["written_permission", "signed_permission"]},
}


def test_verify_refuses_fewer_pieces_or_a_missing_required_one() -> None:
    policy = policy_with(requests_identity=RULES)
    r = ask(policy, "DE")
    with pytest.raises(pk.RequestError, match=r"1 piece\(s\).*\(email\), at least 2 required"):
        r.verify(now=T, pieces=["email"])
    with pytest.raises(pk.RequestError, match="required piece\\(s\\) not checked: email"):
        r.verify(now=T, pieces=["phone", "postcode"])
    with pytest.raises(pk.RequestError, match="0 piece"):
        r.verify(now=T)
    # a plain transition cannot step around the rules
    with pytest.raises(pk.RequestError, match="at least 2 required"):
        r.transition("verified", now=T)
    assert r.status is pk.RequestStatus.RECEIVED


def test_verify_records_what_was_checked() -> None:
    log = AuditLog.memory()
    r = ask(policy_with(requests_identity=RULES), "DE")
    done = r.verify(now=T, pieces=["email", "phone", "email"], audit=log)
    assert done.status is pk.RequestStatus.VERIFIED
    assert done.identity_check == IdentityCheck(pieces=("email", "phone"))
    details = list(log.entries())[-1].details
    assert details["pieces_checked"] == ["email", "phone"]
    assert details["proofs_checked"] == []
    assert details["by_agent"] is False
    assert details["rules_declared"] is True
    again = pk.DataSubjectRequest.from_json(done.to_json())
    assert again.identity_check == done.identity_check
    assert again.identity_rules == done.identity_rules


def test_agent_needs_every_declared_proof() -> None:
    r = ask(policy_with(requests_identity=RULES), "DE", by_agent=True)
    pieces = ["email", "phone"]
    with pytest.raises(pk.RequestError, match="agent has not shown: signed_permission"):
        r.verify(now=T, pieces=pieces, proofs=["written_permission"])
    with pytest.raises(pk.RequestError, match="unknown agent proof"):
        r.verify(now=T, pieces=pieces, proofs=["a_note"])
    done = r.verify(now=T, pieces=pieces, proofs=["signed_permission", "written_permission"])
    assert done.identity_check is not None
    assert done.identity_check.by_agent
    assert [p.value for p in done.identity_check.proofs] == [
        "signed_permission",
        "written_permission",
    ]


def test_agents_not_allowed_or_not_declared_are_refused() -> None:
    closed = {**RULES, "agents": {"allowed": False}}
    r = ask(policy_with(requests_identity=closed), "DE", by_agent=True)
    with pytest.raises(pk.RequestError, match="does not allow agents"):
        r.verify(now=T, pieces=["email", "phone"])
    silent = {k: v for k, v in RULES.items() if k != "agents"}
    r = ask(policy_with(requests_identity=silent), "DE", by_agent=True)
    with pytest.raises(pk.RequestError, match="declares no agent rules"):
        r.verify(now=T, pieces=["email", "phone"])
    r = ask(policy_with(requests_identity=RULES), "DE")
    with pytest.raises(pk.RequestError, match="not made by an agent"):
        r.verify(now=T, pieces=["email", "phone"], proofs=["written_permission"])


def test_without_rules_verify_still_records_what_was_checked() -> None:
    r = ask(policy_with(), "DE")
    assert r.identity_rules is None
    done = r.verify(now=T, pieces=["email"])
    assert done.identity_check == IdentityCheck(pieces=("email",), rules_declared=False)


def test_identity_check_validates_its_arguments() -> None:
    rules = pk.IdentityVerification(min_pieces=1)
    with pytest.raises(pk.WrongTypeError):
        identity_check(rules, pieces="email")
    with pytest.raises(pk.WrongTypeError):
        identity_check(rules, pieces=["email", ""])
    assert identity_check(rules, pieces=[" email "]).pieces == ("email",)


@pytest.mark.parametrize(
    ("identity", "location", "words"),
    [
        ({"min_pieces": 1, "required_pieces": ["email", "phone"]}, "min_pieces", "fewer than"),
        ({"required_pieces": ["email", "email"]}, "required_pieces[1]", "duplicate"),
        ({"required": False, "min_pieces": 2}, "required", "not required"),
        ({"agents": {"allowed": False, "proof": ["power_of_attorney"]}}, "agents.proof", "not"),
    ],
)
def test_contradictory_identity_rules_are_refused_where_they_are(
    identity: dict[str, Any], location: str, words: str
) -> None:
    data = minimal_policy_data()
    data["requests"]["identity"] = identity
    assert words in problems(data)[f"requests.identity.{location}"]


def test_identity_rule_fields_are_typed() -> None:
    data = minimal_policy_data()
    data["requests"]["identity"] = {"min_pieces": 0, "agents": {"allowed": True, "proof": ["x"]}}
    found = problems(data)
    assert "requests.identity.min_pieces" in found
    assert "requests.identity.agents.proof[0]" in found


def test_audit_entries_are_json() -> None:
    log = AuditLog.memory()
    ask(policy_with(requests_identity=RULES), "DE", audit=log).verify(
        now=T, pieces=["email", "phone"], audit=log
    )
    for entry in log.entries():
        orjson.dumps(entry.details)
