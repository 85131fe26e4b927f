"""The reference example expresses each of the 18 sections of the reference policy (POLICY_BRIEF)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from pydantic import BaseModel

import privacy_kit as pk
from privacy_kit import (
    CommunicationKind,
    ExceptionKind,
    LegalBasis,
    RecipientKind,
    RefusalReason,
    Right,
    Source,
    Trigger,
)
from privacy_kit.cli._main import main

POLICY = pk.load_policy(pk.example_path())
DATAMAP = pk.load_datamap(pk.example_path("datamap.yaml"), policy=POLICY)


def _collected(category: str, source: Source) -> pk.Collection:
    matches = [c for c in POLICY.collection if c.category == category]
    assert matches, f"{category} is not collected"
    assert matches[0].source is source
    return matches[0]


def test_1_philosophy_gdpr_ccpa_access_erasure_minimisation() -> None:
    assert {"gdpr", "ccpa"} <= set(POLICY.jurisdictions)
    assert POLICY.summary is not None
    assert "GDPR" in POLICY.summary.get_text("en")
    assert len(POLICY.principles) == 2
    assert "belongs to you" in POLICY.principles[0].get_text("en")
    assert "liability" in POLICY.principles[1].get_text("en")
    assert POLICY.offers(Right.ACCESS) is not None
    assert POLICY.offers(Right.ERASURE) is not None
    assert all(c.purposes for c in POLICY.collection)  # minimisation: every category has a purpose


def test_2_who_customers_and_end_users_and_two_party_bookings() -> None:
    kinds = [s.kind for s in POLICY.subjects]
    assert kinds[:2] == ["customer", "end_user"]
    assert "registered" in POLICY.subjects[0].description.get_text("en")
    assert "book" in POLICY.subjects[1].description.get_text("en")
    bookings = DATAMAP.record_type("bookings")
    assert bookings.roles() == ("host", "invitee")
    assert bookings.link("host").kind == "customer"
    assert bookings.link("host").owner
    assert bookings.link("invitee").kind == "end_user"


@pytest.mark.parametrize(
    "category",
    [
        "user.account.name",
        "user.contact.email",
        "user.account.settings",
        "user.content.organization",
        "user.content.services",
        "user.support.conversation",
        "user.financial.payment_card",
    ],
)
def test_3_data_provided_by_you(category: str) -> None:
    _collected(category, Source.PROVIDED)


def test_3_payment_card_is_for_premium_plans_only() -> None:
    card = _collected("user.financial.payment_card", Source.PROVIDED)
    assert not card.required
    assert card.purposes == ("billing",)
    assert "paid plan" in (card.description or {}).get("en", "")


@pytest.mark.parametrize(
    ("category", "purpose"),
    [
        ("user.usage.features", "product.development"),
        ("user.device.ip_address", "security.fraud"),
        ("user.device.type", "security.troubleshooting"),
        ("user.device.browser", "security.troubleshooting"),
        ("user.device.cookie_id", "service.provide"),
    ],
)
def test_4_data_collected_automatically_each_with_its_purpose(category: str, purpose: str) -> None:
    assert purpose in _collected(category, Source.AUTOMATIC).purposes


def test_4_ip_address_is_only_for_abuse_protection() -> None:
    assert POLICY.purposes_of("user.device.ip_address") == {"security.fraud"}


def test_5_purposes_with_legal_bases() -> None:
    used = {p for c in POLICY.collection for p in c.purposes}
    tax = POLICY.vocabulary
    expected = {
        "service.provide": LegalBasis.CONTRACT,
        "service.personalize": LegalBasis.LEGITIMATE_INTERESTS,
        "product.research": LegalBasis.LEGITIMATE_INTERESTS,
        "support": LegalBasis.CONTRACT,
        "security.fraud": LegalBasis.LEGITIMATE_INTERESTS,
        "security.verification": LegalBasis.LEGITIMATE_INTERESTS,
    }
    for purpose, basis in expected.items():
        assert purpose in used
        assert tax.purpose(purpose).legal_basis is basis
    # product research: which conferencing providers customers use
    assert "product.research" in POLICY.purposes_of("user.scheduling.conferencing")


def test_6_recipients_of_each_kind() -> None:
    kinds = {r.kind for r in POLICY.recipients}
    assert kinds == {
        RecipientKind.OTHER_USERS,
        RecipientKind.ACCOUNT_ADMINS,
        RecipientKind.SERVICE_PROVIDERS,
        RecipientKind.INTEGRATION_PARTNERS,
        RecipientKind.AUTHORITIES,
    }
    admins = POLICY.recipient("account_admins")
    assert set(admins.categories) == {"user.account.name", "user.contact.email"}
    assert "service.scheduling" in POLICY.recipient("other_users").purposes
    providers = POLICY.recipient("service_providers")
    assert len(providers.examples) == 4
    assert providers.conditions is not None
    assert "instructions" in providers.conditions.get_text("en")
    assert "minimum" in (POLICY.recipient("integration_partners").conditions or {}).get("en", "")
    authorities = POLICY.recipient("authorities")
    assert not authorities.is_recipient_under_gdpr  # GDPR Art. 4(9)
    assert "exceptional" in (authorities.conditions or {}).get("en", "")


def test_7_storage_and_security() -> None:
    (location,) = POLICY.storage.locations
    assert (location.provider, location.country) == ("Amazon Web Services", "US")
    assert POLICY.storage.transfers[0].to_country == "US"
    measures = {m.kind: m for m in POLICY.security}
    assert measures["encryption_in_transit"].standard == "TLS"
    assert "encrypted at rest" in measures["encryption_at_rest"].description.get_text("en")
    assert measures["payment_processor"].standard == "PCI-DSS"
    assert "few staff" in measures["access_control"].description.get_text("en")
    assert POLICY.security_disclaimer is not None
    assert "No system is completely secure" in POLICY.security_disclaimer.get_text("en")


def test_8_four_retention_rules() -> None:
    rules = {r.key: r for r in POLICY.retention}
    assert list(rules) == ["account_data", "content", "booking_data", "payment_data"]
    assert all(r.trigger is Trigger.ACCOUNT_CLOSED for r in rules.values())  # life of the account
    account = rules["account_data"]
    kinds = {e.kind for e in account.exceptions}
    assert kinds == {ExceptionKind.LEGAL_OBLIGATION, ExceptionKind.LEGAL_CLAIMS}
    legal = next(e for e in account.exceptions if e.kind is ExceptionKind.LEGAL_OBLIGATION)
    assert legal.duration == pk.Duration(years=6)
    assert legal.citation == "GDPR Art. 17(3)(b)"
    assert rules["content"].exceptions[0].kind is ExceptionKind.SHARED_CONTENT
    booking = rules["booking_data"]
    assert booking.override is not None
    assert booking.override.trigger is Trigger.EVENT
    assert booking.override.configurable_by == "customer"
    assert booking.override.minimum < booking.override.maximum
    assert POLICY.rule_for("user.financial.payment_card") is rules["payment_data"]
    assert POLICY.rule_for("user.scheduling.booking") is booking


def test_9_breach_within_72_hours_of_awareness_including_misconfiguration() -> None:
    breach = POLICY.breach
    assert breach.notify_within == pk.Duration(hours=72)
    assert breach.from_awareness
    assert set(breach.triggers) == {"breach", "misconfiguration"}
    assert breach.notify == ("customer",)


def test_10_rights_with_refusal_reasons_and_complaint() -> None:
    access = POLICY.offers(Right.ACCESS)
    assert access is not None
    assert access.format is not None
    assert "JSON" in access.format.get_text("en")
    assert "JSON" in access.format.get_text("ar")
    assert access.format.has("ar")
    assert {RefusalReason.REVEALS_OTHER_USER_DATA, RefusalReason.LEGAL_PROHIBITION} <= set(
        access.refusal_reasons
    )
    assert POLICY.offers(Right.OBJECTION) is not None
    erasure = POLICY.offers(Right.ERASURE)
    assert erasure is not None
    assert RefusalReason.REVEALS_OTHER_USER_DATA in erasure.refusal_reasons
    assert RefusalReason.LEGAL_PROHIBITION in erasure.refusal_reasons
    portability = POLICY.offers(Right.PORTABILITY)
    assert portability is not None
    assert RefusalReason.HELD_BY_THIRD_PARTY in portability.refusal_reasons
    assert POLICY.offers(Right.COMPLAINT) is not None
    assert POLICY.complaints is not None


def test_11_request_channels_and_identity_verification() -> None:
    requests = POLICY.requests
    assert requests.automated_tools
    channels = {c.key: c for c in requests.channels}
    assert channels["self_service"].kind == "self_service"
    assert channels["support"].requires_login
    assert channels["email"].from_account_email
    assert requests.identity.required
    assert requests.identity.extra_proof_may_be_required
    assert {"account_login", "account_email"} <= set(requests.identity.methods)


def test_12_rectification_in_the_service() -> None:
    offer = POLICY.offers(Right.RECTIFICATION)
    assert offer is not None
    assert "self_service" in offer.channels
    assert "correct" in offer.description.get_text("en")


def test_13_erasure_keeps_what_the_law_requires() -> None:
    erasure = POLICY.offers(Right.ERASURE)
    assert erasure is not None
    assert RefusalReason.LEGAL_OBLIGATION in erasure.refusal_reasons
    assert "record keeping" in erasure.description.get_text("en")
    legal = POLICY.rule("account_data").exceptions[0]
    assert legal.kind is ExceptionKind.LEGAL_OBLIGATION
    assert "user.account.name" in legal.categories


def test_14_promotional_with_unsubscribe_and_transactional() -> None:
    comms = {c.key: c for c in POLICY.communications}
    promotional = [c for c in comms.values() if c.kind is CommunicationKind.PROMOTIONAL]
    transactional = [c for c in comms.values() if c.kind is CommunicationKind.TRANSACTIONAL]
    assert promotional
    assert all(c.unsubscribe_link for c in promotional)
    assert all(POLICY.vocabulary.purpose(c.purpose).direct_marketing for c in promotional)
    assert len(transactional) >= 2
    assert POLICY.offers(Right.OPT_OUT) is not None


def test_15_portability() -> None:
    offer = POLICY.offers(Right.PORTABILITY)
    assert offer is not None
    assert "electronic file" in offer.description.get_text("en")


def test_16_minimum_age_16() -> None:
    assert POLICY.children.minimum_age == 16
    assert not POLICY.children.knowingly_collects


def test_17_changes_notified_by_email_and_in_service_prior_versions_kept() -> None:
    changes = POLICY.changes
    assert set(changes.notify_channels) == {"email", "in_service"}
    assert changes.prior_versions_available
    assert changes.material  # which changes are material is declared
    assert changes.posted_at is not None
    assert POLICY.version
    assert POLICY.effective


def test_18_contact_support_tool_and_privacy_email() -> None:
    contacts = {c.kind: c.value for c in POLICY.controller.contacts}
    assert "support_tool" in contacts
    assert contacts["email"] == "privacy@appointlet.com"


def _texts(value: Any, path: str = "") -> list[tuple[str, pk.LocalizedText]]:
    if isinstance(value, pk.LocalizedText):
        return [(path, value)]
    if isinstance(value, tuple):
        return [t for i, v in enumerate(value) for t in _texts(v, f"{path}[{i}]")]
    if isinstance(value, BaseModel):
        return [
            t for n in type(value).model_fields for t in _texts(getattr(value, n), f"{path}.{n}")
        ]
    return []


def test_every_text_has_english_and_arabic() -> None:
    texts = _texts(POLICY)
    assert len(texts) > 70
    for path, text in texts:
        assert text.languages() == ("ar", "en"), path
        assert all(v.strip() for v in text.values()), path
    assert POLICY.languages == ("en", "ar")


def test_validate_on_the_example_exits_0_without_an_error_finding(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = io.StringIO()
    code = main(
        ["validate", str(pk.example_path()), "--datamap", str(pk.example_path("datamap.yaml"))], out
    )
    assert code == 0
    assert "Check: no findings." in out.getvalue()
    assert pk.check(POLICY, DATAMAP).errors == ()
