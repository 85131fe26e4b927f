"""Rule choices as selections: the records in a state, and where a state's trigger time is read.

:func:`condition_selection` turns a :class:`~privacy_kit.model.Condition` into a selection the
adapters compile (memory, SQLite, SQLAlchemy), two-valued like the condition itself (a NULL
equals nothing), so the statement that deletes or anonymises re-checks the state when it runs.
Kept apart from :mod:`._states` so modules the plan model imports (orphans) can use them.
"""

from __future__ import annotations

from ..adapters import And, Eq, In, IsNull, Not, Or, Selection
from ..model._check_retention import RuleChoice
from ..model._conditions import Condition
from ..model._datamap import DataMap, RecordType
from ..model._policy_retention import Trigger
from ._rules import TriggerSource, trigger_source

__all__ = ["choice_selection", "choice_source", "condition_selection"]


def condition_selection(condition: Condition) -> Selection:
    """The selection of the records in ``condition``'s state (never *unknown*).

    Example:
        >>> from privacy_kit.model import Condition
        >>> sel = condition_selection(Condition.model_validate({"not": {"field": "s", "equals": "x"}}))
        >>> sel.matches({"s": None}), sel.matches({"s": "x"}), sel.matches({"s": "y"})
        (True, False, True)
    """
    form = condition.form
    field = condition.field or ""
    if form == "is_null":
        return IsNull(field) if condition.is_null else Not(IsNull(field))
    if form == "equals":
        return And((Not(IsNull(field)), Eq(field, condition.equals)))
    if form == "in":
        return And((Not(IsNull(field)), In(field, condition.values())))
    parts = tuple(condition_selection(p) for p in condition.parts())
    if form == "all":
        return And(parts)
    if form == "any":
        return Or(parts)
    return Not(parts[0])


def choice_selection(choice: RuleChoice) -> Selection | None:
    """The records a rule choice governs (``None``: every record of the type)."""
    parts: list[Selection] = []
    if choice.when is not None:
        parts.append(condition_selection(choice.when))
    parts.extend(Not(condition_selection(u)) for u in choice.unless)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def choice_source(
    datamap: DataMap, rt: RecordType, choice: RuleChoice, trigger: Trigger
) -> TriggerSource | None:
    """Where the choice's trigger time is read: its ``trigger_field``, else as for the type."""
    if choice.trigger_field is not None and trigger is choice.rule.trigger:
        return TriggerSource(trigger, choice.trigger_field)
    return trigger_source(datamap, rt, trigger)
