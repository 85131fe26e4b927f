"""Rendered notices: every section of the reference policy in English and Arabic, Markdown and HTML."""

from __future__ import annotations

import html.parser
import io
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import privacy_kit as pk
from privacy_kit.cli._main import main
from privacy_kit.notices import (
    describe_duration,
    describe_retention,
    notice_translation_gaps,
    phrase_languages,
    render_notice,
)

SECTIONS = [
    "about", "who", "collected", "purposes", "sharing", "storage", "retention", "rights",
    "requests", "breach", "children", "communications", "changes", "contact",
]  # fmt: skip


@pytest.fixture(scope="module")
def policy() -> pk.Policy:
    return pk.load_policy(pk.example_path())


def _data(policy: pk.Policy) -> dict[str, Any]:
    return policy.model_dump(mode="json")


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, str | None] = {}
        self.sections: dict[str, str] = {}
        self.headings: list[str] = []
        self._section: str | None = None
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.root = a
        elif tag == "section":
            self._section = a["id"]
            self.sections[a["id"] or ""] = ""
        elif tag == "h2" and self._section is not None:
            self._in_h2 = True
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        elif tag == "h2":
            self._in_h2 = False

    def handle_data(self, data: str) -> None:
        if self._section is not None:
            self.sections[self._section] += data
        if self._in_h2:
            self.headings[-1] += data


def _page(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_html_has_every_section_with_content(policy: pk.Policy, lang: str) -> None:
    page = _page(render_notice(policy, format="html", lang=lang))
    assert list(page.sections) == SECTIONS
    for key, text in page.sections.items():
        assert len(text.split()) > 5, key
    assert page.root == {"lang": lang, "dir": "rtl" if lang == "ar" else "ltr"}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_markdown_has_every_section_heading(policy: pk.Policy, lang: str) -> None:
    md = render_notice(policy, lang=lang)
    headings = re.findall(r"^## (.+)$", md, flags=re.MULTILINE)
    html_headings = _page(render_notice(policy, format="html", lang=lang)).headings
    assert headings == html_headings
    assert len(headings) == len(SECTIONS)
    # every section has text between its heading and the next
    bodies = re.split(r"^## .+$", md, flags=re.MULTILINE)[1:]
    assert all(len(b.split()) > 5 for b in bodies)


def test_every_policy_sentence_appears_in_both_languages(policy: pk.Policy) -> None:
    texts: list[pk.LocalizedText] = []

    def walk(value: object) -> None:
        if isinstance(value, pk.LocalizedText):
            texts.append(value)
        elif isinstance(value, tuple):
            for item in value:
                walk(item)
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))

    walk(policy)
    assert len(texts) > 70
    for lang in ("en", "ar"):
        page = render_notice(policy, format="html", lang=lang)
        import html as html_lib

        plain = html_lib.unescape(re.sub(r"<[^>]+>", "", page))
        missing = [t.get_text(lang) for t in texts if t.get_text(lang) not in plain]
        assert not missing, missing[:3]


def test_arabic_uses_arabic_phrases_and_names(policy: pk.Policy) -> None:
    md = render_notice(policy, lang="ar")
    assert "## مدة احتفاظنا ببياناتك" in md
    assert "البريد الإلكتروني" in md  # a category name from the Arabic name table
    assert "خلال 72 ساعة" in md  # the breach promise, durations in Arabic
    assert "[en]" not in md
    assert "How long we keep it" not in md


def test_english_reads_the_policy_facts(policy: pk.Policy) -> None:
    md = render_notice(policy)
    assert "within 72 hours of becoming aware of it, by e-mail" in md
    assert "**Minimum age**: 16." in md
    assert "standard contractual clauses" in md
    assert "for up to 6 years" in md
    assert "Can be set by Customer: between 1 day and 10 years after" in md
    assert "[privacy@appointlet.com](<mailto:privacy@appointlet.com>)" in md


def test_missing_translation_falls_back_visibly(policy: pk.Policy) -> None:
    data = _data(policy)
    data["children"]["description"] = {"en": "Not for children under 16."}
    changed = pk.Policy.model_validate(data)
    md = render_notice(changed, lang="ar")
    assert "[en] Not for children under 16." in md
    assert "الأجزاء المعلَّمة بـ\\[en\\]" in md  # the note at the top says what the tag means
    page = render_notice(changed, format="html", lang="ar")
    assert (
        '<span class="fallback" lang="en" dir="ltr" title="not available in this language">'
        '<span class="tag">[en]</span> Not for children under 16.</span>'
    ) in page
    report = pk.check(changed)
    assert any(
        f.code == "missing-translation" and f.location == "policy:children.description"
        for f in report
    )


def test_language_without_phrase_table_is_marked_and_reported(policy: pk.Policy) -> None:
    data = _data(policy)
    data["languages"] = ["en", "ar", "fr"]
    changed = pk.Policy.model_validate(data)
    md = render_notice(changed, lang="fr")
    assert "## [en] How long we keep it" in md
    gaps = notice_translation_gaps(changed)
    assert ("languages[2]", "fr") in [(g[0], g[1]) for g in gaps]
    assert any(g[1] == "fr" and "category 'user.account.name'" in g[2] for g in gaps)
    report = pk.check(changed)
    assert "policy:languages[2]" in {f.location for f in report if f.code == "missing-translation"}


def test_own_category_without_arabic_name_is_marked(policy: pk.Policy) -> None:
    data = _data(policy)
    data["taxonomy"]["categories"] = [{"key": "user.content.recipes", "name": "Recipes"}]
    data["collection"].append(
        {"category": "user.content.recipes", "source": "provided", "purposes": ["service.provide"],
         "description": {"en": "Your recipes.", "ar": "وصفاتك."}}
    )  # fmt: skip
    changed = pk.Policy.model_validate(data)
    md = render_notice(changed, lang="ar")
    assert "[en] Recipes" in md
    report = pk.check(changed)
    assert "policy:taxonomy.categories[0].name" in {f.location for f in report}


def test_text_is_escaped(policy: pk.Policy) -> None:
    data = _data(policy)
    evil = '<script>alert("x")</script> & *bold* [link](http://x)'
    data["summary"] = {"en": evil, "ar": evil}
    changed = pk.Policy.model_validate(data)
    page = render_notice(changed, format="html")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; *bold*" in page
    md = render_notice(changed)
    assert r"\<script\>alert(\"x\")\</script\>" not in md  # quotes are not special in Markdown
    assert r"\<script\>alert(" in md
    assert r"\*bold\* \[link\](http://x)" in md


def test_markdown_line_start_is_escaped(policy: pk.Policy) -> None:
    data = _data(policy)
    data["complaints"] = {"en": "# not a heading", "ar": "- ليست قائمة"}
    changed = pk.Policy.model_validate(data)
    assert "\n\\# not a heading\n" in render_notice(changed)
    assert "\n\\- ليست قائمة\n" in render_notice(changed, lang="ar")


def test_bad_arguments(policy: pk.Policy) -> None:
    with pytest.raises(pk.ConfigurationError, match="unknown notice format 'pdf'"):
        render_notice(policy, format="pdf")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="invalid language tag 'e n'"):
        render_notice(policy, lang="e n")


def test_durations_in_words() -> None:
    assert describe_duration("P1Y6M") == "1 year and 6 months"
    assert describe_duration("P1D") == "1 day"
    assert describe_duration("P0D") == "0 days"
    assert describe_duration("P1M", "ar") == "شهر واحد"
    assert describe_duration("P2M", "ar") == "شهرين"
    assert describe_duration("P3D", "ar") == "3 أيام"
    assert describe_duration("P45D", "ar") == "45 يومًا"
    assert describe_duration("P100D", "ar") == "100 يوم"
    assert describe_duration("P1Y6M", "ar") == "سنة واحدة و6 أشهر"
    assert describe_duration("P2D", "fr") == "2 days"  # no table: English


def test_describe_retention(policy: pk.Policy) -> None:
    rule = policy.rule("booking_data").replace(duration="P30D")
    assert describe_retention(rule) == "for 30 days after the account is closed"
    assert describe_retention(rule, "ar") == "لمدة 30 يومًا بعد إغلاق الحساب"


def test_phrase_tables_agree() -> None:
    import json
    from importlib import resources

    data = json.loads(resources.files("privacy_kit").joinpath("data/phrases.json").read_text())
    assert phrase_languages() == ("ar", "en")
    assert set(data["en"]) == set(data["ar"])
    for key, value in data["en"].items():
        placeholders = set(re.findall(r"\{(\w+)\}", str(value)))
        assert placeholders == set(re.findall(r"\{(\w+)\}", str(data["ar"][key]))), key


def test_example_has_no_translation_gaps(policy: pk.Policy) -> None:
    assert notice_translation_gaps(policy) == []
    assert "missing-translation" not in pk.check(policy).codes()


def test_policy_without_optional_sections_has_no_empty_section(policy: pk.Policy) -> None:
    data = _data(policy)
    data["recipients"] = []
    data["retention"] = []
    data["communications"] = []
    data["rights"] = []
    data["complaints"] = None
    changed = pk.Policy.model_validate(data)
    page = _page(render_notice(changed, format="html"))
    assert "sharing" not in page.sections
    assert "retention" not in page.sections
    assert "communications" not in page.sections
    assert "rights" not in page.sections
    assert all(len(t.split()) > 3 for t in page.sections.values())


def test_cli_render(tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["render", "--lang", "ar"], out=out) == 0
    assert out.getvalue().startswith("# إشعار الخصوصية لخدمة Appointlet")
    target = tmp_path / "notice.html"
    assert main(["render", str(pk.example_path()), "--format", "html", "-o", str(target)]) == 0
    assert '<html lang="en" dir="ltr">' in target.read_text(encoding="utf-8")


def test_cli_render_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(tmp_path / "missing.yaml")], out=io.StringIO()) == 3
    assert "cannot read file" in capsys.readouterr().err
    assert main(["render", "--lang", "e_n"], out=io.StringIO()) == 2  # refused: exit 2
    assert "invalid language tag" in capsys.readouterr().err
