"""Commitments: promises with an end date that a retention sweep keeps ("kept until 2031-06-01").

An erasure keeps some records past the request (a legal obligation keeps a customer's name and
e-mail address for six years), and those records must still go when the reason ends. A
:class:`Commitment` is that promise made durable: *what* (a record type, the kept selection and
the kept fields), *when* (``due``) and *then* (``delete`` the record, ``clear`` the kept fields
of a record that belongs to someone else, or ``anonymize`` it). A :class:`CommitmentRegistry`
keeps them (in memory, in a JSON file rewritten atomically on every change, like the legal
holds' registry, or in a :class:`~privacy_kit.audit.StateStore` every process shares); :func:`~privacy_kit.retention.plan_retention` makes every commitment due at
``now`` a plan entry, and applying the plan marks it fulfilled.

Commitments are never removed: a fulfilled one records when and by which sweep, so the registry
is also the history of what was kept after erasures and when it went.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import closest, require_aware
from ..adapters import Selection
from ..audit._state import StateConflictError, StateStore
from ..model._datamap import RecordType
from ..model._policy_retention import RetentionRule
from ._holds import (
    describe_selection,
    selection_from_data,
    selection_to_data,
    write_json_atomically,
)
from ._rules import TriggerSource, _stages, expires_at

__all__ = ["Commitment", "CommitmentAction", "CommitmentRegistry", "schedule_after"]

#: What a commitment does when it is due.
CommitmentAction = Literal["delete", "clear", "anonymize"]
_ACTIONS: tuple[str, ...] = ("delete", "clear", "anonymize")
COMMITMENTS = "commitments"
"""The state store collection of the commitments (key: the commitment id)."""


def _utc(value: dt.datetime) -> dt.datetime:
    return require_aware(value).astimezone(dt.UTC)


def _utc_or_none(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _utc(value)


def commitment_id(*parts: Any) -> str:
    """A stable id for a commitment made from ``parts`` (so recording it twice is a no-op).

    Example:
        >>> commitment_id("plan", "users", "delete") == commitment_id("plan", "users", "delete")
        True
    """
    digest = hashlib.sha256(orjson.dumps(list(parts), default=str)).hexdigest()[:16]
    return "kept_" + digest


@attrs.frozen(kw_only=True)
class Commitment:
    """A promise to act on some records at a set time (see the module docstring).

    Attributes:
        id: stable identifier (``kept_`` and a hash of what made it).
        record_type: the record type's name.
        selection: the records concerned (the kept selection, or their keys when the erasure
            changed the fields the selection reads).
        fields: the kept fields (cleared by ``clear``; shown for ``delete``).
        due: when the promise ends (UTC); a sweep at or after it acts.
        action: ``delete`` the records, ``clear`` the kept fields (the record belongs to someone
            else), or ``anonymize`` them (their rule's action).
        reason: why they were kept (``legal_obligation``, ``account_removed``, ...).
        explanation: the reason in words.
        origin: what made it (``erasure <plan id>``).
        made_at: when it was made.
        subject_reference: the keyed reference of the subject it concerns (never identities).
        rule: the retention rule it enforces (``None``: none).
        count: records concerned when it was made.
        fulfilled_at: when a sweep carried it out (``None``: pending).
        fulfilled_by: the retention plan that did.

    Example:
        >>> from privacy_kit.adapters import where
        >>> c = Commitment(id="kept_1", record_type="users", selection=where.eq("id", 7),
        ...                fields=("name", "email"), due=dt.datetime(2031, 6, 1, tzinfo=dt.UTC),
        ...                action="delete", reason="legal_obligation", explanation="tax records",
        ...                origin="erasure p1", made_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
        >>> c.is_due(dt.datetime(2031, 6, 1, tzinfo=dt.UTC)), c.is_due(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        (True, False)
        >>> c.describe()
        'delete users where id = 7 on 2031-06-01 (legal_obligation: tax records; kept name, email)'
    """

    id: str
    record_type: str
    selection: Selection = attrs.field(eq=False)
    fields: tuple[str, ...]
    due: dt.datetime = attrs.field(converter=_utc)
    action: CommitmentAction
    reason: str
    explanation: str
    origin: str
    made_at: dt.datetime = attrs.field(converter=_utc)
    subject_reference: str | None = None
    rule: str | None = None
    count: int = 0
    fulfilled_at: dt.datetime | None = attrs.field(default=None, converter=_utc_or_none)
    fulfilled_by: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ConfigurationError(
                f"commitment {self.id!r}: action must be one of {', '.join(_ACTIONS)}, "
                f"not {self.action!r}"
            )
        if self.action == "clear" and not self.fields:
            raise ConfigurationError(f"commitment {self.id!r} clears fields but names none")

    @property
    def fulfilled(self) -> bool:
        """Whether a sweep has carried it out."""
        return self.fulfilled_at is not None

    def is_due(self, now: dt.datetime) -> bool:
        """Whether it is pending and its time has come at ``now``."""
        return not self.fulfilled and self.due <= _utc(now)

    def describe(self) -> str:
        """One line: what happens to which records, when, and why."""
        what = {
            "delete": "delete",
            "clear": f"clear {', '.join(self.fields)} of",
            "anonymize": "anonymise",
        }[self.action]
        kept = f"; kept {', '.join(self.fields)}" if self.fields and self.action != "clear" else ""
        done = (
            f"; fulfilled {self.fulfilled_at.date().isoformat()} by {self.fulfilled_by}"
            if self.fulfilled_at is not None
            else ""
        )
        return (
            f"{what} {self.record_type} where {describe_selection(self.selection)} on "
            f"{self.due.date().isoformat()} ({self.reason}: {self.explanation}{kept}){done}"
        )

    def same_promise(self, other: Commitment) -> bool:
        """Whether ``other`` promises what this one does: the same action on the same records
        (record type, selection, fields) at the same time, for the same subject, rule and
        reason, whichever erasure made it, when, and how it put the reason in words.

        Example:
            >>> from privacy_kit.adapters import where
            >>> c = Commitment(id="kept_1", record_type="users", selection=where.eq("id", 7),
            ...                fields=("name",), due=dt.datetime(2031, 6, 1, tzinfo=dt.UTC),
            ...                action="delete", reason="legal_obligation", explanation="tax",
            ...                origin="erasure p1", made_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
            >>> c.same_promise(attrs.evolve(c, id="kept_2", origin="erasure p2"))
            True
            >>> c.same_promise(attrs.evolve(c, id="kept_3", due=dt.datetime(2031, 7, 1, tzinfo=dt.UTC)))
            False
        """
        return self._promise() == other._promise() and self.selection == other.selection

    def _promise(self) -> tuple[Any, ...]:
        return (
            self.record_type,
            self.fields,
            self.due,
            self.action,
            self.reason,
            self.rule,
            self.subject_reference,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the registry file's)."""
        return {
            "id": self.id,
            "record_type": self.record_type,
            "selection": selection_to_data(self.selection),
            "fields": list(self.fields),
            "due": self.due.isoformat(),
            "action": self.action,
            "reason": self.reason,
            "explanation": self.explanation,
            "origin": self.origin,
            "made_at": self.made_at.isoformat(),
            "subject_reference": self.subject_reference,
            "rule": self.rule,
            "count": self.count,
            "fulfilled_at": None if self.fulfilled_at is None else self.fulfilled_at.isoformat(),
            "fulfilled_by": self.fulfilled_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Commitment:
        """Rebuild a commitment from :meth:`to_dict`'s form."""
        fulfilled = data.get("fulfilled_at")
        return cls(
            id=data["id"],
            record_type=data["record_type"],
            selection=selection_from_data(data["selection"]),
            fields=tuple(data["fields"]),
            due=dt.datetime.fromisoformat(data["due"]),
            action=data["action"],
            reason=data["reason"],
            explanation=data["explanation"],
            origin=data["origin"],
            made_at=dt.datetime.fromisoformat(data["made_at"]),
            subject_reference=data.get("subject_reference"),
            rule=data.get("rule"),
            count=int(data.get("count", 0)),
            fulfilled_at=None if fulfilled is None else dt.datetime.fromisoformat(fulfilled),
            fulfilled_by=data.get("fulfilled_by"),
        )


class CommitmentRegistry:
    """The commitments of one engine: record, list, what is due, and mark fulfilled.

    Args:
        path: a JSON file to keep them in (read now if it exists, rewritten atomically on every
            change). ``None`` keeps them in memory, per instance.
        state: a :class:`~privacy_kit.audit.StateStore` to keep them in instead (collection
            ``commitments``; see :meth:`shared`).

    Raises:
        ConfigurationError: the file exists but is not a commitment registry, or both are given.

    Example:
        >>> from privacy_kit.adapters import where
        >>> reg = CommitmentRegistry()
        >>> c = Commitment(id="kept_1", record_type="users", selection=where.eq("id", 7),
        ...                fields=("name",), due=dt.datetime(2031, 6, 1, tzinfo=dt.UTC),
        ...                action="delete", reason="legal_obligation", explanation="tax",
        ...                origin="erasure p1", made_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
        >>> _ = reg.record([c, c])              # recording again changes nothing
        >>> len(reg), [x.id for x in reg.due(dt.datetime(2031, 7, 1, tzinfo=dt.UTC))]
        (1, ['kept_1'])
        >>> reg.fulfil("kept_1", now=dt.datetime(2031, 7, 1, tzinfo=dt.UTC), by="ret_x").fulfilled
        True
        >>> reg.pending()
        ()
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, state: StateStore | None = None
    ) -> None:
        if path is not None and state is not None:
            raise ConfigurationError(
                "a CommitmentRegistry keeps its commitments in a file or a state store"
            )
        self.path = Path(path) if path is not None else None
        self.state = state
        self._items: dict[str, Commitment] = {}
        if self.path is not None and self.path.exists():
            try:
                data = orjson.loads(self.path.read_bytes())
                items = [Commitment.from_dict(item) for item in data["commitments"]]
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ConfigurationError(
                    f"{self.path}: not a commitment registry ({type(exc).__name__}: {exc})"
                ) from exc
            self._items = {c.id: c for c in items}

    @classmethod
    def shared(cls, state: StateStore) -> CommitmentRegistry:
        """A registry kept in ``state``: recording (``put`` if absent) and fulfilling (an atomic
        ``update``) are safe from any number of processes, and none records a commitment twice.

        Example:
            >>> from privacy_kit.adapters import where
            >>> from privacy_kit.audit import MemoryStateStore
            >>> store = MemoryStateStore()
            >>> c = Commitment(id="kept_1", record_type="users", selection=where.eq("id", 7),
            ...                fields=(), due=dt.datetime(2031, 6, 1, tzinfo=dt.UTC),
            ...                action="delete", reason="legal_obligation", explanation="tax",
            ...                origin="erasure p1", made_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
            >>> _ = CommitmentRegistry.shared(store).record([c])
            >>> [x.id for x in CommitmentRegistry.shared(store).pending()]
            ['kept_1']
        """
        return cls(state=state)

    def _current(self) -> dict[str, Commitment]:
        if self.state is None:
            return self._items
        found = [_stored(d.key, d.document) for d in self.state.items(COMMITMENTS)]
        return {c.id: c for c in sorted(found, key=lambda c: (c.made_at, c.id))}

    def _save(self) -> None:
        if self.path is not None:
            write_json_atomically(
                self.path,
                {"version": 1, "commitments": [c.to_dict() for c in self._items.values()]},
            )

    def _same_pending(self, given: list[Commitment]) -> dict[str, Commitment]:
        """Per id of ``given`` not yet recorded, the pending commitment of another id that makes
        the same promise (:meth:`Commitment.same_promise`), where there is one."""
        current = self._current()
        fresh = [c for c in given if c.id not in current]
        if not fresh:
            return {}
        pending = [c for c in current.values() if not c.fulfilled]
        out: dict[str, Commitment] = {}
        for c in fresh:
            earlier = next((p for p in pending if p.same_promise(c)), None)
            if earlier is not None:
                out[c.id] = earlier
        return out

    def record(self, commitments: Iterable[Commitment]) -> tuple[Commitment, ...]:
        """Add commitments; one already recorded (same id) is kept as it is (fulfilled or not),
        and so is a pending one that makes the same promise under another id (a second erasure
        of the same subject keeping the same records until the same date): the new one is not
        added.

        Returns:
            The registry's version of each (the earlier one where it existed: same id, or the
            same promise).

        Raises:
            ConfigurationError: the registry keeps a file and a selection holds a value JSON
                cannot (nothing is recorded then).
        """
        given = list(commitments)
        same = self._same_pending(given)
        if self.state is not None:
            for c in given:
                if c.id in same:
                    continue
                try:
                    self.state.put(COMMITMENTS, c.id, c.to_dict(), if_absent=True)
                except StateConflictError:
                    continue  # recorded before (here or by another process): kept as it is
            return tuple(same[c.id] if c.id in same else self.get(c.id) for c in given)
        new = {c.id: c for c in given if c.id not in self._items and c.id not in same}
        if self.path is not None:
            for c in new.values():
                try:  # refuse what the file could not hold, now
                    selection_to_data(c.selection)
                except ConfigurationError as exc:
                    raise ConfigurationError(
                        f"commitment {c.id} on {c.record_type} cannot be kept in {self.path}: {exc}"
                    ) from exc
        if new:
            self._items.update(new)
            self._save()
        return tuple(same[c.id] if c.id in same else self._items[c.id] for c in given)

    def fulfil(self, commitment_id: str, *, now: dt.datetime, by: str) -> Commitment:
        """Mark a commitment carried out at ``now`` by ``by`` (a no-op if it already is)."""
        c = self.get(commitment_id)
        if self.state is not None:  # fulfilled once, whatever the number of sweeps at once

            def fulfil(data: dict[str, Any] | None) -> dict[str, Any] | None:
                if data is None or data.get("fulfilled_at") is not None:
                    return data
                found = _stored(commitment_id, data)
                return attrs.evolve(found, fulfilled_at=now, fulfilled_by=by).to_dict()

            stored = self.state.update(COMMITMENTS, commitment_id, fulfil)
            return c if stored is None else _stored(commitment_id, stored.document)
        if c.fulfilled:
            return c
        done = attrs.evolve(c, fulfilled_at=now, fulfilled_by=by)
        self._items[c.id] = done
        self._save()
        return done

    def get(self, commitment_id: str) -> Commitment:
        """The commitment ``commitment_id``; ``ConfigurationError`` with a hint if unknown."""
        if self.state is not None and commitment_id:
            found = self.state.get(COMMITMENTS, commitment_id)
            if found is not None:
                return _stored(commitment_id, found.document)
        items = self._current()
        try:
            return items[commitment_id]
        except KeyError:
            hint = closest(commitment_id, items)
            suffix = f"; did you mean {hint!r}?" if hint else ""
            raise ConfigurationError(f"no commitment {commitment_id!r}{suffix}") from None

    def pending(self, record_type: str | None = None) -> tuple[Commitment, ...]:
        """The commitments not yet fulfilled (on ``record_type`` only, if given), by due date."""
        found = [
            c
            for c in self._current().values()
            if not c.fulfilled and (record_type is None or c.record_type == record_type)
        ]
        return tuple(sorted(found, key=lambda c: (c.due, c.id)))

    def due(self, now: dt.datetime) -> tuple[Commitment, ...]:
        """The pending commitments whose time has come at ``now``, by due date."""
        return tuple(c for c in self.pending() if c.is_due(now))

    def __iter__(self) -> Iterator[Commitment]:
        return iter(tuple(self._current().values()))

    def __len__(self) -> int:
        return len(self._current())

    def __repr__(self) -> str:
        where = f" path={str(self.path)!r}" if self.path is not None else ""
        where += f" state={self.state!r}" if self.state is not None else ""
        items = self._current()
        pending = sum(1 for c in items.values() if not c.fulfilled)
        return f"<CommitmentRegistry commitments={len(items)} pending={pending}{where}>"


def _stored(key: str, data: Mapping[str, Any]) -> Commitment:
    try:
        return Commitment.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"state store {COMMITMENTS}/{key!r}: not a commitment ({type(exc).__name__}: {exc})"
        ) from exc


def schedule_after(
    rule: RetentionRule,
    record_type: RecordType,
    source: TriggerSource,
    trigger_time: dt.datetime,
    *,
    not_before: dt.datetime | None = None,
) -> list[tuple[dt.datetime, CommitmentAction, tuple[str, ...]]]:
    """What ``rule`` does to a record of ``record_type`` whose trigger happened at ``trigger_time``.

    Each step (clear the fields no legal obligation keeps, then the rule's action) with its time,
    none before ``not_before``; a clearing step due with the final one is left out (the final
    action covers it).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.model import rule_for_record_type
        >>> from privacy_kit.retention import trigger_source
        >>> policy = pk.load_policy(pk.example_path())
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> users = dm.record_type("users")
        >>> rule = rule_for_record_type(policy, users)
        >>> source = trigger_source(dm, users, rule.trigger)
        >>> t = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        >>> [(d.year, a) for d, a, _ in schedule_after(rule, users, source, t)]
        [(2025, 'clear'), (2031, 'delete')]
    """
    steps: list[tuple[dt.datetime, CommitmentAction, tuple[str, ...]]] = []
    floor = None if not_before is None else _utc(not_before)
    for stage in _stages(rule, record_type, rule.duration, source):
        at = expires_at(trigger_time, stage.duration)
        if floor is not None and at < floor:
            at = floor
        action: CommitmentAction = "clear" if stage.action == "minimize" else stage.action
        steps.append((at, action, stage.fields))
    if not steps:
        return []  # the rule keeps these records indefinitely
    final = steps[-1]
    return [s for s in steps[:-1] if s[0] < final[0]] + [final]
