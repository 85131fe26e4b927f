"""The retention journal: which units of a plan are finished, so an interrupted sweep resumes.

In memory by default, an append-only JSON-lines file given by path, or a
:class:`~privacy_kit.audit.StateStore` (one log per plan, ``journal.retention.<plan id>``), so a
sweep interrupted in one process resumes in another.

Each unit is recorded when it starts, with how many records its selection then matches, and when
it is finished, with how many records it changed; so a resumed sweep reports what the
interrupted run did too. Journals written before counts were recorded (finished units only)
still load: their units' counts are unknown (``None``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from .._errors import ConfigurationError, PlanError
from ..audit._journal import journal_collection
from ..audit._state import StateStore

__all__ = ["RetentionJournal"]


class RetentionJournal:
    """The units of a plan already applied, so an interrupted sweep resumes where it stopped.

    A unit is one statement group: an entry's selection, or one batch of accounts. Deleting and
    clearing are idempotent anyway; the journal keeps anonymisation from running twice on the
    same records and saves re-reading finished account batches.

    Args:
        path: a JSON-lines file to append finished units to (``None``: in memory).
        state: a :class:`~privacy_kit.audit.StateStore` to append them to instead (a log per
            plan), shared by every process.

    Raises:
        ConfigurationError: both a path and a state store are given.

    Example:
        >>> j = RetentionJournal()
        >>> j.mark("plan1", 0, 3)
        >>> j.done("plan1", 0, 3), j.done("plan1", 0, 4)
        (True, False)
        >>> from privacy_kit.audit import MemoryStateStore
        >>> store = MemoryStateStore()
        >>> RetentionJournal(state=store).mark("ret_1", 0, 3)
        >>> RetentionJournal(state=store).done("ret_1", 0, 3)
        True
        >>> j.start("plan1", 1, 0, 10)
        >>> j.mark("plan1", 1, 0, count=10)
        >>> j.started_count("plan1", 1, 0), j.done_count("plan1", 1, 0), j.done_count("plan1", 0, 3)
        (10, 10, None)
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, state: StateStore | None = None
    ) -> None:
        if path is not None and state is not None:
            raise ConfigurationError("a RetentionJournal is kept in a file or a state store")
        self.path = Path(path) if path is not None else None
        self.state = state
        self._done: set[tuple[str, int, int]] = set()
        self._counts: dict[tuple[str, int, int], int | None] = {}
        self._started: dict[tuple[str, int, int], int | None] = {}
        self._seen: dict[str, int] = {}  # plan id -> the last log entry read (state store)
        if self.path is not None and self.path.exists():
            for number, line in enumerate(self.path.read_bytes().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    found = orjson.loads(line)
                    if isinstance(found, dict):
                        self._take(str(found["plan"]), found)
                    else:
                        plan, entry, unit = found
                        self._take(str(plan), {"entry": entry, "unit": unit})
                except (orjson.JSONDecodeError, KeyError, ValueError, TypeError) as exc:
                    raise PlanError(f"{self.path}, line {number}: not a journal line") from exc

    def _take(self, plan_id: str, document: dict[str, Any]) -> None:
        """Take in one entry: ``{"entry", "unit"}`` (finished), with ``event`` and ``count``."""
        key = (plan_id, int(document["entry"]), int(document["unit"]))
        count = document.get("count")
        if count is not None:
            count = int(count)
        if document.get("event", "done") == "started":
            self._started.setdefault(key, count)
        else:
            self._done.add(key)
            self._counts[key] = count

    def _read(self, state: StateStore, plan_id: str) -> None:
        """Take in the entries other processes appended to ``plan_id``'s log since the last read."""
        collection = journal_collection("retention", plan_id)
        for found in state.entries(collection, after=self._seen.get(plan_id, 0)):
            try:
                self._take(plan_id, dict(found.document))
            except (KeyError, TypeError, ValueError) as exc:
                raise PlanError(f"{collection}, entry {found.seq}: not a journal entry") from exc
            self._seen[plan_id] = found.seq

    def _write(self, plan_id: str, document: dict[str, Any]) -> None:
        if self.state is not None:
            self.state.append(journal_collection("retention", plan_id), document)
        if self.path is not None:
            with self.path.open("ab") as fh:
                fh.write(orjson.dumps({"plan": plan_id, **document}) + b"\n")

    def done(self, plan_id: str, entry: int, unit: int) -> bool:
        """Whether the unit was finished (here, or in any process sharing the state store)."""
        if (plan_id, entry, unit) not in self._done and self.state is not None:
            self._read(self.state, plan_id)
        return (plan_id, entry, unit) in self._done

    def mark(self, plan_id: str, entry: int, unit: int, *, count: int | None = None) -> None:
        """Record the unit as finished, having changed ``count`` records (``None``: not counted)."""
        key = (plan_id, entry, unit)
        self._done.add(key)
        self._counts[key] = count
        document: dict[str, Any] = {"entry": entry, "unit": unit}
        if count is not None:
            document = {**document, "event": "done", "count": count}
        self._write(plan_id, document)

    def start(self, plan_id: str, entry: int, unit: int, count: int) -> None:
        """Record that the unit starts, its selection matching ``count`` records now."""
        self._started.setdefault((plan_id, entry, unit), count)
        self._write(plan_id, {"entry": entry, "unit": unit, "event": "started", "count": count})

    def started(self, plan_id: str, entry: int, unit: int) -> bool:
        """Whether the unit was started before (here, or in any process sharing the store)."""
        if self.state is not None:
            self._read(self.state, plan_id)
        return (plan_id, entry, unit) in self._started

    def started_count(self, plan_id: str, entry: int, unit: int) -> int | None:
        """The records the unit's selection matched when it *first* started (``None``: unknown)."""
        if self.state is not None:
            self._read(self.state, plan_id)
        return self._started.get((plan_id, entry, unit))

    def done_count(self, plan_id: str, entry: int, unit: int) -> int | None:
        """The records a finished unit changed (``None``: unknown, or not finished)."""
        if self.state is not None:
            self._read(self.state, plan_id)
        return self._counts.get((plan_id, entry, unit))

    def __len__(self) -> int:
        """The finished units known here (with a state store: of the plans asked about so far)."""
        return len(self._done)
