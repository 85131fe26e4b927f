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
    "BreachAssessment": "._breach_assessment",
    "BreachDuty": "._breach_assessment",
    "DutyStatus": "._breach_assessment",
    "add_business_days": "._breach_assessment",
    "assess": "._breach_assessment",
    "BreachNotice": "._breach_notice",
    "draft_notice": "._breach_notice",
    "BREACH_RULES": "._breach_rules",
    "BreachRule": "._breach_rules",
    "Exemption": "._breach_rules",
    "AffectedSubject": "._breach_subjects",
    "subjects_to_notify": "._breach_subjects",
    "PolicyChange": "._change",
    "ChangeNotification": "._change_notice",
    "Materiality": "._diff",
    "PolicyDiff": "._diff",
    "diff": "._diff",
    "Disclosure": "._disclosure_entries",
    "DisclosureLog": "._disclosures",
    "SubjectNotification": "._disclosure_conditions",
    "ERASURE_NOTICE_CITATION": "._disclosures",
    "RecipientSummary": "._disclosure_entries",
    "PolicyHistory": "._history",
    "PolicyVersion": "._history",
    "Incident": "._incident",
    "RiskLevel": "._incident",
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
    "SubjectNotification",
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
    from ._breach_assessment import (
        BreachAssessment,
        BreachDuty,
        DutyStatus,
        add_business_days,
        assess,
    )
    from ._breach_notice import BreachNotice, draft_notice
    from ._breach_rules import BREACH_RULES, BreachRule, Exemption
    from ._breach_subjects import AffectedSubject, subjects_to_notify
    from ._change import PolicyChange
    from ._change_notice import ChangeNotification
    from ._diff import Materiality, PolicyDiff, diff
    from ._disclosure_conditions import SubjectNotification
    from ._disclosure_entries import Disclosure, RecipientSummary
    from ._disclosures import ERASURE_NOTICE_CITATION, DisclosureLog
    from ._history import PolicyHistory, PolicyVersion
    from ._incident import Incident, RiskLevel
