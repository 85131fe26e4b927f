"""The JSON form of a :class:`~privacy_kit.RetentionPlan` (see :mod:`privacy_kit.retention._plan_codec`).

The document holds everything that decides what applying the plan does (each entry's selections,
cutoffs, counts, commitment, the plan's id) and nothing process-local: the journal, the hold
registry, the resolver and the commitment registry are attached when the plan is loaded or, by
:meth:`Engine.apply <privacy_kit.Engine.apply>`, from the applying engine. This module returns the
plan's and its entries' constructor arguments; :mod:`~privacy_kit.retention._plan_model` builds
the values (it imports this module, not the other way round).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import attrs
import orjson

from .._errors import ConfigurationError, PlanError, PlanFormatError
from .._types import Duration
from ..adapters import Partition
from ..model._datamap import DataMap
from ..model._policy_retention import Trigger
from ._commitments import Commitment, CommitmentRegistry
from ._holds import HoldRegistry
from ._indefinite import IndefiniteKeep
from ._journal import RetentionJournal
from ._orphans import Orphans
from ._plan_codec import (
    Reader,
    check_origin,
    instant_to_data,
    open_document,
    selection_to_json,
    value_to_json,
    write_document,
)
from ._rules import TriggerSource

__all__ = [
    "attach",
    "check_applicable",
    "check_content",
    "commitment_from_json",
    "commitment_to_json",
    "content_id",
    "retention_plan_fields",
    "retention_plan_json",
]

_ACTIONS = ("delete", "anonymize", "minimize")
_Plan = TypeVar("_Plan")  # a RetentionPlan (read by attribute: _plan_model imports this module)


def _duration(d: Duration | None) -> str | None:
    return None if d is None else str(d)


def commitment_to_json(c: Commitment, where: str) -> dict[str, Any]:
    """A commitment in a plan document (its selection in the plan codec's form)."""
    out = c.to_dict()
    out["selection"] = selection_to_json(c.selection, f"{where}.selection")
    return out


def commitment_from_json(r: Reader) -> Commitment:
    """Read :func:`commitment_to_json`'s form."""
    fields: dict[str, Any] = {
        "id": r.text("id"),
        "record_type": r.text("record_type"),
        "selection": r.selection("selection"),
        "fields": r.texts("fields"),
        "due": r.instant("due"),
        "action": r.text("action"),
        "reason": r.text("reason"),
        "explanation": r.text("explanation"),
        "origin": r.text("origin"),
        "made_at": r.instant("made_at"),
        "subject_reference": r.opt_text("subject_reference"),
        "rule": r.opt_text("rule"),
        "count": r.integer("count"),
        "fulfilled_at": r.opt_instant("fulfilled_at"),
        "fulfilled_by": r.opt_text("fulfilled_by"),
    }
    return r.build("action", lambda: Commitment(**fields))


def _entry_to_json(e: Any, where: str) -> dict[str, Any]:
    source: TriggerSource | None = e.source
    return {
        "rule": e.rule,
        "record_type": e.record_type,
        "action": e.action,
        "group": e.group,
        "override": _duration(e.override),
        "source": None if source is None else attrs.asdict(source),
        "duration": _duration(e.duration),
        "cutoff": instant_to_data(e.cutoff),
        "after": None if e.after is None else instant_to_data(e.after),
        "fields": list(e.fields),
        "kept": [[f, str(d)] for f, d in e.kept],
        "selection": selection_to_json(e.selection, f"{where}.selection"),
        "account_selection": None
        if e.account_selection is None
        else selection_to_json(e.account_selection, f"{where}.account_selection"),
        "excluded_accounts": sorted(
            (value_to_json(k, f"{where}.excluded_accounts") for k in e.excluded_accounts),
            key=repr,
        ),
        "held_selection": None
        if e.held_selection is None
        else selection_to_json(e.held_selection, f"{where}.held_selection"),
        "count": e.count,
        "held": e.held,
        "hold_ids": list(e.hold_ids),
        "commitment": None
        if e.commitment is None
        else commitment_to_json(e.commitment, f"{where}.commitment"),
        "recheck": e.recheck,
        "marker": e.marker,
        "when": e.when,
        "gone_from_backups_by": None
        if e.gone_from_backups_by is None
        else instant_to_data(e.gone_from_backups_by),
        "partitions": [p.to_dict() for p in e.partitions],
    }


# What an entry's counts and dates say, not what applying it does: left out of the plan's id.
_NOT_CONTENT = ("count", "held", "gone_from_backups_by")


def _entry_content(e: Any, index: int) -> Any:
    try:
        data = _entry_to_json(e, f"plan.entries[{index}]")
    except ConfigurationError:
        # A value no plan document can carry: such a plan is never loaded from JSON, so its id
        # need only be the same for the same work in this process (``resume=``).
        return [
            repr(e.selection),
            repr(e.account_selection),
            repr(e.held_selection),
            e.rule,
            e.record_type,
            e.action,
            e.group,
            e.cutoff.isoformat(),
            list(e.fields),
            sorted(map(repr, e.excluded_accounts)),
        ]
    return {k: v for k, v in data.items() if k not in _NOT_CONTENT}


def content_id(now: Any, entries: Sequence[Any], batch_size: int | None) -> str:
    """The first part of a retention plan's id: ``ret_`` and a hash of what applying it does.

    It covers the instant, the batch size (which cuts the units the journal names), the holds
    the plan excluded and every entry's selections, cutoffs, fields and commitment, but not its
    counts; the plan's id is this and a random nonce. :meth:`RetentionPlan.from_json
    <privacy_kit.RetentionPlan.from_json>` computes it again, so a document whose entries were
    edited is refused rather than applied under an id (and journal) made for other work.
    """
    body = [
        now.isoformat(),
        batch_size,
        sorted({h for e in entries for h in e.hold_ids}),
        [_entry_content(e, i) for i, e in enumerate(entries)],
    ]
    return "ret_" + hashlib.sha256(orjson.dumps(body)).hexdigest()[:16]


def check_content(plan: _Plan) -> _Plan:
    """``plan`` (just loaded) if its id was made for its content; otherwise a located error.

    Raises:
        PlanFormatError: at ``plan.id``: the entries, instant, holds or batch size were edited
            after the plan was written (or the id was).
    """
    found: Any = plan
    content = content_id(found.now, found.entries, found.batch_size)
    if found.id[:-8] != content or len(found.id) != len(content) + 8:
        raise PlanFormatError(
            "plan.id",
            f"{found.id!r} does not match the plan's content ({content}...): the document was "
            "edited; plan the sweep again",
        )
    return plan


def retention_plan_json(plan: Any) -> str:
    """The plan's JSON document (see :meth:`~privacy_kit.RetentionPlan.to_json`)."""
    body = {
        "id": plan.id,
        "now": instant_to_data(plan.now),
        "batch_size": plan.batch_size,
        "entries": [_entry_to_json(e, f"plan.entries[{i}]") for i, e in enumerate(plan.entries)],
        "skipped": [list(s) for s in plan.skipped],
        "notes": list(plan.notes),
        "orphans": [attrs.asdict(o) for o in plan.orphans],
        "kept_indefinitely": [
            {**attrs.asdict(k), "fields": list(k.fields)} for k in plan.kept_indefinitely
        ],
        "hold_ids": list(plan.hold_ids),
    }
    return write_document(
        "retention", body, policy_version=plan.policy_version, digest=plan.datamap_digest
    )


def _source(r: Reader) -> TriggerSource:
    trigger = r.text("trigger")
    if trigger not in {t.value for t in Trigger}:
        r.fail("trigger", f"unknown trigger {trigger!r}")
    return TriggerSource(
        Trigger(trigger), r.text("field"), r.opt_text("account"), r.opt_text("link_field")
    )


def _kept(r: Reader) -> tuple[tuple[str, Duration], ...]:
    out: list[tuple[str, Duration]] = []
    for i, (name, text) in enumerate(r.pairs("kept")):
        pair = Reader({"field": name, "duration": text}, r.at("kept") + f"[{i}]")
        out.append((pair.text("field"), pair.duration("duration")))
    return tuple(out)


def _entry_fields(r: Reader) -> dict[str, Any]:
    action = r.text("action")
    if action not in _ACTIONS:
        r.fail("action", f"expected one of {', '.join(_ACTIONS)}, got {action!r}")
    return {
        "rule": r.text("rule"),
        "record_type": r.text("record_type"),
        "action": action,
        "group": r.text("group"),
        "override": r.opt_duration("override"),
        "source": None if r.raw("source") is None else _source(r.obj("source")),
        "duration": r.opt_duration("duration"),
        "cutoff": r.instant("cutoff"),
        "after": r.opt_instant("after"),
        "fields": r.texts("fields"),
        "kept": _kept(r),
        "selection": r.selection("selection"),
        "account_selection": r.opt_selection("account_selection"),
        "excluded_accounts": frozenset(r.values("excluded_accounts")),
        "held_selection": r.opt_selection("held_selection"),
        "count": r.integer("count"),
        "held": r.integer("held"),
        "hold_ids": r.texts("hold_ids"),
        "commitment": None
        if r.raw("commitment") is None
        else commitment_from_json(r.obj("commitment")),
        "recheck": r.flag("recheck"),
        "marker": r.opt_text("marker"),
        "when": r.opt_text("when"),
        "gone_from_backups_by": r.opt_instant("gone_from_backups_by"),
        # Absent from documents written before partitions were planned: none.
        "partitions": r.each("partitions", _partition) if "partitions" in r.data else (),
    }


_HOW: dict[str, Literal["drop", "truncate"]] = {"drop": "drop", "truncate": "truncate"}


def _partition(r: Reader) -> Partition:
    how = _HOW.get(r.text("how"))
    if how is None:
        r.fail("how", f"expected drop or truncate, got {r.raw('how')!r}")
    return Partition(r.text("name"), r.text("bounds"), r.integer("rows"), how)


def retention_plan_fields(
    data: str | bytes | bytearray | memoryview,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The plan's constructor arguments and each entry's, read from its JSON document.

    Raises:
        PlanFormatError: a corrupt document, or one of another kind or a newer format version.
    """
    head, r = open_document(data, "retention")
    entries = [_entry_fields(e) for e in r.objs("entries")]
    skipped = []
    for i, (name, reason) in enumerate(r.pairs("skipped")):
        pair = Reader({"record_type": name, "reason": reason}, r.at("skipped") + f"[{i}]")
        skipped.append((pair.text("record_type"), pair.text("reason")))
    batch_size = r.opt_integer("batch_size")
    if batch_size == 0:
        r.fail("batch_size", "expected at least 1")
    plan = {
        "now": r.instant("now"),
        "skipped": tuple(skipped),
        "notes": r.texts("notes"),
        "batch_size": batch_size,
        "id": r.text("id"),
        "orphans": r.each(
            "orphans",
            lambda o: Orphans(
                o.text("record_type"),
                o.text("rule"),
                o.text("account"),
                o.text("time_field"),
                o.integer("missing"),
                o.integer("unlinked"),
            ),
        ),
        "kept_indefinitely": r.each(
            "kept_indefinitely",
            lambda k: IndefiniteKeep(
                k.text("rule"),
                k.text("record_type"),
                k.texts("fields"),
                k.text("reason"),
                k.opt_text("kind"),
            ),
        ),
        "hold_ids": r.texts("hold_ids"),
        "policy_version": head.text("policy_version"),
        "datamap_digest": head.text("datamap_digest"),
    }
    return plan, entries


def attach(
    plan: Any,
    *,
    journal: RetentionJournal | None,
    holds: HoldRegistry | None,
    resolver: Any,
    commitments: CommitmentRegistry | None,
) -> Any:
    """A plan loaded from JSON with the applying side's collaborators (``Engine.apply`` calls it).

    The plan's journal is kept when it is a file or a state store (given when loading);
    otherwise ``journal`` (the engine's shared one), if any.
    """
    own = plan.journal
    in_memory = own.path is None and own.state is None
    return attrs.evolve(
        plan,
        journal=journal if journal is not None and in_memory else own,
        holds=holds,
        resolver=resolver,
        commitments=commitments,
        loaded=False,
    )


def check_applicable(plan: Any, datamap: DataMap, policy_version: str | None) -> None:
    """Refuse a plan made under another policy version or data map, and a plan loaded from JSON
    that lacks what applying it as the original would needs (``apply_retention`` calls it).

    A loaded plan gets the engine's registries from ``Engine.apply``; applied by the plain
    function, it must have been loaded with them: without the hold registry and resolver a hold
    placed after planning would not be honoured, and without the commitment registry its
    commitment entries would run without being marked fulfilled.

    Raises:
        PlanError: saying which, and what to pass.
    """
    check_origin(
        "retention plan",
        (plan.policy_version, plan.datamap_digest),
        policy_version=policy_version,
        datamap=datamap,
    )
    if not plan.loaded:
        return
    missing = []
    if plan.holds is None or plan.resolver is None:
        missing.append("holds= and resolver= (holds placed after planning are read again)")
    if plan.commitments is None and any(e.commitment is not None for e in plan.entries):
        missing.append("commitments= (its commitment entries are marked fulfilled there)")
    if missing:
        raise PlanError(
            "this retention plan was loaded from JSON without "
            + " or ".join(missing)
            + "; apply it with Engine.apply, or pass them to RetentionPlan.from_json"
        )
