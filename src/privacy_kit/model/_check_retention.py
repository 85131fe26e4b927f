"""Which retention rule governs which records of a record type, and the findings on conditional rules.

A record type takes one rule (its ``retention`` key, or the rule its categories derive), or a list
of entries each covering the records in one state (:mod:`privacy_kit.model._conditions`).
:func:`retention_choices` gives the entries resolved to rules, first match first, and
:func:`rule_for_record` the rule of one record. :func:`conditional_findings` reports entries that
can match the same record (``retention-conditions-overlap``) and records no entry matches
(``retention-conditions-gap``), by trying every combination of the values the conditions tell apart.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import attrs

from .._errors import ConfigurationError
from ._conditions import Condition
from ._taxonomy import is_within

if TYPE_CHECKING:
    from ._datamap import RecordType
    from ._policy import Policy
    from ._policy_retention import RetentionRule

__all__ = [
    "RuleChoice",
    "governing_rule",
    "product_findings",
    "retention_choices",
    "rule_for_category",
    "rule_for_record",
    "rule_for_record_type",
    "serves",
]

_MAX_STATES = 4096


@attrs.frozen
class RuleChoice:
    """A rule and the records of a record type it governs.

    Attributes:
        rule: the retention rule.
        when: the state it covers (``None``: every record, or every record no earlier entry took).
        unless: the conditions of the earlier entries (the first matching entry wins).
        trigger_field: the record's time field the rule's trigger reads (``None``: the data
            map's ``timestamps``, or the account's).
        index: the entry's position in the record type's ``retention`` list (``None``: not a list).
    """

    rule: RetentionRule
    when: Condition | None = None
    unless: tuple[Condition, ...] = ()
    trigger_field: str | None = None
    index: int | None = None

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` falls under this entry."""
        if self.when is not None and not self.when.evaluate(record):
            return False
        return not any(u.evaluate(record) for u in self.unless)

    def describe(self) -> str:
        """The state in words (``trashed_at is not null``; ``any other record``)."""
        if self.when is not None:
            return self.when.describe()
        return "any other record" if self.unless else "every record"


class _Same:
    """A key that is equal only to the very same object (models are frozen: same object, same
    answer), hashed by identity: no deep hash of a policy on every look-up."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


# Plans ask for the rules of each record type many times (entries, orphans, notes, bounds); the
# answer depends on the two frozen models only. Bounded, so replaced policies are let go.
_CACHE_SIZE = 128


def retention_choices(policy: Policy, rt: RecordType) -> tuple[RuleChoice, ...]:
    """The rules governing ``rt``'s records, one per state, the first match first.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
        >>> [c.rule.key for c in retention_choices(policy, users)]
        ['account_data']
    """
    return _retention_choices(_Same(policy), _Same(rt))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _retention_choices(same_policy: _Same, same_rt: _Same) -> tuple[RuleChoice, ...]:
    policy, rt = cast("Policy", same_policy.obj), cast("RecordType", same_rt.obj)
    if not rt.is_conditional:
        if isinstance(rt.retention, str) and rt.retention not in {r.key for r in policy.retention}:
            return ()  # an unknown key: reported by check() as unknown-reference
        rule = rule_for_record_type(policy, rt)
        return () if rule is None else (RuleChoice(rule),)
    keys = {r.key for r in policy.retention if serves(r, rt)}
    out: list[RuleChoice] = []
    earlier: list[Condition] = []
    for j, entry in enumerate(rt.retention_entries):
        if entry.rule in keys:  # a rule of another product governs nothing here (check() says)
            out.append(
                RuleChoice(
                    policy.rule(entry.rule),
                    when=entry.when,
                    unless=tuple(earlier),
                    trigger_field=entry.trigger_field,
                    index=j,
                )
            )
        if entry.when is not None:
            earlier.append(entry.when)
    return tuple(out)


def rule_for_record_type(policy: Policy, rt: RecordType) -> RetentionRule | None:
    """The retention rule that governs records of ``rt``.

    The data map's ``retention`` key wins; otherwise the rule covering the most specific
    categories of the record type's fields, preferring the rule that covers the most fields.
    A record type whose rules depend on the record's state (a ``retention`` list) has one rule
    only when every entry names the same one, else ``None``: use
    :func:`~privacy_kit.model.retention_choices` or :func:`~privacy_kit.model.rule_for_record`.
    A record type of a product is governed only by rules for every product or for its own
    (a rule it names that serves other products only governs nothing: ``check()`` reports it).
    """
    return _rule_for_record_type(_Same(policy), _Same(rt))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _rule_for_record_type(same_policy: _Same, same_rt: _Same) -> RetentionRule | None:
    policy, rt = cast("Policy", same_policy.obj), cast("RecordType", same_rt.obj)
    if rt.is_conditional:
        keys = {e.rule for e in rt.retention_entries}
        if len(keys) != 1:
            return None
        rule = policy.rule(keys.pop())
        return rule if serves(rule, rt) else None
    if isinstance(rt.retention, str):
        rule = policy.rule(rt.retention)
        return rule if serves(rule, rt) else None
    votes: dict[str, int] = {}
    for f in rt.fields:
        for cat in f.categories:
            found = rule_for_category(policy, cat, rt.product)
            if found is not None:
                votes[found.key] = votes.get(found.key, 0) + 1
    if not votes:
        return None
    best = max(votes, key=lambda k: (votes[k], -[r.key for r in policy.retention].index(k)))
    return policy.rule(best)


def serves(rule: RetentionRule, rt: RecordType) -> bool:
    """Whether ``rule`` may govern ``rt``: it names no products, ``rt`` has none, or it names
    ``rt``'s product.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
        >>> serves(policy.rule("account_data"), users)
        True
    """
    return not rule.products or rt.product is None or rt.product in rule.products


def rule_for_category(policy: Policy, category: str, product: str | None) -> RetentionRule | None:
    """The most specific rule covering ``category`` among those for ``product`` (``None``: any
    rule), or ``None``."""
    best: tuple[int, RetentionRule] | None = None
    for r in policy.retention:
        if product is not None and r.products and product not in r.products:
            continue
        for k in r.categories:
            if is_within(category, k) and (best is None or k.count(".") > best[0]):
                best = (k.count("."), r)
    return best[1] if best else None


def product_findings(
    policy: Policy, rt: RecordType, where: str
) -> Iterator[tuple[str, str, str, str]]:
    """``(code, severity, location, message)``: ``retention-rule-other-product`` (``rt`` names a
    rule that serves other products only) and ``product-without-retention`` (no rule for ``rt``'s
    product covers its personal data)."""
    if rt.product is None:
        return
    known = {r.key: r for r in policy.retention}
    named: list[tuple[str, str]] = []
    if isinstance(rt.retention, str):
        named.append((rt.retention, f"{where}.retention"))
    elif rt.is_conditional:
        named.extend(
            (e.rule, f"{where}.retention[{j}].rule") for j, e in enumerate(rt.retention_entries)
        )
    for key, at in named:
        rule = known.get(key)
        if rule is not None and not serves(rule, rt):
            yield (
                "retention-rule-other-product",
                "error",
                at,
                (
                    f"{rt.name!r} belongs to product {rt.product!r} but rule {key!r} is for "
                    f"{', '.join(rule.products)} only, so it governs none of its records"
                ),
            )
    if (
        rt.retention is None
        and any(f.personal for f in rt.fields)
        and rule_for_record_type(policy, rt) is None
    ):
        yield (
            "product-without-retention",
            "error",
            where,
            (
                f"{rt.name!r} belongs to product {rt.product!r}, and no retention rule for "
                f"{rt.product!r} (or for every product) covers its personal data"
            ),
        )


def rule_for_record(policy: Policy, rt: RecordType, record: Mapping[str, Any]) -> RuleChoice | None:
    """The entry whose state ``record`` is in (``None``: no rule covers it).

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
        >>> rule_for_record(policy, users, {"id": 1}).rule.key
        'account_data'
    """
    return next((c for c in retention_choices(policy, rt) if c.matches(record)), None)


def governing_rule(
    policy: Policy, rt: RecordType, record: Mapping[str, Any] | None = None
) -> RetentionRule | None:
    """The rule governing ``rt`` (``record``'s when given), refusing to guess between states.

    ``None`` when no rule covers ``rt`` (or ``record``). A record type with rules by state that
    differ has no one rule: without a ``record`` saying which state, it is refused.

    Raises:
        ConfigurationError: ``rt``'s rules differ by state and no ``record`` is given.

    Example:
        >>> import privacy_kit as pk
        >>> policy = pk.load_policy(pk.example_path())
        >>> users = pk.load_datamap(pk.example_path("datamap.yaml")).record_type("users")
        >>> governing_rule(policy, users).key
        'account_data'
    """
    if record is not None:
        choice = rule_for_record(policy, rt, record)
        return None if choice is None else choice.rule
    rule = rule_for_record_type(policy, rt)
    keys = list(dict.fromkeys(c.rule.key for c in retention_choices(policy, rt)))
    if rule is None and len(keys) > 1:
        raise ConfigurationError(
            f"{rt.name!r} has rules by state ({', '.join(keys)}): give the record whose rule "
            "you want, or use retention_choices() for every state's"
        )
    return rule


# == overlap and gap ================================================================================
def _domain(rt: RecordType, field: str, conditions: list[Condition]) -> list[Any]:
    """NULL, every value the conditions name for ``field``, and one value none of them names."""
    named: list[Any] = []
    for cond in conditions:
        for leaf in _leaves(cond):
            if leaf.field == field:
                named.extend(v for v in leaf.values() if v not in named)
    kind = rt.field(field).type if rt.has_field(field) else "text"
    if kind == "boolean":
        return [None, True, False]
    other: Any
    if kind in ("integer", "real"):
        numbers = [v for v in named if isinstance(v, int | float) and not isinstance(v, bool)]
        other = (max(numbers) + 1) if numbers else 0
    elif kind in ("timestamp", "date"):
        other = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    else:
        other = "\x00" + "".join(str(v) for v in named)  # equals none of them
    return [None, *named, other]


def _leaves(cond: Condition) -> Iterator[Condition]:
    if cond.field is not None:
        yield cond
    for part in cond.parts():
        yield from _leaves(part)


def _state_text(state: Mapping[str, Any], named: set[tuple[str | None, Any]]) -> str:
    parts = []
    for field, value in state.items():
        if value is None:
            parts.append(f"{field} null")
        elif (field, value) in named:
            parts.append(f"{field} = {value!r}")
        else:
            parts.append(f"{field} some other value")
    return ", ".join(parts)


def conditional_findings(rt: RecordType, where: str) -> Iterator[tuple[str, str, str, str]]:
    """``(code, severity, location, message)``: ``retention-conditions-overlap`` and
    ``retention-conditions-gap`` for ``rt``'s conditional entries."""
    if not rt.is_conditional:
        return
    conditions = [e.when for e in rt.retention_entries if e.when is not None]
    entries = rt.retention_entries
    fields = sorted({f for c in conditions for f in c.fields()})
    domains = [_domain(rt, f, conditions) for f in fields]
    named = {(leaf.field, v) for c in conditions for leaf in _leaves(c) for v in leaf.values()}
    size = 1
    for d in domains:
        size *= len(d)
    if size > _MAX_STATES:
        yield (
            "retention-conditions-overlap",
            "warning",
            f"{where}.retention",
            (
                f"{rt.name}: the conditions read too many values to compare ({size} states); "
                "the entries may overlap or leave records uncovered, so check them by hand"
            ),
        )
        return
    overlaps: dict[tuple[int, int], Mapping[str, Any]] = {}
    gap: Mapping[str, Any] | None = None
    for values in itertools.product(*domains):
        state: Mapping[str, Any] = dict(zip(fields, values, strict=True))
        matched = [j for j, e in enumerate(entries) if e.when is None or e.when.evaluate(state)]
        explicit = [j for j in matched if entries[j].when is not None]
        for a, b in itertools.combinations(explicit, 2):
            overlaps.setdefault((a, b), state)
        if not matched and gap is None:
            gap = state
    for (a, b), state in overlaps.items():
        first, second = entries[a], entries[b]
        assert first.when is not None
        assert second.when is not None
        same_fields = set(first.when.fields()) == set(second.when.fields())
        yield (
            "retention-conditions-overlap",
            "error" if same_fields else "warning",
            f"{where}.retention[{b}].when",
            f"{rt.name}: entries {a} (rule {first.rule!r}) and {b} (rule {second.rule!r}) "
            + ("both match" if same_fields else "may overlap: both match")
            + f" a record with {_state_text(state, named)}; the first one wins, so make the "
            "conditions exclusive",
        )
    if gap is not None:
        yield (
            "retention-conditions-gap",
            "error",
            f"{where}.retention",
            (
                f"{rt.name}: a record with {_state_text(gap, named)} matches no entry, so no "
                "rule removes it; cover that state or end with an entry without 'when' (the "
                "catch-all)"
            ),
        )
