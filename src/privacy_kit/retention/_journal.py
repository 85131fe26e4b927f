"""The retention journal: which units of a plan are finished, so an interrupted sweep resumes.

In memory by default, or an append-only JSON-lines file given by path.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from .._errors import PlanError

__all__ = ["RetentionJournal"]


class RetentionJournal:
    """The units of a plan already applied, so an interrupted sweep resumes where it stopped.

    A unit is one statement group: an entry's selection, or one batch of accounts. Deleting and
    clearing are idempotent anyway; the journal keeps anonymisation from running twice on the
    same records and saves re-reading finished account batches.

    Args:
        path: a JSON-lines file to append finished units to (``None``: in memory).

    Example:
        >>> j = RetentionJournal()
        >>> j.mark("plan1", 0, 3)
        >>> j.done("plan1", 0, 3), j.done("plan1", 0, 4)
        (True, False)
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._done: set[tuple[str, int, int]] = set()
        if self.path is not None and self.path.exists():
            for number, line in enumerate(self.path.read_bytes().splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    plan, entry, unit = orjson.loads(line)
                except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                    raise PlanError(f"{self.path}, line {number}: not a journal line") from exc
                self._done.add((str(plan), int(entry), int(unit)))

    def done(self, plan_id: str, entry: int, unit: int) -> bool:
        """Whether the unit was finished."""
        return (plan_id, entry, unit) in self._done

    def mark(self, plan_id: str, entry: int, unit: int) -> None:
        """Record the unit as finished (appended to the file, if any)."""
        self._done.add((plan_id, entry, unit))
        if self.path is not None:
            with self.path.open("ab") as fh:
                fh.write(orjson.dumps([plan_id, entry, unit]) + b"\n")

    def __len__(self) -> int:
        return len(self._done)
