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
    "COMPRESSION_LEVEL": "._bundle",
    "Bundle": "._bundle",
    "RecordWriters": "._bundle",
    "iter_bundle_records": "._bundle",
    "neutralise_formula": "._bundle",
    "STOP_THE_CLOCK": "._deadlines",
    "ClockRule": "._deadlines",
    "add_deadline": "._deadlines",
    "ErasureAction": "._erasure",
    "ErasurePlan": "._erasure",
    "ErasureReport": "._erasure",
    "ErasureStep": "._erasure",
    "KeepReason": "._erasure",
    "KeptItem": "._erasure",
    "apply_erasure": "._erasure_apply",
    "erasure_commitments": "._erasure_apply",
    "foresee_commitments": "._erasure_apply",
    "recipients_to_tell": "._erasure_finish",
    "ErasureUnit": "._erasure_units",
    "erasure_units": "._erasure_units",
    "plan_erasure": "._erasure_plan",
    "EXPORT_FORMAT": "._export",
    "BinaryDestination": "._export",
    "ExportResult": "._export",
    "ExportJob": "._export_job",
    "ExportPart": "._export_parts",
    "export_subject": "._export",
    "ExportStream": "._export_stream",
    "iter_export": "._export_stream",
    "Decision": "._preference_records",
    "PreferenceRecord": "._preference_records",
    "RestrictionGround": "._preference_records",
    "read_json": "._preference_store",
    "read_sqlite": "._preference_store",
    "to_json": "._preference_store",
    "write_json": "._preference_store",
    "write_sqlite": "._preference_store",
    "Preferences": "._preferences",
    "rectify": "._rectify",
    "RequestData": "._request_data",
    "Extension": "._request_states",
    "IdentityCheck": "._request_states",
    "Outcome": "._request_states",
    "Pause": "._request_states",
    "RequestStatus": "._request_states",
    "RequestType": "._request_states",
    "TRANSITIONS": "._request_states",
    "Transition": "._request_states",
    "DataSubjectRequest": "._requests",
    "UnsubscribeToken": "._unsubscribe",
    "make_unsubscribe_token": "._unsubscribe",
    "read_unsubscribe_token": "._unsubscribe",
    "Challenge": "._verification",
    "CodeVerifier": "._verification",
    "identity_check": "._verification",
    "Verifier": "._verification",
}

__all__ = [
    "COMPRESSION_LEVEL",
    "EXPORT_FORMAT",
    "STOP_THE_CLOCK",
    "TRANSITIONS",
    "BinaryDestination",
    "Bundle",
    "Challenge",
    "ClockRule",
    "CodeVerifier",
    "DataSubjectRequest",
    "Decision",
    "ErasureAction",
    "ErasurePlan",
    "ErasureReport",
    "ErasureStep",
    "ErasureUnit",
    "ExportJob",
    "ExportPart",
    "ExportResult",
    "ExportStream",
    "Extension",
    "IdentityCheck",
    "KeepReason",
    "KeptItem",
    "Outcome",
    "Pause",
    "PreferenceRecord",
    "Preferences",
    "RecordWriters",
    "RequestData",
    "RequestStatus",
    "RequestType",
    "RestrictionGround",
    "Transition",
    "UnsubscribeToken",
    "Verifier",
    "add_deadline",
    "apply_erasure",
    "erasure_commitments",
    "erasure_units",
    "export_subject",
    "foresee_commitments",
    "identity_check",
    "iter_bundle_records",
    "iter_export",
    "make_unsubscribe_token",
    "neutralise_formula",
    "plan_erasure",
    "read_json",
    "read_sqlite",
    "read_unsubscribe_token",
    "recipients_to_tell",
    "rectify",
    "to_json",
    "write_json",
    "write_sqlite",
]

__getattr__, __dir__ = attach(__name__, _NAMES, __all__)

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from ._bundle import (
        COMPRESSION_LEVEL,
        Bundle,
        RecordWriters,
        iter_bundle_records,
        neutralise_formula,
    )
    from ._deadlines import STOP_THE_CLOCK, ClockRule, add_deadline
    from ._erasure import (
        ErasureAction,
        ErasurePlan,
        ErasureReport,
        ErasureStep,
        KeepReason,
        KeptItem,
    )
    from ._erasure_apply import apply_erasure, erasure_commitments, foresee_commitments
    from ._erasure_finish import recipients_to_tell
    from ._erasure_plan import plan_erasure
    from ._erasure_units import ErasureUnit, erasure_units
    from ._export import EXPORT_FORMAT, BinaryDestination, ExportResult, export_subject
    from ._export_job import ExportJob
    from ._export_parts import ExportPart
    from ._export_stream import ExportStream, iter_export
    from ._preference_records import Decision, PreferenceRecord, RestrictionGround
    from ._preference_store import read_json, read_sqlite, to_json, write_json, write_sqlite
    from ._preferences import Preferences
    from ._rectify import rectify
    from ._request_data import RequestData
    from ._request_states import (
        TRANSITIONS,
        Extension,
        IdentityCheck,
        Outcome,
        Pause,
        RequestStatus,
        RequestType,
        Transition,
    )
    from ._requests import DataSubjectRequest
    from ._unsubscribe import UnsubscribeToken, make_unsubscribe_token, read_unsubscribe_token
    from ._verification import Challenge, CodeVerifier, Verifier, identity_check
