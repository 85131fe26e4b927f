"""The diff rules for the terms around the data: each function compares one part of two policy
versions (rights, storage and transfers, security, the breach promise, children, the controller,
the wording of the text) and yields a :class:`~privacy_kit.PolicyChange` per difference, in
policy order, for :func:`~privacy_kit.diff` to chain after the rules of :mod:`._diff_data`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._types import LocalizedText
from ..model._policy import Policy
from ..model._policy_rights import ChangeKind
from ._change import PolicyChange, _all_kinds, _join, _kinds_for, _listed


def _right_scope(policy: Policy) -> dict[str, tuple[int, set[tuple[str, str]], Any]]:
    """right -> (index, {(jurisdiction, subject kind)}, offer) for every offer of the policy."""
    out: dict[str, tuple[int, set[tuple[str, str]], Any]] = {}
    for i, offer in enumerate(policy.rights):
        juris = offer.jurisdictions or policy.jurisdictions
        kinds = offer.subjects or _all_kinds(policy)
        _, scope, _ = out.setdefault(offer.right.value, (i, set(), offer))
        scope.update((j, k) for j in juris for k in kinds)
    return out


def _right_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before, after = _right_scope(old), _right_scope(new)
    for right, (i, scope, offer) in after.items():
        where = f"rights[{i}]"
        if right not in before:
            yield PolicyChange(
                ChangeKind.RIGHT_ADDED,
                right,
                where,
                f"right {right!r} is now offered",
                tuple(k for k in _all_kinds(new) if any(k == s for _, s in scope)),
                offer.description,
            )
            continue
        _, old_scope, old_offer = before[right]
        gained, lost = scope - old_scope, old_scope - scope
        if gained:
            yield PolicyChange(
                ChangeKind.RIGHT_ADDED,
                right,
                where,
                f"right {right!r} is now also offered for "
                + _listed(f"{k} under {j}" for j, k in sorted(gained)),
                tuple(dict.fromkeys(k for _, k in sorted(gained))),
                offer.description,
            )
        if lost:
            yield PolicyChange(
                ChangeKind.RIGHT_REMOVED,
                right,
                where,
                f"right {right!r} is no longer offered for "
                + _listed(f"{k} under {j}" for j, k in sorted(lost)),
                tuple(dict.fromkeys(k for _, k in sorted(lost))),
                offer.description,
            )
        narrowed: list[str] = []
        added_reasons = set(offer.refusal_reasons) - set(old_offer.refusal_reasons)
        if added_reasons:
            narrowed.append(
                "may now also be refused: " + _listed(sorted(r.value for r in added_reasons))
            )
        old_channels = set(old_offer.channels) or {c.key for c in old.requests.channels}
        new_channels = set(offer.channels) or {c.key for c in new.requests.channels}
        kinds = tuple(k for k in _all_kinds(new) if any(k == s for _, s in scope))
        if new_channels - old_channels:
            yield PolicyChange(
                ChangeKind.RIGHT_ADDED,
                right,
                f"{where}.channels",
                f"right {right!r} can now also be used through "
                + _listed(sorted(new_channels - old_channels)),
                kinds,
                offer.description,
            )
        if old_channels - new_channels:
            narrowed.append("no longer through " + _listed(sorted(old_channels - new_channels)))
        if narrowed:
            yield PolicyChange(
                ChangeKind.RIGHT_REMOVED,
                right,
                where,
                f"right {right!r} is narrowed: " + "; ".join(narrowed),
                kinds,
                offer.description,
            )
    for right, (i, scope, offer) in before.items():
        if right not in after:
            yield PolicyChange(
                ChangeKind.RIGHT_REMOVED,
                right,
                f"rights[{i}]",
                f"right {right!r} is no longer offered",
                tuple(k for k in _all_kinds(old) if any(k == s for _, s in scope)),
                offer.description,
                side="old",
            )


def _storage_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    everyone = _all_kinds(new)
    before = {
        (t.from_region, t.to_country, t.mechanism): (i, t)
        for i, t in enumerate(old.storage.transfers)
    }
    after = {
        (t.from_region, t.to_country, t.mechanism): (i, t)
        for i, t in enumerate(new.storage.transfers)
    }
    for key, (i, t) in after.items():
        if key not in before:
            yield PolicyChange(
                ChangeKind.TRANSFER_ADDED,
                f"{t.from_region}->{t.to_country}",
                f"storage.transfers[{i}]",
                f"data is now transferred from {t.from_region} to {t.to_country} ({t.mechanism})",
                everyone,
                t.description,
            )
    for key, (i, t) in before.items():
        if key not in after:
            yield PolicyChange(
                ChangeKind.TRANSFER_REMOVED,
                f"{t.from_region}->{t.to_country}",
                f"storage.transfers[{i}]",
                f"data is no longer transferred from {t.from_region} to {t.to_country} "
                f"({t.mechanism})",
                _all_kinds(old),
                t.description,
                side="old",
            )
    old_locations = {loc.key: loc for loc in old.storage.locations}
    for i, loc in enumerate(new.storage.locations):
        was = old_locations.get(loc.key)
        place = f"{loc.provider} in {loc.country}" + (f" ({loc.region})" if loc.region else "")
        if was is None:
            detail = f"data is now also stored with {place}"
        elif (was.provider, was.country, was.region, was.categories) != (
            loc.provider,
            loc.country,
            loc.region,
            loc.categories,
        ):
            detail = f"storage location {loc.key!r} is now {place}"
        else:
            continue
        yield PolicyChange(
            ChangeKind.STORAGE_CHANGED,
            loc.key,
            f"storage.locations[{i}]",
            detail,
            _kinds_for(new, loc.categories) if loc.categories else everyone,
            loc.description,
        )
    new_keys = {loc.key for loc in new.storage.locations}
    for i, loc in enumerate(old.storage.locations):
        if loc.key not in new_keys:
            yield PolicyChange(
                ChangeKind.STORAGE_CHANGED,
                loc.key,
                f"storage.locations[{i}]",
                f"data is no longer stored with {loc.provider} in {loc.country}",
                _all_kinds(old),
                loc.description,
                side="old",
            )


def _security_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {m.key: m for m in old.security}
    for i, m in enumerate(new.security):
        was = before.get(m.key)
        if was is None:
            detail = f"new security measure {m.key!r} ({m.kind})"
        elif (was.kind, was.standard) != (m.kind, m.standard):
            detail = f"security measure {m.key!r} is now {m.kind}" + (
                f" ({m.standard})" if m.standard else ""
            )
        else:
            continue
        yield PolicyChange(
            ChangeKind.SECURITY_CHANGED,
            m.key,
            f"security[{i}]",
            detail,
            _all_kinds(new),
            m.description,
        )
    keys = {m.key for m in new.security}
    for i, m in enumerate(old.security):
        if m.key not in keys:
            yield PolicyChange(
                ChangeKind.SECURITY_CHANGED,
                m.key,
                f"security[{i}]",
                f"security measure {m.key!r} ({m.kind}) was removed",
                _all_kinds(old),
                m.description,
                side="old",
            )


def _breach_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.breach, new.breach
    if o is None or n is None:
        yield from _breach_added_or_removed(old, new)
        return
    details: list[str] = []
    if o.notify_within != n.notify_within:
        details.append(
            f"notify within {n.notify_within.describe()} (was {o.notify_within.describe()})"
        )
    details.extend(
        f"{attr} now {_listed(getattr(n, attr))} (was {_listed(getattr(o, attr))})"
        for attr in ("notify", "triggers", "channels")
        if set(getattr(o, attr)) != set(getattr(n, attr))
    )
    if o.from_awareness != n.from_awareness:
        details.append(
            {
                True: "counted from awareness",
                False: "counted from occurrence",
                None: "no longer says when the time starts",
            }[n.from_awareness]
        )
    if details:
        yield PolicyChange(
            ChangeKind.BREACH_PROMISE_CHANGED,
            "breach",
            "breach",
            "breach promise changed: " + "; ".join(details),
            tuple(k for k in _all_kinds(new) if k in set(n.notify) | set(o.notify)),
            n.description,
        )


def _breach_added_or_removed(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.breach, new.breach
    if o is None and n is not None:
        yield PolicyChange(
            ChangeKind.BREACH_PROMISE_CHANGED,
            "breach",
            "breach",
            f"breach promise added: {_listed(n.notify)} told within {n.notify_within.describe()}",
            tuple(k for k in _all_kinds(new) if k in set(n.notify)),
            n.description,
        )
    elif o is not None and n is None:
        yield PolicyChange(
            ChangeKind.BREACH_PROMISE_CHANGED,
            "breach",
            "breach",
            f"breach promise removed (was: {_listed(o.notify)} told within "
            f"{o.notify_within.describe()}); only the law's duties remain",
            tuple(k for k in _all_kinds(old) if k in set(o.notify)),
            o.description,
            side="old",
        )


def _children_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.children, new.children
    if o is None or n is None:
        if o is not n:
            yield PolicyChange(
                ChangeKind.MINIMUM_AGE_CHANGED,
                "children",
                "children",
                f"minimum age is now {n.minimum_age} (the policy set none)"
                if n is not None
                else f"the policy no longer sets a minimum age (was {o.minimum_age if o else '-'})"
                "; only the law's ages apply",
                _all_kinds(new),
                n.description if n is not None else (o.description if o else None),
                side="new" if n is not None else "old",
            )
        return
    details: list[str] = []
    if o.minimum_age != n.minimum_age:
        details.append(f"minimum age is now {n.minimum_age} (was {o.minimum_age})")
    if o.knowingly_collects != n.knowingly_collects:
        details.append(
            {
                True: "children's data may now be collected knowingly",
                False: "children's data is no longer collected knowingly",
                None: "no longer says whether children's data is collected knowingly",
            }[n.knowingly_collects]
        )
    if details:
        yield PolicyChange(
            ChangeKind.MINIMUM_AGE_CHANGED,
            "children",
            "children",
            "; ".join(details),
            _all_kinds(new),
            n.description,
        )


def _controller_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.controller, new.controller
    details = [
        attr
        for attr in ("name", "legal_name", "address", "website", "dpo", "representative_eu")
        if getattr(o, attr) != getattr(n, attr)
    ]
    if [(c.kind, c.value) for c in o.contacts] != [(c.kind, c.value) for c in n.contacts]:
        details.append("contacts")
    if details:
        yield PolicyChange(
            ChangeKind.CONTROLLER_CHANGED,
            "controller",
            "controller",
            f"controller details changed: {_listed(details)} (now {n.name!r})",
            _all_kinds(new),
            None,
        )


def _text_pairs(
    policy: Policy,
) -> Iterator[tuple[str, str, LocalizedText | None]]:
    """(identity, location, text) of every piece of localisable text a person reads."""
    yield "title", "title", policy.title
    yield "summary", "summary", policy.summary
    for i, t in enumerate(policy.principles):
        yield f"principles[{i}]", f"principles[{i}]", t
    yield "complaints", "complaints", policy.complaints
    yield "security_disclaimer", "security_disclaimer", policy.security_disclaimer
    if policy.breach is not None:
        yield "breach", "breach.description", policy.breach.description
    if policy.children is not None:
        yield "children", "children.description", policy.children.description
    yield "changes", "changes.description", policy.changes.description
    yield "requests", "requests.description", policy.requests.description
    for i, s in enumerate(policy.subjects):
        yield f"subject:{s.kind}", f"subjects[{i}].description", s.description
    for i, c in enumerate(policy.collection):
        yield f"collection:{c.category}/{c.source}", f"collection[{i}].description", c.description
    for i, r in enumerate(policy.recipients):
        yield f"recipient:{r.key}", f"recipients[{i}]", _join(r.name, r.conditions, *r.examples)
    for i, rule in enumerate(policy.retention):
        yield f"retention:{rule.key}", f"retention[{i}].description", rule.description
    for i, o in enumerate(policy.rights):
        yield (
            f"right:{o.right}/{','.join(o.jurisdictions)}",
            f"rights[{i}].description",
            o.description,
        )
    for i, m in enumerate(policy.security):
        yield f"security:{m.key}", f"security[{i}].description", m.description
    for i, comm in enumerate(policy.communications):
        yield f"communication:{comm.key}", f"communications[{i}].description", comm.description


def _text_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {ident: text for ident, _, text in _text_pairs(old)}
    for ident, location, text in _text_pairs(new):
        if ident not in before or text is None:
            continue  # new items are reported by their own kind
        was = before[ident]
        if was == text:
            continue
        languages = sorted(
            lang for lang in {*(was or {}), *text} if (was or {}).get(lang) != text.get(lang)
        )
        yield PolicyChange(
            ChangeKind.TEXT_CHANGED,
            ident,
            location,
            f"the wording of {location} changed ({_listed(languages)})",
            _all_kinds(new),
            text,
        )
