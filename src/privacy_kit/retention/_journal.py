"""The retention journal: which units of a plan are finished, so an interrupted sweep resumes.

In memory by default, an append-only JSON-lines file given by path, or a
:class:`~privacy_kit.audit.StateStore` (one log per plan, ``journal.retention.<plan id>``), so a
sweep interrupted in one process resumes in another.

Each unit is recorded when it starts, with how many records its selection then matches, and when
it is finished, with how many records it changed; so a resumed sweep reports what the
interrupted run did too. Journals written before counts were recorded (finished units only)
still load: their units' counts are unknown (``None``).

A sweep applied shard by shard (:mod:`privacy_kit.retention._sweep`) keeps three more things in
the same log: the shards of each entry, fixed when first made (``event: shards``; the first one
written wins, so every process works on the same shards), the units of each shard (the entry's
units, with a ``shard`` key: never confused with a whole-plan apply's), and each finished
shard's report (``event: shard_done``). Entries without a ``shard`` key are a whole-plan apply's,
as in journals written before shards existed. When the sweep is totalled, the first finish
records it (``event: sweep_done``, with a token naming that call) and, once its audit entry is
written, ``event: sweep_audited``; a finish called again finds them and records nothing.
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

_Key = tuple[str, int, int, str | None]  # plan id, entry, unit, shard (None: a whole-plan apply)


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
        self._done: set[_Key] = set()
        self._counts: dict[_Key, int | None] = {}
        self._started: dict[_Key, int | None] = {}
        self._shards: dict[tuple[str, int], dict[str, Any]] = {}
        self._shard_reports: dict[tuple[str, int, str], dict[str, Any]] = {}
        self._sweeps: dict[str, dict[str, Any]] = {}  # plan id -> its sweep_done record
        self._audited: set[str] = set()  # plan ids whose finish wrote its audit entry
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
        """Take in one entry: ``{"entry", "unit"}`` (finished), with ``event``, ``count`` and
        ``shard``; or a shard set (``event: shards``) or a shard's report (``shard_done``)."""
        event = document.get("event", "done")
        if event == "sweep_done":
            record = document["sweep"]
            if not isinstance(record, dict):
                raise TypeError("a finished sweep's record is an object")
            self._sweeps.setdefault(plan_id, record)
            return
        if event == "sweep_audited":
            self._audited.add(plan_id)
            return
        entry = int(document["entry"])
        if event == "shards":
            found = document["shards"]
            if not isinstance(found, dict):
                raise TypeError("the shards of an entry are an object")
            self._shards.setdefault((plan_id, entry), found)
            return
        if event == "shard_done":
            report = document["report"]
            if not isinstance(report, dict):
                raise TypeError("a shard's report is an object")
            self._shard_reports.setdefault((plan_id, entry, str(document["shard"])), report)
            return
        shard = document.get("shard")
        key = (plan_id, entry, int(document["unit"]), None if shard is None else str(shard))
        count = document.get("count")
        if count is not None:
            count = int(count)
        if event == "started":
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

    def _refresh(self, plan_id: str) -> None:
        if self.state is not None:
            self._read(self.state, plan_id)

    def _write(self, plan_id: str, document: dict[str, Any]) -> None:
        if self.state is not None:
            self.state.append(journal_collection("retention", plan_id), document)
        if self.path is not None:
            with self.path.open("ab") as fh:
                fh.write(orjson.dumps({"plan": plan_id, **document}) + b"\n")

    @staticmethod
    def _unit(entry: int, unit: int, shard: str | None) -> dict[str, Any]:
        document: dict[str, Any] = {"entry": entry, "unit": unit}
        if shard is not None:
            document["shard"] = shard
        return document

    def done(self, plan_id: str, entry: int, unit: int, *, shard: str | None = None) -> bool:
        """Whether the unit was finished (here, or in any process sharing the state store).

        ``shard``: the unit is one of that shard's (``None``: of a whole-plan apply).
        """
        if (plan_id, entry, unit, shard) not in self._done:
            self._refresh(plan_id)
        return (plan_id, entry, unit, shard) in self._done

    def mark(
        self,
        plan_id: str,
        entry: int,
        unit: int,
        *,
        count: int | None = None,
        shard: str | None = None,
    ) -> None:
        """Record the unit as finished, having changed ``count`` records (``None``: not counted)."""
        key = (plan_id, entry, unit, shard)
        self._done.add(key)
        self._counts[key] = count
        document = self._unit(entry, unit, shard)
        if count is not None:
            document = {**document, "event": "done", "count": count}
        self._write(plan_id, document)

    def start(
        self, plan_id: str, entry: int, unit: int, count: int, *, shard: str | None = None
    ) -> None:
        """Record that the unit starts, its selection matching ``count`` records now."""
        self._started.setdefault((plan_id, entry, unit, shard), count)
        self._write(plan_id, {**self._unit(entry, unit, shard), "event": "started", "count": count})

    def started(self, plan_id: str, entry: int, unit: int, *, shard: str | None = None) -> bool:
        """Whether the unit was started before (here, or in any process sharing the store)."""
        self._refresh(plan_id)
        return (plan_id, entry, unit, shard) in self._started

    def started_count(
        self, plan_id: str, entry: int, unit: int, *, shard: str | None = None
    ) -> int | None:
        """The records the unit's selection matched when it *first* started (``None``: unknown)."""
        self._refresh(plan_id)
        return self._started.get((plan_id, entry, unit, shard))

    def done_count(
        self, plan_id: str, entry: int, unit: int, *, shard: str | None = None
    ) -> int | None:
        """The records a finished unit changed (``None``: unknown, or not finished)."""
        self._refresh(plan_id)
        return self._counts.get((plan_id, entry, unit, shard))

    def finished_units(
        self, plan_id: str, entry: int, *, shard: str | None = None
    ) -> dict[int, int | None]:
        """The finished units of an entry (of one shard of it, or of whole-plan applies), each
        with the records it changed (``None``: not counted).

        A re-run reads the account keys again, and the accounts an earlier run removed are gone:
        their units are not read again, but their records were changed by this plan, and are
        counted from here.

        Example:
            >>> j = RetentionJournal()
            >>> j.mark("p", 0, 0, count=4); j.mark("p", 0, 1); j.mark("p", 0, 0, count=2, shard="0/2")
            >>> j.finished_units("p", 0), j.finished_units("p", 0, shard="0/2")
            ({0: 4, 1: None}, {0: 2})
        """
        self._refresh(plan_id)
        found = [k for k in self._done if k[:2] == (plan_id, entry) and k[3] == shard]
        return {key[2]: self._counts.get(key) for key in sorted(found, key=lambda k: k[2])}

    # -- shards -------------------------------------------------------------------------------
    def register_shards(self, plan_id: str, entry: int, shards: dict[str, Any]) -> dict[str, Any]:
        """Record how an entry is cut into shards, unless it already is: return what is recorded.

        The first record of an entry wins (here, or in any process sharing the state store), so
        two processes making a plan's shards at once end up with the same ones.
        """
        self._refresh(plan_id)
        known = self._shards.get((plan_id, entry))
        if known is not None:
            return known
        self._write(plan_id, {"entry": entry, "event": "shards", "shards": shards})
        if self.state is not None:
            self._read(self.state, plan_id)  # another process may have written first
        return self._shards.setdefault((plan_id, entry), shards)

    def shards_of(self, plan_id: str, entry: int) -> dict[str, Any] | None:
        """How the entry is cut into shards (:meth:`register_shards`; ``None``: not yet)."""
        self._refresh(plan_id)
        return self._shards.get((plan_id, entry))

    def finish_shard(self, plan_id: str, entry: int, shard: str, report: dict[str, Any]) -> None:
        """Record a shard as finished, with its report (a JSON-ready dict)."""
        self._shard_reports.setdefault((plan_id, entry, shard), report)
        self._write(
            plan_id, {"entry": entry, "event": "shard_done", "shard": shard, "report": report}
        )

    def shard_report(self, plan_id: str, entry: int, shard: str) -> dict[str, Any] | None:
        """The report of a finished shard (the first recorded; ``None``: not finished).

        Example:
            >>> j = RetentionJournal()
            >>> j.finish_shard("p", 2, "1/3", {"done": 5})
            >>> j.shard_report("p", 2, "1/3"), j.shard_report("p", 2, "0/3")
            ({'done': 5}, None)
        """
        if (plan_id, entry, shard) not in self._shard_reports:
            self._refresh(plan_id)
        return self._shard_reports.get((plan_id, entry, shard))

    # -- the sweep's end ----------------------------------------------------------------------
    def finish_sweep(self, plan_id: str, record: dict[str, Any]) -> dict[str, Any]:
        """Record the sweep of ``plan_id`` as finished, unless it already is: return the record
        that counts (the first written, here or in any process sharing the state store).

        Example:
            >>> j = RetentionJournal()
            >>> j.finish_sweep("p", {"token": "a"}), j.finish_sweep("p", {"token": "b"})
            ({'token': 'a'}, {'token': 'a'})
        """
        self._refresh(plan_id)
        known = self._sweeps.get(plan_id)
        if known is not None:
            return known
        self._write(plan_id, {"event": "sweep_done", "sweep": record})
        if self.state is not None:
            self._read(self.state, plan_id)  # another process may have written first
        return self._sweeps.setdefault(plan_id, record)

    def sweep_finished(self, plan_id: str) -> dict[str, Any] | None:
        """The record of the sweep's finish (:meth:`finish_sweep`; ``None``: not finished)."""
        self._refresh(plan_id)
        return self._sweeps.get(plan_id)

    def mark_sweep_audited(self, plan_id: str) -> None:
        """Record that the finish's audit entry (``retention.applied``) is written."""
        self._audited.add(plan_id)
        self._write(plan_id, {"event": "sweep_audited"})

    def sweep_audited(self, plan_id: str) -> bool:
        """Whether the finish's audit entry is written (:meth:`mark_sweep_audited`)."""
        self._refresh(plan_id)
        return plan_id in self._audited

    def __len__(self) -> int:
        """The finished units known here (with a state store: of the plans asked about so far)."""
        return len(self._done)
