"""Policy versions, what changed between two of them, and whom a material change must be told.

A :class:`PolicyHistory` keeps every published version of a policy with the instant it took
effect, answers which version was in force at a given time, and exports any version (or the whole
history) as JSON or YAML, so prior versions stay available on request. :func:`diff` compares two
versions and lists the changes in the terms a person reading the notice cares about (a new
recipient, a category no longer collected, data kept longer, a right taken away), each with a
readable description, its location in the policy and the subject kinds it concerns.

Which changes are *material* is a documented rule: by default the kinds the **new** policy lists
in ``changes.material``; pass ``material=`` to :func:`diff` (a set of
:class:`~privacy_kit.ChangeKind` or a callable) to decide otherwise. Each material change yields a
:class:`ChangeNotification`: the channels the change policy promises, the subject kinds affected,
the date it takes effect, and the text to send, drawn from the policy's own localisable text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal
from zoneinfo import ZoneInfo

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import Duration, LocalizedText, closest, require_aware
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ..model._policy_rights import ChangeKind
from ..model._taxonomy import is_within

__all__ = [
    "ChangeNotification",
    "Materiality",
    "PolicyChange",
    "PolicyDiff",
    "PolicyHistory",
    "PolicyVersion",
    "diff",
]

Materiality = Callable[["PolicyChange"], bool] | Iterable[ChangeKind | str] | None
"""How :func:`diff` decides materiality: ``None`` (the new policy's ``changes.material``), a set
of change kinds, or a callable taking a :class:`PolicyChange` and returning ``True`` if material."""

ExportFormat = Literal["json", "yaml"]

# Fixed phrases of the change notices, per language; other languages fall back to English.
_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "what": "What changes",
        "effective": "These changes take effect on {date}.",
        "posted": "The full notice is at {url}.",
    },
    "ar": {
        "what": "ما الذي يتغيّر",
        "effective": "تسري هذه التعديلات اعتبارًا من {date}.",
        "posted": "النص الكامل للإشعار متاح على {url}.",
    },
}


# -- the changes ------------------------------------------------------------------------------
@attrs.frozen
class PolicyChange:
    """One change between two policy versions, in user terms.

    Attributes:
        kind: what kind of change (see :class:`~privacy_kit.ChangeKind`).
        key: the item that changed (a category, a recipient key, a right, ...).
        location: where it is, e.g. ``recipients[5]``, in the new policy (``side="new"``) or, for
            a removal, in the old one (``side="old"``).
        description: a readable English sentence saying what changed.
        subject_kinds: the kinds of data subject the change concerns.
        text: the policy's own localisable text for the changed item, if it has one.
        side: which version ``location`` points into.
        material: whether the materiality rule of the diff counts it as material.

    Example:
        >>> c = PolicyChange(ChangeKind.RIGHT_ADDED, "restriction", "rights[7]",
        ...                  "right 'restriction' is now offered", ("customer",))
        >>> print(c)
        right_added at rights[7]: right 'restriction' is now offered
    """

    kind: ChangeKind
    key: str
    location: str
    description: str
    subject_kinds: tuple[str, ...] = ()
    text: LocalizedText | None = None
    side: Literal["old", "new"] = "new"
    material: bool = False

    def __str__(self) -> str:
        return f"{self.kind.value} at {self.location}: {self.description}"


@attrs.frozen
class ChangeNotification:
    """A notice a material change requires: over which channels, to whom, from when, saying what.

    Attributes:
        change: the material change.
        channels: the channels the change policy promises (``changes.notify_channels``).
        subject_kinds: who must be told.
        notify_by: the date by which the notice must be sent (the new version's effective date).
        takes_effect: the date the change applies (effective date, plus ``notice_period`` if set).
        text: the message, per language of the new policy.
    """

    change: PolicyChange
    channels: tuple[str, ...]
    subject_kinds: tuple[str, ...]
    notify_by: dt.date
    takes_effect: dt.date
    text: LocalizedText


@attrs.frozen
class PolicyDiff:
    """Everything that changed from ``old`` to ``new``, and which of it is material.

    Attributes:
        old: the earlier policy.
        new: the later policy.
        changes: every change, in policy order.

    Example:
        >>> import privacy_kit as pk
        >>> old = pk.load_policy(pk.example_path())
        >>> new = old.replace(version="2025.1", children={**old.children.model_dump(), "minimum_age": 18})
        >>> d = diff(old, new)
        >>> [c.kind.value for c in d.changes], d.is_material
        (['minimum_age_changed'], True)
    """

    old: Policy
    new: Policy
    changes: tuple[PolicyChange, ...]

    @property
    def material(self) -> tuple[PolicyChange, ...]:
        """The material changes."""
        return tuple(c for c in self.changes if c.material)

    @property
    def is_material(self) -> bool:
        """Whether any change is material."""
        return any(c.material for c in self.changes)

    def of_kind(self, kind: ChangeKind | str) -> tuple[PolicyChange, ...]:
        """The changes of ``kind``."""
        wanted = ChangeKind(kind)
        return tuple(c for c in self.changes if c.kind is wanted)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def notifications(self) -> tuple[ChangeNotification, ...]:
        """One :class:`ChangeNotification` per material change (none if nothing is material).

        The notice must go out by the new version's effective date; the change takes effect
        then, or ``changes.notice_period`` later if the new policy sets one.
        """
        policy = self.new.changes
        notify_by = self.new.effective
        takes_effect = notify_by
        if policy.notice_period is not None:
            takes_effect = _date_after(notify_by, policy.notice_period)
        return tuple(
            ChangeNotification(
                change=change,
                channels=tuple(policy.notify_channels),
                subject_kinds=change.subject_kinds,
                notify_by=notify_by,
                takes_effect=takes_effect,
                text=_notice_text(self.new, change, takes_effect),
            )
            for change in self.material
        )


def _date_after(start: dt.date, duration: Duration) -> dt.date:
    instant = duration.after(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC))
    # A period ending part-way through a day takes effect on the next whole day.
    return instant.date() + dt.timedelta(days=1 if instant.time() != dt.time() else 0)


def _notice_text(policy: Policy, change: PolicyChange, takes_effect: dt.date) -> LocalizedText:
    languages = dict.fromkeys(policy.languages)
    out: dict[str, str] = {}
    for lang in languages:
        phrases = _PHRASES.get(lang.split("-", maxsplit=1)[0], _PHRASES["en"])
        item = change.text.get_text(lang) if change.text is not None else change.description
        parts = [
            policy.changes.description.get_text(lang),
            f"{phrases['what']}: {item}",
            phrases["effective"].format(date=takes_effect.isoformat()),
        ]
        if policy.changes.posted_at:
            parts.append(phrases["posted"].format(url=policy.changes.posted_at))
        out[lang] = "\n\n".join(parts)
    return LocalizedText(out)


# -- diff -------------------------------------------------------------------------------------
def diff(old: Policy, new: Policy, *, material: Materiality = None) -> PolicyDiff:
    """List what changed from ``old`` to ``new`` in user terms, and mark the material changes.

    The materiality rule: by default a change is material when its kind is listed in the **new**
    policy's ``changes.material`` (the promise that applies from now on). Pass ``material`` as a
    set of kinds, or as a callable ``PolicyChange -> bool``, to decide otherwise.

    A right that is narrowed (a new refusal reason, fewer subjects, channels or jurisdictions) is
    reported as ``right_removed``, since part of it is taken away; widening as ``right_added``.
    A transfer whose mechanism changes is reported as one removed and one added.

    Args:
        old: the earlier version.
        new: the later version.
        material: the materiality rule (see above).

    Returns:
        A :class:`PolicyDiff`.

    Raises:
        ConfigurationError: ``material`` names an unknown change kind.

    Example:
        >>> import privacy_kit as pk
        >>> old = pk.load_policy(pk.example_path())
        >>> new = old.replace(version="2", breach={**old.breach.model_dump(), "notify_within": "P7D"})
        >>> d = diff(old, new)
        >>> print(d.changes[0])
        breach_promise_changed at breach: breach promise changed: notify within 7 days (was 72 hours)
        >>> d.is_material, diff(old, new, material={"breach_promise_changed"}).is_material
        (False, True)
    """
    rule = _materiality(material, new)
    changes = [*_changes(old, new)]
    return PolicyDiff(old, new, tuple(attrs.evolve(c, material=rule(c)) for c in changes))


def _materiality(material: Materiality, new: Policy) -> Callable[[PolicyChange], bool]:
    if material is None:
        kinds = frozenset(new.changes.material)
        return lambda change: change.kind in kinds
    if callable(material):
        return material
    chosen: set[ChangeKind] = set()
    for item in material:
        try:
            chosen.add(ChangeKind(item))
        except ValueError:
            names = [k.value for k in ChangeKind]
            hint = closest(str(item), names)
            suffix = f"; did you mean {hint!r}?" if hint else f"; known kinds: {names}"
            raise ConfigurationError(f"unknown change kind {item!r} in material{suffix}") from None
    frozen = frozenset(chosen)
    return lambda change: change.kind in frozen


def _overlaps(a: str, b: str) -> bool:
    return is_within(a, b) or is_within(b, a)


def _all_kinds(policy: Policy) -> tuple[str, ...]:
    return tuple(s.kind for s in policy.subjects)


def _kinds_for(policy: Policy, categories: Iterable[str]) -> tuple[str, ...]:
    """The subject kinds from whom any of ``categories`` is collected."""
    keys = tuple(categories)
    found: set[str] = set()
    for c in policy.collection:
        if any(_overlaps(c.category, k) for k in keys):
            found.update(c.subjects or _all_kinds(policy))
    return tuple(k for k in _all_kinds(policy) if k in found)


def _within_kinds(policy: Policy, kinds: tuple[str, ...], limit: Iterable[str]) -> tuple[str, ...]:
    allowed = tuple(limit) or _all_kinds(policy)
    return tuple(k for k in kinds if k in allowed)


def _join(*texts: LocalizedText | None, sep: str = ": ") -> LocalizedText | None:
    present = [t for t in texts if t is not None]
    if not present:
        return None
    languages = sorted({lang for t in present for lang in t})
    return LocalizedText({lang: sep.join(t.get_text(lang) for t in present) for lang in languages})


def _listed(values: Iterable[str]) -> str:
    return ", ".join(values)


def _changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    yield from _collection_changes(old, new)
    yield from _recipient_changes(old, new)
    yield from _retention_changes(old, new)
    yield from _right_changes(old, new)
    yield from _storage_changes(old, new)
    yield from _security_changes(old, new)
    yield from _breach_changes(old, new)
    yield from _children_changes(old, new)
    yield from _controller_changes(old, new)
    yield from _text_changes(old, new)


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
    until = rule.trigger.value.replace("_", " ")
    if rule.duration is None:
        return f"until {until}"
    return f"{rule.duration.describe()} after {until}"


def _retention_difference(o: RetentionRule, n: RetentionRule) -> tuple[ChangeKind, str] | None:
    if o.trigger is not n.trigger:
        return ChangeKind.RETENTION_CHANGED, f"kept {_span(n)} (was {_span(o)})"
    was, now = o.effective_duration, n.effective_duration
    if now > was:
        return ChangeKind.RETENTION_LENGTHENED, f"kept {_span(n)} (was {_span(o)})"
    if now < was:
        return ChangeKind.RETENTION_SHORTENED, f"kept {_span(n)} (was {_span(o)})"
    details: list[str] = []
    if o.action is not n.action:
        details.append(f"{n.action.value} instead of {o.action.value} at expiry")
    if o.exceptions != n.exceptions:
        kinds = _listed(e.kind.value for e in n.exceptions) or "none"
        details.append(f"exceptions now {kinds}")
    if o.override != n.override:
        if n.override is None:
            details.append("customers can no longer choose their own period")
        else:
            details.append(
                f"customers may choose {n.override.minimum.describe()} to "
                f"{n.override.maximum.describe()}"
            )
    if details:
        return ChangeKind.RETENTION_CHANGED, "; ".join(details)
    return None


def _retention_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    keys = dict.fromkeys(k for p in (old, new) for r in p.retention for k in r.categories)
    # Group categories that changed the same way under the same rules into one change.
    groups: dict[tuple[ChangeKind, str, str, str], list[str]] = {}
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
            found = _retention_difference(o, n)
        if found is not None:
            kind, detail = found
            groups.setdefault((kind, o.key if o else "", n.key if n else "", detail), []).append(
                category
            )
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
        details.append("counted from awareness" if n.from_awareness else "counted from occurrence")
    if details:
        yield PolicyChange(
            ChangeKind.BREACH_PROMISE_CHANGED,
            "breach",
            "breach",
            "breach promise changed: " + "; ".join(details),
            tuple(k for k in _all_kinds(new) if k in set(n.notify) | set(o.notify)),
            n.description,
        )


def _children_changes(old: Policy, new: Policy) -> Iterator[PolicyChange]:
    o, n = old.children, new.children
    details: list[str] = []
    if o.minimum_age != n.minimum_age:
        details.append(f"minimum age is now {n.minimum_age} (was {o.minimum_age})")
    if o.knowingly_collects != n.knowingly_collects:
        details.append(
            "children's data may now be collected knowingly"
            if n.knowingly_collects
            else "children's data is no longer collected knowingly"
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
    yield "breach", "breach.description", policy.breach.description
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


# -- history ----------------------------------------------------------------------------------
@attrs.frozen
class PolicyVersion:
    """A published version of a policy and the instant it took effect.

    Example:
        >>> import privacy_kit as pk
        >>> v = PolicyHistory([pk.load_policy(pk.example_path())]).latest
        >>> v.version, v.effective_at.isoformat()
        ('2024.1', '2024-05-01T00:00:00+00:00')
    """

    policy: Policy
    effective_at: dt.datetime

    @property
    def version(self) -> str:
        """The policy's version string."""
        return self.policy.version

    def document(self) -> dict[str, Any]:
        """The policy as a plain JSON-compatible mapping that :func:`~privacy_kit.load_policy` reads."""
        data: dict[str, Any] = self.policy.model_dump(mode="json", exclude_none=True)
        return data

    def export(self, format: ExportFormat = "json") -> str:  # noqa: A002 - the natural name
        """This version as a JSON or YAML document (loadable with :func:`~privacy_kit.load_policy`).

        Raises:
            ConfigurationError: an unknown format, or YAML without PyYAML installed.
        """
        return _dump(self.document(), format)


def _dump(data: Any, format: str) -> str:  # noqa: A002
    if format == "json":
        return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
    if format == "yaml":
        try:
            import yaml  # noqa: PLC0415 - optional dependency, only when YAML is asked for
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ConfigurationError(
                "exporting YAML needs PyYAML: pip install 'privacy-kit[yaml]'"
            ) from exc
        text: str = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        return text
    raise ConfigurationError(f"unknown export format {format!r}; use 'json' or 'yaml'")


def _zone(tz: dt.tzinfo | str) -> dt.tzinfo:
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(f"unknown time zone {tz!r}") from exc
    return tz


class PolicyHistory:
    """Every published version of a policy, ordered by the instant each took effect.

    A version takes effect at the start of its ``effective`` date in ``tz`` (UTC by default)
    unless :meth:`add` is given an explicit instant.

    Args:
        policies: versions to start with.
        tz: the time zone in which effective dates begin (a ``tzinfo`` or an IANA name).

    Raises:
        ConfigurationError: two versions share a version string or an effective instant.

    Example:
        >>> import datetime as dt, privacy_kit as pk
        >>> v1 = pk.load_policy(pk.example_path())
        >>> v2 = v1.replace(version="2025.1", effective="2025-03-01")
        >>> history = PolicyHistory([v1, v2], tz="Europe/Paris")
        >>> history.in_force(dt.datetime(2025, 2, 28, 23, 30, tzinfo=dt.UTC)).version
        '2025.1'
        >>> history.in_force(dt.datetime(2025, 2, 28, 22, 30, tzinfo=dt.UTC)).version
        '2024.1'
    """

    def __init__(self, policies: Iterable[Policy] = (), *, tz: dt.tzinfo | str = dt.UTC) -> None:
        self.tz = _zone(tz)
        self._versions: list[PolicyVersion] = []
        for policy in policies:
            self.add(policy)

    def add(self, policy: Policy, *, effective_at: dt.datetime | None = None) -> PolicyVersion:
        """Add a version; it takes effect at ``effective_at`` or at the start of ``policy.effective``.

        Raises:
            ConfigurationError: the version string or the instant is already taken.
            ValueError: ``effective_at`` is naive.
        """
        if effective_at is None:
            effective_at = dt.datetime.combine(policy.effective, dt.time(), tzinfo=self.tz)
        require_aware(effective_at, "effective_at")
        for v in self._versions:
            if v.version == policy.version:
                raise ConfigurationError(
                    f"policy version {policy.version!r} is already in the history"
                )
            if v.effective_at == effective_at:
                raise ConfigurationError(
                    f"versions {v.version!r} and {policy.version!r} would both take effect at "
                    f"{effective_at.isoformat()}"
                )
        version = PolicyVersion(policy, effective_at)
        self._versions.append(version)
        self._versions.sort(key=lambda v: v.effective_at)
        return version

    @property
    def versions(self) -> tuple[PolicyVersion, ...]:
        """Every version, oldest first."""
        return tuple(self._versions)

    def __len__(self) -> int:
        return len(self._versions)

    def __iter__(self) -> Iterator[PolicyVersion]:
        return iter(tuple(self._versions))

    @property
    def latest(self) -> PolicyVersion:
        """The version that takes effect last.

        Raises:
            ConfigurationError: the history is empty.
        """
        if not self._versions:
            raise ConfigurationError("the policy history is empty; add a version first")
        return self._versions[-1]

    def get(self, version: str) -> PolicyVersion:
        """The version named ``version``; ``KeyError`` with a hint if unknown."""
        for v in self._versions:
            if v.version == version:
                return v
        names = [v.version for v in self._versions]
        hint = closest(version, names)
        suffix = f"; did you mean {hint!r}?" if hint else f"; known versions: {names}"
        raise KeyError(f"unknown policy version {version!r}{suffix}")

    def in_force(self, at: dt.datetime) -> PolicyVersion:
        """The version in force at ``at`` (the latest one that took effect at or before it).

        Raises:
            ValueError: ``at`` is naive.
            ConfigurationError: ``at`` is before the first version took effect (or none exists).
        """
        require_aware(at, "at")
        current: PolicyVersion | None = None
        for v in self._versions:
            if v.effective_at <= at:
                current = v
            else:
                break
        if current is None:
            if not self._versions:
                raise ConfigurationError("the policy history is empty; add a version first")
            first = self._versions[0]
            raise ConfigurationError(
                f"no policy version was in force at {at.isoformat()}: the first version "
                f"({first.version!r}) took effect at {first.effective_at.isoformat()}"
            )
        return current

    def previous(self, version: str) -> PolicyVersion | None:
        """The version before ``version`` (``None`` for the first)."""
        target = self.get(version)
        index = self._versions.index(target)
        return self._versions[index - 1] if index else None

    def diff(self, old: str, new: str, *, material: Materiality = None) -> PolicyDiff:
        """:func:`diff` between two versions of this history, named by version string."""
        return diff(self.get(old).policy, self.get(new).policy, material=material)

    def changes(self, *, material: Materiality = None) -> tuple[PolicyDiff, ...]:
        """The diff between each pair of consecutive versions."""
        return tuple(
            diff(a.policy, b.policy, material=material)
            for a, b in zip(self._versions, self._versions[1:], strict=False)
        )

    def export(self, version: str, format: ExportFormat = "json") -> str:  # noqa: A002
        """One version as a JSON or YAML policy document (for "prior versions on request")."""
        return self.get(version).export(format)

    def export_all(self, format: ExportFormat = "json") -> str:  # noqa: A002
        """The whole history as one document: ``{"versions": [{version, effective_at, policy}]}``.

        Read it back with :meth:`from_export`.
        """
        data = {
            "versions": [
                {
                    "version": v.version,
                    "effective_at": v.effective_at.isoformat(),
                    "policy": v.document(),
                }
                for v in self._versions
            ]
        }
        return _dump(data, format)

    @classmethod
    def from_export(
        cls, document: str | Mapping[str, Any], *, tz: dt.tzinfo | str = dt.UTC
    ) -> PolicyHistory:
        """Rebuild a history from :meth:`export_all` output (JSON text, YAML text or a mapping).

        Raises:
            ConfigurationError: the document is not a history export.
            PolicyError: a version does not validate.
        """
        from ..model._loading import load_policy  # noqa: PLC0415 - avoids an import cycle at load

        data: Any = document
        if isinstance(document, str):
            try:
                data = orjson.loads(document)
            except orjson.JSONDecodeError:
                try:
                    import yaml  # noqa: PLC0415 - optional dependency
                except ImportError as exc:  # pragma: no cover - depends on the environment
                    raise ConfigurationError(
                        "the document is not JSON, and PyYAML is missing"
                    ) from exc
                data = yaml.safe_load(document)
        if not isinstance(data, Mapping) or not isinstance(data.get("versions"), list):
            raise ConfigurationError("not a policy history export: expected a 'versions' list")
        history = cls(tz=tz)
        for i, item in enumerate(data["versions"]):
            if not isinstance(item, Mapping) or not {"effective_at", "policy"} <= set(item):
                raise ConfigurationError(
                    f"versions[{i}]: expected a mapping with 'effective_at' and 'policy'"
                )
            try:
                effective_at = dt.datetime.fromisoformat(str(item["effective_at"]))
            except ValueError as exc:
                raise ConfigurationError(f"versions[{i}].effective_at: {exc}") from None
            history.add(load_policy(item["policy"]), effective_at=effective_at)
        return history

    def __repr__(self) -> str:
        return f"<PolicyHistory {[v.version for v in self._versions]}>"
