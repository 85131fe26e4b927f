"""The export bundle in the language asked for: ``summary.html``'s fixed phrases from the phrase
table, ``lang`` and ``dir`` on the page, the policy's words that are missing in the language
marked ``[en]`` on the page and listed in the manifest, and a language without a phrase table
falling back to English and saying so (page, manifest, result, audit)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from test_export import ANN, NOW, make_adapter, policy_and_datamap

ENGLISH_HEADINGS = ("Why we use it", "How long we keep it", "Kinds of data")


def _engine(policy: pk.Policy | None = None) -> pk.Engine:
    default, datamap = policy_and_datamap()
    return pk.Engine(
        policy or default,
        datamap,
        make_adapter("memory"),
        secret=b"k" * 32,
        audit=pk.AuditLog.memory(),
    )


def _bundle(engine: pk.Engine, tmp_path: Path, lang: str) -> tuple[Any, dict[str, Any], str]:
    out = tmp_path / f"ann-{lang}.zip"
    result = engine.export(ANN, out, now=NOW, lang=lang)
    with zipfile.ZipFile(out) as z:
        return result, json.loads(z.read("manifest.json")), z.read("summary.html").decode()


def _without_arabic_booking_rule() -> pk.Policy:
    """The example, its bookings' rule described in English only."""
    data = pk.load_policy(pk.example_path()).model_dump(mode="json", exclude_none=True)
    for rule in data["retention"]:
        if rule["key"] == "booking_data":
            rule["description"] = {"en": rule["description"]["en"]}
    return pk.Policy.model_validate(data)


def test_arabic_summary_is_arabic_right_to_left_with_english_text_marked(tmp_path: Path) -> None:
    policy = _without_arabic_booking_rule()
    result, manifest, page = _bundle(_engine(policy), tmp_path, "AR")
    assert page.startswith('<!doctype html><html lang="ar" dir="rtl">')
    assert "<h1>بياناتك لدى " in page
    assert "<th>مدة الاحتفاظ بها</th>" in page
    for english in (*ENGLISH_HEADINGS, "Your data held by", "record(s) in all"):
        assert english not in page
    # Category and purpose names in Arabic (the default taxonomy's translation).
    names = [c["name"] for c in manifest["record_types"][0]["categories"]]
    assert "البريد الإلكتروني" in names
    assert all(name in page for name in names)
    # The rule's description has no Arabic: shown in English, marked, and listed as such.
    english = policy.rule("booking_data").description.get_text("en")
    marked = f'<span class="fallback" lang="en" dir="ltr">[en] {english}</span>'
    assert marked in page
    assert {"at": "record_types[0].retention.description", "lang": "en"} in manifest["untranslated"]
    assert manifest["lang"] == "ar"
    assert manifest["notes"] == []
    assert result.notes == ()
    # The note that explains the marks, in Arabic.
    assert "الأجزاء المعلَّمة بـ[en]" in page


def test_english_summary_has_no_marks_and_no_notes(tmp_path: Path) -> None:
    result, manifest, page = _bundle(_engine(), tmp_path, "en")
    assert page.startswith('<!doctype html><html lang="en" dir="ltr">')
    assert all(heading in page for heading in ENGLISH_HEADINGS)
    assert "[en]" not in page
    assert 'class="fallback"' not in page
    assert manifest["untranslated"] == []
    assert manifest["notes"] == []
    assert result.notes == ()


def test_a_language_without_phrases_falls_back_to_english_and_says_so(tmp_path: Path) -> None:
    engine = _engine()
    result, manifest, page = _bundle(engine, tmp_path, "fr")
    assert page.startswith('<html lang="fr" dir="ltr">', len("<!doctype html>"))
    # Every fixed phrase is English, marked as such.
    for heading in ENGLISH_HEADINGS:
        assert f'<th><span class="fallback" lang="en" dir="ltr">[en] {heading}</span></th>' in page
    assert "privacy_kit has no phrase table for &#x27;fr&#x27;" in page
    # The policy's words (no French in it) are English, listed.
    assert manifest["untranslated"]
    assert {u["lang"] for u in manifest["untranslated"]} == {"en"}
    note = "privacy_kit has no phrase table for 'fr': summary.html's fixed text is in English"
    assert manifest["notes"][0].startswith(note)
    assert result.notes == tuple(manifest["notes"])
    (entry,) = [e for e in engine.audit.entries() if e.action == "export.completed"]
    assert entry.details["lang"] == "fr"
    assert entry.details["notes"] == manifest["notes"]


def test_a_malformed_language_tag_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "x.zip"
    with pytest.raises(pk.ConfigurationError, match="not a language tag"):
        _engine().export(ANN, out, now=NOW, lang="not a tag")
    assert not out.exists()
