"""The Policy model: construction, cross-reference validation and its lookups."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pydantic
import pytest

import privacy_kit as pk
from privacy_kit import Duration, RecipientKind, Right, Source, Trigger
from strategies import minimal_policy_data

POLICY = pk.load_policy(pk.example_path())


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(pk.PolicyError) as info:
        pk.load_policy(data)
    return {p.location: p.message for p in info.value.problems}


def test_minimal_policy_and_defaults() -> None:
    policy = pk.load_policy(minimal_policy_data())
    assert policy.effective == dt.date(2024, 1, 1)
    assert policy.languages == ("en",)
    assert policy.title.get_text("en") == "Minimal notice"
    assert policy.taxonomy.base == "default"
    assert policy.recipients == ()
    assert policy.rights == ()
    assert policy.requests.identity is None  # absent: no promise about identity checks
    assert policy.requests.free_of_charge is None  # absent: nothing said about a fee
    assert policy.breach is not None
    assert policy.breach.notify == ()  # absent: those affected, no kind named
    assert not policy.changes.prior_versions_available  # absent: no promise
    assert policy.changes.notify_channels == ()
    assert policy.breach is not None
    assert policy.breach.channels == ()
    assert pk.ChangeKind.CATEGORY_ADDED in policy.changes.material
    rule = policy.rule("contact")
    assert rule.duration == Duration(years=1)
    assert rule.effective_duration == Duration(years=1)
    assert rule.action is pk.RetentionAction.DELETE


def test_built_directly_from_models() -> None:
    data = minimal_policy_data()
    policy = pk.Policy(**pk.load_policy(data).__dict__)
    assert policy == pk.load_policy(data)


def test_policy_is_frozen_and_replace_revalidates() -> None:
    with pytest.raises(pydantic.ValidationError):
        POLICY.version = "2"  # type: ignore[misc]
    newer = POLICY.replace(version="2025.1")
    assert newer.version == "2025.1"
    assert POLICY.version == "2024.1"
    with pytest.raises(pydantic.ValidationError, match="unknown jurisdiction 'mars'"):
        POLICY.replace(jurisdictions=["mars"])


def test_required_sections() -> None:
    data = minimal_policy_data()
    for key in (
        "title",
        "version",
        "effective",
        "controller",
        "jurisdictions",
        "subjects",
        "collection",
        "storage",
        "requests",
        "changes",
    ):
        data.pop(key)
    problems = _problems(data)
    assert set(problems) == {
        "title",
        "version",
        "effective",
        "controller",
        "jurisdictions",
        "subjects",
        "collection",
        "storage",
        "requests",
        "changes",
    }
    assert set(problems.values()) == {"required field is missing"}


def test_cross_references_name_each_location() -> None:
    data = minimal_policy_data()
    data["recipients"] = [
        {
            "key": "a",
            "kind": "authorities",
            "name": "A",
            "categories": ["qqq.xyzzy"],
            "purposes": ["nope"],
            "subjects": ["end_user"],
        },
    ]
    data["retention"][0]["exceptions"] = [
        {"kind": "legal_obligation", "reason": "tax", "duration": "P0D", "categories": ["zzz.zzz"]}
    ]
    data["breach"]["notify"] = ["visitor"]
    data["storage"]["locations"][0]["categories"] = ["user.contactt"]
    data["security"] = [
        {"key": "tls", "kind": "encryption_in_transit", "description": "TLS"},
        {"key": "tls", "kind": "encryption_at_rest", "description": "AES"},
    ]
    data["requests"]["channels"].append(dict(data["requests"]["channels"][0]))
    data["jurisdictions"] = ["gdpr", "gdpr"]
    data["subjects"].append({"kind": "customer", "description": "again"})
    problems = _problems(data)
    assert problems == {
        "jurisdictions[1]": "duplicate jurisdiction 'gdpr'",
        "subjects[1]": "duplicate subject kind 'customer'",
        "recipients[0].categories[0]": "unknown category 'qqq.xyzzy'",
        "recipients[0].purposes[0]": "unknown purpose 'nope'",
        "recipients[0].subjects[0]": "subject kind 'end_user' is not among the policy's subjects",
        "storage.locations[0].categories[0]": "unknown category 'user.contactt'; did you mean 'user.contact'?",
        "security[1]": "duplicate security measure 'tls'",
        "retention[0].exceptions[0].duration": "duration must be positive",
        "retention[0].exceptions[0].categories[0]": "unknown category 'zzz.zzz'",
        "requests.channels[1]": "duplicate request channel 'email'",
        "breach.notify[0]": "subject kind 'visitor' is not among the policy's subjects",
    }


def test_legal_minimum_equal_or_shorter_is_fine() -> None:
    data = minimal_policy_data()
    data["retention"][0]["legal_minimum"] = "P1Y"
    assert pk.load_policy(data).retention[0].legal_minimum == Duration(years=1)
    data["retention"][0]["legal_minimum"] = "P12M"
    pk.load_policy(data)
    data["retention"][0]["legal_minimum"] = "P13M"
    assert _problems(data) == {
        "retention[0].duration": "P1Y is shorter than the legal minimum P13M the rule declares"
    }


def test_override_range() -> None:
    data = minimal_policy_data()
    data["retention"][0]["override"] = {"minimum": "P1D", "maximum": "P1D", "trigger": "event"}
    override = pk.load_policy(data).retention[0].override
    assert override is not None
    assert override.trigger is Trigger.EVENT
    assert override.configurable_by == "customer"
    data["retention"][0]["override"]["configurable_by"] = "end_user"
    assert _problems(data) == {
        "retention[0].override.configurable_by": "subject kind 'end_user' is not among the policy's subjects"
    }


def test_custom_vocabulary() -> None:
    data = minimal_policy_data()
    data["taxonomy"] = {
        "categories": [
            {"key": "pets", "name": "Pets"},
            {"key": "pets.name", "name": "Pet name", "special": True},
        ],
        "purposes": [{"key": "pets.care", "name": "Pet care", "legal_basis": "contract"}],
        "subject_kinds": [{"key": "vet", "name": "Vet"}],
    }
    data["subjects"].append({"kind": "vet", "description": "Vets"})
    data["collection"].append(
        {"category": "pets.name", "source": "provided", "purposes": ["pets.care"]}
    )
    policy = pk.load_policy(data)
    assert policy.vocabulary.is_special("pets.name")
    assert policy.vocabulary.has_category("user.contact.email")  # the default base is kept
    data["taxonomy"]["base"] = "none"
    problems = _problems(data)
    assert problems["collection[0].category"] == "unknown category 'user.contact.email'"
    assert problems["subjects[0].kind"].startswith("unknown subject kind 'customer'")


def test_lookups_on_the_example() -> None:
    assert POLICY.is_collected("user.contact.email")
    assert POLICY.is_collected("user.device.ip_address")
    assert not POLICY.is_collected("user.health")
    assert POLICY.purposes_of("user.device.ip_address") == {"security.fraud"}
    assert [c.source for c in POLICY.collections_for("user.device.ip_address")] == [
        Source.AUTOMATIC
    ]
    assert {r.key for r in POLICY.recipients_of("user.device.ip_address")} == {
        "service_providers",
        "authorities",
    }
    assert POLICY.recipient("authorities").kind is RecipientKind.AUTHORITIES
    with pytest.raises(KeyError, match="unknown recipient 'authority'; did you mean 'authorities'"):
        POLICY.recipient("authority")
    assert POLICY.rule("booking_data").override is not None
    with pytest.raises(KeyError, match="did you mean 'booking_data'"):
        POLICY.rule("bookings")
    # the most specific rule wins: user.contact.phone is in booking_data, user.contact in account_data
    rule = POLICY.rule_for("user.contact.phone")
    assert rule is not None
    assert rule.key == "booking_data"
    rule = POLICY.rule_for("user.contact.email")
    assert rule is not None
    assert rule.key == "account_data"
    assert POLICY.rule_for("user.health") is None
    offer = POLICY.offers(Right.ACCESS, "gdpr")
    assert offer is not None
    assert offer.right is Right.ACCESS
    assert POLICY.offers("restriction") is None
    assert POLICY.channel("email").from_account_email
    with pytest.raises(KeyError, match="unknown request channel 'fax'"):
        POLICY.channel("fax")


def test_offers_respect_jurisdictions() -> None:
    data = minimal_policy_data()
    data["jurisdictions"] = ["gdpr", "ccpa"]
    data["rights"] = [
        {"right": "opt_out_of_sale", "jurisdictions": ["ccpa"], "description": "Do not sell"}
    ]
    policy = pk.load_policy(data)
    assert policy.offers("opt_out_of_sale", "ccpa") is not None
    assert policy.offers("opt_out_of_sale", "gdpr") is None
    assert policy.offers("opt_out_of_sale") is not None


def test_json_schema_names_every_section() -> None:
    schema = pk.Policy.model_json_schema()
    assert set(schema["required"]) >= {
        "title",
        "version",
        "controller",
        "collection",
    }
    assert not {"breach", "children", "not_collected", "signals", "products"} & set(
        schema["required"]
    )
    assert schema["additionalProperties"] is False
    assert "retention" in schema["properties"]


def test_the_policy_checks_jurisdictions_against_every_law_and_global() -> None:
    """Validation reads the keys from ``_jurisdiction_keys`` (the tables are made on use): they
    are the built-in laws' keys, in order, so every law is accepted and nothing else is."""
    from privacy_kit.model._jurisdiction_keys import GLOBAL, LAWS
    from privacy_kit.model._jurisdictions import GLOBAL as TABLES_GLOBAL

    assert tuple(j.key for j in pk.jurisdictions()) == LAWS
    assert GLOBAL == TABLES_GLOBAL == pk.get_jurisdiction(GLOBAL).key
    data = minimal_policy_data()
    assert pk.load_policy({**data, "jurisdictions": [*LAWS, GLOBAL]}).jurisdictions[-1] == GLOBAL
    with pytest.raises(pk.PolicyError, match=r"jurisdictions\[0\].*unknown jurisdiction 'gdrp'"):
        pk.load_policy({**data, "jurisdictions": ["gdrp"]})
