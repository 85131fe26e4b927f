"""Helpers of retention planning: time windows, held-record exclusion, and the plan's notes.

The notes say what a plan cannot do: re-check an account's state in the statement that deletes
(:func:`no_recheck_note`), or time records that outlive the account they read their trigger
time from (:func:`orphan_notes`, where a rule kept forever outlives every other).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from .._scope import Stores
from .._types import Duration
from ..adapters import After, And, Before, Capability, Not, Selection
from ..model._check_retention import retention_choices
from ..model._datamap import DataMap, RecordType
from ..model._policy import Policy
from ..model._policy_retention import RetentionRule
from ._counting import can_recheck
from ._rules import TriggerSource
from ._states import choice_source

__all__ = ["can_recheck"]


def time_window(field: str, upper: dt.datetime, lower: dt.datetime | None) -> Selection:
    window: Selection = Before(field, upper, inclusive=True)
    if lower is not None:
        window = And((After(field, lower), window))
    return window


def not_held(selection: Selection, held: Selection | None) -> Selection:
    return selection if held is None else And((selection, Not(held)))


def no_recheck_note(
    stores: Stores, rt: RecordType, rule: RetentionRule, source: TriggerSource
) -> str:
    accounts = stores.record_type(source.account or "")
    adapter = stores.adapter_for(rt)
    why = (
        f"{accounts.name} is in another store ({accounts.store!r}, not {rt.store!r})"
        if adapter is not stores.adapter_for(accounts)
        else f"adapter {adapter.name!r} does not declare the {Capability.RELATED.value!r} "
        "capability"
    )
    return (
        f"{rt.name} (rule {rule.key!r}): the statements cannot re-check that each account is "
        f"still due ({source.describe()}) because {why}; they use the account keys read just "
        f"before, so an account reopened in between still loses its {rt.name}"
    )


def orphan_notes(
    policy: Policy, datamap: DataMap, accounts: RecordType, rule: RetentionRule
) -> Iterator[str]:
    """Warn where records keyed to an account outlive the account record they read their time from."""
    life = _life(rule)
    if life is None:
        return  # the accounts are kept forever: no record outlives its account
    for rt in datamap.record_types:
        if (
            rt.account is None
            or rt.account.record_type != accounts.name
            or rt.name == accounts.name
        ):
            continue
        for choice in retention_choices(policy, rt):
            other = choice.rule
            source = choice_source(datamap, rt, choice, other.trigger)
            if source is None or source.account != accounts.name:
                continue
            longest = _life(other)
            if longest is None or longest > life:
                shown = "forever" if longest is None else str(longest)
                yield (
                    f"{rt.name} (rule {other.key!r}) reads its trigger time from {accounts.name}, "
                    f"which rule {rule.key!r} removes sooner ({life} vs {shown}): records left "
                    "without their account are never swept"
                )


def _life(rule: RetentionRule) -> Duration | None:
    """How long a rule keeps its longest-kept data after the trigger (``None``: forever)."""
    if rule.indefinite or rule.indefinite_exceptions:
        return None
    return max([rule.effective_duration, *(e.duration for e in rule.exceptions if e.duration)])
