"""What an export's manifest says about each entry: the policy's words on the subject's records.

:func:`entries` names the (record type, role) pairs of a scope and splits their fields into the
exported and the redacted (another party's); :func:`describe_entry` describes one from the
policy (categories, purposes, recipients, sources, retention, what was left out and why);
:func:`disclosures` lists who received the subject's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from .._scope import ScopeEntry
from .._types import LocalizedText
from ..lifecycle._disclosures import DisclosureLog
from ..model._check import rule_for_record_type
from ..model._check_retention import retention_choices
from ..model._datamap import FieldSpec, RecordType, SubjectLink
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ..model._policy_rights import RefusalReason
from ..model._taxonomy import Taxonomy
from ..model._translations import TermKind, in_language_or_fallback, term_name

__all__ = ["Entry", "Words", "describe_entry", "disclosures", "entries"]


@attrs.frozen
class Entry:
    """One (record type, role) the subject appears in."""

    name: str
    record_type: RecordType
    link: SubjectLink
    exported: tuple[FieldSpec, ...]
    redacted: tuple[FieldSpec, ...]


def entries(scope: Sequence[ScopeEntry]) -> list[tuple[Entry, ScopeEntry]]:
    per_type: dict[str, int] = {}
    for found in scope:
        per_type[found.record_type.name] = per_type.get(found.record_type.name, 0) + 1
    out = []
    for found in scope:
        rt, link = found.record_type, found.link
        role = link.role_name
        name = rt.name if per_type[rt.name] == 1 else f"{rt.name}.{role}"
        exported = tuple(f for f in rt.fields if f.party is None or f.party == role)
        redacted = tuple(f for f in rt.fields if f.party is not None and f.party != role)
        out.append((Entry(name, rt, link, exported, redacted), found))
    return out


@attrs.define
class Words:
    """The export's texts in one language (the policy's, its terms' names), and where each that
    is not in that language fell back, by its place in the manifest (``record_types[0].name``).

    Example:
        >>> words = Words("ar")
        >>> words.text(LocalizedText({"en": "Hi", "ar": "مرحبا"}), "a"), words.text(LocalizedText({"en": "Hi"}), "b")
        ('مرحبا', 'Hi')
        >>> words.untranslated
        {'b': 'en'}
    """

    lang: str
    untranslated: dict[str, str] = attrs.Factory(dict)

    def _found(self, found: tuple[str, str | None], at: str) -> str:
        text, fell_back_to = found
        if fell_back_to is not None:
            self.untranslated[at] = fell_back_to
        return text

    def text(self, value: Any, at: str) -> str | None:
        """``value`` (the policy's :class:`~privacy_kit.LocalizedText`, or a plain value) in the
        language, found at ``at`` in the manifest."""
        if value is None:
            return None
        if isinstance(value, LocalizedText):
            return self._found(in_language_or_fallback(value, self.lang), at)
        return str(value)

    def name(self, vocabulary: Taxonomy, what: TermKind, key: str, at: str) -> str:
        """A term's name (:func:`~privacy_kit.model._translations.term_name`)."""
        return self._found(term_name(vocabulary, what, key, self.lang), at)

    def ordered(self, items: dict[str, dict[str, Any]], at: str) -> list[dict[str, Any]]:
        """``items`` (by key, named at ``at[key]``) sorted by key; what fell back is then
        found at ``at[index]``."""
        out = [items[key] for key in sorted(items)]
        for i, item in enumerate(out):
            lang = self.untranslated.pop(f"{at}[{item['key']}].name", None)
            if lang is not None:
                self.untranslated[f"{at}[{i}].name"] = lang
        return out

    def listed(self) -> list[dict[str, str]]:
        """The manifest's ``untranslated``: each text shown in another language, and which."""
        return [{"at": at, "lang": lang} for at, lang in self.untranslated.items()]


def _rule_terms(rule: RetentionRule, words: Words, at: str) -> dict[str, Any]:
    """A rule's terms as the export's manifest states them."""

    def _duration(d: Any, indefinite: bool) -> str | None:
        return "forever" if indefinite else str(d) if d is not None else None

    return {
        "rule": rule.key,
        "description": words.text(rule.description, f"{at}.description"),
        "trigger": rule.trigger.value,
        "duration": _duration(rule.duration, rule.indefinite),
        "action": rule.action.value,
        "customer_configurable": rule.override is not None,
        "exceptions": [
            {
                "kind": e.kind.value,
                "reason": words.text(e.reason, f"{at}.exceptions[{i}].reason"),
                "duration": _duration(e.duration, e.indefinite),
                "citation": e.citation,
            }
            for i, e in enumerate(rule.exceptions)
        ],
    }


def describe_entry(
    policy: Policy, entry: Entry, kind: str, words: Words, at: str
) -> dict[str, Any]:
    """What the manifest says about ``entry`` (at ``at``, ``record_types[i]``)."""
    vocabulary = policy.vocabulary
    categories = sorted({c for f in entry.exported for c in f.categories})
    cats = [
        {
            "key": key,
            "name": words.name(vocabulary, "categories", key, f"{at}.categories[{i}].name"),
            "fields": [f.name for f in entry.exported if key in f.categories],
        }
        for i, key in enumerate(categories)
    ]
    purposes: dict[str, dict[str, Any]] = {}
    sources: set[str] = set()
    recipients: dict[str, dict[str, Any]] = {}
    for key in categories:
        for coll in policy.collections_for(key):
            if coll.subjects and kind not in coll.subjects:
                continue
            sources.add(coll.source.value)
            for p in coll.purposes:
                if p in purposes or not vocabulary.has_purpose(p):
                    continue
                purpose = vocabulary.purpose(p)
                purposes[p] = {
                    "key": p,
                    "name": words.name(vocabulary, "purposes", p, f"{at}.purposes[{p}].name"),
                    "legal_basis": purpose.legal_basis.value,
                    "article": purpose.legal_basis.article,
                }
        for r in policy.recipients_of(key):
            if r.subjects and kind not in r.subjects:
                continue
            item = recipients.setdefault(
                r.key,
                {
                    "key": r.key,
                    "kind": r.kind.value,
                    "name": words.text(r.name, f"{at}.recipients[{r.key}].name"),
                    "purposes": list(r.purposes),
                    "countries": list(r.countries),
                    "categories": [],
                },
            )
            item["categories"].append(key)
    rule = rule_for_record_type(policy, entry.record_type)
    retention = None if rule is None else _rule_terms(rule, words, f"{at}.retention")
    choices = (
        retention_choices(policy, entry.record_type) if entry.record_type.is_conditional else []
    )
    states = [
        {
            "when": c.describe(),
            "trigger_field": c.trigger_field,
            **_rule_terms(c.rule, words, f"{at}.retention.by_state[{i}]"),
        }
        for i, c in enumerate(choices)
    ]
    if states:  # rules by state: every state's rule, in full (one shared rule too)
        fell_back = [
            words.untranslated[f"{at}.retention.by_state[{i}].description"]
            for i in range(len(states))
            if f"{at}.retention.by_state[{i}].description" in words.untranslated
        ]
        words.untranslated.pop(f"{at}.retention.description", None)  # replaced by the states'
        if fell_back:  # the joined description holds text in another language
            words.untranslated[f"{at}.retention.description"] = fell_back[0]
        retention = {
            **(retention or {}),
            "rule": ", ".join(dict.fromkeys(s["rule"] for s in states)),
            "description": "; ".join(f"{s['when']}: {s['description']}" for s in states),
            "by_state": states,
        }
    refusal = RefusalReason.REVEALS_OTHER_USER_DATA
    return {
        "name": entry.name,
        "record_type": entry.record_type.name,
        "description": words.text(entry.record_type.description, f"{at}.description"),
        "role": entry.link.role_name,
        "kind": entry.link.kind,
        "fields": [f.name for f in entry.exported],
        "categories": cats,
        "purposes": words.ordered(purposes, f"{at}.purposes"),
        "recipients": words.ordered(recipients, f"{at}.recipients"),
        "source": sorted(sources),
        "retention": retention,
        "redacted": [
            {
                "field": f.name,
                "party": f.party,
                "reason": refusal.value,
                "explanation": (
                    f"this field belongs to the {f.party} of the record; showing it would "
                    "reveal another user's personal data"
                ),
            }
            for f in entry.redacted
        ],
    }


def disclosures(
    log: DisclosureLog | None, reference: str, kind: str, words: Words
) -> list[dict[str, Any]] | None:
    if log is None:
        return None
    return [
        {
            "recipient": r.recipient,
            "name": words.text(r.name, f"disclosures[{i}].name"),
            "kind": r.kind,
            "categories": list(r.categories),
            "purposes": list(r.purposes),
            "record_types": list(r.record_types),
            "first": r.first.isoformat(),
            "last": r.last.isoformat(),
            "count": r.count,
        }
        for i, r in enumerate(log.received_by(reference, kind=kind))
    ]
