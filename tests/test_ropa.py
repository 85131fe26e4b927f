"""Records of processing (GDPR Art. 30(1)) from the reference policy."""

from __future__ import annotations

import csv
import io
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

import privacy_kit as pk
from privacy_kit.cli._main import main


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


def test_one_activity_per_declared_purpose(policy: pk.Policy) -> None:
    records = pk.records_of_processing(policy)
    declared = {p for c in policy.collection for p in c.purposes}
    declared |= {p for r in policy.recipients for p in r.purposes}
    declared |= {c.purpose for c in policy.communications}
    assert [a.purpose for a in records] == list(dict.fromkeys(a.purpose for a in records))
    assert {a.purpose for a in records} == declared
    assert len(records) == len(declared)


def test_art_30_contents(policy: pk.Policy) -> None:
    records = pk.records_of_processing(policy)
    assert records.controller == "Appointlet"
    assert records.controller_contacts == (
        "support_tool: In-app support chat",
        "email: privacy@appointlet.com",
    )
    assert records.dpo is None
    billing = next(a for a in records if a.purpose == "billing")
    assert billing.legal_basis == "contract (GDPR Art. 6(1)(b))"
    assert billing.data_subjects == ("Customer",)
    assert billing.data_categories == ("Payment card details",)
    assert billing.recipients == ("Our service providers (service_providers)",)
    assert billing.third_countries == ("US",)
    assert billing.transfers[0].startswith("EU/EEA -> US: scc")
    assert billing.erasure_time_limits == ("payment_data: delete until the account is closed",)
    assert any("PCI-DSS" in m for m in billing.security_measures)
    legal = next(a for a in records if a.purpose == "legal.obligation")
    assert legal.erasure_time_limits[0].startswith(
        "account_data: delete until the account is closed"
    )
    assert (
        "kept for legal_obligation up to 6 years (GDPR Art. 17(3)(b))"
        in legal.erasure_time_limits[0]
    )
    scheduling = next(a for a in records if a.purpose == "service.scheduling")
    assert any("customer may set 1 day to 10 years" in e for e in scheduling.erasure_time_limits)


def test_no_third_country_when_everything_stays_in_the_eea(policy: pk.Policy) -> None:
    data: dict[str, Any] = policy.model_dump(mode="json")
    data["storage"] = {
        "locations": [{"key": "fra", "provider": "Hetzner", "country": "DE"}],
        "transfers": [],
    }
    for r in data["recipients"]:
        r["countries"] = []
    records = pk.records_of_processing(pk.Policy.model_validate(data))
    assert all(a.third_countries == () and a.transfers == () for a in records)


def test_special_categories_are_flagged(policy: pk.Policy) -> None:
    data: dict[str, Any] = policy.model_dump(mode="json")
    data["collection"].append(
        {"category": "user.health", "source": "provided", "purposes": ["service.provide"]}
    )
    data["retention"][0]["categories"].append("user.health")
    records = pk.records_of_processing(pk.Policy.model_validate(data))
    provide = next(a for a in records if a.purpose == "service.provide")
    assert provide.special_categories == ("Health data",)


def test_csv_json_and_records_agree(policy: pk.Policy, tmp_path: Path) -> None:
    records = pk.records_of_processing(policy)
    path = tmp_path / "ropa.csv"
    records.to_csv(path)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == records.to_records()
    buf = io.StringIO()
    records.to_csv(buf)
    assert buf.getvalue() == path.read_text(encoding="utf-8")
    doc = json.loads(records.to_json())
    assert doc["article"] == "GDPR Art. 30(1)"
    assert doc["controller"]["name"] == "Appointlet"
    assert [a["purpose"] for a in doc["activities"]] == [r["purpose"] for r in rows]
    assert doc["activities"][0]["data_categories"] == rows[0]["data_categories"].split("; ")


def test_table_views(policy: pk.Policy) -> None:
    records = pk.records_of_processing(policy)
    text = str(records)
    assert text.startswith("Records of processing activities (GDPR Art. 30(1))")
    assert "| Purpose" in text
    assert "Billing and payments" in text
    assert (
        repr(records)
        == "ProcessingRecords(controller='Appointlet', activities=15, version='2024.1')"
    )
    page = records._repr_html_()
    assert page.count("<table>") == 2
    assert "Erasure time limits" in page


def test_arabic_names(policy: pk.Policy) -> None:
    records = pk.records_of_processing(policy, lang="ar")
    billing = next(a for a in records if a.purpose == "billing")
    # the rule's key stays (it is the policy's identifier); the frame is Arabic, unmarked
    assert billing.erasure_time_limits == ("payment_data: تُحذف حتى إغلاق الحساب",)
    assert billing.legal_basis == "تنفيذ عقد (GDPR Art. 6(1)(b))"
    assert billing.transfers[0].startswith(
        "من الاتحاد الأوروبي والمنطقة الاقتصادية الأوروبية إلى الولايات المتحدة: "
        "البنود التعاقدية القياسية"
    )
    legal = next(a for a in records if a.purpose == "legal.obligation")
    assert (
        "يُحتفظ بها بسبب التزام قانوني لمدة أقصاها 6 سنوات (GDPR Art. 17(3)(b))"
        in (legal.erasure_time_limits[0])
    )
    scheduling = next(a for a in records if a.purpose == "service.scheduling")
    assert any(
        "يمكن أن يضبطها العملاء بين يوم واحد و10 سنوات" in e for e in scheduling.erasure_time_limits
    )


# Placeholders and what stays the same in every language (citations, punctuation) are not words.
_NOT_WORDS = re.compile(r"\{[a-z_]+\}|GDPR Art\. [\d()a-z]+|[()\[\]:;,.>-]+")


def _english_fixed_phrases() -> set[str]:
    """The English words of every fixed phrase the record uses: its own (``ropa.*``) and the
    names it borrows from the notice's table (exceptions, mechanisms, regions, countries,
    contacts, triggers, durations), each cut at its placeholders."""
    tables = json.loads(resources.files("privacy_kit").joinpath("data/phrases.json").read_text())
    borrowed = ("ropa.", "exception.", "mechanism.", "region.", "country.", "contact.", "trigger.")
    found: set[str] = set()
    for key, value in tables["en"].items():
        if not key.startswith(borrowed) and key not in ("retention.until", "retention.forever"):
            continue
        for fragment in _NOT_WORDS.split(str(value)):
            if sum(ch.isalpha() for ch in fragment) > 1:
                found.add(fragment.strip())
    for key in ("unit.years", "unit.months", "unit.weeks", "unit.days"):
        found.update(form.replace("{n}", "").strip() for form in tables["en"][key].values())
    return found


def test_the_fixed_phrase_list_is_the_english_record(policy: pk.Policy) -> None:
    english = _english_fixed_phrases()
    assert {"Records of processing activities", "not appointed", "none", "Erasure"} <= english
    assert {"while the reason lasts", "up to", "kept for", "may set", "year"} <= english
    text = str(pk.records_of_processing(policy))
    assert sum(re.search(rf"\b{re.escape(p)}\b", text) is not None for p in english) > 15


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_an_arabic_record_has_no_untranslated_fixed_phrase(fmt: str) -> None:
    out = io.StringIO()
    assert main(["ropa", "--lang", "ar", "--format", fmt], out=out) == 0
    text = out.getvalue()
    if fmt == "json":
        text = json.dumps(json.loads(text), ensure_ascii=False)
    if fmt != "table":  # the columns' and fields' names are data keys, not phrases
        text = re.sub(r'"[a-z_]+":|^[a-z_,]+$', "", text, flags=re.M)
    # Identifiers of the policy (rule and recipient keys, purpose keys, codes) are not phrases.
    policy = pk.load_policy(pk.example_path())
    keys = {r.key for r in policy.retention} | {r.kind.value for r in policy.recipients}
    keys |= {c.purpose for c in policy.communications} | {
        p for c in policy.collection for p in c.purposes
    }
    for key in sorted(keys, key=len, reverse=True):
        text = text.replace(key, "")
    left = sorted(p for p in _english_fixed_phrases() if re.search(rf"\b{re.escape(p)}\b", text))
    assert left == []
    # The example has every text in Arabic: nothing falls back, so nothing is marked.
    assert "[en]" not in text


def test_a_language_without_phrases_marks_the_records_english_once_per_passage(
    policy: pk.Policy,
) -> None:
    records = pk.records_of_processing(policy, lang="de")
    billing = next(a for a in records if a.purpose == "billing")
    assert billing.erasure_time_limits == ("[en] payment_data: delete until the account is closed",)
    assert billing.legal_basis == "[en] contract (GDPR Art. 6(1)(b))"
    text = records.to_text()
    assert text.startswith("[en] Records of processing activities (GDPR Art. 30(1))")
    assert "[en] Data protection officer: [en] not appointed" in text


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_cli(fmt: str, tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["ropa", "--format", fmt], out=out) == 0
    text = out.getvalue()
    if fmt == "json":
        assert json.loads(text)["controller"]["name"] == "Appointlet"
    elif fmt == "csv":
        assert text.splitlines()[0].startswith("purpose,purpose_name,legal_basis")
    else:
        assert "Records of processing activities" in text
    target = tmp_path / f"ropa.{fmt}"
    assert main(["ropa", str(pk.example_path()), "--format", fmt, "-o", str(target)]) == 0
    assert target.read_text(encoding="utf-8").strip() == text.strip()


@pytest.mark.parametrize("width", [None, 120])
def test_an_arabic_table_lines_up_on_a_terminal(policy: pk.Policy, width: int | None) -> None:
    from privacy_kit._html import display_width

    text = pk.records_of_processing(policy, lang="ar").to_text(width=width)
    grid = [line for line in text.splitlines() if line.startswith(("|", "+"))]
    # Vowel signs (تُحذف) take no column: every line of the grid is as wide as its rule.
    assert {display_width(line) for line in grid} == {len(grid[0])}
    assert any(len(line) != display_width(line) for line in grid)
    if width is not None:
        assert len(grid[0]) <= width
