"""privacy_kit: turn a privacy policy into executable compliance logic.

Declare what you promise (a :class:`Policy`) and where the data lives (a :class:`DataMap`),
implement a small storage adapter, and privacy_kit gives you export, erasure, retention,
request and breach deadlines, notices and an audit trail, all checked against the policy.

Example:
    >>> import privacy_kit as pk
    >>> policy = pk.load_policy(pk.example_path("policy.yaml"))
    >>> datamap = pk.load_datamap(pk.example_path("datamap.yaml"), policy=policy)
    >>> pk.check(policy, datamap).ok
    True

Names are imported lazily, on first use, so ``import privacy_kit`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module that defines it. One line per public name; keep each block sorted.
_LAZY: dict[str, str] = {
    # errors
    "AdapterError": "._errors",
    "AuditIntegrityError": "._errors",
    "ConfigurationError": "._errors",
    "DisclosureError": "._errors",
    "InvalidTransitionError": "._errors",
    "PlanError": "._errors",
    "PolicyError": "._errors",
    "PrivacyKitError": "._errors",
    "Problem": "._errors",
    "RequestError": "._errors",
    "SchemaMismatchError": "._errors",
    "VerificationError": "._errors",
    # small value types
    "Duration": "._types",
    "LocalizedText": "._types",
    # taxonomy
    "DataCategory": ".taxonomy",
    "LegalBasis": ".taxonomy",
    "Purpose": ".taxonomy",
    "SubjectKind": ".taxonomy",
    "Taxonomy": ".taxonomy",
    "default_taxonomy": ".taxonomy",
    # policy
    "BreachPromise": ".policy",
    "ChangeKind": ".policy",
    "ChangePolicy": ".policy",
    "Children": ".policy",
    "Collection": ".policy",
    "Communication": ".policy",
    "CommunicationKind": ".policy",
    "Contact": ".policy",
    "Controller": ".policy",
    "ExceptionKind": ".policy",
    "IdentityVerification": ".policy",
    "OverrideRange": ".policy",
    "Policy": ".policy",
    "Recipient": ".policy",
    "RecipientKind": ".policy",
    "RefusalReason": ".policy",
    "RequestChannel": ".policy",
    "Requests": ".policy",
    "RetentionAction": ".policy",
    "RetentionException": ".policy",
    "RetentionRule": ".policy",
    "Right": ".policy",
    "RightOffer": ".policy",
    "SecurityMeasure": ".policy",
    "Source": ".policy",
    "Storage": ".policy",
    "StorageLocation": ".policy",
    "SubjectScope": ".policy",
    "TaxonomySpec": ".policy",
    "Transfer": ".policy",
    "Trigger": ".policy",
    # data map
    "AccountLink": ".datamap",
    "Anonymization": ".datamap",
    "AnonymizationKind": ".datamap",
    "DataMap": ".datamap",
    "FieldSpec": ".datamap",
    "RecordType": ".datamap",
    "SubjectLink": ".datamap",
    "Timestamps": ".datamap",
    # jurisdictions
    "Jurisdiction": "._jurisdictions",
    "RequestDeadline": "._jurisdictions",
    "get_jurisdiction": "._jurisdictions",
    "jurisdictions": "._jurisdictions",
    # loading and checking
    "CheckReport": "._check",
    "Finding": "._check",
    "Severity": "._check",
    "check": "._check",
    "example_path": "._loading",
    "load_datamap": "._loading",
    "load_policy": "._loading",
    # engine
    "Engine": ".engine",
    "Subject": ".engine",
    # policy versions
    "ChangeNotification": ".versions",
    "PolicyChange": ".versions",
    "PolicyDiff": ".versions",
    "PolicyHistory": ".versions",
    "PolicyVersion": ".versions",
    "diff": ".versions",
    # breach incidents
    "AffectedSubject": ".breach",
    "BreachAssessment": ".breach",
    "BreachDuty": ".breach",
    "BreachNotice": ".breach",
    "BreachRule": ".breach",
    "DutyStatus": ".breach",
    "Incident": ".breach",
    "RiskLevel": ".breach",
    "add_business_days": ".breach",
    "assess": ".breach",
    "draft_notice": ".breach",
    "subjects_to_notify": ".breach",
    # minimum age
    "AgeDecision": ".age",
    "AgeRule": ".age",
    "AgeTable": ".age",
    "age_on": ".age",
    "age_table": ".age",
    "check_age": ".age",
    # disclosure log
    "Disclosure": ".disclosures",
    "DisclosureLog": ".disclosures",
    "RecipientSummary": ".disclosures",
    # notices, records of processing
    "ProcessingActivity": ".ropa",
    "ProcessingRecords": ".ropa",
    "records_of_processing": ".ropa",
    "render_notice": ".notices",
    # audit, preferences, requests, verification
    "AuditEntry": ".audit",
    "AuditLog": ".audit",
    "AuditVerification": ".audit",
    "Decision": ".preferences",
    "Preferences": ".preferences",
    "RestrictionGround": ".preferences",
    "DataSubjectRequest": ".requests",
    "RequestStatus": ".requests",
    "RequestType": ".requests",
    "CodeVerifier": ".verification",
    "Verifier": ".verification",
    # storage adapters (the SQL ones import lazily; SQLAlchemy only when used)
    "InMemoryAdapter": ".adapters",
    "SQLAlchemyAdapter": ".adapters",
    "SQLiteAdapter": ".adapters",
    # access, portability, erasure, rectification
    "FieldAnonymization": ".anonymize",
    "ErasureAction": ".erasure",
    "ErasurePlan": ".erasure",
    "ErasureReport": ".erasure",
    "ErasureStep": ".erasure",
    "KeepReason": ".erasure",
    "KeptItem": ".erasure",
    "ExportResult": ".export",
    "FileJournal": ".journal",
    "Journal": ".journal",
    "MemoryJournal": ".journal",
    # retention and legal holds
    "FateStage": ".retention",
    "HoldRegistry": ".holds",
    "LegalHold": ".holds",
    "RecordFate": ".retention",
    "RetentionEntry": ".retention",
    "RetentionJournal": ".retention",
    "RetentionPlan": ".retention",
    "RetentionReport": ".retention",
    "RetentionSettings": ".retention",
    # --- more public names are added above this line ---
}

__all__ = [
    "AccountLink",
    "AdapterError",
    "AffectedSubject",
    "AgeDecision",
    "AgeRule",
    "AgeTable",
    "Anonymization",
    "AnonymizationKind",
    "AuditEntry",
    "AuditIntegrityError",
    "AuditLog",
    "AuditVerification",
    "BreachAssessment",
    "BreachDuty",
    "BreachNotice",
    "BreachPromise",
    "BreachRule",
    "ChangeKind",
    "ChangeNotification",
    "ChangePolicy",
    "CheckReport",
    "Children",
    "CodeVerifier",
    "Collection",
    "Communication",
    "CommunicationKind",
    "ConfigurationError",
    "Contact",
    "Controller",
    "DataCategory",
    "DataMap",
    "DataSubjectRequest",
    "Decision",
    "Disclosure",
    "DisclosureError",
    "DisclosureLog",
    "Duration",
    "DutyStatus",
    "Engine",
    "ErasureAction",
    "ErasurePlan",
    "ErasureReport",
    "ErasureStep",
    "ExceptionKind",
    "ExportResult",
    "FateStage",
    "FieldAnonymization",
    "FieldSpec",
    "FileJournal",
    "Finding",
    "HoldRegistry",
    "IdentityVerification",
    "InMemoryAdapter",
    "Incident",
    "InvalidTransitionError",
    "Journal",
    "Jurisdiction",
    "KeepReason",
    "KeptItem",
    "LegalBasis",
    "LegalHold",
    "LocalizedText",
    "MemoryJournal",
    "OverrideRange",
    "PlanError",
    "Policy",
    "PolicyChange",
    "PolicyDiff",
    "PolicyError",
    "PolicyHistory",
    "PolicyVersion",
    "Preferences",
    "PrivacyKitError",
    "Problem",
    "ProcessingActivity",
    "ProcessingRecords",
    "Purpose",
    "Recipient",
    "RecipientKind",
    "RecipientSummary",
    "RecordFate",
    "RecordType",
    "RefusalReason",
    "RequestChannel",
    "RequestDeadline",
    "RequestError",
    "RequestStatus",
    "RequestType",
    "Requests",
    "RestrictionGround",
    "RetentionAction",
    "RetentionEntry",
    "RetentionException",
    "RetentionJournal",
    "RetentionPlan",
    "RetentionReport",
    "RetentionRule",
    "RetentionSettings",
    "Right",
    "RightOffer",
    "RiskLevel",
    "SQLAlchemyAdapter",
    "SQLiteAdapter",
    "SchemaMismatchError",
    "SecurityMeasure",
    "Severity",
    "Source",
    "Storage",
    "StorageLocation",
    "Subject",
    "SubjectKind",
    "SubjectLink",
    "SubjectScope",
    "Taxonomy",
    "TaxonomySpec",
    "Timestamps",
    "Transfer",
    "Trigger",
    "VerificationError",
    "Verifier",
    "__version__",
    "add_business_days",
    "age_on",
    "age_table",
    "assess",
    "check",
    "check_age",
    "default_taxonomy",
    "diff",
    "draft_notice",
    "example_path",
    "get_jurisdiction",
    "jurisdictions",
    "load_datamap",
    "load_policy",
    "records_of_processing",
    "render_notice",
    "subjects_to_notify",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return version("privacy-kit")
        except PackageNotFoundError:  # running from a source tree that is not installed
            from ._version import __version__  # noqa: PLC0415

            return __version__
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'privacy_kit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._check import CheckReport, Finding, Severity, check
    from ._errors import (
        AdapterError,
        AuditIntegrityError,
        ConfigurationError,
        DisclosureError,
        InvalidTransitionError,
        PlanError,
        PolicyError,
        PrivacyKitError,
        Problem,
        RequestError,
        SchemaMismatchError,
        VerificationError,
    )
    from ._jurisdictions import Jurisdiction, RequestDeadline, get_jurisdiction, jurisdictions
    from ._loading import example_path, load_datamap, load_policy
    from ._types import Duration, LocalizedText
    from .adapters import InMemoryAdapter, SQLAlchemyAdapter, SQLiteAdapter
    from .age import AgeDecision, AgeRule, AgeTable, age_on, age_table, check_age
    from .anonymize import FieldAnonymization
    from .audit import AuditEntry, AuditLog, AuditVerification
    from .breach import (
        AffectedSubject,
        BreachAssessment,
        BreachDuty,
        BreachNotice,
        BreachRule,
        DutyStatus,
        Incident,
        RiskLevel,
        add_business_days,
        assess,
        draft_notice,
        subjects_to_notify,
    )
    from .datamap import (
        AccountLink,
        Anonymization,
        AnonymizationKind,
        DataMap,
        FieldSpec,
        RecordType,
        SubjectLink,
        Timestamps,
    )
    from .disclosures import Disclosure, DisclosureLog, RecipientSummary
    from .engine import Engine, Subject
    from .erasure import (
        ErasureAction,
        ErasurePlan,
        ErasureReport,
        ErasureStep,
        KeepReason,
        KeptItem,
    )
    from .export import ExportResult
    from .holds import HoldRegistry, LegalHold
    from .journal import FileJournal, Journal, MemoryJournal
    from .notices import render_notice
    from .policy import (
        BreachPromise,
        ChangeKind,
        ChangePolicy,
        Children,
        Collection,
        Communication,
        CommunicationKind,
        Contact,
        Controller,
        ExceptionKind,
        IdentityVerification,
        OverrideRange,
        Policy,
        Recipient,
        RecipientKind,
        RefusalReason,
        RequestChannel,
        Requests,
        RetentionAction,
        RetentionException,
        RetentionRule,
        Right,
        RightOffer,
        SecurityMeasure,
        Source,
        Storage,
        StorageLocation,
        SubjectScope,
        TaxonomySpec,
        Transfer,
        Trigger,
    )
    from .preferences import Decision, Preferences, RestrictionGround
    from .requests import DataSubjectRequest, RequestStatus, RequestType
    from .retention import (
        FateStage,
        RecordFate,
        RetentionEntry,
        RetentionJournal,
        RetentionPlan,
        RetentionReport,
        RetentionSettings,
    )
    from .ropa import ProcessingActivity, ProcessingRecords, records_of_processing
    from .taxonomy import DataCategory, LegalBasis, Purpose, SubjectKind, Taxonomy, default_taxonomy
    from .verification import CodeVerifier, Verifier
    from .versions import (
        ChangeNotification,
        PolicyChange,
        PolicyDiff,
        PolicyHistory,
        PolicyVersion,
        diff,
    )
