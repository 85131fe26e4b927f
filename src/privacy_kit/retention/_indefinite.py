"""Data kept indefinitely, and field-level ``blind`` rules: what sweeps never touch, and say so.

A rule with ``duration: forever`` is never expired by a sweep; an exception with ``duration:
forever`` keeps the fields its categories cover for good (the rest of the record follows the
rule, and the record itself is never deleted while it holds them). :func:`indefinite_keeps`
lists both, per record type, as :class:`IndefiniteKeep` values that plans, reports, the audit
log and ``fate()`` state ("kept indefinitely: <reason>"), so nothing is kept silently.

A ``blind`` rule anonymises only the fields holding its ``blind`` categories (:func:`blind_targets`)
and keeps the rest. Anonymising steps select only the records not yet anonymised
(:func:`anonymised_guard`): recognised from the values for constant strategies, or from the
record type's ``timestamps.anonymized`` marker, which the sweep sets, so a second sweep selects,
changes and counts nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from ..adapters import IsNull, Selection
from ..model._datamap import FieldSpec, RecordType
from ..model._policy_retention import RetentionAction, RetentionException, RetentionRule
from ..model._taxonomy import is_within
from ._anonymize import pending_selection, strategy_for

__all__ = ["IndefiniteKeep", "indefinite_keeps"]


@attrs.frozen
class IndefiniteKeep:
    """What a sweep keeps indefinitely on a record type, and why.

    Attributes:
        rule: the rule's key.
        record_type: the record type's name.
        fields: the fields kept forever (empty: whole records, the rule itself is ``forever``).
        reason: the policy's reason (English).
        kind: the exception's kind (``None``: the rule itself is kept forever).

    Example:
        >>> IndefiniteKeep("signup", "users", ("signup_ip",), "Spam defence", "archiving").describe()
        'signup: signup_ip of users kept indefinitely (archiving): Spam defence'
    """

    rule: str
    record_type: str
    fields: tuple[str, ...]
    reason: str
    kind: str | None = None

    def describe(self) -> str:
        """One line: what is kept, by which rule, why."""
        what = (
            f"{', '.join(self.fields)} of {self.record_type}" if self.fields else self.record_type
        )
        why = f" ({self.kind})" if self.kind else ""
        return f"{self.rule}: {what} kept indefinitely{why}: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (plans, reports, the audit log)."""
        return {
            "rule": self.rule,
            "record_type": self.record_type,
            "fields": list(self.fields),
            "reason": self.reason,
            "kind": self.kind,
        }


def _covers(categories: Sequence[str], field: FieldSpec) -> bool:
    return any(is_within(c, k) for c in field.categories for k in categories)


def forever_fields(rule: RetentionRule, rt: RecordType) -> dict[str, RetentionException]:
    """The personal fields of ``rt`` an indefinite exception of ``rule`` keeps (field → exception)."""
    out: dict[str, RetentionException] = {}
    for exception in rule.indefinite_exceptions:
        scope = exception.categories or rule.categories
        for f in rt.fields:
            if f.personal and f.name != rt.primary_key and _covers(scope, f):
                out.setdefault(f.name, exception)
    return out


def blind_targets(rule: RetentionRule, rt: RecordType) -> tuple[str, ...]:
    """The fields a ``blind`` rule anonymises on ``rt``: those holding its ``blind`` categories."""
    if rule.action is not RetentionAction.BLIND:
        return ()
    return tuple(
        f.name
        for f in rt.fields
        if f.personal and f.name != rt.primary_key and _covers(rule.blind, f)
    )


def anonymised_guard(rt: RecordType, fields: Sequence[str], *, marks: bool) -> Selection | None:
    """The records of ``rt`` whose ``fields`` are not yet anonymised (``None``: cannot tell).

    ``marks``: the step sets the record type's ``timestamps.anonymized`` marker, so the marker
    being empty is the test; otherwise the fields' constant strategies are recognised.
    """
    marker = rt.timestamps.anonymized
    if marks and marker is not None:
        return IsNull(marker)
    return pending_selection([strategy_for(rt.field(f)) for f in fields])


def indefinite_keeps(rule: RetentionRule, rt: RecordType) -> Iterator[IndefiniteKeep]:
    """What ``rule`` keeps indefinitely on ``rt``: whole records, or the fields of each exception."""
    if rule.indefinite:
        reason = rule.reason.get_text("en") if rule.reason is not None else ""
        yield IndefiniteKeep(rule.key, rt.name, (), reason)
        return
    fields = forever_fields(rule, rt)
    for exception in rule.indefinite_exceptions:
        names = tuple(name for name, e in fields.items() if e is exception)
        if names:
            yield IndefiniteKeep(
                rule.key, rt.name, names, exception.reason.get_text("en"), exception.kind.value
            )
