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
    "DataCategory": ".model._taxonomy",
    "LegalBasis": ".model._taxonomy",
    "Purpose": ".model._taxonomy",
    "SubjectKind": ".model._taxonomy",
    "Taxonomy": ".model._taxonomy",
    "default_taxonomy": ".model._taxonomy",
    # policy
    "BreachPromise": ".model._policy",
    "ChangeKind": ".model._policy",
    "ChangePolicy": ".model._policy",
    "Children": ".model._policy",
    "Collection": ".model._policy",
    "Communication": ".model._policy",
    "CommunicationKind": ".model._policy",
    "Contact": ".model._policy",
    "Controller": ".model._policy",
    "ExceptionKind": ".model._policy",
    "IdentityVerification": ".model._policy",
    "OverrideRange": ".model._policy",
    "Policy": ".model._policy",
    "Recipient": ".model._policy",
    "RecipientKind": ".model._policy",
    "RefusalReason": ".model._policy",
    "RequestChannel": ".model._policy",
    "Requests": ".model._policy",
    "RetentionAction": ".model._policy",
    "RetentionException": ".model._policy",
    "RetentionRule": ".model._policy",
    "Right": ".model._policy",
    "RightOffer": ".model._policy",
    "SecurityMeasure": ".model._policy",
    "Source": ".model._policy",
    "Storage": ".model._policy",
    "StorageLocation": ".model._policy",
    "SubjectScope": ".model._policy",
    "TaxonomySpec": ".model._policy",
    "Transfer": ".model._policy",
    "Trigger": ".model._policy",
    # data map
    "AccountLink": ".model._datamap",
    "Anonymization": ".model._datamap",
    "AnonymizationKind": ".model._datamap",
    "DataMap": ".model._datamap",
    "FieldSpec": ".model._datamap",
    "RecordType": ".model._datamap",
    "SubjectLink": ".model._datamap",
    "Timestamps": ".model._datamap",
    # jurisdictions
    "Jurisdiction": ".model._jurisdictions",
    "RequestDeadline": ".model._jurisdictions",
    "get_jurisdiction": ".model._jurisdictions",
    "jurisdictions": ".model._jurisdictions",
    # loading and checking
    "CheckReport": ".model._check",
    "Finding": ".model._check",
    "Severity": ".model._check",
    "check": ".model._check",
    "example_path": ".model._loading",
    "load_datamap": ".model._loading",
    "load_policy": ".model._loading",
    # engine
    "Engine": ".engine._engine",
    "Subject": ".engine._engine",
    # policy versions
    "ChangeNotification": ".lifecycle._versions",
    "PolicyChange": ".lifecycle._versions",
    "PolicyDiff": ".lifecycle._versions",
    "PolicyHistory": ".lifecycle._versions",
    "PolicyVersion": ".lifecycle._versions",
    "diff": ".lifecycle._versions",
    # breach incidents
    "AffectedSubject": ".lifecycle._breach",
    "BreachAssessment": ".lifecycle._breach",
    "BreachDuty": ".lifecycle._breach",
    "BreachNotice": ".lifecycle._breach",
    "BreachRule": ".lifecycle._breach",
    "DutyStatus": ".lifecycle._breach",
    "Incident": ".lifecycle._breach",
    "RiskLevel": ".lifecycle._breach",
    "add_business_days": ".lifecycle._breach",
    "assess": ".lifecycle._breach",
    "draft_notice": ".lifecycle._breach",
    "subjects_to_notify": ".lifecycle._breach",
    # minimum age
    "AgeDecision": ".lifecycle._age",
    "AgeRule": ".lifecycle._age",
    "AgeTable": ".lifecycle._age",
    "age_on": ".lifecycle._age",
    "age_table": ".lifecycle._age",
    "check_age": ".lifecycle._age",
    # disclosure log
    "Disclosure": ".lifecycle._disclosures",
    "DisclosureLog": ".lifecycle._disclosures",
    "RecipientSummary": ".lifecycle._disclosures",
    # notices, records of processing
    "ProcessingActivity": ".notices._ropa",
    "ProcessingRecords": ".notices._ropa",
    "records_of_processing": ".notices._ropa",
    "render_notice": ".notices._notice",
    # audit, preferences, requests, verification
    "AuditEntry": ".audit._log",
    "AuditLog": ".audit._log",
    "AuditVerification": ".audit._log",
    "Decision": ".rights._preferences",
    "Preferences": ".rights._preferences",
    "RestrictionGround": ".rights._preferences",
    "DataSubjectRequest": ".rights._requests",
    "RequestStatus": ".rights._requests",
    "RequestType": ".rights._requests",
    "CodeVerifier": ".rights._verification",
    "Verifier": ".rights._verification",
    # storage adapters (the SQL ones import lazily; SQLAlchemy only when used)
    "InMemoryAdapter": ".adapters",
    "SQLAlchemyAdapter": ".adapters",
    "SQLiteAdapter": ".adapters",
    # access, portability, erasure, rectification
    "FieldAnonymization": ".retention._anonymize",
    "ErasureAction": ".rights._erasure",
    "ErasurePlan": ".rights._erasure",
    "ErasureReport": ".rights._erasure",
    "ErasureStep": ".rights._erasure",
    "KeepReason": ".rights._erasure",
    "KeptItem": ".rights._erasure",
    "ExportResult": ".rights._export",
    "FileJournal": ".audit._journal",
    "Journal": ".audit._journal",
    "MemoryJournal": ".audit._journal",
    # retention and legal holds
    "FateStage": ".retention._retention",
    "HoldRegistry": ".retention._holds",
    "LegalHold": ".retention._holds",
    "RecordFate": ".retention._retention",
    "RetentionEntry": ".retention._retention",
    "RetentionJournal": ".retention._retention",
    "RetentionPlan": ".retention._retention",
    "RetentionReport": ".retention._retention",
    "RetentionSettings": ".retention._retention",
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
    from ._types import Duration, LocalizedText
    from .adapters import InMemoryAdapter, SQLAlchemyAdapter, SQLiteAdapter
    from .audit._journal import FileJournal, Journal, MemoryJournal
    from .audit._log import AuditEntry, AuditLog, AuditVerification
    from .engine._engine import Engine, Subject
    from .lifecycle._age import AgeDecision, AgeRule, AgeTable, age_on, age_table, check_age
    from .lifecycle._breach import (
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
    from .lifecycle._disclosures import Disclosure, DisclosureLog, RecipientSummary
    from .lifecycle._versions import (
        ChangeNotification,
        PolicyChange,
        PolicyDiff,
        PolicyHistory,
        PolicyVersion,
        diff,
    )
    from .model._check import CheckReport, Finding, Severity, check
    from .model._datamap import (
        AccountLink,
        Anonymization,
        AnonymizationKind,
        DataMap,
        FieldSpec,
        RecordType,
        SubjectLink,
        Timestamps,
    )
    from .model._jurisdictions import Jurisdiction, RequestDeadline, get_jurisdiction, jurisdictions
    from .model._loading import example_path, load_datamap, load_policy
    from .model._policy import (
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
    from .model._taxonomy import (
        DataCategory,
        LegalBasis,
        Purpose,
        SubjectKind,
        Taxonomy,
        default_taxonomy,
    )
    from .notices._notice import render_notice
    from .notices._ropa import ProcessingActivity, ProcessingRecords, records_of_processing
    from .retention._anonymize import FieldAnonymization
    from .retention._holds import HoldRegistry, LegalHold
    from .retention._retention import (
        FateStage,
        RecordFate,
        RetentionEntry,
        RetentionJournal,
        RetentionPlan,
        RetentionReport,
        RetentionSettings,
    )
    from .rights._erasure import (
        ErasureAction,
        ErasurePlan,
        ErasureReport,
        ErasureStep,
        KeepReason,
        KeptItem,
    )
    from .rights._export import ExportResult
    from .rights._preferences import Decision, Preferences, RestrictionGround
    from .rights._requests import DataSubjectRequest, RequestStatus, RequestType
    from .rights._verification import CodeVerifier, Verifier
