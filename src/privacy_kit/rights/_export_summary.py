"""The export bundle's ``summary.html``: the page a person reads, in the bundle's language.

Its fixed phrases (title, column headings, "who received your data") come from the phrase table
(``data/phrases.json``), the policy's words from the manifest, which names every one of them
that is shown in another language (``untranslated``). As in the notices, text in another
language than the page's is marked: a ``lang`` attribute and a visible ``[en]``. The page has
``lang`` and ``dir`` (``rtl`` for Arabic); in a language privacy_kit has no phrases for, the
fixed text is English, marked, and a note at the top says so.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from ..model._translations import has_phrases, phrase, text_direction

__all__ = ["summary_html", "summary_notes"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;"
    "vertical-align:top;text-align:start}.fallback{background:#fff1c7}"
)


def summary_notes(lang: str) -> list[str]:
    """What the summary cannot say in ``lang`` (for the manifest, the result and the audit)."""
    if has_phrases(lang):
        return []
    note = (
        f"privacy_kit has no phrase table for {lang!r}: summary.html's fixed text is in English "
        "(marked [en])"
    )
    return [note]


def _marked(text_html: str, lang: str | None) -> str:
    """``text_html`` as it stands, or in a span marking it as text in ``lang``."""
    if lang is None:
        return text_html
    tag = html.escape(lang, quote=True)
    return (
        f'<span class="fallback" lang="{tag}" dir="{text_direction(lang)}">[{tag}] '
        f"{text_html}</span>"
    )


_Piece = tuple[str, str | None]
"""HTML, and the language it falls back to (``None``: the page's)."""


class _Page:
    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self.lang = str(manifest.get("lang", "en"))
        self.untranslated = {str(u["at"]): str(u["lang"]) for u in manifest.get("untranslated", ())}

    def fixed(self, key: str, **args: str | _Piece) -> str:
        """The phrase ``key``, escaped, its placeholders filled (HTML, or pieces of the policy's
        text), marked if English stands in for the page's language: once for the passage, so
        a piece in that same language inside it is not marked again."""
        template, fell_back_to = phrase(key, self.lang)
        out = html.escape(str(template), quote=False)
        for name, value in args.items():
            if isinstance(value, str):
                filled = value
            else:
                text_html, lang = value
                filled = text_html if lang == fell_back_to else _marked(text_html, lang)
            out = out.replace("{" + name + "}", filled)
        return _marked(out, fell_back_to)

    def said(self, text: Any, at: str) -> _Piece:
        """The policy's ``text`` found at ``at`` in the manifest, escaped, with the language it
        falls back to."""
        return html.escape(str(text)), self.untranslated.get(at)

    def shown(self, text: Any, at: str) -> str:
        """:meth:`said`, marked if it is in another language."""
        return _marked(*self.said(text, at))

    def joined(self, items: list[Any], at: str) -> str:
        """The items' names joined, each run of names in one other language marked once."""
        separator = html.escape(str(phrase("list.and", self.lang)[0]))
        groups: list[tuple[list[str], str | None]] = []
        for i, item in enumerate(items):
            text_html, lang = self.said(item["name"], f"{at}[{i}].name")
            if groups and groups[-1][1] == lang:
                groups[-1][0].append(text_html)
            else:
                groups.append(([text_html], lang))
        return separator.join(_marked(separator.join(names), lang) for names, lang in groups)


def summary_html(manifest: Mapping[str, Any]) -> bytes:
    """The page, from the bundle's manifest (its ``lang`` and ``untranslated``)."""
    page = _Page(manifest)
    e = html.escape
    subject = manifest["subject"]
    rows = []
    for i, item in enumerate(manifest["record_types"]):
        at = f"record_types[{i}]"
        retention = item["retention"]
        kept = "—"
        if retention is not None:
            kept = (
                page.shown(retention["description"], f"{at}.retention.description")
                if retention["description"]
                else e(retention["rule"])
            )
        redacted = ", ".join(e(r["field"]) for r in item["redacted"]) or "—"
        described = (
            page.shown(item["description"], f"{at}.description") if item["description"] else ""
        )
        rows.append(
            "<tr>"
            f"<td>{e(item['name'])}<br><small>{described}</small></td>"
            f"<td>{item['count']}</td>"
            f"<td>{page.joined(item['categories'], f'{at}.categories')}</td>"
            f"<td>{page.joined(item['purposes'], f'{at}.purposes')}</td>"
            f"<td>{page.joined(item['recipients'], f'{at}.recipients') or '—'}</td>"
            f"<td>{kept}</td>"
            f"<td>{redacted}</td>"
            "</tr>"
        )
    received = ""
    if manifest.get("disclosures") is not None:
        items = "".join(
            "<li>"
            + (
                page.shown(d["name"], f"disclosures[{i}].name")
                if d["name"]
                else e(str(d["recipient"]))
            )
            + f": {e(', '.join(d['categories']))} ("
            + page.fixed("export.disclosed", count=str(d["count"]), last=e(d["last"][:10]))
            + ")</li>"
            for i, d in enumerate(manifest["disclosures"])
        )
        received = (
            f"<h2>{page.fixed('export.received')}</h2><ul>"
            + (items or f"<li>{page.fixed('export.no_one')}</li>")
            + "</ul>"
        )
    lang = e(page.lang, quote=True)
    controller = e(manifest["policy"]["controller"])
    title = page.fixed("export.title", controller=controller)
    notes = ""
    if not has_phrases(page.lang):
        notes = f"<p>{page.fixed('export.no_phrases', lang=e(repr(page.lang)))}</p>"
    if page.untranslated or notes:
        notes += f"<p>{page.fixed('notice.fallback', lang='en')}</p>"
    columns = ("what", "records", "categories", "purposes", "recipients", "retention", "redacted")
    headings = "".join(f"<th>{page.fixed(f'export.col.{c}')}</th>" for c in columns)
    html_page = (
        f'<!doctype html><html lang="{lang}" dir="{text_direction(page.lang)}"><head>'
        f'<meta charset="utf-8"><title>{html.escape(_plain(title))}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1>{notes}<p>"
        + page.fixed(
            "export.made",
            when=e(manifest["generated_at"]),
            version=e(manifest["policy"]["version"]),
            kind=page.said(subject["kind_name"], "subject.kind_name")
            if "kind_name" in subject
            else e(subject["kind"]),
            identities=e(", ".join(subject["identities"])),
        )
        + " "
        + page.fixed(
            "export.total", count=str(manifest["total_records"]), folder="<code>records/</code>"
        )
        + f"</p><table><tr>{headings}</tr>"
        + "".join(rows)
        + "</table>"
        + received
        + "</body></html>\n"
    )
    return html_page.encode("utf-8")


def _plain(fragment: str) -> str:
    """The text of an HTML fragment of ours (tags dropped, entities read)."""
    out, inside = [], False
    for ch in fragment:
        if ch == "<":
            inside = True
        elif ch == ">":
            inside = False
        elif not inside:
            out.append(ch)
    return html.unescape("".join(out))
