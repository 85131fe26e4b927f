"""Language tags (case-insensitive, BCP 47 prefixes) and visible fallbacks in notices and the ROPA."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit._types import LocalizedText, language_candidates, normalize_language
from privacy_kit.cli import main


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


def _policy_with(policy: pk.Policy, change: Any) -> pk.Policy:
    data = policy.model_dump(mode="json")
    change(data)
    return pk.Policy.model_validate(data)


def _cli(*args: str) -> str:
    out = io.StringIO()
    assert main(list(args), out=out) == 0
    return out.getvalue()


@pytest.mark.parametrize(
    ("tag", "normal"),
    [
        ("AR", "ar"),
        ("ar-eg", "ar-EG"),
        ("pt_br", "pt-BR"),
        ("zh-HANT-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("en-US-x-Private", "en-US-x-private"),
    ],
)
def test_tags_are_normalised(tag: str, normal: str) -> None:
    assert normalize_language(tag) == normal


def test_bad_tags_are_refused() -> None:
    for bad in ("", "e", "english!", "en--us", "123"):
        with pytest.raises(ValueError, match="invalid language tag"):
            normalize_language(bad)
    with pytest.raises(pk.ConfigurationError, match="invalid language tag"):
        pk.render_notice(pk.load_policy(pk.example_path()), lang="ar eg")


def test_localized_text_matches_case_insensitively_and_by_prefix() -> None:
    text = LocalizedText({"en": "Hello", "ar": "مرحبا", "pt-BR": "Olá"})
    assert language_candidates("AR-eg") == ("ar-EG", "ar")
    assert text.get_text("AR") == "مرحبا"
    assert text.get_text("ar-EG") == "مرحبا"  # falls back to the language
    assert text.get_text("PT-br") == "Olá"
    assert text.get_text("pt") == "Olá"  # a regional text serves its language
    assert text.get_text("fr") == "Hello"  # the fallback, English
    assert text.has("Ar-Sa")
    assert not text.has("fr")
    assert not text.has("not a tag")
    assert LocalizedText({"ar": "x"}).get_text("de") == "x"  # any language, never ""


def test_upper_case_arabic_notice_has_no_false_fallbacks() -> None:
    lower = _cli("render", "--lang", "ar")
    for tag in ("AR", "ar-EG", "Ar-eg"):
        assert "[en]" not in _cli("render", "--lang", tag)
    assert _cli("render", "--lang", "AR") == lower
    page = _cli("render", "--lang", "AR-eg", "--format", "html")
    assert '<html lang="ar-EG" dir="rtl">' in page


def test_fallback_marker_once_per_passage() -> None:
    md = _cli("render", "--lang", "de")
    assert "[en[en]" not in md
    assert "> [en] Parts marked \\[en\\] are not yet available in this language" in md
    assert "[en] Version 2024.1, effective 2024-05-01." in md
    for line in md.splitlines():
        # never a second marker right after a stretch of digits and punctuation
        assert not re.search(r"[\d.,)] ?\[en\] [,.;:)]", line), line
    html = _cli("render", "--lang", "de", "--format", "html")
    assert "[en]</span> Parts marked [en] are not yet" in html


def test_ropa_marks_fallback_names(policy: pk.Policy) -> None:
    def drop_arabic_name(data: dict[str, Any]) -> None:
        data["recipients"][0]["name"] = {"en": "Our <vendors>"}

    changed = _policy_with(policy, drop_arabic_name)
    records = pk.records_of_processing(changed, lang="AR")
    names = [r for a in records for r in a.recipients]
    assert any(r.startswith("[en] Our <vendors> (") for r in names)
    assert sum(r.startswith("[en]") for r in names) == sum("Our <vendors>" in r for r in names)
    assert not any(n.startswith("[en]") for a in records for n in a.data_categories)
    german = pk.records_of_processing(changed, lang="de")
    activity = german.activities[0]
    assert activity.purpose_name.startswith("[en] ")
    assert all(n.startswith("[en] ") for n in activity.data_categories)
    assert activity.legal_basis.startswith("[en] ")
    english = pk.records_of_processing(changed, lang="EN")
    assert "[en]" not in english.to_json()


def test_contacts_can_be_translated(policy: pk.Policy) -> None:
    def add_label(data: dict[str, Any]) -> None:
        contact = data["controller"]["contacts"][1]
        assert contact["kind"] == "email"
        contact["label"] = {"en": "Privacy team", "ar": "فريق الخصوصية"}

    changed = _policy_with(policy, add_label)
    md = pk.render_notice(changed, lang="ar")
    assert "[فريق الخصوصية](<mailto:privacy@appointlet.com>)" in md
    assert "[Privacy team](<mailto:privacy@appointlet.com>)" in pk.render_notice(changed)
    german = pk.render_notice(changed, lang="de")
    assert "- [en] **E-mail**: [Privacy team](<mailto:privacy@appointlet.com>)" in german
    ropa = pk.records_of_processing(changed, lang="ar")
    assert "البريد الإلكتروني: فريق الخصوصية (privacy@appointlet.com)" in ropa.controller_contacts
    unlabelled = pk.records_of_processing(policy, lang="ar")
    assert "البريد الإلكتروني: privacy@appointlet.com" in unlabelled.controller_contacts
    assert "email: privacy@appointlet.com" in pk.records_of_processing(policy).controller_contacts
