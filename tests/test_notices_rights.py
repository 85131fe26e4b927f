"""The notice, the records of processing and the DPV mapping say exactly what the policy declares
about rights, identity checks, automated decisions and the global promise: nothing more."""

from __future__ import annotations

from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.interop.dpv import dpv_iri
from strategies import minimal_policy_data


def build(**changes: Any) -> pk.Policy:
    data = minimal_policy_data()
    for key, value in changes.items():
        if key.startswith("requests_"):
            data["requests"][key.removeprefix("requests_")] = value
        else:
            data[key] = value
    return pk.load_policy(data)


def section(text: str, heading: str) -> str:
    part = text.split(f"## {heading}", 1)[1]
    return part.split("\n## ", 1)[0]


def test_identity_renders_the_conjunction_not_alternatives() -> None:
    policy = build(
        requests_identity={
            "min_pieces": 2,
            "required_pieces": ["email"],
            "agents": {"allowed": True, "proof": ["written_permission", "signed_permission"]},
        }
    )
    text = section(pk.render_notice(policy), "How to use your rights")
    assert "Before we act on a request we check that it comes from you." in text
    assert "at least 2 pieces of information we already hold about you" in text
    assert "They must include your e-mail address." in text
    assert "An authorised agent may make a request on your behalf." in text
    assert "all of the following: your permission in writing and your signed permission" in text
    assert " or " not in text.split("Checking that it is you", 1)[1]


def test_identity_not_declared_makes_no_promise() -> None:
    text = pk.render_notice(build())
    assert "Checking that it is you" not in text
    assert "signed in to your account" not in text


def test_identity_methods_stay_alternatives_and_pieces_without_minimum() -> None:
    policy = build(
        requests_identity={
            "methods": ["account_login", "verification_code"],
            "required_pieces": ["email", "postcode"],
            "min_pieces": 3,
            "agents": {"allowed": False, "description": "Only you can ask."},
        }
    )
    text = pk.render_notice(policy)
    assert "you are signed in to your account or you confirm a verification code" in text
    assert "at least 3 pieces of information" in text
    one = build(requests_identity={"min_pieces": 1})
    assert "at least one piece of information we already hold" in pk.render_notice(one)
    assert "They must include your e-mail address and postcode." in text
    assert "We do not accept requests made by an agent" in text
    assert "Only you can ask." in text
    only = build(requests_identity={"required_pieces": ["phone"]})
    assert "these pieces of information we already hold about you: your phone number." in (
        pk.render_notice(only)
    )


def test_global_and_the_policys_own_deadline() -> None:
    access = [{"right": "access", "description": "See your data."}]
    policy = build(jurisdictions=["gdpr", "global"], requests_respond_within="P30D", rights=access)
    text = pk.render_notice(policy)
    assert "This notice is written for:" in text
    assert "everyone, wherever they live" in text
    rights = section(text, "Your rights")
    assert "**everyone, wherever they live**" in rights
    assert "**Applies under**: everyone, wherever they live" in rights
    assert "We reply within 30 days." in rights
    assert "Where no law listed" not in text  # said once, under global
    no_deadline = pk.render_notice(build(jurisdictions=["global"], rights=access))
    assert "**everyone, wherever they live**" in no_deadline
    assert "We reply within" not in no_deadline
    own = pk.render_notice(build(requests_respond_within="P2W"))
    assert "Where no law listed in this notice sets a deadline, we reply within 2 weeks." in own


def test_rights_know_and_automated_decisions_render_in_both_languages() -> None:
    policy = build(
        jurisdictions=["ccpa", "gdpr"],
        rights=[
            {"right": "know", "jurisdictions": ["ccpa"], "description": "Ask us what we hold."},
            {"right": "automated_decisions", "description": "Ask a person to decide."},
        ],
        automated_decisions={
            "used": True,
            "description": "Sign-ups that look like spam are blocked automatically.",
            "logic": "A score built from the sign-up's address and speed.",
        },
    )
    text = pk.render_notice(policy)
    assert "Know what personal data we collect, use, share or sell, and why" in text
    assert "Not be subject to a decision based solely on automated processing" in text
    assert "Decisions made by automated means" in section(text, "Your rights")
    assert "We make decisions about you based solely on automated processing" in text
    assert "**The logic involved**: A score built" in text
    arabic = pk.render_notice(policy, lang="ar")
    assert "القرارات المتخذة بوسائل آلية" in arabic
    assert "معرفة البيانات الشخصية" in arabic
    records = pk.records_of_processing(policy)
    assert records.automated_decisions is not None
    assert records.automated_decisions.startswith("used: Sign-ups")
    assert "logic involved: A score" in records.automated_decisions
    assert '"automated_decisions": "used: ' in records.to_json()
    assert "Automated decisions: used" in str(records)


def test_automated_decisions_not_used_or_not_declared() -> None:
    policy = build(automated_decisions={"used": False, "description": "People decide."})
    text = pk.render_notice(policy)
    assert "We do not make decisions about you based solely on automated processing" in text
    assert "The logic involved" not in text
    assert pk.records_of_processing(policy).automated_decisions == "not used: People decide."
    silent = build()
    assert "automated" not in pk.render_notice(silent).casefold()
    assert pk.records_of_processing(silent).automated_decisions is None
    assert "Automated decisions: not declared by the policy" in str(
        pk.records_of_processing(silent)
    )


def test_automated_logic_without_use_is_refused() -> None:
    data = minimal_policy_data()
    data["automated_decisions"] = {"used": False, "description": "No.", "logic": "A score."}
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    assert [p.location for p in info.value.problems] == ["automated_decisions.logic"]


def test_dpv_maps_art_22_and_leaves_know_unmapped() -> None:
    assert dpv_iri("rights", pk.Right.AUTOMATED_DECISIONS) == (
        "https://w3id.org/dpv/legal/eu/gdpr#A22"
    )
    assert dpv_iri("rights", pk.Right.KNOW) is None  # a CCPA right: no GDPR article to name
