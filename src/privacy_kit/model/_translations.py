"""The languages privacy_kit itself speaks: phrase tables and taxonomy names, and the gaps.

The fixed phrases of generated texts (headings, labels) and the names of the default taxonomy's
terms are package data (``data/phrases.json``, ``data/taxonomy_i18n.json``).
:func:`notice_translation_gaps` lists where a text generated for a policy would fall back to
another language; :func:`privacy_kit.check` reports those places, and the notices use the same
tables.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ._policy import Policy

if TYPE_CHECKING:
    from .._types import LocalizedText
    from ._taxonomy import Taxonomy

__all__ = ["notice_translation_gaps", "phrase_languages"]

TermKind = Literal["categories", "purposes", "subject_kinds"]
"""The kinds of taxonomy term with names: data categories, purposes, subject kinds."""
FALLBACK = "en"
"""The language text falls back to first where it is missing in the one asked for."""


@functools.cache
def phrases() -> Mapping[str, Mapping[str, Any]]:
    """The phrase tables, per language (package data, read once)."""
    raw = resources.files("privacy_kit").joinpath("data/phrases.json").read_bytes()
    data: Mapping[str, Mapping[str, Any]] = orjson.loads(raw)
    return data


@functools.cache
def term_names() -> Mapping[str, Mapping[str, Any]]:
    """Names of the default taxonomy's terms, per language (package data, read once)."""
    raw = resources.files("privacy_kit").joinpath("data/taxonomy_i18n.json").read_bytes()
    data: Mapping[str, Mapping[str, Any]] = orjson.loads(raw)
    return data


def phrase_languages() -> tuple[str, ...]:
    """The languages the fixed phrases (headings, labels) are translated into.

    Example:
        >>> phrase_languages()
        ('ar', 'en')
    """
    return tuple(sorted(phrases()))


def base_language(lang: str) -> str:
    """The primary language subtag, lower-cased (``pt-BR`` -> ``pt``)."""
    return lang.split("-", maxsplit=1)[0].lower()


_RTL = frozenset({"ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv", "ckb"})


def text_direction(lang: str) -> Literal["ltr", "rtl"]:
    """The direction of text in ``lang``: ``rtl`` for Arabic, Hebrew, Persian, Urdu, ...

    Example:
        >>> text_direction("ar-EG"), text_direction("en")
        ('rtl', 'ltr')
    """
    return "rtl" if base_language(lang) in _RTL else "ltr"


def has_phrases(lang: str) -> bool:
    """Whether privacy_kit has a phrase table for ``lang`` (or its primary language)."""
    tables = phrases()
    return lang in tables or base_language(lang) in tables


def phrase(key: str, lang: str) -> tuple[Any, str | None]:
    """The fixed phrase ``key`` in ``lang``'s phrase table, and ``None``; where the table lacks
    it (or there is no table), English's and ``"en"``, for the caller to mark.

    Raises:
        KeyError: no phrase ``key`` at all.

    Example:
        >>> phrase("export.no_one", "ar"), phrase("export.no_one", "de")
        (('لا أحد.', None), ('No one.', 'en'))
    """
    tables = phrases()
    own = tables.get(lang) or tables.get(base_language(lang)) or {}
    if key in own:
        return own[key], None
    english = tables[FALLBACK]
    if key not in english:
        raise KeyError(f"no phrase {key!r} in the phrase table")
    return english[key], (None if base_language(lang) == FALLBACK else FALLBACK)


def in_language_or_fallback(value: LocalizedText, lang: str) -> tuple[str, str | None]:
    """``value`` in ``lang`` and ``None``; where it has no text in ``lang``, the text it falls
    back to (English, else its first language) and that language's tag, for the caller to mark.

    Example:
        >>> from privacy_kit import LocalizedText
        >>> in_language_or_fallback(LocalizedText({"en": "Hi", "ar": "مرحبا"}), "AR")
        ('مرحبا', None)
        >>> in_language_or_fallback(LocalizedText({"en": "Hi"}), "de")
        ('Hi', 'en')
    """
    if value.has(lang):
        return value.get_text(lang), None
    other = value.key_for(FALLBACK) or next(iter(value), FALLBACK)
    return value.get_text(other), other


def _term_table(lang: str, what: TermKind) -> Mapping[str, Any]:
    """The default taxonomy's translated names of ``what`` in ``lang`` (empty: none)."""
    names = term_names()
    table: Mapping[str, Any] = names.get(lang) or names.get(base_language(lang)) or {}
    found: Mapping[str, Any] = table.get(what, {})
    return found


def term_name(vocabulary: Taxonomy, what: TermKind, key: str, lang: str) -> tuple[str, str | None]:
    """The name of the term ``key`` in ``lang``, and the language it fell back to (``None``: it is
    in ``lang``); the one translation of term names that notices, records of processing, breach
    notices, exports and :func:`notice_translation_gaps` share.

    The policy's own name in ``lang``; else the default taxonomy's translation
    (``data/taxonomy_i18n.json``); else the name in the language it falls back to (see
    :func:`in_language_or_fallback`). A key the vocabulary does not know is its own name.

    Example:
        >>> import privacy_kit as pk
        >>> tax = pk.load_policy(pk.example_path()).vocabulary
        >>> term_name(tax, "categories", "user.contact.email", "ar")
        ('البريد الإلكتروني', None)
        >>> term_name(tax, "categories", "user.contact.email", "de")
        ('Email address', 'en')
    """
    if what == "categories":
        term: Any = vocabulary.category(key) if vocabulary.has_category(key) else None
    elif what == "purposes":
        term = vocabulary.purpose(key) if vocabulary.has_purpose(key) else None
    else:
        term = vocabulary.subject_kind(key) if vocabulary.has_subject_kind(key) else None
    if term is None:
        return key, None
    if term.name.has(lang):
        return term.name.get_text(lang), None
    entry = _term_table(lang, what).get(key)
    if entry is not None:
        return str(entry[0] if isinstance(entry, list) else entry), None
    return in_language_or_fallback(term.name, lang)


def purpose_description(vocabulary: Taxonomy, key: str, lang: str) -> tuple[str, str | None] | None:
    """A purpose's description in ``lang`` (the policy's, else the default taxonomy's
    translation, else the fallback), with the language it fell back to; ``None``: it has none."""
    description = vocabulary.purpose(key).description
    if description is not None and description.has(lang):
        return description.get_text(lang), None
    entry = _term_table(lang, "purposes").get(key)
    if isinstance(entry, list) and len(entry) > 1 and entry[1]:
        return str(entry[1]), None
    return None if description is None else in_language_or_fallback(description, lang)


def notice_translation_gaps(policy: Policy) -> list[tuple[str, str, str]]:
    """Where a notice in one of ``policy.languages`` would fall back to another language.

    Covers what :func:`privacy_kit.check` cannot see in the policy's own text: the fixed phrases
    (a language with no phrase table) and the names of the taxonomy terms the policy uses.

    Returns:
        ``(location, language, message)`` triples, in the order the notice shows them.

    Example:
        >>> import privacy_kit as pk
        >>> notice_translation_gaps(pk.load_policy(pk.example_path()))
        []
        >>> data = pk.load_policy(pk.example_path()).model_dump(mode="json")
        >>> data["languages"] = ["en", "fr"]
        >>> notice_translation_gaps(pk.Policy.model_validate(data))[0][:2]
        ('languages[1]', 'fr')
    """
    gaps: list[tuple[str, str, str]] = []
    tax = policy.vocabulary
    supported = set(phrases())
    for i, lang in enumerate(policy.languages):
        if lang not in supported and base_language(lang) not in supported:
            gaps.append(
                (
                    f"languages[{i}]",
                    lang,
                    (
                        f"privacy_kit has no phrase table for {lang!r} (it has "
                        f"{', '.join(phrase_languages())}); notice headings and labels fall back to English"
                    ),
                )
            )
    used: dict[tuple[TermKind, str], str] = {}
    for i, c in enumerate(policy.collection):
        used.setdefault(("categories", c.category), f"collection[{i}].category")
        for j, key in enumerate(c.purposes):
            used.setdefault(("purposes", key), f"collection[{i}].purposes[{j}]")
    for i, r in enumerate(policy.recipients):
        for j, key in enumerate(r.categories):
            used.setdefault(("categories", key), f"recipients[{i}].categories[{j}]")
        for j, key in enumerate(r.purposes):
            used.setdefault(("purposes", key), f"recipients[{i}].purposes[{j}]")
    for i, rule in enumerate(policy.retention):
        for j, key in enumerate(rule.categories):
            used.setdefault(("categories", key), f"retention[{i}].categories[{j}]")
    for i, s in enumerate(policy.subjects):
        used.setdefault(("subject_kinds", s.kind), f"subjects[{i}].kind")
    for i, comm in enumerate(policy.communications):
        used.setdefault(("purposes", comm.purpose), f"communications[{i}].purpose")
    own = (
        {("categories", c.key) for c in policy.taxonomy.categories}
        | {("purposes", c.key) for c in policy.taxonomy.purposes}
        | {("subject_kinds", c.key) for c in policy.taxonomy.subject_kinds}
    )
    for (what, key), location in used.items():
        if (what, key) in own:  # the policy's own terms: check() already walks their text
            continue
        for lang in policy.languages:
            if term_name(tax, what, key, lang)[1] is not None:
                singular = {"categories": "category", "purposes": "purpose"}.get(
                    what, "subject kind"
                )
                gaps.append(
                    (
                        location,
                        lang,
                        f"{singular} {key!r} has no {lang!r} name; notices show it in English here",
                    )
                )
    return gaps
