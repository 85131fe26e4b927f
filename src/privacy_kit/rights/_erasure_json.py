"""The JSON form of an :class:`~privacy_kit.ErasurePlan` (see :mod:`privacy_kit.retention._plan_codec`).

The document holds every step's selection and strategies, what is kept and why, the commitments
applying it will record, and the nonce, so the loaded plan has the same ``plan_id`` and resumes the
same journal; the id is checked against the content on loading, so a document whose steps were
edited is refused. This module returns constructor arguments; :mod:`~privacy_kit.rights._erasure`
builds the values (it imports this module, not the other way round).
"""

from __future__ import annotations

from typing import Any

from ..model._datamap import AnonymizationKind
from ..model._policy_retention import ExceptionKind
from ..retention._anonymize import FieldAnonymization
from ..retention._plan_codec import (
    Reader,
    instant_to_data,
    open_document,
    selection_to_json,
    value_to_json,
    write_document,
)
from ..retention._plan_json import commitment_from_json, commitment_to_json

__all__ = ["erasure_plan_fields", "erasure_plan_json"]


def _strategy_to_json(f: FieldAnonymization, where: str) -> dict[str, Any]:
    return {
        "field": f.field,
        "kind": f.kind.value,
        "value": value_to_json(f.value, f"{where}.value"),
        "keep": f.keep,
        "granularity": f.granularity,
        "declared": f.declared,
    }


def _strategy(r: Reader) -> FieldAnonymization:
    kind = r.text("kind")
    if kind not in {k.value for k in AnonymizationKind}:
        r.fail("kind", f"unknown anonymisation {kind!r}")
    return FieldAnonymization(
        r.text("field"),
        AnonymizationKind(kind),
        value=r.value("value"),
        keep=r.integer("keep"),
        granularity=r.text("granularity"),
        declared=r.flag("declared"),
    )


def erasure_plan_json(plan: Any) -> str:
    """The plan's JSON document (see :meth:`~privacy_kit.ErasurePlan.to_json`)."""
    steps = []
    for i, s in enumerate(plan.steps):
        where = f"plan.steps[{i}]"
        steps.append(
            {
                "id": s.id,
                "record_type": s.record_type,
                "role": s.role,
                "action": s.action.value,
                "selection": selection_to_json(s.selection, f"{where}.selection"),
                "count": s.count,
                "fields": [
                    _strategy_to_json(f, f"{where}.fields[{j}]") for j, f in enumerate(s.fields)
                ],
                "method": s.method,
            }
        )
    kept = [
        {
            "record_type": k.record_type,
            "role": k.role,
            "count": k.count,
            "reason": k.reason.value,
            "explanation": k.explanation,
            "fields": list(k.fields),
            "until": None if k.until is None else instant_to_data(k.until),
            "citation": k.citation,
            "selection": None
            if k.selection is None
            else selection_to_json(k.selection, f"plan.kept[{i}].selection"),
            "indefinite": k.indefinite,
            "rule": k.rule,
        }
        for i, k in enumerate(plan.kept)
    ]
    body = {
        "plan_id": plan.plan_id,
        "nonce": plan.nonce,
        "subject_reference": plan.subject_reference,
        "subject_kind": plan.subject_kind,
        "now": instant_to_data(plan.now),
        "steps": steps,
        "kept": kept,
        "waived": [w.value for w in plan.waived],
        "batch_size": plan.batch_size,
        "searched": list(plan.searched),
        "commitments": [
            commitment_to_json(c, f"plan.commitments[{i}]") for i, c in enumerate(plan.commitments)
        ],
        "notes": list(plan.notes),
        "hold_ids": list(plan.hold_ids),
    }
    return write_document(
        "erasure", body, policy_version=plan.policy_version, digest=plan.datamap_digest
    )


def _choice(r: Reader, key: str, allowed: set[str]) -> str:
    value = r.text(key)
    if value not in allowed:
        r.fail(key, f"expected one of {', '.join(sorted(allowed))}, got {value!r}")
    return value


def erasure_plan_fields(
    data: str | bytes | bytearray | memoryview,
    actions: set[str],
    reasons: set[str],
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], Reader]:
    """The plan's constructor arguments, its steps' and its kept items', and the body's reader
    (to locate a ``plan_id`` that does not match the content).

    Raises:
        PlanFormatError: a corrupt document, or one of another kind or a newer format version.
    """
    head, r = open_document(data, "erasure")
    steps = [
        {
            "id": s.text("id"),
            "record_type": s.text("record_type"),
            "role": s.text("role"),
            "action": _choice(s, "action", actions),
            "selection": s.selection("selection"),
            "count": s.integer("count"),
            "fields": s.each("fields", _strategy),
            "method": s.text("method"),
        }
        for s in r.objs("steps")
    ]
    kept = [
        {
            "record_type": k.text("record_type"),
            "role": k.text("role"),
            "count": k.integer("count"),
            "reason": _choice(k, "reason", reasons),
            "explanation": k.text("explanation"),
            "fields": k.texts("fields"),
            "until": k.opt_instant("until"),
            "citation": k.opt_text("citation"),
            "selection": k.opt_selection("selection"),
            "indefinite": k.flag("indefinite"),
            "rule": k.opt_text("rule"),
        }
        for k in r.objs("kept")
    ]
    waived = []
    for i, name in enumerate(r.texts("waived")):
        if name not in {e.value for e in ExceptionKind}:
            r.fail("waived", f"[{i}] unknown exception kind {name!r}")
        waived.append(ExceptionKind(name))
    batch_size = r.opt_integer("batch_size")
    if batch_size == 0:
        r.fail("batch_size", "expected at least 1")
    plan = {
        "subject_reference": r.text("subject_reference"),
        "subject_kind": r.text("subject_kind"),
        "now": r.instant("now"),
        "policy_version": head.text("policy_version"),
        "waived": tuple(waived),
        "batch_size": batch_size,
        "searched": r.texts("searched"),
        "commitments": r.each("commitments", commitment_from_json),
        "notes": r.texts("notes"),
        "hold_ids": r.texts("hold_ids"),
        "nonce": r.text("nonce"),
        "datamap_digest": head.text("datamap_digest"),
    }
    return plan, steps, kept, r
