"""Legal holds: records that must not be deleted or anonymised while a hold is in force.

A :class:`LegalHold` has a reason, who placed it and when, and a scope: a data subject (every
record that concerns them), a whole record type, or the records of a record type that match a
:class:`~privacy_kit.adapters.Selection`. A :class:`HoldRegistry` keeps the holds of one engine
(in memory, or in a JSON file it rewrites atomically on every change) and answers, for a record
type, which records are held right now (:meth:`HoldRegistry.held_selection`). Retention sweeps and
erasures exclude exactly those records, and their plans show them as held.

Holds are never deleted: releasing one records who released it and when, so the registry is
also the history of every hold.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import closest, require_aware
from ..adapters import After, All, And, Before, Eq, In, IsNull, Not, Or, Selection
from ..audit._state import StateConflictError
from ..model._datamap import RecordType
from ._selection_json import (
    _value_from_data,
    _value_to_data,
    selection_from_data,
    selection_to_data,
)

if TYPE_CHECKING:
    from .._scope import Resolver, Scope, Subject
    from ..audit._state import StateStore

HOLDS = "holds"
"""The state store collection of the holds (key: the hold id)."""

__all__ = [
    "HoldRegistry",
    "LegalHold",
    "combine_holds",
    "definitely",
    "selection_from_data",
    "selection_to_data",
]


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    return require_aware(value, name).astimezone(dt.UTC)


def _placed_at(value: dt.datetime) -> dt.datetime:
    return _utc(value, "placed_at")


def _released_at(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _utc(value, "released_at")


@attrs.frozen
class LegalHold:
    """A hold on a subject's records, a record type, or a selection of a record type.

    Attributes:
        id: the hold's identifier (``hold_`` and random hex unless given).
        reason: why (a case number, a dispute, an authority's request); no personal data.
        placed_by: who placed it (a staff reference).
        placed_at: when it takes effect (UTC).
        subject: the data subject whose records are held (any record type, unless
            ``record_type`` narrows it).
        record_type: the record type held (all of it, or the records ``selection`` matches).
        selection: narrows a record-type hold to the matching records.
        released_at: when it was released (``None`` while in force).
        released_by: who released it.

    Example:
        >>> from privacy_kit.adapters import where
        >>> now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        >>> hold = LegalHold(id="hold_1", reason="Case 12", placed_by="legal", placed_at=now,
        ...                  record_type="bookings", selection=where.eq("host_id", 7))
        >>> hold.is_active(now), hold.describe_scope()
        (True, 'bookings where host_id = 7')
    """

    id: str
    reason: str
    placed_by: str
    placed_at: dt.datetime = attrs.field(converter=_placed_at)
    subject: Subject | None = None
    record_type: str | None = None
    selection: Selection | None = None
    released_at: dt.datetime | None = attrs.field(default=None, converter=_released_at)
    released_by: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.id or not self.reason.strip() or not self.placed_by.strip():
            raise ConfigurationError("a legal hold needs an id, a reason and who placed it")
        if self.subject is None and self.record_type is None:
            raise ConfigurationError(
                "a legal hold needs a scope: a subject, a record type, or a record type and a "
                "selection"
            )
        if self.selection is not None and self.record_type is None:
            raise ConfigurationError("a hold's selection needs the record type it applies to")
        if self.released_at is not None and self.released_at < self.placed_at:
            raise ConfigurationError(
                f"hold {self.id!r} cannot be released ({self.released_at.isoformat()}) before it "
                f"was placed ({self.placed_at.isoformat()})"
            )

    def is_active(self, now: dt.datetime) -> bool:
        """Whether the hold is in force at ``now`` (placed, and not yet released)."""
        at = _utc(now, "now")
        return self.placed_at <= at and (self.released_at is None or at < self.released_at)

    def applies_to(self, record_type: str) -> bool:
        """Whether the hold can cover records of ``record_type``."""
        return self.record_type is None or self.record_type == record_type

    def describe_scope(self) -> str:
        """The scope in words (a subject is named by kind only, never by its identities)."""
        parts = []
        if self.subject is not None:
            parts.append(f"the records of a {self.subject.kind} subject")
        if self.record_type is not None:
            parts.append(("in " if parts else "") + self.record_type)
        if self.selection is not None:
            parts.append("where " + describe_selection(self.selection))
        return " ".join(parts)


def describe_selection(selection: Selection) -> str:
    """A selection in short SQL-like words, for plans and reports.

    Example:
        >>> from privacy_kit.adapters import where
        >>> describe_selection(where.eq("a", 1) & ~where.is_null("b"))
        '(a = 1 AND NOT (b IS NULL))'
    """
    s = selection
    if isinstance(s, All):
        return "all"
    if isinstance(s, Eq):
        return f"{s.field} = {s.value!r}"
    if isinstance(s, In):
        shown = ", ".join(repr(v) for v in s.values[:5])
        more = f", ... ({len(s.values)} values)" if len(s.values) > 5 else ""
        return f"{s.field} IN ({shown}{more})"
    if isinstance(s, Before | After):
        op = ("<" if isinstance(s, Before) else ">") + ("=" if s.inclusive else "")
        return f"{s.field} {op} {s.instant.isoformat()}"
    if isinstance(s, IsNull):
        return f"{s.field} IS NULL"
    if isinstance(s, And | Or):
        if not s.items:
            return "all" if isinstance(s, And) else "nothing"
        joiner = " AND " if isinstance(s, And) else " OR "
        return "(" + joiner.join(describe_selection(i) for i in s.items) + ")"
    if isinstance(s, Not):
        return f"NOT ({describe_selection(s.item)})"
    return repr(s)


_NOTHING: Selection = Or(())


def definitely(selection: Selection) -> Selection:
    """An equivalent selection that is never *unknown*: true where ``selection`` is true, else false.

    Selections follow SQL's three-valued logic, so ``~held`` is *unknown* (and selects nothing) for
    a record whose held-by field is NULL, although such a record is not held. ``~definitely(held)``
    selects exactly the records ``held`` does not select, on every adapter.

    Example:
        >>> from privacy_kit.adapters import where
        >>> held = where.eq("host_id", 7)
        >>> record = {"host_id": None}
        >>> (~held).matches(record), (~definitely(held)).matches(record)
        (False, True)
    """
    return _true(selection)


def _not_null(field: str) -> Selection:
    return Not(IsNull(field))


def _true(s: Selection) -> Selection:
    """True exactly where ``s`` is true; false otherwise."""
    if isinstance(s, All | IsNull):
        return s
    if isinstance(s, Eq):
        return _NOTHING if s.value is None else And((_not_null(s.field), s))
    if isinstance(s, In):
        values = tuple(v for v in s.values if v is not None)
        return And((_not_null(s.field), In(s.field, values))) if values else _NOTHING
    if isinstance(s, Before | After):
        return And((_not_null(s.field), s))
    if isinstance(s, And):
        return And(tuple(_true(i) for i in s.items))
    if isinstance(s, Or):
        return Or(tuple(_true(i) for i in s.items))
    if isinstance(s, Not):
        return _false(s.item)
    raise TypeError(f"unknown selection {s!r}")


def _false(s: Selection) -> Selection:
    """True exactly where ``s`` is false; false otherwise."""
    if isinstance(s, All):
        return _NOTHING
    if isinstance(s, IsNull):
        return _not_null(s.field)
    if isinstance(s, Eq):
        return _NOTHING if s.value is None else And((_not_null(s.field), Not(s)))
    if isinstance(s, In):
        if not s.values:
            return All()
        if any(v is None for v in s.values):  # x IN (..., NULL) is never false
            return _NOTHING
        return And((_not_null(s.field), Not(s)))
    if isinstance(s, Before | After):
        return And((_not_null(s.field), Not(s)))
    if isinstance(s, And):
        return Or(tuple(_false(i) for i in s.items))
    if isinstance(s, Or):
        return And(tuple(_false(i) for i in s.items))
    if isinstance(s, Not):
        return _true(s.item)
    raise TypeError(f"unknown selection {s!r}")


def _hold_to_data(hold: LegalHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": hold.placed_at.isoformat(),
        "subject": None
        if hold.subject is None
        else {
            "kind": hold.subject.kind,
            "identities": [[k, _value_to_data(v)] for k, v in hold.subject.identities],
        },
        "record_type": hold.record_type,
        "selection": None if hold.selection is None else selection_to_data(hold.selection),
        "released_at": None if hold.released_at is None else hold.released_at.isoformat(),
        "released_by": hold.released_by,
    }


def _hold_from_data(data: Mapping[str, Any]) -> LegalHold:
    from .._scope import Subject  # noqa: PLC0415

    subject = data.get("subject")
    return LegalHold(
        id=data["id"],
        reason=data["reason"],
        placed_by=data["placed_by"],
        placed_at=dt.datetime.fromisoformat(data["placed_at"]),
        subject=None
        if subject is None
        else Subject(subject["kind"], {k: _value_from_data(v) for k, v in subject["identities"]}),
        record_type=data.get("record_type"),
        selection=None if data.get("selection") is None else selection_from_data(data["selection"]),
        released_at=None
        if data.get("released_at") is None
        else dt.datetime.fromisoformat(data["released_at"]),
        released_by=data.get("released_by"),
    )


def _stored_hold(key: str, data: Mapping[str, Any]) -> LegalHold:
    try:
        return _hold_from_data(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"state store {HOLDS}/{key!r}: not a legal hold ({type(exc).__name__}: {exc})"
        ) from exc


def write_json_atomically(path: Path, payload: Any) -> None:
    """Write ``payload`` as JSON to ``path`` via a temporary file and a rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class HoldRegistry:
    """The legal holds of one engine: place, release, list, and which records are held.

    Args:
        path: a JSON file to keep the holds in (read now if it exists, rewritten atomically on
            every change). ``None`` keeps them in memory, per instance.
        state: a :class:`~privacy_kit.audit.StateStore` to keep them in instead (collection
            ``holds``, see :meth:`shared`): every process sharing the store sees every hold.

    Raises:
        ConfigurationError: the file exists but is not a hold registry, or both are given.

    Example:
        >>> import privacy_kit as pk
        >>> reg = HoldRegistry()
        >>> now = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
        >>> hold = reg.place(reason="Dispute 4411", placed_by="legal@acme", now=now,
        ...                  subject=pk.Subject.of("customer", user_id=7))
        >>> [h.id for h in reg.active(now)] == [hold.id]
        True
        >>> _ = reg.release(hold.id, released_by="legal@acme", now=now + dt.timedelta(days=3))
        >>> reg.active(now + dt.timedelta(days=3))
        ()
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, state: StateStore | None = None
    ) -> None:
        if path is not None and state is not None:
            raise ConfigurationError("a HoldRegistry keeps its holds in a file or a state store")
        self.path = Path(path) if path is not None else None
        self.state = state
        self._holds: dict[str, LegalHold] = {}
        if self.path is not None and self.path.exists():
            self._load(self.path)

    @classmethod
    def shared(cls, state: StateStore) -> HoldRegistry:
        """A registry kept in ``state``: placing (``put`` if absent) and releasing (an atomic
        ``update`` that refuses a released hold) are safe from any number of processes.

        Example:
            >>> from privacy_kit.audit import MemoryStateStore
            >>> store, now = MemoryStateStore(), dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
            >>> _ = HoldRegistry.shared(store).place(reason="Case 12", placed_by="legal", now=now,
            ...                                      record_type="bookings", hold_id="h1")
            >>> [h.id for h in HoldRegistry.shared(store).active(now)]
            ['h1']
        """
        return cls(state=state)

    def _current(self) -> dict[str, LegalHold]:
        if self.state is None:
            return self._holds
        found = [_stored_hold(d.key, d.document) for d in self.state.items(HOLDS)]
        return {h.id: h for h in sorted(found, key=lambda h: (h.placed_at, h.id))}

    def _load(self, path: Path) -> None:
        try:
            data = orjson.loads(path.read_bytes())
            holds = [_hold_from_data(item) for item in data["holds"]]
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{path}: not a legal-hold registry ({type(exc).__name__}: {exc})"
            ) from exc
        self._holds = {h.id: h for h in holds}

    def _save(self) -> None:
        if self.path is not None:
            write_json_atomically(
                self.path, {"version": 1, "holds": [_hold_to_data(h) for h in self._holds.values()]}
            )

    def place(
        self,
        *,
        reason: str,
        placed_by: str,
        now: dt.datetime,
        subject: Subject | None = None,
        record_type: RecordType | str | None = None,
        selection: Selection | None = None,
        hold_id: str | None = None,
    ) -> LegalHold:
        """Place a hold and return it.

        Args:
            reason: why (no personal data: it is shown in plans and logs).
            placed_by: who places it.
            now: when it takes effect.
            subject: hold every record of this subject.
            record_type: hold this record type (all of it, or what ``selection`` matches).
            selection: narrow a record-type hold.
            hold_id: the id to use (default: a random ``hold_...``).

        Returns:
            The new hold.

        Raises:
            ConfigurationError: no scope, a selection without a record type, or a duplicate id.
        """
        name = record_type.name if isinstance(record_type, RecordType) else record_type
        hold = LegalHold(
            id=hold_id or "hold_" + secrets.token_hex(6),
            reason=reason,
            placed_by=placed_by,
            placed_at=now,
            subject=subject,
            record_type=name,
            selection=selection,
        )
        if selection is not None:
            selection_to_data(selection)  # refuse what the file could not hold, now
        if self.state is not None:
            try:
                self.state.put(HOLDS, hold.id, _hold_to_data(hold), if_absent=True)
            except StateConflictError:
                raise ConfigurationError(
                    f"a legal hold with id {hold.id!r} already exists"
                ) from None
            return hold
        if hold.id in self._holds:
            raise ConfigurationError(f"a legal hold with id {hold.id!r} already exists")
        self._holds[hold.id] = hold
        self._save()
        return hold

    def release(self, hold_id: str, *, released_by: str, now: dt.datetime) -> LegalHold:
        """Release hold ``hold_id`` as of ``now`` and return it (the hold stays in the history).

        Raises:
            ConfigurationError: unknown id, already released, or released before it was placed.
        """
        hold = self.get(hold_id)
        if self.state is not None:  # released once, whatever the number of processes trying

            def release(data: dict[str, Any] | None) -> dict[str, Any]:
                if data is None:
                    raise ConfigurationError(f"no legal hold {hold_id!r}")
                return _hold_to_data(self._released(_stored_hold(hold_id, data), released_by, now))

            stored = self.state.update(HOLDS, hold_id, release)
            return _stored_hold(hold_id, stored.document if stored is not None else {})
        released = self._released(hold, released_by, now)
        self._holds[hold_id] = released
        self._save()
        return released

    @staticmethod
    def _released(hold: LegalHold, released_by: str, now: dt.datetime) -> LegalHold:
        if hold.released_at is not None:
            raise ConfigurationError(
                f"hold {hold.id!r} was already released at {hold.released_at.isoformat()} "
                f"by {hold.released_by}"
            )
        return attrs.evolve(hold, released_at=now, released_by=released_by)

    def get(self, hold_id: str) -> LegalHold:
        """The hold ``hold_id``; ``ConfigurationError`` with a hint if unknown."""
        if self.state is not None and hold_id and (found := self.state.get(HOLDS, hold_id)):
            return _stored_hold(hold_id, found.document)
        holds = self._current()
        try:
            return holds[hold_id]
        except KeyError:
            hint = closest(hold_id, holds)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            raise ConfigurationError(f"no legal hold {hold_id!r}{suffix}") from None

    def active(self, now: dt.datetime) -> tuple[LegalHold, ...]:
        """The holds in force at ``now``, in the order they were placed."""
        return tuple(h for h in self._current().values() if h.is_active(now))

    def __iter__(self) -> Iterator[LegalHold]:
        return iter(tuple(self._current().values()))

    def __len__(self) -> int:
        return len(self._current())

    def selection_of(
        self,
        hold: LegalHold,
        resolver: Resolver,
        record_type: RecordType,
        *,
        resolved: dict[Subject, Scope] | None = None,
    ) -> Selection | None:
        """The records of ``record_type`` that ``hold`` covers (``None``: none can be).

        ``resolved`` caches subjects' scopes (``resolver.scope``), so a caller asking about many
        record types resolves each held subject once.
        """
        if not hold.applies_to(record_type.name):
            return None
        parts: list[Selection] = []
        if hold.subject is not None:
            cache = resolved if resolved is not None else {}
            if hold.subject not in cache:
                cache[hold.subject] = resolver.scope(hold.subject)
            found = cache[hold.subject].selection_for(record_type)
            if found is None:
                return None
            parts.append(found)
        if hold.selection is not None:
            parts.append(hold.selection)
        if not parts:
            return All()
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def holds_on(
        self,
        resolver: Resolver,
        record_type: RecordType | str,
        now: dt.datetime,
        *,
        resolved: dict[Subject, Scope] | None = None,
    ) -> list[tuple[LegalHold, Selection]]:
        """Each hold in force at ``now`` that can cover ``record_type``, with its selection.

        ``resolver`` turns a held subject into its scope (an :class:`~privacy_kit.Engine` is one).
        """
        rt = (
            resolver.datamap.record_type(record_type)
            if isinstance(record_type, str)
            else record_type
        )
        found = []
        for hold in self.active(now):
            sel = self.selection_of(hold, resolver, rt, resolved=resolved)
            if sel is not None:
                found.append((hold, sel))
        return found

    def held_selection(
        self, resolver: Resolver, record_type: RecordType | str, now: dt.datetime
    ) -> Selection | None:
        """The records of ``record_type`` under a hold in force at ``now`` (``None``: no hold applies).

        The selection is never *unknown* (see :func:`definitely`), so ``~held`` selects exactly
        the records that are not held, NULL fields included.
        """
        return combine_holds(self.holds_on(resolver, record_type, now))

    def __repr__(self) -> str:
        where = f" path={str(self.path)!r}" if self.path is not None else ""
        where += f" state={self.state!r}" if self.state is not None else ""
        return f"<HoldRegistry holds={len(self)}{where}>"


def merge_equalities(parts: list[Selection]) -> list[Selection]:
    """Alternatives with ``Eq`` on the same field merged into one ``In`` (same meaning, faster).

    Many subject holds on one record type are many ``host_id = ?`` alternatives; as one
    ``host_id IN (...)`` the database tests each row once instead of once per hold (the retention
    benchmark measured an OR chain of 20 holds adding most of the cost of the sweep itself).
    ``x = a OR x = b`` and ``x IN (a, b)`` agree in SQL's three-valued logic for non-NULL values,
    so only those are merged; the other alternatives keep their order.

    Example:
        >>> merge_equalities([Eq("host_id", 1), Eq("email", "a@x"), Eq("host_id", 2)])
        [In(field='host_id', values=(1, 2)), Eq(field='email', value='a@x')]
    """
    values: dict[str, list[Any]] = {}
    for part in parts:
        if isinstance(part, Eq) and part.value is not None:
            values.setdefault(part.field, []).append(part.value)
    merged: list[Selection] = []
    for part in parts:
        if not isinstance(part, Eq) or part.value is None:
            merged.append(part)
            continue
        found = values.pop(part.field, None)
        if found is not None:
            merged.append(part if len(found) == 1 else In(part.field, tuple(found)))
    return merged


def combine_holds(holds: list[tuple[LegalHold, Selection]]) -> Selection | None:
    """One never-unknown selection of the records any of ``holds`` covers (``None``: no hold).

    Example:
        >>> from privacy_kit.adapters import where
        >>> hold = LegalHold(id="h", reason="r", placed_by="p", record_type="bookings",
        ...                  placed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> combine_holds([]) is None, combine_holds([(hold, where.eq("a", 1))]).matches({"a": 1})
        (True, True)
    """
    parts = merge_equalities([sel for _hold, sel in holds])
    if not parts:
        return None
    return definitely(parts[0] if len(parts) == 1 else Or(tuple(parts)))
