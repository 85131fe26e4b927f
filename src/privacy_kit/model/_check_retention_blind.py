"""check() findings on anonymising retention rules (``action: anonymize`` and ``action: blind``).

A sweep anonymises only the records not yet anonymised, so a second sweep changes and counts
nothing. It recognises them from their values when every anonymised field's strategy writes a
constant (``null``, ``fixed``); a computed strategy (``pseudonym``, ``mask``, ``generalize_date``)
gives values a selection cannot tell from original ones, so the record type must declare a
``timestamps.anonymized`` marker that the sweep sets and tests (finding
``anonymization-not-recognisable``, an error). A ``blind`` rule whose categories no field of a
record type holds would change nothing there (``blind-matches-nothing``, a warning).
"""

from __future__ import annotations

from collections.abc import Iterator

from ._datamap import AnonymizationKind, FieldSpec, RecordType
from ._policy_retention import RetentionAction, RetentionRule
from ._taxonomy import is_within

__all__: list[str] = []

# (code, severity, location, message): model._check makes Findings of them (it imports this).
RawFinding = tuple[str, str, str, str]

_RECOGNISABLE = frozenset({AnonymizationKind.NULL, AnonymizationKind.FIXED})


def _anonymised_fields(rule: RetentionRule, rt: RecordType) -> list[FieldSpec]:
    fields = [
        f
        for f in rt.fields
        if f.personal and f.name not in (rt.primary_key, rt.timestamps.anonymized)
    ]
    if rule.action is RetentionAction.BLIND:
        fields = [
            f for f in fields if any(is_within(c, k) for c in f.categories for k in rule.blind)
        ]
    return fields


def anonymizing_rule_findings(
    rule: RetentionRule, rt: RecordType, where: str, state: str | None = None
) -> Iterator[RawFinding]:
    """Findings for record type ``rt`` (at ``where``) governed by ``rule``.

    With rules by state, ``where`` locates the entry (``record_types[i].retention[j]``) and
    ``state`` names the records the rule governs, so each state's rule is checked on its own.
    """
    if rule.action is RetentionAction.DELETE or rule.indefinite:
        return
    name = repr(rt.name) if state is None else f"{rt.name!r} ({state})"
    fields = _anonymised_fields(rule, rt)
    if rule.action is RetentionAction.BLIND and not fields:
        yield (
            "blind-matches-nothing",
            "warning",
            where,
            (
                f"rule {rule.key!r} blinds {list(rule.blind)}, but no field of {name} holds "
                "them: its sweep changes nothing here"
            ),
        )
        return
    computed = [
        f.name for f in fields if f.anonymize is not None and f.anonymize.kind not in _RECOGNISABLE
    ]
    if computed and rt.timestamps.anonymized is None:
        yield (
            "anonymization-not-recognisable",
            "error",
            where,
            (
                f"rule {rule.key!r} anonymises {', '.join(computed)} of {name} with strategies "
                "whose result a sweep cannot tell from an original value, so every sweep would count "
                "them again; declare 'timestamps.anonymized: <timestamp field>' (set by the sweep) or "
                "use a null or fixed strategy"
            ),
        )
