"""One translation of taxonomy names and of a rule's period, shared by every text that shows them.

Notices, records of processing, breach notices, exports and :func:`notice_translation_gaps` all
take a term's name from :func:`privacy_kit.model._translations.term_name` (the policy's own name,
else the default taxonomy's translation, else the fallback, marked); ``describe_retention`` and
the notice's retention lines both come from ``_Phrases.retention`` (the policy's ``event`` wording
marked where it is missing in the language asked for).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import privacy_kit as pk
from privacy_kit.lifecycle import Incident, draft_notice
from privacy_kit.model._translations import TermKind, notice_translation_gaps, term_name
from privacy_kit.notices import describe_retention, records_of_processing, render_notice
from strategies import minimal_policy_data

T = dt.datetime(2025, 3, 2, 10, tzinfo=dt.UTC)


def _policy_with_a_pager(languages: list[str]) -> pk.Policy:
    data = minimal_policy_data()
    data["languages"] = languages
    data["taxonomy"] = {"categories": [{"key": "user.contact.pager", "name": "Pager number"}]}
    data["collection"].append(
        {"category": "user.contact.pager", "source": "provided", "purposes": ["support"]}
    )
    return pk.load_policy(data)


def test_term_name_the_policys_then_the_table_then_the_fallback() -> None:
    tax = _policy_with_a_pager(["en", "ar"]).vocabulary
    assert term_name(tax, "categories", "user.contact.email", "ar") == ("البريد الإلكتروني", None)
    assert term_name(tax, "categories", "user.contact.email", "AR-eg")[1] is None
    assert term_name(tax, "categories", "user.contact.pager", "ar") == ("Pager number", "en")
    assert term_name(tax, "categories", "user.contact.pager", "en") == ("Pager number", None)
    assert term_name(tax, "categories", "no.such.category", "ar") == ("no.such.category", None)


def test_breach_notice_and_notice_show_the_same_names_marked_alike() -> None:
    policy = _policy_with_a_pager(["en", "ar"])
    incident = Incident(
        occurred_at=T,
        aware_at=T,
        categories=["user.contact.email", "user.contact.pager"],
        risk="high",
    )
    body = draft_notice(incident, pk.assess(incident, policy), policy, lang="ar").body
    assert "البيانات المعنية: البريد الإلكتروني، [en] Pager number." in body
    notice = render_notice(policy, lang="ar")
    assert "- **البريد الإلكتروني**" in notice
    assert "- [en] **Pager number**" in notice


def test_the_gaps_are_exactly_where_the_names_fall_back() -> None:
    policy = pk.load_policy({**minimal_policy_data(), "languages": ["en", "ar", "fr"]})
    tax = policy.vocabulary
    gaps = [(where, lang) for where, lang, _m in notice_translation_gaps(policy)]
    used: list[tuple[str, TermKind, str]] = [
        ("collection[0].category", "categories", "user.contact.email"),
        ("collection[0].purposes[0]", "purposes", "support"),
        ("retention[0].categories[0]", "categories", "user.contact"),
        ("subjects[0].kind", "subject_kinds", "customer"),
    ]
    expected = [("languages[2]", "fr")] + [
        (where, lang)
        for where, what, key in used
        for lang in policy.languages
        if term_name(tax, what, key, lang)[1] is not None
    ]
    assert sorted(gaps) == sorted(expected)
    assert ("collection[0].category", "fr") in gaps
    assert not [g for g in gaps if g[1] == "ar"]


def _event_rule(**extra: Any) -> pk.Policy:
    data = minimal_policy_data()
    data["languages"] = ["en", "ar", "de"]
    data["retention"][0].update(trigger="event", event={"en": "the order is delivered"}, **extra)
    return pk.load_policy(data)


def test_describe_retention_marks_the_event_wording_it_falls_back_on() -> None:
    rule = _event_rule().retention[0]
    assert describe_retention(rule) == "for 1 year after the order is delivered"
    # Arabic phrases, the English wording marked (before, it was joined in silently).
    assert describe_retention(rule, "ar") == "لمدة سنة واحدة بعد [en] the order is delivered"
    # No German phrase table: the whole period is English, marked once.
    assert describe_retention(rule, "de") == "[en] for 1 year after the order is delivered"


def test_the_notice_and_the_record_of_processing_say_the_period_as_describe_retention() -> None:
    policy = _event_rule()
    rule = policy.retention[0]
    for lang in ("en", "ar", "de"):
        said = describe_retention(rule, lang)
        # In German the whole line falls back, so its marker opens the line, before the label.
        assert said.removeprefix("[en] ") in render_notice(policy, lang=lang), lang
        limits = [
            line for a in records_of_processing(policy, lang=lang) for line in a.erasure_time_limits
        ]
        assert any(said.removeprefix("[en] ") in line for line in limits), (lang, limits)
