"""Conditional retention in selections: a rule applies only to the records in its state.

A record type's ``retention`` list gives each rule a condition on the record's fields
(:class:`~privacy_kit.model.Condition`). :func:`condition_selection` turns it into a selection
the adapters compile (memory, SQLite, SQLAlchemy), two-valued like the condition itself (a NULL
equals nothing), so the statement that deletes or anonymises re-checks the state when it runs:
a record that left the state after the plan was made is not touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import attrs

from ..model._check_retention import RuleChoice, retention_choices
from ..model._datamap import DataMap, RecordType
from ..model._policy import Policy
from ..model._staged import StagedBound
from ._plan_model import RetentionEntry
from ._state_selection import choice_selection, choice_source, condition_selection

__all__ = [
    "choice_selection",
    "choice_source",
    "condition_selection",
    "rule_choices",
    "with_state",
]


def rule_choices(
    policy: Policy, datamap: DataMap, skipped: list[tuple[str, str]]
) -> Iterator[tuple[RecordType, RuleChoice]]:
    """Each record type with each rule choice; record types without a rule go to ``skipped``."""
    for rt in datamap.record_types:
        choices = retention_choices(policy, rt)
        if not choices:
            skipped.append((rt.name, "no retention rule covers it"))
        for choice in choices:
            yield rt, choice


def with_state(
    entry: RetentionEntry, choice: RuleChoice, bound: StagedBound, now: dt.datetime
) -> RetentionEntry:
    """``entry`` with the state it covers and when its records are gone from backups."""
    when = None
    if choice.index is not None:
        when = choice.describe()
    backups = None if bound.backup_expiry is None else bound.backup_expiry.after(now)
    return attrs.evolve(entry, when=when, gone_from_backups_by=backups)
