"""The retention journal: which units of a plan are finished, so an interrupted sweep resumes.

In memory by default, an append-only JSON-lines file given by path, or a
:class:`~privacy_kit.audit.StateStore` (one log per plan, ``journal.retention.<plan id>``), so a
sweep interrupted in one process resumes in another.
"""

from __future__ import annotations

import os
from pathlib import Path

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
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, state: StateStore | None = None
    ) -> None:
        if path is not None and state is not None:
            raise ConfigurationError("a RetentionJournal is kept in a file or a state store")
        self.path = Path(path) if path is not None else None
        self.state = state
        self._done: set[tuple[str, int, int]] = set()
        self._seen: dict[str, int] = {}  # plan id -> the last log entry read (state store)
        if self.path is not None and self.path.exists():
            for number, line in enumerate(self.path.read_bytes().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    plan, entry, unit = orjson.loads(line)
                except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                    raise PlanError(f"{self.path}, line {number}: not a journal line") from exc
                self._done.add((str(plan), int(entry), int(unit)))

    def _read(self, state: StateStore, plan_id: str) -> None:
        """Take in the entries other processes appended to ``plan_id``'s log since the last read."""
        collection = journal_collection("retention", plan_id)
        for found in state.entries(collection, after=self._seen.get(plan_id, 0)):
            try:
                self._done.add((plan_id, int(found.document["entry"]), int(found.document["unit"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise PlanError(f"{collection}, entry {found.seq}: not a journal entry") from exc
            self._seen[plan_id] = found.seq

    def done(self, plan_id: str, entry: int, unit: int) -> bool:
        """Whether the unit was finished (here, or in any process sharing the state store)."""
        if (plan_id, entry, unit) not in self._done and self.state is not None:
            self._read(self.state, plan_id)
        return (plan_id, entry, unit) in self._done

    def mark(self, plan_id: str, entry: int, unit: int) -> None:
        """Record the unit as finished (appended to the file or the state store, if any)."""
        self._done.add((plan_id, entry, unit))
        if self.state is not None:
            document = {"entry": entry, "unit": unit}
            self.state.append(journal_collection("retention", plan_id), document)
        if self.path is not None:
            with self.path.open("ab") as fh:
                fh.write(orjson.dumps([plan_id, entry, unit]) + b"\n")

    def __len__(self) -> int:
        """The finished units known here (with a state store: of the plans asked about so far)."""
        return len(self._done)
