"""Journals: what lets an interrupted plan resume where it stopped.

Applying a plan writes an entry *before* each step runs (``started``) and one *after* it has
run (``done``, with how many records it changed). If the process crashes, or the store fails,
part-way, applying the same plan again with the same journal skips the steps recorded as done
(taking their counts from the journal, so the final report is complete) and runs the rest.
A step that started but never finished is simply run again: every step privacy_kit plans is
idempotent. A ``started`` entry may carry how many records the step's selection matched when it
started (``count``), so a resumed step can tell how many records the interrupted attempt changed
(:meth:`Journal.started_count`); entries written without it still load.

:class:`MemoryJournal` lives as long as the object; :class:`FileJournal` is a JSON-lines file
that survives the process, synced before each step runs and at the end; :class:`StateJournal` is a log in
a :class:`~privacy_kit.audit.StateStore`, so a plan interrupted in one process resumes in another. Entries hold plan and step
identifiers and counts, never personal data.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from .._errors import PlanError
from ._state import StateStore

__all__ = ["FileJournal", "Journal", "MemoryJournal", "StateJournal", "open_journal"]

_PLAN_NAME = re.compile(r"^[a-z0-9_.\-]{1,100}$")


def journal_collection(kind: str, plan_id: str) -> str:
    """The state store log of ``plan_id``'s journal: ``journal.<kind>.<plan id>`` (or its hash).

    Example:
        >>> journal_collection("erasure", "0123abcd")
        'journal.erasure.0123abcd'
    """
    if _PLAN_NAME.match(plan_id):
        return f"journal.{kind}.{plan_id}"
    return f"journal.{kind}.h-" + hashlib.sha256(plan_id.encode()).hexdigest()[:32]


def _started_entry(plan_id: str, step: str, count: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"plan": plan_id, "step": step, "event": "started"}
    if count is not None:
        entry["count"] = count
    return entry


class Journal:
    """Base of the journals: append entries, read them back.

    Subclasses implement :meth:`append` and :meth:`entries`; the rest is shared.

    Example:
        >>> j = MemoryJournal()
        >>> j.started("plan1", "users:delete")
        >>> j.done("plan1", "users:delete", 3)
        >>> j.completed_steps("plan1")
        {'users:delete': 3}
    """

    def append(self, entry: Mapping[str, Any]) -> None:
        """Record one entry durably."""
        raise NotImplementedError

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first."""
        raise NotImplementedError

    def started(self, plan_id: str, step: str, count: int | None = None) -> None:
        """Record that ``step`` of ``plan_id`` is about to run.

        Args:
            plan_id: the plan.
            step: the step.
            count: how many records the step's selection matches now (``None``: not counted).
        """
        self.append(_started_entry(plan_id, step, count))

    def started_count(self, plan_id: str, step: str) -> int | None:
        """The records ``step`` matched when it *first* started (``None``: not recorded).

        ``None`` when the step never started, or its first ``started`` entry has no count (a
        journal written before counts were recorded).

        Example:
            >>> j = MemoryJournal()
            >>> j.started("p", "users:delete", count=10)
            >>> j.started("p", "users:delete", count=4)
            >>> j.started_count("p", "users:delete"), j.started_count("p", "other")
            (10, None)
        """
        for e in self.entries():
            if e.get("plan") == plan_id and e.get("step") == step and e.get("event") == "started":
                count = e.get("count")
                return count if isinstance(count, int) and not isinstance(count, bool) else None
        return None

    def done(self, plan_id: str, step: str, count: int) -> None:
        """Record that ``step`` of ``plan_id`` ran and changed ``count`` records."""
        self.append({"plan": plan_id, "step": step, "event": "done", "count": count})

    def started_many(self, plan_id: str, steps: Sequence[tuple[str, int | None]]) -> None:
        """Record that the ``(step, count)`` pairs of one group are about to be committed.

        For steps a store commits together (one transaction): the file journal writes them
        with one sync. ``count`` as for :meth:`started`.

        Example:
            >>> j = MemoryJournal()
            >>> j.started_many("p", [("users:delete", 1), ("bookings:delete", 4)])
            >>> j.interrupted_steps("p"), j.started_count("p", "bookings:delete")
            (['users:delete', 'bookings:delete'], 4)
        """
        for step, count in steps:
            self.started(plan_id, step, count)

    def done_many(self, plan_id: str, steps: Sequence[tuple[str, int]]) -> None:
        """Record that the ``(step, count)`` pairs of one committed group are done.

        Example:
            >>> j = MemoryJournal()
            >>> j.done_many("p", [("users:delete", 1), ("bookings:delete", 4)])
            >>> j.completed_steps("p")
            {'users:delete': 1, 'bookings:delete': 4}
        """
        for step, count in steps:
            self.done(plan_id, step, count)

    def finished(self, plan_id: str) -> None:
        """Record that every step of ``plan_id`` is done."""
        self.append({"plan": plan_id, "event": "finished"})

    def completed_steps(self, plan_id: str) -> dict[str, int]:
        """The steps of ``plan_id`` recorded as done, with their counts."""
        return {
            str(e["step"]): int(e.get("count", 0))
            for e in self.entries()
            if e.get("plan") == plan_id and e.get("event") == "done"
        }

    def interrupted_steps(self, plan_id: str) -> list[str]:
        """Steps of ``plan_id`` that started but were never recorded as done."""
        started: dict[str, None] = {}
        for e in self.entries():
            if e.get("plan") != plan_id or "step" not in e:
                continue
            if e.get("event") == "started":
                started[str(e["step"])] = None
            elif e.get("event") == "done":
                started.pop(str(e["step"]), None)
        return list(started)

    def is_finished(self, plan_id: str) -> bool:
        """Whether ``plan_id`` ran to the end."""
        return any(
            e.get("plan") == plan_id and e.get("event") == "finished" for e in self.entries()
        )


class MemoryJournal(Journal):
    """A journal held in memory (resumes within one process).

    Example:
        >>> j = MemoryJournal()
        >>> j.started("p", "s")
        >>> j.interrupted_steps("p")
        ['s']
    """

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []

    def append(self, entry: Mapping[str, Any]) -> None:
        """Record one entry."""
        self._entries.append(dict(entry))

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first."""
        return iter(list(self._entries))

    def __repr__(self) -> str:
        return f"<MemoryJournal entries={len(self._entries)}>"


class FileJournal(Journal):
    """A JSON-lines journal file; each ``started`` and ``finished`` entry is flushed and synced
    before the plan goes on (a ``done`` entry is synced with the entry after it).

    Args:
        path: the file (created with its parent directories if missing).

    Raises:
        PlanError: an existing file holds a line that is not a JSON object.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "erasure.jsonl"
        >>> j = FileJournal(path)
        >>> j.done("p", "bookings:delete", 2)
        >>> FileJournal(path).completed_steps("p")
        {'bookings:delete': 2}
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(exist_ok=True)

    def append(self, entry: Mapping[str, Any]) -> None:
        """Append one line and sync it to disk."""
        self._write(entry, sync=True)

    def done(self, plan_id: str, step: str, count: int) -> None:
        """Record that ``step`` ran and changed ``count`` records, without waiting for the disk.

        The next entry (the next step's ``started``, or ``finished``) is synced, and the file
        with it. A ``done`` line lost to a power cut before then only makes the resumed run
        take the step as interrupted: it runs again (idempotent) and counts what the lost
        attempt changed from the step's synced ``started`` count.
        """
        self._write({"plan": plan_id, "step": step, "event": "done", "count": count}, sync=False)

    def started_many(self, plan_id: str, steps: Sequence[tuple[str, int | None]]) -> None:
        """Record a group's ``started`` entries: one write, one sync."""
        self._write(*(_started_entry(plan_id, step, count) for step, count in steps), sync=True)

    def done_many(self, plan_id: str, steps: Sequence[tuple[str, int]]) -> None:
        """Record a committed group's ``done`` entries in one write, synced with the next entry
        (as :meth:`done`)."""
        entries = [{"plan": plan_id, "step": s, "event": "done", "count": n} for s, n in steps]
        self._write(*entries, sync=False)

    def _write(self, *entries: Mapping[str, Any], sync: bool) -> None:
        if not entries:
            return
        with self.path.open("ab") as fh:
            fh.write(b"".join(orjson.dumps(dict(entry)) + b"\n" for entry in entries))
            if sync:
                fh.flush()
                os.fsync(fh.fileno())

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first (a torn last line, from a crash mid-write, is ignored)."""
        with self.path.open("rb") as fh:
            lines = fh.read().split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                if number == len(lines):  # the write of the last line was cut short
                    return
                raise PlanError(f"{self.path}:{number}: journal line is not JSON") from None
            if not isinstance(entry, dict):
                raise PlanError(f"{self.path}:{number}: journal line is not a JSON object")
            yield entry

    def __repr__(self) -> str:
        return f"<FileJournal {str(self.path)!r}>"


class StateJournal(Journal):
    """A journal kept as an append-only log in a :class:`~privacy_kit.audit.StateStore`.

    Every entry is appended atomically (``store.append``), so entries from several processes
    are all kept, in one order; a plan interrupted in one process resumes in any other that
    shares the store.

    Args:
        store: the state store.
        collection: the log (see :meth:`for_plan` for the one the engine uses per plan).

    Raises:
        StateValueError: ``collection`` is not a valid collection name.

    Example:
        >>> from privacy_kit.audit import MemoryStateStore
        >>> store = MemoryStateStore()
        >>> StateJournal.for_plan(store, "p1").done("p1", "bookings:delete", 2)
        >>> StateJournal.for_plan(store, "p1").completed_steps("p1")
        {'bookings:delete': 2}
    """

    def __init__(self, store: StateStore, collection: str = "journal.erasure") -> None:
        self.store = store
        self.collection = collection
        store.entries(collection, limit=1)  # checks the name now

    @classmethod
    def for_plan(cls, store: StateStore, plan_id: str, *, prefix: str = "erasure") -> StateJournal:
        """The journal of one plan: the log ``journal.<prefix>.<plan id>``."""
        return cls(store, journal_collection(prefix, plan_id))

    def append(self, entry: Mapping[str, Any]) -> None:
        """Append one entry to the log (atomically, whatever the number of processes)."""
        self.store.append(self.collection, dict(entry))

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every entry, oldest first."""
        return iter([found.document for found in self.store.entries(self.collection)])

    def __repr__(self) -> str:
        return f"<StateJournal {self.collection} in {self.store!r}>"


def open_journal(
    journal: Journal | str | os.PathLike[str] | None, plan_id: str, *, prefix: str = "plan"
) -> Journal:
    """The journal to use: the one given; a file in a directory; or a new in-memory journal.

    Args:
        journal: a journal, a directory (the file ``<prefix>-<plan id>.jsonl`` inside it is
            used), a ``.jsonl`` file path, or ``None`` for a fresh :class:`MemoryJournal`.
        plan_id: the plan's identifier (names the file in a directory).
        prefix: the file-name prefix in a directory.

    Returns:
        The journal.

    Example:
        >>> open_journal(None, "abc")
        <MemoryJournal entries=0>
    """
    if journal is None:
        return MemoryJournal()
    if isinstance(journal, Journal):
        return journal
    path = Path(journal)
    if path.suffix == ".jsonl":
        return FileJournal(path)
    return FileJournal(path / f"{prefix}-{plan_id[:24]}.jsonl")
