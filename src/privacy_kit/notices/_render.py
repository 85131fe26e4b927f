"""Privacy notices rendered from a policy: Markdown or a standalone HTML page, in any language.

:func:`render_notice` turns a :class:`~privacy_kit.Policy` into the notice people read: what is
collected (by source), why (purposes and legal bases), with whom it is shared, where it is stored
and how it is protected, how long it is kept, the rights and how to use them, the breach promise,
children, messages and opting out, changes and contact. Section headings and fixed phrases come
from a phrase table (package data ``data/phrases.json``, English and Arabic); category, purpose and
subject-kind names come from the taxonomy, or from ``data/taxonomy_i18n.json`` for the default
taxonomy's terms. The policy's own sentences come from its :class:`~privacy_kit.LocalizedText`.

Nothing is silently replaced: text missing in the requested language is shown in another language
and marked (``[en]`` in Markdown; a ``lang`` attribute and a visible tag in HTML), and
:func:`notice_translation_gaps` (reported by :func:`privacy_kit.check`) lists every such place.
HTML pages in right-to-left languages (Arabic, Hebrew, Persian, Urdu, ...) carry ``dir="rtl"``.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Literal

from .._errors import ConfigurationError, PolicyError, Problem
from .._types import normalize_language
from ..model._policy import Policy
from ._document import (
    Inline,
    _Ctx,
    _direction,
    _markers,
    _Para,
    _Section,
    _Sub,
)
from ._sections import (
    _sections,
)

__all__ = ["render_notice"]

# --- rendering -----------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")


def _md_escape(text: str) -> str:
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A line that starts like a heading, list item or numbered item must stay a plain line.
    return re.sub(r"(?m)^(\s*)([#+\-]|\d+\.)(?=\s|$)", r"\1\\\2", text)


def _md_runs(runs: Inline) -> str:
    out: list[str] = []
    for run, opens in _markers(runs):
        text = _md_escape(run.text)
        if run.href is not None:
            text = f"[{text}](<{run.href.replace('>', '%3E')}>)"
        if run.strong and text.strip():
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(text.rstrip()) :]
            text = f"{lead}**{text.strip()}**{trail}"
        if opens:
            text = f"[{run.lang}] {text}"
        out.append(text)
    return "".join(out)


def _to_markdown(title: Inline, meta: Inline, note: Inline | None, sections: list[_Section]) -> str:
    lines = [f"# {_md_runs(title)}", "", _md_runs(meta), ""]
    if note is not None:
        lines += [f"> {_md_runs(note)}", ""]
    for section in sections:
        lines += [f"## {_md_runs(section.heading)}", ""]
        for block in section.blocks:
            if isinstance(block, _Para):
                lines += [_md_runs(block.runs), ""]
            elif isinstance(block, _Sub):
                lines += [f"### {_md_runs(block.runs)}", ""]
            else:
                for entry in block.entries:
                    lines.append(f"- {_md_runs(entry.head)}")
                    lines.extend(f"  - {_md_runs(d)}" for d in entry.details)
                lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _html_runs(runs: Inline) -> str:
    out: list[str] = []
    for run, opens in _markers(runs):
        text = html.escape(run.text, quote=True)
        if run.href is not None:
            text = f'<a href="{html.escape(run.href, quote=True)}">{text}</a>'
        if run.strong:
            text = f"<strong>{text}</strong>"
        if run.lang is not None:
            lang = html.escape(run.lang, quote=True)
            tag = f'<span class="tag">[{lang}]</span> ' if opens else ""
            text = (
                f'<span class="fallback" lang="{lang}" dir="{_direction(run.lang)}" '
                f'title="not available in this language">{tag}{text}</span>'
            )
        out.append(text)
    return "".join(out)


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #eef1f5; color: #1d2330; line-height: 1.6;
  font-family: system-ui, "Segoe UI", "Noto Sans", "DejaVu Sans", sans-serif; font-size: 16px; }
html[dir="rtl"] body { font-family: "Noto Naskh Arabic", "Noto Sans Arabic", "Segoe UI",
  "DejaVu Sans", sans-serif; line-height: 1.85; }
main { max-width: 54rem; margin: 0 auto; padding: 2.2rem 2rem 3rem; background: #fff;
  min-height: 100vh; text-align: start; }
header h1 { font-size: 1.9rem; margin: 0 0 .3rem; color: #11294a; }
header .meta { color: #5a6372; margin: 0 0 .8rem; }
.note { border-inline-start: 4px solid #e0a100; background: #fff8e5; padding: .5rem .9rem; }
nav.toc { background: #f5f7fa; border: 1px solid #e1e5eb; border-radius: 6px; padding: .6rem 1.2rem; }
nav.toc h2 { font-size: 1rem; margin: .2rem 0; border: 0; }
nav.toc ol { margin: 0; padding-inline-start: 1.4rem; columns: 2; column-gap: 2rem; }
section { border-top: 1px solid #e1e5eb; margin-top: 1.6rem; padding-top: .4rem; }
h2 { font-size: 1.35rem; color: #1b4f8a; margin: .6rem 0 .5rem; }
h3 { font-size: 1.05rem; margin: 1rem 0 .3rem; color: #24324a; }
p { margin: .4rem 0 .7rem; }
ul { margin: .3rem 0 .8rem; padding-inline-start: 1.4rem; }
li { margin: .3rem 0; }
li > ul { margin: .15rem 0 .3rem; color: #3b4556; font-size: .95em; list-style: circle; }
a { color: #1b5fb0; }
.fallback { background: #fff1c7; border-radius: 3px; padding: 0 .2em; }
.fallback .tag { font: 600 .72em ui-monospace, monospace; color: #8a5a00; }
"""


def _to_html(
    lang: str,
    *,
    title: Inline,
    meta: Inline,
    note: Inline | None,
    sections: list[_Section],
    toc: Inline,
) -> str:
    direction = _direction(lang)
    plain_title = "".join(r.text for r in title)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(lang, quote=True)}" dir="{direction}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="privacy_kit">',
        f"<title>{html.escape(plain_title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{_html_runs(title)}</h1>",
        f'<p class="meta">{_html_runs(meta)}</p>',
    ]
    if note is not None:
        parts.append(f'<p class="note">{_html_runs(note)}</p>')
    parts.append(f'<nav class="toc"><h2>{_html_runs(toc)}</h2><ol>')
    parts.extend(f'<li><a href="#{s.key}">{_html_runs(s.heading)}</a></li>' for s in sections)
    parts += ["</ol></nav>", "</header>"]
    for section in sections:
        parts.append(f'<section id="{section.key}" data-section="{section.key}">')
        parts.append(f"<h2>{_html_runs(section.heading)}</h2>")
        for block in section.blocks:
            if isinstance(block, _Para):
                parts.append(f"<p>{_html_runs(block.runs)}</p>")
            elif isinstance(block, _Sub):
                parts.append(f"<h3>{_html_runs(block.runs)}</h3>")
            else:
                parts.append("<ul>")
                for entry in block.entries:
                    inner = "".join(f"<li>{_html_runs(d)}</li>" for d in entry.details)
                    sub = f"<ul>{inner}</ul>" if inner else ""
                    parts.append(f"<li>{_html_runs(entry.head)}{sub}</li>")
                parts.append("</ul>")
        parts.append("</section>")
    parts += ["</main>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def render_notice(
    policy: Policy,
    *,
    format: Literal["md", "html"] = "md",  # noqa: A002 - the public keyword, as on the CLI
    lang: str = "en",
) -> str:
    """Render ``policy`` as a complete privacy notice in ``lang``.

    Args:
        policy: the policy.
        format: ``"md"`` for Markdown, ``"html"`` for a standalone, styled HTML page.
        lang: a language tag such as ``"en"`` or ``"ar"``. Any tag is accepted: text missing in
            it falls back (to English first) and is marked ``[en]``; so are the fixed phrases
            when the phrase table lacks the language (see :func:`phrase_languages`).

    Returns:
        The notice as a string (Markdown, or an HTML document with ``lang`` and ``dir`` set).

    Raises:
        ConfigurationError: (a ``ValueError``) for an unknown format or a malformed language tag.
        PolicyError: the policy's text cannot be written as UTF-8 (a lone surrogate in a field
            that was never validated; :func:`~privacy_kit.load_policy` refuses such text).

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> md = render_notice(policy)
        >>> md.splitlines()[0]
        '# Appointlet privacy notice'
        >>> "## How long we keep it" in md
        True
        >>> page = render_notice(policy, format="html", lang="ar")
        >>> '<html lang="ar" dir="rtl">' in page
        True
    """
    if format not in ("md", "html"):
        raise ConfigurationError(f"unknown notice format {format!r}; use 'md' or 'html'")
    if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", lang):
        raise ConfigurationError(
            f"invalid language tag {lang!r} (expected e.g. 'en', 'ar', 'pt-BR')"
        )
    lang = normalize_language(lang)
    ctx = _Ctx(policy, lang)
    sections = _sections(ctx)
    title = ctx.text(policy.title)
    meta = ctx.t("notice.meta", version=policy.version, effective=_date(policy.effective, lang))
    toc = ctx.t("contents")
    note = None
    if ctx.fell_back:
        note = ctx.t("notice.fallback", lang="/".join(sorted(ctx.fell_back)))
    if format == "md":
        return _writable(_to_markdown(title, meta, note, sections))
    return _writable(_to_html(lang, title=title, meta=meta, note=note, sections=sections, toc=toc))


def _writable(text: str) -> str:
    """``text`` if it can be written as UTF-8; a policy built around the loader's checks (with
    ``model_construct`` or a plain field holding a lone surrogate) is refused here, not when the
    notice is written."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        near = text[max(0, exc.start - 30) : exc.start + 30]
        raise PolicyError(
            "<policy>",
            [
                Problem(
                    "",
                    f"the policy's text has a lone surrogate {text[exc.start]!r}, which cannot "
                    f"be written as UTF-8, near {near!r} in the notice",
                )
            ],
        ) from None
    return text


def _date(value: dt.date, lang: str) -> str:
    # An ISO date inside right-to-left text would be reordered (01-05-2024): isolate it as LTR.
    return f"\u2066{value.isoformat()}\u2069" if _direction(lang) == "rtl" else value.isoformat()
