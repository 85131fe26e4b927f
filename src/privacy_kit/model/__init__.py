"""The promises and where data lives: taxonomy, policy, data map, jurisdictions, loading, check.

Pure data and validation: frozen pydantic models for the policy (one module per group of
sections) and the data map, the built-in jurisdictions, the loaders that turn YAML/JSON into
those models with located errors, and :func:`check`, the consistency check between them.

Layer rule: imports only the foundation (``privacy_kit._errors``, ``_types``, ``_html``,
``_lazy``); every other layer may import it. See ``docs/architecture.md``.

Example:
    >>> from privacy_kit.model import load_policy, example_path
    >>> load_policy(example_path()).controller.name
    'Appointlet'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "CheckReport": "._check",
    "Finding": "._check",
    "Severity": "._check",
    "check": "._check",
    "rule_for_record_type": "._check",
    "RuleChoice": "._check_retention",
    "retention_choices": "._check_retention",
    "rule_for_record": "._check_retention",
    "Condition": "._conditions",
    "RetentionChoice": "._conditions",
    "AccountLink": "._datamap",
    "Anonymization": "._datamap",
    "AnonymizationKind": "._datamap",
    "DataMap": "._datamap",
    "FieldSpec": "._datamap",
    "RecordType": "._datamap",
    "SubjectLink": "._datamap",
    "Timestamps": "._datamap",
    "identity_value": "._identity",
    "Jurisdiction": "._jurisdictions",
    "RequestDeadline": "._jurisdictions",
    "get_jurisdiction": "._jurisdictions",
    "jurisdictions": "._jurisdictions",
    "example_path": "._loading",
    "format_location": "._loading",
    "load_datamap": "._loading",
    "load_policy": "._loading",
    "read_document": "._loading",
    "validation_problems": "._loading",
    "DeletionOrder": "._order",
    "ForeignKey": "._order",
    "RecordReference": "._order",
    "deletion_order": "._order",
    "Policy": "._policy",
    "NotCollected": "._policy_promises",
    "Product": "._policy_promises",
    "Signal": "._policy_promises",
    "SignalKind": "._policy_promises",
    "Collection": "._policy_collection",
    "Contact": "._policy_collection",
    "Controller": "._policy_collection",
    "Recipient": "._policy_collection",
    "RecipientKind": "._policy_collection",
    "SecurityMeasure": "._policy_collection",
    "Source": "._policy_collection",
    "Storage": "._policy_collection",
    "StorageLocation": "._policy_collection",
    "SubjectScope": "._policy_collection",
    "TaxonomySpec": "._policy_collection",
    "Transfer": "._policy_collection",
    "ExceptionKind": "._policy_retention",
    "OverrideRange": "._policy_retention",
    "RetentionAction": "._policy_retention",
    "RetentionException": "._policy_retention",
    "RetentionRule": "._policy_retention",
    "Trigger": "._policy_retention",
    "BreachPromise": "._policy_rights",
    "ChangeKind": "._policy_rights",
    "ChangePolicy": "._policy_rights",
    "Children": "._policy_rights",
    "Communication": "._policy_rights",
    "CommunicationKind": "._policy_rights",
    "IdentityVerification": "._policy_rights",
    "RefusalReason": "._policy_rights",
    "RequestChannel": "._policy_rights",
    "Requests": "._policy_rights",
    "Right": "._policy_rights",
    "RightOffer": "._policy_rights",
    "DataCategory": "._taxonomy",
    "LegalBasis": "._taxonomy",
    "Purpose": "._taxonomy",
    "SubjectKind": "._taxonomy",
    "Taxonomy": "._taxonomy",
    "default_taxonomy": "._taxonomy",
    "is_within": "._taxonomy",
    "notice_translation_gaps": "._translations",
    "phrase_languages": "._translations",
}

__all__ = [
    "AccountLink",
    "Anonymization",
    "AnonymizationKind",
    "BreachPromise",
    "ChangeKind",
    "ChangePolicy",
    "CheckReport",
    "Children",
    "Collection",
    "Communication",
    "CommunicationKind",
    "Condition",
    "Contact",
    "Controller",
    "DataCategory",
    "DataMap",
    "DeletionOrder",
    "ExceptionKind",
    "FieldSpec",
    "Finding",
    "ForeignKey",
    "IdentityVerification",
    "Jurisdiction",
    "LegalBasis",
    "NotCollected",
    "OverrideRange",
    "Policy",
    "Product",
    "Purpose",
    "Recipient",
    "RecipientKind",
    "RecordReference",
    "RecordType",
    "RefusalReason",
    "RequestChannel",
    "RequestDeadline",
    "Requests",
    "RetentionAction",
    "RetentionChoice",
    "RetentionException",
    "RetentionRule",
    "Right",
    "RightOffer",
    "RuleChoice",
    "SecurityMeasure",
    "Severity",
    "Signal",
    "SignalKind",
    "Source",
    "Storage",
    "StorageLocation",
    "SubjectKind",
    "SubjectLink",
    "SubjectScope",
    "Taxonomy",
    "TaxonomySpec",
    "Timestamps",
    "Transfer",
    "Trigger",
    "check",
    "default_taxonomy",
    "deletion_order",
    "example_path",
    "format_location",
    "get_jurisdiction",
    "identity_value",
    "is_within",
    "jurisdictions",
    "load_datamap",
    "load_policy",
    "notice_translation_gaps",
    "phrase_languages",
    "read_document",
    "retention_choices",
    "rule_for_record",
    "rule_for_record_type",
    "validation_problems",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._check import CheckReport, Finding, Severity, check, rule_for_record_type
    from ._check_retention import RuleChoice, retention_choices, rule_for_record
    from ._conditions import Condition, RetentionChoice
    from ._datamap import (
        AccountLink,
        Anonymization,
        AnonymizationKind,
        DataMap,
        FieldSpec,
        RecordType,
        SubjectLink,
        Timestamps,
    )
    from ._identity import identity_value
    from ._jurisdictions import Jurisdiction, RequestDeadline, get_jurisdiction, jurisdictions
    from ._loading import (
        example_path,
        format_location,
        load_datamap,
        load_policy,
        read_document,
        validation_problems,
    )
    from ._order import DeletionOrder, ForeignKey, RecordReference, deletion_order
    from ._policy import Policy
    from ._policy_collection import (
        Collection,
        Contact,
        Controller,
        Recipient,
        RecipientKind,
        SecurityMeasure,
        Source,
        Storage,
        StorageLocation,
        SubjectScope,
        TaxonomySpec,
        Transfer,
    )
    from ._policy_promises import NotCollected, Product, Signal, SignalKind
    from ._policy_retention import (
        ExceptionKind,
        OverrideRange,
        RetentionAction,
        RetentionException,
        RetentionRule,
        Trigger,
    )
    from ._policy_rights import (
        BreachPromise,
        ChangeKind,
        ChangePolicy,
        Children,
        Communication,
        CommunicationKind,
        IdentityVerification,
        RefusalReason,
        RequestChannel,
        Requests,
        Right,
        RightOffer,
    )
    from ._taxonomy import (
        DataCategory,
        LegalBasis,
        Purpose,
        SubjectKind,
        Taxonomy,
        default_taxonomy,
        is_within,
    )
    from ._translations import notice_translation_gaps, phrase_languages
