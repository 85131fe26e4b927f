"""The data subject's rights: access and portability exports, erasure and anonymisation,
rectification, objections, restrictions and opt-outs, requests and identity verification.

Each operation takes a resolved scope (the subject's records, store by store), the policy and the
narrow collaborators it needs (audit log, holds, journal), never the engine.

Layer rule: imports the foundation, :mod:`privacy_kit.model`, :mod:`privacy_kit.adapters`,
:mod:`privacy_kit.audit`, the scope values, :mod:`privacy_kit.lifecycle` and
:mod:`privacy_kit.retention`.

Example:
    >>> from privacy_kit.rights import RequestType
    >>> RequestType("erasure").value
    'erasure'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import attach

# name -> the module that defines it
_NAMES: dict[str, str] = {
    "Bundle": "._bundle",
    "RecordWriters": "._bundle",
    "iter_bundle_records": "._bundle",
    "ErasureAction": "._erasure",
    "ErasurePlan": "._erasure",
    "ErasureReport": "._erasure",
    "ErasureStep": "._erasure",
    "KeepReason": "._erasure",
    "KeptItem": "._erasure",
    "apply_erasure": "._erasure_apply",
    "erasure_commitments": "._erasure_apply",
    "foresee_commitments": "._erasure_apply",
    "recipients_to_tell": "._erasure_apply",
    "plan_erasure": "._erasure_plan",
    "EXPORT_FORMAT": "._export",
    "ExportResult": "._export",
    "export_subject": "._export",
    "Decision": "._preferences",
    "PreferenceRecord": "._preferences",
    "Preferences": "._preferences",
    "RestrictionGround": "._preferences",
    "UnsubscribeToken": "._preferences",
    "make_unsubscribe_token": "._preferences",
    "read_unsubscribe_token": "._preferences",
    "rectify": "._rectify",
    "DataSubjectRequest": "._requests",
    "Extension": "._requests",
    "Pause": "._requests",
    "RequestStatus": "._requests",
    "RequestType": "._requests",
    "STOP_THE_CLOCK": "._requests",
    "TRANSITIONS": "._requests",
    "Transition": "._requests",
    "add_deadline": "._requests",
    "Challenge": "._verification",
    "CodeVerifier": "._verification",
    "Verifier": "._verification",
}

__all__ = [
    "EXPORT_FORMAT",
    "STOP_THE_CLOCK",
    "TRANSITIONS",
    "Bundle",
    "Challenge",
    "CodeVerifier",
    "DataSubjectRequest",
    "Decision",
    "ErasureAction",
    "ErasurePlan",
    "ErasureReport",
    "ErasureStep",
    "ExportResult",
    "Extension",
    "KeepReason",
    "KeptItem",
    "Pause",
    "PreferenceRecord",
    "Preferences",
    "RecordWriters",
    "RequestStatus",
    "RequestType",
    "RestrictionGround",
    "Transition",
    "UnsubscribeToken",
    "Verifier",
    "add_deadline",
    "apply_erasure",
    "erasure_commitments",
    "export_subject",
    "foresee_commitments",
    "iter_bundle_records",
    "make_unsubscribe_token",
    "plan_erasure",
    "read_unsubscribe_token",
    "recipients_to_tell",
    "rectify",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._bundle import Bundle, RecordWriters, iter_bundle_records
    from ._erasure import (
        ErasureAction,
        ErasurePlan,
        ErasureReport,
        ErasureStep,
        KeepReason,
        KeptItem,
    )
    from ._erasure_apply import (
        apply_erasure,
        erasure_commitments,
        foresee_commitments,
        recipients_to_tell,
    )
    from ._erasure_plan import plan_erasure
    from ._export import EXPORT_FORMAT, ExportResult, export_subject
    from ._preferences import (
        Decision,
        PreferenceRecord,
        Preferences,
        RestrictionGround,
        UnsubscribeToken,
        make_unsubscribe_token,
        read_unsubscribe_token,
    )
    from ._rectify import rectify
    from ._requests import (
        STOP_THE_CLOCK,
        TRANSITIONS,
        DataSubjectRequest,
        Extension,
        Pause,
        RequestStatus,
        RequestType,
        Transition,
        add_deadline,
    )
    from ._verification import Challenge, CodeVerifier, Verifier
