"""The diff rules for what data is collected, who receives it and how long it is kept: each
function compares one part of two policy versions (collection entries, recipients, retention
rules) and yields a :class:`~privacy_kit.PolicyChange` per difference, in policy order, for
:func:`~privacy_kit.diff` to chain with the rules of :mod:`._diff_terms`."""

from __future__ import annotations

from collections.abc import Iterator

from .._types import LocalizedText
from ..model._policy import Policy
from ..model._policy_retention import RetentionAction, RetentionRule
from ..model._policy_rights import ChangeKind
from ._change import PolicyChange, _all_kinds, _join, _kinds_for, _listed, _within_kinds


def _collected(policy: Policy) -> dict[str, tuple[int, set[str], set[str]]]:
    """category -> (index of first entry, purposes, subject kinds) over the collection entries."""
    out: dict[str, tuple[int, set[str], set[str]]] = {}
    for i, c in enumerate(policy.collection):
        _, purposes, kinds = out.setdefault(c.category, (i, set(), set()))
        purposes.update(c.purposes)
        kinds.update(c.subjects or _all_kinds(policy))
    return out


def _collection_text(policy: Policy, category: str) -> LocalizedText | None:
    for c in policy.collection:
        if c.category == category and c.description is not None:
            return c.description
    return None


def _collection_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before, after = _collected(old), _collected(new)
    for category, (i, purposes, kinds) in after.items():
        where = f"collection[{i}]"
        text = _collection_text(new, category)
        ordered = tuple(k for k in _all_kinds(new) if k in kinds)
        if category not in before:
            yield PolicyChange(
                ChangeKind.CATEGORY_ADDED,
                category,
                where,
                f"category {category!r} is now collected, for {_listed(sorted(purposes))}",
                ordered,
                text,
            )
            continue
        _, old_purposes, old_kinds = before[category]
        gained_kinds = tuple(k for k in ordered if k not in old_kinds)
        if gained_kinds:
            yield PolicyChange(
                ChangeKind.CATEGORY_ADDED,
                category,
                f"{where}.subjects",
                f"category {category!r} is now also collected from {_listed(gained_kinds)}",
                gained_kinds,
                text,
            )
        lost_kinds = tuple(k for k in _all_kinds(old) if k in old_kinds - kinds)
        if lost_kinds:
            yield PolicyChange(
                ChangeKind.CATEGORY_REMOVED,
                category,
                f"{where}.subjects",
                f"category {category!r} is no longer collected from {_listed(lost_kinds)}",
                lost_kinds,
                text,
            )
        for purpose in sorted(purposes - old_purposes):
            yield PolicyChange(
                ChangeKind.PURPOSE_ADDED,
                f"{category}:{purpose}",
                f"{where}.purposes",
                f"category {category!r} is now also used for {purpose!r}",
                ordered,
                text,
            )
        for purpose in sorted(old_purposes - purposes):
            yield PolicyChange(
                ChangeKind.PURPOSE_REMOVED,
                f"{category}:{purpose}",
                f"{where}.purposes",
                f"category {category!r} is no longer used for {purpose!r}",
                ordered,
                text,
            )
    for category, (i, _purposes, kinds) in before.items():
        if category not in after:
            yield PolicyChange(
                ChangeKind.CATEGORY_REMOVED,
                category,
                f"collection[{i}]",
                f"category {category!r} is no longer collected",
                tuple(k for k in _all_kinds(old) if k in kinds),
                _collection_text(old, category),
                side="old",
            )


def _recipient_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    before = {r.key: (i, r) for i, r in enumerate(old.recipients)}
    after = {r.key: (i, r) for i, r in enumerate(new.recipients)}
    for key, (i, r) in after.items():
        kinds = _within_kinds(new, _kinds_for(new, r.categories), r.subjects)
        text = _join(r.name, r.conditions)
        if key not in before:
            yield PolicyChange(
                ChangeKind.RECIPIENT_ADDED,
                key,
                f"recipients[{i}]",
                f"data is now shared with {r.name.get_text('en')!r} ({r.kind.value}): "
                f"{_listed(r.categories)}, for {_listed(r.purposes)}",
                kinds,
                text,
            )
            continue
        _, o = before[key]
        details: list[str] = []
        for attr, label in (
            ("categories", "categories"),
            ("purposes", "purposes"),
            ("subjects", "subjects"),
            ("countries", "countries"),
        ):
            was, now = set(getattr(o, attr)), set(getattr(r, attr))
            if now - was:
                details.append(f"now also {label} {_listed(sorted(now - was))}")
            if was - now:
                details.append(f"no longer {label} {_listed(sorted(was - now))}")
        if o.kind is not r.kind:
            details.append(f"kind {o.kind.value} -> {r.kind.value}")
        if o.is_recipient_under_gdpr != r.is_recipient_under_gdpr:
            details.append(f"recipient under GDPR Art. 4(9): {r.is_recipient_under_gdpr}")
        if details:
            yield PolicyChange(
                ChangeKind.RECIPIENT_CHANGED,
                key,
                f"recipients[{i}]",
                f"sharing with {r.name.get_text('en')!r} changed: {'; '.join(details)}",
                kinds,
                text,
            )
    for key, (i, o) in before.items():
        if key not in after:
            yield PolicyChange(
                ChangeKind.RECIPIENT_REMOVED,
                key,
                f"recipients[{i}]",
                f"data is no longer shared with {o.name.get_text('en')!r}",
                _within_kinds(old, _kinds_for(old, o.categories), o.subjects),
                _join(o.name, o.conditions),
                side="old",
            )


def _span(rule: RetentionRule) -> str:
    if rule.indefinite:
        return "indefinitely"
    until = rule.trigger.value.replace("_", " ")
    if rule.duration is None:
        return f"until {until}"
    return f"{rule.duration.describe()} after {until}"


def _retention_difference(o: RetentionRule, n: RetentionRule) -> tuple[ChangeKind, str] | None:
    """The kind and words of the difference: ``retention_lengthened`` when any part keeps data
    longer or keeps more of it (a longer period or purge, ``forever``, a blind instead of a
    deletion, fewer categories blinded, an exception now kept forever), else
    ``retention_shortened`` when any part keeps less, else ``retention_changed``."""
    longer: list[str] = []
    shorter: list[str] = []
    other: list[str] = []
    span = f"kept {_span(n)} (was {_span(o)})"
    if o.indefinite != n.indefinite:
        (longer if n.indefinite else shorter).append(span)
    elif o.trigger is not n.trigger:
        other.append(span)
    elif n.effective_duration > o.effective_duration:
        longer.append(span)
    elif n.effective_duration < o.effective_duration:
        shorter.append(span)
    if o.purge_within != n.purge_within:
        was = o.purge_within.describe() if o.purge_within is not None else "no stated time"
        now = n.purge_within.describe() if n.purge_within is not None else "no stated time"
        text = f"purged from live systems within {now} (was {was})"
        wider = n.purge_within is None or (
            o.purge_within is not None and n.purge_within > o.purge_within
        )
        (longer if wider else shorter).append(text)
    blind, delete = RetentionAction.BLIND, RetentionAction.DELETE
    if o.action is not n.action:
        text = f"{n.action.value} instead of {o.action.value} at expiry"
        if n.action is blind and o.action is delete:
            longer.append(text + " (the fields not blinded are kept)")
        elif o.action is blind and n.action is delete:
            shorter.append(text)
        else:
            other.append(text)
    elif n.action is blind and set(o.blind) != set(n.blind):
        kept = sorted(set(o.blind) - set(n.blind))
        if kept:
            longer.append(f"no longer blinded: {_listed(kept)} (kept)")
        gained = sorted(set(n.blind) - set(o.blind))
        if gained:
            shorter.append(f"now also blinded: {_listed(gained)}")
    if o.exceptions != n.exceptions:
        was_forever = {e.kind for e in o.exceptions if e.indefinite}
        forever = [e.kind.value for e in n.exceptions if e.indefinite and e.kind not in was_forever]
        if forever:
            longer.append(f"now kept forever for {_listed(forever)}")
        kinds = _listed(e.kind.value for e in n.exceptions) or "none"
        other.append(f"exceptions now {kinds}")
    if o.override != n.override:
        if n.override is None:
            other.append("customers can no longer choose their own period")
        else:
            other.append(
                f"customers may choose {n.override.minimum.describe()} to "
                f"{n.override.maximum.describe()}"
            )
    details = [*longer, *shorter, *other]
    if not details:
        return None
    if longer:
        return ChangeKind.RETENTION_LENGTHENED, "; ".join(details)
    if shorter:
        return ChangeKind.RETENTION_SHORTENED, "; ".join(details)
    return ChangeKind.RETENTION_CHANGED, "; ".join(details)


def _retention_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    keys = dict.fromkeys(k for p in (old, new) for r in p.retention for k in r.categories)
    # Group categories that changed the same way under the same rules into one change.
    groups: dict[tuple[ChangeKind, str, str, str], list[str]] = {}
    compared: set[tuple[str, str]] = set()
    for category in keys:
        o, n = old.rule_for(category), new.rule_for(category)
        if o is None and n is None:  # pragma: no cover - every key comes from some rule
            continue
        if o is None:
            assert n is not None
            found: tuple[ChangeKind, str] | None = (
                ChangeKind.RETENTION_CHANGED,
                f"now kept {_span(n)} (rule {n.key!r})",
            )
        elif n is None:
            found = (
                ChangeKind.RETENTION_CHANGED,
                f"no longer has a retention rule (was {o.key!r})",
            )
        else:
            compared.add((o.key, n.key))
            found = _retention_difference(o, n)
        if found is not None:
            kind, detail = found
            groups.setdefault((kind, o.key if o else "", n.key if n else "", detail), []).append(
                category
            )
    # A rule no category reaches as its most specific one (a rule the data map names for a
    # state, such as trashed items) is compared under its own key.
    before = {r.key: r for r in old.retention}
    for r in new.retention:
        o = before.get(r.key)
        if o is None or (r.key, r.key) in compared:
            continue
        found = _retention_difference(o, r)
        if found is not None:
            groups.setdefault((found[0], r.key, r.key, found[1]), []).extend(r.categories)
    for (kind, old_key, new_key, detail), categories in groups.items():
        if new_key:
            index = next(i for i, r in enumerate(new.retention) if r.key == new_key)
            location, side, text = f"retention[{index}]", "new", new.rule(new_key).description
        else:
            index = next(i for i, r in enumerate(old.retention) if r.key == old_key)
            location, side, text = f"retention[{index}]", "old", old.rule(old_key).description
        yield PolicyChange(
            kind,
            new_key or old_key,
            location,
            f"{_listed(categories)}: {detail}",
            _kinds_for(new if new_key else old, categories),
            text,
            side="new" if side == "new" else "old",
        )
