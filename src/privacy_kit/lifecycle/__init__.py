"""Events in the life of a policy and its data: policy versions and their diff, breach incidents
and their duties, the minimum age, and the disclosure log.

Layer rule: imports the foundation, :mod:`privacy_kit.model`, :mod:`privacy_kit.adapters`,
:mod:`privacy_kit.audit` and the scope values (``privacy_kit._scope``); never the engine or the
operations of :mod:`privacy_kit.retention` and :mod:`privacy_kit.rights`.

Example:
    >>> import datetime as dt
    >>> from privacy_kit.lifecycle import age_on
    >>> age_on(dt.date(2010, 5, 2), dt.date(2026, 5, 1))
    15
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "AGE_DATA_VERSION": "._age",
    "AgeDecision": "._age",
    "AgeRule": "._age",
    "AgeTable": "._age",
    "age_on": "._age",
    "age_table": "._age",
    "check_age": "._age",
    "AffectedSubject": "._breach",
    "BREACH_RULES": "._breach",
    "BreachAssessment": "._breach",
    "BreachDuty": "._breach",
    "BreachNotice": "._breach",
    "BreachRule": "._breach",
    "DutyStatus": "._breach",
    "Exemption": "._breach",
    "Incident": "._breach",
    "RiskLevel": "._breach",
    "add_business_days": "._breach",
    "assess": "._breach",
    "draft_notice": "._breach",
    "subjects_to_notify": "._breach",
    "Disclosure": "._disclosures",
    "DisclosureLog": "._disclosures",
    "ERASURE_NOTICE_CITATION": "._disclosures",
    "RecipientSummary": "._disclosures",
    "ChangeNotification": "._versions",
    "Materiality": "._versions",
    "PolicyChange": "._versions",
    "PolicyDiff": "._versions",
    "PolicyHistory": "._versions",
    "PolicyVersion": "._versions",
    "diff": "._versions",
}

__all__ = [
    "AGE_DATA_VERSION",
    "BREACH_RULES",
    "ERASURE_NOTICE_CITATION",
    "AffectedSubject",
    "AgeDecision",
    "AgeRule",
    "AgeTable",
    "BreachAssessment",
    "BreachDuty",
    "BreachNotice",
    "BreachRule",
    "ChangeNotification",
    "Disclosure",
    "DisclosureLog",
    "DutyStatus",
    "Exemption",
    "Incident",
    "Materiality",
    "PolicyChange",
    "PolicyDiff",
    "PolicyHistory",
    "PolicyVersion",
    "RecipientSummary",
    "RiskLevel",
    "add_business_days",
    "age_on",
    "age_table",
    "assess",
    "check_age",
    "diff",
    "draft_notice",
    "subjects_to_notify",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._age import AGE_DATA_VERSION, AgeDecision, AgeRule, AgeTable, age_on, age_table, check_age
    from ._breach import (
        BREACH_RULES,
        AffectedSubject,
        BreachAssessment,
        BreachDuty,
        BreachNotice,
        BreachRule,
        DutyStatus,
        Exemption,
        Incident,
        RiskLevel,
        add_business_days,
        assess,
        draft_notice,
        subjects_to_notify,
    )
    from ._disclosures import ERASURE_NOTICE_CITATION, Disclosure, DisclosureLog, RecipientSummary
    from ._versions import (
        ChangeNotification,
        Materiality,
        PolicyChange,
        PolicyDiff,
        PolicyHistory,
        PolicyVersion,
        diff,
    )
