"""Retention: rules and cutoffs, customers' settings, legal holds, anonymisation, the sweep's plan
and its application, and the fate of one record.

A sweep is planned from the policy, the data map, the holds and the settings, as values, and
applied through the adapters; nothing here reaches back into the engine. Anonymisation
strategies live here because both a sweep and an erasure apply them (rights imports retention).

Layer rule: imports the foundation, :mod:`privacy_kit.model`, :mod:`privacy_kit.adapters`,
:mod:`privacy_kit.audit`, the scope values (``privacy_kit._scope``) and
:mod:`privacy_kit.lifecycle`.

Example:
    >>> import datetime as dt
    >>> from privacy_kit import Duration
    >>> from privacy_kit.retention import cutoff
    >>> cutoff(Duration.parse("P1M"), dt.datetime(2026, 3, 31, tzinfo=dt.UTC)).date()
    datetime.date(2026, 2, 28)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "FieldAnonymization": "._anonymize",
    "PSEUDONYM_PREFIX": "._anonymize",
    "anonymize_selection": "._anonymize",
    "generalize_date": "._anonymize",
    "mask": "._anonymize",
    "pseudonym": "._anonymize",
    "strategy_for": "._anonymize",
    "update_method": "._anonymize",
    "HoldRegistry": "._holds",
    "LegalHold": "._holds",
    "combine_holds": "._holds",
    "definitely": "._holds",
    "held_selection": "._holds",
    "selection_from_data": "._holds",
    "selection_to_data": "._holds",
    "FateStage": "._retention",
    "RecordFate": "._retention",
    "ReportLine": "._retention",
    "RetentionEntry": "._retention",
    "RetentionJournal": "._retention",
    "RetentionPlan": "._retention",
    "RetentionReport": "._retention",
    "RetentionSettings": "._retention",
    "TriggerSource": "._retention",
    "check_override": "._retention",
    "cutoff": "._retention",
    "expires_at": "._retention",
    "plan_retention": "._retention",
    "record_fate": "._retention",
    "trigger_source": "._retention",
}

__all__ = [
    "PSEUDONYM_PREFIX",
    "FateStage",
    "FieldAnonymization",
    "HoldRegistry",
    "LegalHold",
    "RecordFate",
    "ReportLine",
    "RetentionEntry",
    "RetentionJournal",
    "RetentionPlan",
    "RetentionReport",
    "RetentionSettings",
    "TriggerSource",
    "anonymize_selection",
    "check_override",
    "combine_holds",
    "cutoff",
    "definitely",
    "expires_at",
    "generalize_date",
    "held_selection",
    "mask",
    "plan_retention",
    "pseudonym",
    "record_fate",
    "selection_from_data",
    "selection_to_data",
    "strategy_for",
    "trigger_source",
    "update_method",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._anonymize import (
        PSEUDONYM_PREFIX,
        FieldAnonymization,
        anonymize_selection,
        generalize_date,
        mask,
        pseudonym,
        strategy_for,
        update_method,
    )
    from ._holds import (
        HoldRegistry,
        LegalHold,
        combine_holds,
        definitely,
        held_selection,
        selection_from_data,
        selection_to_data,
    )
    from ._retention import (
        FateStage,
        RecordFate,
        ReportLine,
        RetentionEntry,
        RetentionJournal,
        RetentionPlan,
        RetentionReport,
        RetentionSettings,
        TriggerSource,
        check_override,
        cutoff,
        expires_at,
        plan_retention,
        record_fate,
        trigger_source,
    )
