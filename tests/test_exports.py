"""The public surface: __all__, the lazy table, docstrings, import weight, and a snapshot."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

import privacy_kit


def test_all_is_sorted_and_unique() -> None:
    assert privacy_kit.__all__ == sorted(privacy_kit.__all__)
    assert len(privacy_kit.__all__) == len(set(privacy_kit.__all__))


def test_all_matches_the_lazy_table() -> None:
    assert set(privacy_kit.__all__) == set(privacy_kit._LAZY) | {"__version__"}


@pytest.mark.parametrize("name", privacy_kit.__all__)
def test_each_name_resolves_and_is_documented(name: str) -> None:
    if name == "SQLAlchemyAdapter":
        pytest.importorskip("sqlalchemy", reason="SQLAlchemyAdapter needs the [sqlalchemy] extra")
    value = getattr(privacy_kit, name)
    if name == "__version__":
        assert isinstance(value, str)
        assert value
        return
    assert name in dir(privacy_kit)
    if inspect.isclass(value) or inspect.isfunction(value):
        assert value.__doc__, f"{name} has no docstring"
        assert value.__doc__.strip()
        assert value.__name__ == name


def test_sqlalchemy_adapter_without_sqlalchemy_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['sqlalchemy'] = None\n"
        "import privacy_kit\n"
        "try:\n"
        "    privacy_kit.SQLAlchemyAdapter\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "pip install 'privacy-kit[sqlalchemy]'" in out


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        _ = privacy_kit.Nope  # type: ignore[attr-defined]


def test_import_is_light() -> None:
    code = (
        "import sys, privacy_kit, privacy_kit.adapters\n"
        "privacy_kit.load_policy, privacy_kit.Policy, privacy_kit.check\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'yaml', 'rich', 'fastapi', 'starlette', 'anyio', 'celery', 'kombu', 'redis') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == ""


# The public API, as a list that is easy to update: a change here is a change of the public
# surface and belongs in CHANGELOG.md.
PUBLIC_API = [
    "AccountLink",
    "AdapterError",
    "AffectedSubject",
    "AgeDecision",
    "AgeRule",
    "AgeTable",
    "AgentProof",
    "AgentRules",
    "Anonymization",
    "AnonymizationKind",
    "AuditEntry",
    "AuditIntegrityError",
    "AuditLog",
    "AuditVerification",
    "AutomatedDecisions",
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
    "ErasureUnit",
    "ExceptionKind",
    "ExportJob",
    "ExportPart",
    "ExportResult",
    "ExportStream",
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
    "NaiveDatetimeError",
    "NotCollected",
    "OverrideRange",
    "PlanError",
    "PlanFormatError",
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
    "Product",
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
    "Shard",
    "ShardReport",
    "Signal",
    "SignalKind",
    "Source",
    "Storage",
    "StorageLocation",
    "Subject",
    "SubjectError",
    "SubjectKind",
    "SubjectLink",
    "SubjectNotification",
    "SubjectScope",
    "Taxonomy",
    "TaxonomySpec",
    "Timestamps",
    "Transfer",
    "Trigger",
    "UnknownNameError",
    "VerificationError",
    "Verifier",
    "WrongTypeError",
    "__version__",
    "add_business_days",
    "age_on",
    "age_table",
    "assess",
    "check",
    "check_age",
    "datamap_digest",
    "default_taxonomy",
    "diff",
    "draft_notice",
    "example_path",
    "get_jurisdiction",
    "governing_jurisdiction",
    "jurisdictions",
    "load_datamap",
    "load_policy",
    "records_of_processing",
    "render_notice",
    "subjects_to_notify",
]


def test_public_api_snapshot() -> None:
    assert privacy_kit.__all__ == PUBLIC_API
