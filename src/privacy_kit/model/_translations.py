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
from typing import Any

import orjson

from ._policy import Policy

__all__ = ["notice_translation_gaps", "phrase_languages"]


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
    names = term_names()
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
    used: dict[tuple[str, str], str] = {}
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
        term: Any = (
            tax.category(key)
            if what == "categories"
            else tax.purpose(key)
            if what == "purposes"
            else tax.subject_kind(key)
        )
        for lang in policy.languages:
            table = names.get(lang) or names.get(base_language(lang)) or {}
            if not term.name.has(lang) and key not in table.get(what, {}):
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
