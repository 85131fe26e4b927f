"""An erasure plan applied store by store: units any worker runs, then one finish.

:func:`begin_erasure` cuts the plan into :class:`ErasureUnit` values, one per store and wave,
records the plan's commitments (read from the stores before anything is changed, exactly as a
whole apply does) and keeps the units and the commitments' notes in the shared state store
(collection ``erasure.units``), so every process gets the same ones. A unit holds a store's steps
in the plan's order; the **waves** keep the plan's deletion order across stores: a step that
must follow a step of another store (children before the records they reference) is in a later
wave than it. :func:`apply_unit` runs one unit's steps through
:func:`~privacy_kit.rights._erasure_apply.apply_erasure` (the same step runner: holds read again,
each step journalled in the plan's shared journal with its count, an interrupted step recounted),
in any order within a wave, twice, in any process sharing the store; a unit whose earlier waves
are not done is refused. :func:`finish_erasure` refuses while a unit is not done (naming it),
then returns the report a whole apply returns and records the one ``erasure.applied``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._errors import ConfigurationError, PlanError, PlanFormatError
from .._scope import Stores
from ..adapters._order import store_deletion_order
from ..audit._journal import StateJournal
from ..audit._log import AuditLog
from ..audit._state import StateConflictError, StateStore
from ..lifecycle._disclosures import DisclosureLog
from ..model._policy import Policy
from ..retention._commitments import CommitmentRegistry
from ..retention._holds import HoldRegistry
from ..retention._holds_recheck import NewlyHeld
from ..retention._plan_codec import Reader, check_origin
from ._erasure import ErasureAction, ErasurePlan, ErasureReport
from ._erasure_apply import apply_erasure, erasure_commitments
from ._erasure_finish import report_applied

if TYPE_CHECKING:
    from .._scope import Resolver

__all__ = ["UNITS", "ErasureUnit", "apply_unit", "begin_erasure", "erasure_units", "finish_erasure"]

UNITS = "erasure.units"
"""The state store's collection of begun plans (``<plan id>``) and done units
(``<plan id>.<unit key>``)."""


def _names(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen(kw_only=True)
class ErasureUnit:
    """One store's steps of an erasure plan in one wave: what a worker applies.

    Attributes:
        plan: the plan's id.
        store: the store whose records the steps change.
        wave: units of a wave run after every unit of the waves before (0 first).
        steps: the step ids, in the plan's order.

    Example:
        >>> unit = ErasureUnit(plan="p", store="main", wave=0, steps=("users:customer:delete",))
        >>> ErasureUnit.from_json(unit.to_json()) == unit, unit.key
        (True, '0.main')
    """

    plan: str
    store: str
    wave: int
    steps: tuple[str, ...] = attrs.field(converter=_names)

    @property
    def key(self) -> str:
        """``<wave>.<store>``: the unit's name within its plan."""
        return f"{self.wave}.{self.store}"

    def to_dict(self) -> dict[str, Any]:
        """The unit as JSON-able data."""
        return {
            "plan": self.plan,
            "store": self.store,
            "wave": self.wave,
            "steps": list(self.steps),
        }

    def to_json(self) -> str:
        """The unit as a JSON document."""
        return orjson.dumps(self.to_dict()).decode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "unit") -> ErasureUnit:
        """Read :meth:`to_dict`'s data (``PlanFormatError`` naming the field otherwise)."""
        r = Reader(data, where)
        return cls(plan=r.text("plan"), store=r.text("store"), wave=r.integer("wave"),
                   steps=r.texts("steps"))  # fmt: skip

    @classmethod
    def from_json(cls, text: str | bytes) -> ErasureUnit:
        """Read :meth:`to_json`'s document."""
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise PlanFormatError("unit", f"not JSON ({exc})") from None
        return cls.from_dict(data)


def erasure_units(plan: ErasurePlan, stores: Stores) -> tuple[ErasureUnit, ...]:
    """``plan``'s steps as units, per store and wave, in the order a single process runs them.

    A step is in the wave of the same store's steps before it, and in the wave after any step
    of another store it must follow (it references that step's records' type, by the data map
    or a foreign key: :func:`~privacy_kit.adapters.store_deletion_order`).
    """
    names = list(dict.fromkeys(s.record_type for s in plan.steps))
    order = store_deletion_order((stores.record_type(n), stores.adapter_for(n)) for n in names)
    follows = {(r.record_type, r.references) for r in order.references if r not in order.broken}
    store_of = {n: stores.record_type(n).store for n in names}
    wave: dict[str, int] = {}
    for i, step in enumerate(plan.steps):
        mine = store_of[step.record_type]
        level = 0
        for before in plan.steps[:i]:
            if store_of[before.record_type] == mine:
                level = max(level, wave[before.id])
            elif (before.record_type, step.record_type) in follows:
                level = max(level, wave[before.id] + 1)
        wave[step.id] = level
    grouped: dict[tuple[int, str], list[str]] = {}
    for step in plan.steps:
        grouped.setdefault((wave[step.id], store_of[step.record_type]), []).append(step.id)
    return tuple(
        ErasureUnit(plan=plan.plan_id, store=store, wave=level, steps=tuple(steps))
        for (level, store), steps in sorted(grouped.items(), key=lambda kv: kv[0][0])
    )


def _check(plan: ErasurePlan, stores: Stores, policy_version: str) -> None:
    check_origin(
        "erasure plan",
        (plan.policy_version, plan.datamap_digest),
        policy_version=policy_version,
        datamap=stores.datamap,
        again="plan the erasure again",
    )


def begin_erasure(
    plan: ErasurePlan,
    stores: Stores,
    *,
    state: StateStore,
    policy: Policy,
    policy_version: str,
    commitments: CommitmentRegistry,
) -> tuple[ErasureUnit, ...]:
    """Record ``plan``'s commitments and units in the state store (once); return the units.

    Begun again (in any process), it returns the units recorded first and records nothing.

    Raises:
        PlanError: the plan was made under another policy version or data map.
    """
    _check(plan, stores, policy_version)
    found = state.get(UNITS, plan.plan_id)
    if found is None:
        units = erasure_units(plan, stores)
        made, notes = erasure_commitments(plan, stores, policy=policy)
        recorded = commitments.record(made)  # before any unit changes what they are read from
        origin = f"erasure {plan.plan_id}"
        # an earlier erasure's same promise stands for ours: the report names it, as apply's does
        earlier = sorted({c.id for c in recorded if c.origin != origin})
        document = {"units": [u.to_dict() for u in units], "notes": list(notes), "earlier": earlier}
        with contextlib.suppress(StateConflictError):  # begun elsewhere meanwhile: that stands
            state.put(UNITS, plan.plan_id, document, if_absent=True)
    return _begun(plan, state)[0]


def _begun(plan: ErasurePlan, state: StateStore) -> tuple[tuple[ErasureUnit, ...], list[str]]:
    found = state.get(UNITS, plan.plan_id)
    if found is None:
        raise PlanError(
            f"erasure plan {plan.plan_id} was not begun: begin it (engine.begin_erasure(plan)) "
            "before applying its units, so its commitments are read before anything changes"
        )
    r = Reader(found.document, f"{UNITS}/{plan.plan_id}")
    units = tuple(ErasureUnit.from_dict(u.data, u.location) for u in r.objs("units"))
    return units, list(r.texts("notes"))


def _earlier(plan: ErasurePlan, state: StateStore) -> list[str]:
    """The ids of an earlier erasure's commitments that stand for ``plan``'s (same promise)."""
    found = state.get(UNITS, plan.plan_id)
    return [] if found is None else [str(i) for i in found.document.get("earlier", [])]


def apply_unit(
    plan: ErasurePlan,
    unit: ErasureUnit,
    stores: Stores,
    *,
    state: StateStore,
    secret: bytes,
    policy_version: str,
    audit: AuditLog | None = None,
    holds: HoldRegistry | None = None,
    resolver: Resolver | None = None,
) -> dict[str, Any]:
    """Run ``unit``'s steps; return what it did (also kept in the state store for the finish).

    Keys: ``unit``, ``deleted``, ``anonymised``, ``resumed`` (steps an earlier run had done),
    ``notes``, ``newly_held``, ``recounted``. Run again after it was done, it returns the first
    run's record.

    Raises:
        PlanError: the plan was not begun, the unit is not one of its units, or a unit of an
            earlier wave is not done (naming it).
        AdapterError: the store failed (the journal keeps the finished steps: run it again).
    """
    _check(plan, stores, policy_version)
    units, _notes = _begun(plan, state)
    if unit not in units:
        raise PlanError(f"unit {unit.key} is not one of erasure plan {plan.plan_id}'s units")
    waiting = [u.key for u in units if u.wave < unit.wave and _done(state, plan, u) is None]
    if waiting:
        raise PlanError(
            f"unit {unit.key} of erasure plan {plan.plan_id} must follow unit(s) "
            f"{', '.join(waiting)}, which are not done: apply them first"
        )
    found = _done(state, plan, unit)
    if found is not None:
        return found
    recounted: dict[str, dict[str, Any]] = {}
    report = apply_erasure(
        plan,
        stores,
        policy_version=policy_version,
        secret=secret,
        audit=audit,
        journal=StateJournal.for_plan(state, plan.plan_id),
        holds=holds,
        resolver=resolver,
        only=unit.steps,
        recounts=recounted,
    )
    document = {
        "unit": unit.key,
        "deleted": report.deleted,
        "anonymised": report.anonymised,
        "resumed": list(report.resumed_steps),
        "notes": list(report.notes),
        "newly_held": [n.to_dict() for n in report.newly_held],
        "recounted": recounted,
    }
    state.put(UNITS, f"{plan.plan_id}.{unit.key}", document)
    return document


def _done(state: StateStore, plan: ErasurePlan, unit: ErasureUnit) -> dict[str, Any] | None:
    found = state.get(UNITS, f"{plan.plan_id}.{unit.key}")
    return None if found is None else dict(found.document)


def finish_erasure(
    plan: ErasurePlan,
    stores: Stores,
    *,
    state: StateStore,
    policy_version: str,
    commitments: CommitmentRegistry,
    audit: AuditLog | None = None,
    disclosures: DisclosureLog | None = None,
) -> ErasureReport:
    """The report of ``plan`` applied by units, as a whole apply returns it; ``erasure.applied``.

    Finished again, it returns the same report and records nothing.

    Raises:
        PlanError: the plan was not begun, or a unit is not done (naming them).
    """
    _check(plan, stores, policy_version)
    units, notes = _begun(plan, state)
    earlier = set(_earlier(plan, state))
    done = {u.key: _done(state, plan, u) for u in units}
    waiting = [key for key, found in done.items() if found is None]
    if waiting:
        raise PlanError(
            f"erasure plan {plan.plan_id} is not finished: unit(s) {', '.join(waiting)} are not "
            "done; apply them first"
        )
    journal = StateJournal.for_plan(state, plan.plan_id)
    completed = journal.completed_steps(plan.plan_id)
    missing = [s.id for s in plan.steps if s.id not in completed]
    if missing:  # a unit's record without its steps' journal entries: not what apply_unit leaves
        raise PlanError(f"erasure plan {plan.plan_id}: step(s) {missing} are not journalled done")
    deleted: dict[str, int] = {}
    anonymised: dict[str, int] = {}
    for step in plan.steps:
        totals = deleted if step.action is ErasureAction.DELETE else anonymised
        totals[step.record_type] = totals.get(step.record_type, 0) + completed[step.id]
    records = [found for found in done.values() if found is not None]
    origin = f"erasure {plan.plan_id}"
    finished = journal.is_finished(plan.plan_id)
    report = report_applied(
        plan,
        deleted=deleted,
        anonymised=anonymised,
        resumed=[s for r in records for s in r["resumed"]],
        journal=None,
        commitments=(
            *(c for c in commitments if c.origin == origin),
            *(c for c in commitments if c.id in earlier),
        ),
        notes=(*notes, *(n for r in records for n in r["notes"])),
        newly_held=[
            NewlyHeld(n["record_type"], n["step"], n["count"], tuple(n["holds"]))
            for r in records
            for n in r["newly_held"]
        ],
        recounted={k: v for r in records for k, v in r["recounted"].items()},
        audit=None if finished else audit,
        disclosures=disclosures,
    )
    # after the audit entry: a finish cut off between the two records it again, never not at all
    if not finished:
        journal.finished(plan.plan_id)
    return report


def require_state(state: StateStore | None, what: str) -> StateStore:
    """``state``, or a :class:`~privacy_kit.ConfigurationError` saying ``what`` needs one."""
    if state is None:
        raise ConfigurationError(
            f"{what} records its progress in the engine's state store, and this engine has "
            "none: give it one every worker shares (state=...)"
        )
    return state
