"""Holds re-read while a plan is applied: a hold placed after planning stops the run too.

A retention or erasure plan reads the legal holds when it is made and excludes the held records
from its selections. Between planning and applying, another process may place a hold (through the
shared :class:`~privacy_kit.audit.StateStore`). :class:`HoldRecheck` re-reads the registry before
each unit (a retention unit, an erasure step): the holds not yet released at the plan's instant
that the plan did not know are turned into a selection on the unit's record type, the records they
cover are counted (what the new hold kept out) and excluded in the unit's statement.

The guarantee is per unit: a hold committed before a unit reads the holds is honoured by every
statement of that unit and of the units after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ..adapters import Adapter, And, Not, Selection
from ..model._datamap import RecordType
from ._holds import HoldRegistry, LegalHold, combine_holds

if TYPE_CHECKING:
    from .._scope import Resolver, Scope, Subject

__all__ = ["HoldRecheck", "NewlyHeld"]


@attrs.frozen
class NewlyHeld:
    """Records a hold placed after the plan kept out of one unit of its run.

    Attributes:
        record_type: the record type's name.
        step: the plan's step (an erasure step id, or ``rule/record_type [group]``).
        count: records the unit would have changed but left alone (counted by the store).
        holds: the ids of the holds the plan did not know that cover them.

    Example:
        >>> NewlyHeld("sessions", "sessions:owner:delete", 2, ("hold_9",)).describe()
        'sessions:owner:delete: 2 sessions record(s) kept by a hold placed after the plan (hold_9)'
    """

    record_type: str
    step: str
    count: int
    holds: tuple[str, ...]

    def describe(self) -> str:
        """One line: what the new hold kept out."""
        return (
            f"{self.step}: {self.count} {self.record_type} record(s) kept by a hold placed after "
            f"the plan ({', '.join(self.holds)})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (audit)."""
        return {
            "record_type": self.record_type,
            "step": self.step,
            "count": self.count,
            "holds": list(self.holds),
        }


def _in_force_from(hold: LegalHold, at: dt.datetime) -> bool:
    """In force at ``at`` or placed since (not released at ``at``)."""
    return hold.released_at is None or hold.released_at > at


class HoldRecheck:
    """Re-reads the holds before each unit of a run (see the module).

    Args:
        registry: the hold registry (the engine's; kept in the shared state store, so every
            process's holds are read).
        resolver: turns a held subject into its scope (each subject resolved once per run).
        at: the plan's instant: holds released by then are not counted.

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.model import load_datamap
        >>> import privacy_kit as pk
        >>> reg = HoldRegistry()
        >>> t = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        >>> check = HoldRecheck(reg, resolver=None, at=t)  # type: ignore[arg-type]
        >>> _ = reg.place(reason="Case 3", placed_by="legal", now=t + dt.timedelta(hours=1),
        ...               record_type="sessions", hold_id="h3")
        >>> rt = load_datamap(pk.example_path("datamap.yaml")).record_type("sessions")
        >>> [h.id for h, _sel in check.new_holds(rt)]
        ['h3']
    """

    def __init__(
        self,
        registry: HoldRegistry,
        resolver: Resolver,
        *,
        at: dt.datetime,
    ) -> None:
        self.registry = registry
        self.resolver = resolver
        self.at = at
        self._resolved: dict[Subject, Scope] = {}

    def new_holds(
        self, rt: RecordType, planned: Collection[str] = ()
    ) -> list[tuple[LegalHold, Selection]]:
        """The holds not in ``planned`` that cover ``rt``, read now, with their selections."""
        found = []
        for hold in self.registry:  # a shared registry reads the state store on every call
            if hold.id in planned or not _in_force_from(hold, self.at):
                continue
            sel = self.registry.selection_of(hold, self.resolver, rt, resolved=self._resolved)
            if sel is not None:
                found.append((hold, sel))
        return found

    def exclude(
        self,
        adapter: Adapter,
        rt: RecordType,
        selection: Selection,
        step: str,
        *,
        planned: Collection[str] = (),
    ) -> tuple[Selection, NewlyHeld | None]:
        """``selection`` without the records newly held, and what they kept out (``None``: none).

        ``planned``: the holds ``selection`` already excludes (left out of the check). When no
        other hold covers ``rt`` the selection is returned unchanged (the statement is the
        planned one); otherwise the kept-out records are counted and excluded.
        """
        found = self.new_holds(rt, planned)
        held = combine_holds(found)
        if held is None:
            return selection, None
        count = adapter.count(rt, And((selection, held)))
        kept = NewlyHeld(rt.name, step, count, tuple(h.id for h, _ in found)) if count else None
        return And((selection, Not(held))), kept


def held_selections(
    registry: HoldRegistry,
    resolver: Resolver,
    record_types: Iterable[RecordType],
    now: dt.datetime,
) -> tuple[dict[str, Selection], tuple[str, ...]]:
    """The held records of each record type at ``now`` (record types with no hold left out), and
    the ids of the holds covering them (what a plan records as the holds it honours).

    Each held subject is resolved once for all the record types (not once per record type)."""
    found: dict[str, Selection] = {}
    ids: set[str] = set()
    resolved: dict[Subject, Scope] = {}
    for rt in record_types:
        if rt.name not in found:
            on = registry.holds_on(resolver, rt, now, resolved=resolved)
            held = combine_holds(on)
            if held is not None:
                found[rt.name] = held
                ids.update(h.id for h, _sel in on)
    return found, tuple(sorted(ids))
