"""Generic output carries no word of the reference example's domain (scheduling).

A policy for an unrelated kind of service (a fitness app, built here) uses every default category,
purpose and subject kind outside the scheduling branch, every trigger and exception kind; its
notice (English and Arabic, Markdown and HTML) and its records of processing must read right
for it: no meetings, bookings, invitees, appointments, calendars or hosts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.notices import render_notice

EN_WORDS = re.compile(
    r"\b(meetings?|book(s|ed|ing|ings)?|invitees?|appointments?|calendars?|hosts?|"
    r"scheduling|schedule)\b|to build integrations|such as a meeting",
    re.IGNORECASE,
)
AR_WORDS = re.compile(r"اجتماع|حجز|الحجوزات|موعد|مواعيد|تقويم|جدولة|التكاملات التي نبنيها")


def _fitness_policy() -> pk.Policy:
    tax = pk.default_taxonomy()
    categories = [
        c.key
        for c in tax.categories
        if c.personal and not c.key.startswith("user.scheduling") and c.key.count(".") >= 1
    ]
    not_collected = ["user.genetic", "user.political_opinion", "user.trade_union"]
    collected = [k for k in categories if not any(k.startswith(n) for n in not_collected)]
    purposes = [p.key for p in tax.purposes if p.key != "service.scheduling"]
    kinds = [k.key for k in tax.subject_kinds]
    data: dict[str, Any] = {
        "title": {"en": "Stride privacy notice", "ar": "إشعار الخصوصية لتطبيق سترايد"},
        "version": "3",
        "effective": "2025-02-01",
        "languages": ["en", "ar"],
        "controller": {
            "name": "Stride Fitness",
            "contacts": [{"kind": "email", "value": "privacy@stride.test"}],
        },
        "jurisdictions": ["gdpr", "uk_gdpr", "ccpa"],
        "subjects": [
            {"kind": k, "description": {"en": "People who run with us", "ar": "من يركضون معنا"}}
            for k in kinds
        ],
        "collection": [
            {
                "category": key,
                "source": ("provided", "automatic", "third_party")[i % 3],
                "purposes": [purposes[i % len(purposes)], purposes[(i + 5) % len(purposes)]],
                "inherit": True,
            }
            for i, key in enumerate(collected)
        ],
        "not_collected": [{"categories": not_collected}],
        "recipients": [
            {
                "key": kind,
                "kind": kind,
                "name": {"en": "Partners", "ar": "الشركاء"},
                "categories": ["user.contact.email"],
                "purposes": ["service.provide"],
                "countries": ["US"],
            }
            for kind in [k.value for k in pk.RecipientKind]
        ],
        "storage": {
            "locations": [{"key": "eu", "provider": "Cloud", "country": "DE"}],
            "transfers": [{"to_country": "US", "mechanism": "scc"}],
        },
        "retention": [
            {
                "key": f"rule_{trigger.value}",
                "description": {"en": "Kept a while", "ar": "يُحفظ مدة"},
                "categories": [collected[i]],
                "trigger": trigger.value,
                "duration": "P1Y",
                "action": "anonymize" if i % 2 else "delete",
                "exceptions": [
                    {
                        "kind": kind.value,
                        "reason": {"en": "A reason", "ar": "سبب"},
                        "duration": "P2Y",
                    }
                    for kind in pk.ExceptionKind
                ]
                if i == 0
                else [],
            }
            for i, trigger in enumerate(pk.Trigger)
        ],
        "rights": [
            {"right": r.value, "description": {"en": "You can.", "ar": "يمكنك."}} for r in pk.Right
        ],
        "requests": {
            "channels": [
                {
                    "key": "app",
                    "kind": "self_service",
                    "description": {"en": "In the app", "ar": "في التطبيق"},
                }
            ]
        },
        "signals": [{"signal": "dnt", "honoured": False}, {"signal": "gpc", "honoured": True}],
        "breach": {
            "notify_within": "P3D",
            "channels": ["email"],
            "triggers": ["breach", "misconfiguration", "unauthorised_access"],
            "description": {"en": "We tell you quickly.", "ar": "نبلغك سريعًا."},
        },
        "children": {
            "minimum_age": 16,
            "description": {"en": "Adults and teens", "ar": "للبالغين"},
        },
        "communications": [
            {
                "key": "tips",
                "kind": "promotional",
                "purpose": "marketing.email",
                "description": {"en": "Training tips", "ar": "نصائح التدريب"},
            },
            {
                "key": "receipts",
                "kind": "transactional",
                "purpose": "communications.transactional",
                "description": {"en": "Receipts", "ar": "الإيصالات"},
            },
        ],
        "changes": {"description": {"en": "We post changes.", "ar": "ننشر التعديلات."}},
    }
    return pk.load_policy(data)


@pytest.fixture(scope="module")
def fitness() -> pk.Policy:
    return _fitness_policy()


def test_the_unrelated_policy_is_consistent(fitness: pk.Policy) -> None:
    assert pk.check(fitness).ok
    assert len(fitness.collection) > 40  # the whole default taxonomy but scheduling


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_the_notice_has_no_word_of_the_reference_domain(fitness: pk.Policy, fmt: str) -> None:
    en = render_notice(fitness, format=fmt, lang="en")  # type: ignore[arg-type]
    assert "Stride" in en
    assert EN_WORDS.findall(en) == []
    ar = render_notice(fitness, format=fmt, lang="ar")  # type: ignore[arg-type]
    assert "سترايد" in ar
    assert AR_WORDS.findall(ar) == []
    assert EN_WORDS.findall(ar) == []


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_records_of_processing_have_no_word_of_the_reference_domain(
    fitness: pk.Policy, lang: str
) -> None:
    records = pk.records_of_processing(fitness, lang=lang)
    text = str(records) + records.to_json()
    assert EN_WORDS.findall(text) == []
    assert AR_WORDS.findall(text) == []


def test_the_default_taxonomy_describes_generic_terms_generically() -> None:
    tax = pk.default_taxonomy()
    terms: list[pk.DataCategory | pk.Purpose | pk.SubjectKind] = [
        *tax.categories,
        *tax.purposes,
        *tax.subject_kinds,
    ]
    for term in terms:
        if term.key.startswith(("user.scheduling", "service.scheduling")):
            continue  # the one domain branch: used only by a policy that schedules
        texts = [term.name.get_text("en")]
        if term.description is not None:
            texts.append(term.description.get_text("en"))
        for text in texts:
            assert EN_WORDS.findall(text) == [], (term.key, text)


def test_the_reference_example_still_speaks_its_own_domain() -> None:
    # The check above is about generic output; the example's own text is its own.
    md = render_notice(pk.load_policy(pk.example_path()))
    assert EN_WORDS.search(md) is not None
