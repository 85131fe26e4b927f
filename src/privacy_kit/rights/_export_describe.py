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
from ..lifecycle._disclosures import DisclosureLog
from ..model._check import rule_for_record_type
from ..model._check_retention import retention_choices
from ..model._datamap import FieldSpec, RecordType, SubjectLink
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ..model._policy_rights import RefusalReason

__all__ = ["Entry", "describe_entry", "disclosures", "entries", "text"]


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


def text(value: Any, lang: str) -> str | None:
    if value is None:
        return None
    get = getattr(value, "get_text", None)
    return str(get(lang)) if callable(get) else str(value)


def _rule_terms(rule: RetentionRule, lang: str) -> dict[str, Any]:
    """A rule's terms as the export's manifest states them."""

    def _duration(d: Any, indefinite: bool) -> str | None:
        return "forever" if indefinite else str(d) if d is not None else None

    return {
        "rule": rule.key,
        "description": text(rule.description, lang),
        "trigger": rule.trigger.value,
        "duration": _duration(rule.duration, rule.indefinite),
        "action": rule.action.value,
        "customer_configurable": rule.override is not None,
        "exceptions": [
            {
                "kind": e.kind.value,
                "reason": text(e.reason, lang),
                "duration": _duration(e.duration, e.indefinite),
                "citation": e.citation,
            }
            for e in rule.exceptions
        ],
    }


def describe_entry(policy: Policy, entry: Entry, kind: str, lang: str) -> dict[str, Any]:
    vocabulary = policy.vocabulary
    categories = sorted({c for f in entry.exported for c in f.categories})
    cats = []
    for key in categories:
        name = vocabulary.category(key).name if vocabulary.has_category(key) else None
        cats.append(
            {
                "key": key,
                "name": text(name, lang) or key,
                "fields": [f.name for f in entry.exported if key in f.categories],
            }
        )
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
                    "name": text(purpose.name, lang),
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
                    "name": text(r.name, lang),
                    "purposes": list(r.purposes),
                    "countries": list(r.countries),
                    "categories": [],
                },
            )
            item["categories"].append(key)
    rule = rule_for_record_type(policy, entry.record_type)
    retention = None if rule is None else _rule_terms(rule, lang)
    states = [
        {"when": c.describe(), "trigger_field": c.trigger_field, **_rule_terms(c.rule, lang)}
        for c in retention_choices(policy, entry.record_type)
        if entry.record_type.is_conditional
    ]
    if states:  # rules by state: every state's rule, in full (one shared rule too)
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
        "description": text(entry.record_type.description, lang),
        "role": entry.link.role_name,
        "kind": entry.link.kind,
        "fields": [f.name for f in entry.exported],
        "categories": cats,
        "purposes": sorted(purposes.values(), key=lambda p: str(p["key"])),
        "recipients": sorted(recipients.values(), key=lambda r: str(r["key"])),
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
    log: DisclosureLog | None, reference: str, kind: str, lang: str
) -> list[dict[str, Any]] | None:
    if log is None:
        return None
    return [
        {
            "recipient": r.recipient,
            "name": text(r.name, lang),
            "kind": r.kind,
            "categories": list(r.categories),
            "purposes": list(r.purposes),
            "record_types": list(r.record_types),
            "first": r.first.isoformat(),
            "last": r.last.isoformat(),
            "count": r.count,
        }
        for r in log.received_by(reference, kind=kind)
    ]
