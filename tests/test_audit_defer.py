"""Deferred audit entries: checked at once, written with the next entry in one write (issue 15).

A sweep audits one ``retention.step`` per entry; the steps that changed nothing are deferred and
written with the next entry, so a durable log pays one transaction (one sync) for all of them.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from privacy_kit.audit._entries import AuditEntry, RawEntry
from privacy_kit.audit._log import AuditLog
from privacy_kit.audit._sinks import MemorySink

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def _actions(log: AuditLog) -> list[str]:
    return [e.action for e in log.entries()]


def test_deferred_entries_are_written_before_the_next_record_in_one_transaction() -> None:
    conn = sqlite3.connect(":memory:")
    log = AuditLog.sqlite(conn)
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    log.defer("retention.step", now=NOW, details={"count": 0, "n": 1})
    log.defer("retention.step", now=NOW, details={"count": 0, "n": 2})
    assert seen == []  # nothing written yet
    assert log.deferred == 2
    entry = log.record("retention.applied", now=NOW, details={"total": 0})
    assert entry.sequence == 3
    assert log.deferred == 0
    assert sum(s.startswith("INSERT") for s in seen) == 3
    assert sum(s.strip().upper() == "COMMIT" for s in seen) == 1
    assert sum(s.startswith("BEGIN") for s in seen) == 1
    assert _actions(log) == ["retention.step", "retention.step", "retention.applied"]
    assert [e.details.get("n") for e in log.entries()] == [1, 2, None]
    assert log.verify().ok


def test_flush_writes_the_deferred_entries_and_says_how_many() -> None:
    log = AuditLog.memory()
    assert log.flush() == 0
    log.defer("a.b", now=NOW)
    log.defer("a.c", now=NOW + dt.timedelta(seconds=1))
    assert log.flush() == 2
    assert log.flush() == 0
    assert _actions(log) == ["a.b", "a.c"]
    assert log.verify().ok


def test_a_deferred_entry_is_checked_when_deferred() -> None:
    log = AuditLog.memory()
    with pytest.raises(ValueError, match="timezone-aware"):
        log.defer("a.b", now=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="dotted lower case"):
        log.defer("Not An Action", now=NOW)
    with pytest.raises(ValueError, match="e-mail"):
        log.defer("a.b", now=NOW, details={"who": "ann@example.com"})
    assert log.deferred == 0


def test_a_keyed_log_chains_deferred_entries_under_its_key(tmp_path: Path) -> None:
    key = b"k" * 32
    log = AuditLog.jsonl(tmp_path / "audit.jsonl", key=key)
    log.record("a.first", now=NOW)
    log.defer("a.step", now=NOW)
    log.record("a.last", now=NOW)
    assert _actions(log) == ["a.first", "a.step", "a.last"]
    assert all(e.keyed for e in log.entries())
    assert log.verify().ok
    assert not AuditLog.jsonl(tmp_path / "audit.jsonl").verify(key=b"x" * 32).ok


def test_jsonl_writes_deferred_entries_with_one_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    log = AuditLog.jsonl(tmp_path / "audit.jsonl", fsync=True)
    for n in range(5):
        log.defer("retention.step", now=NOW, details={"n": n})
    log.record("retention.applied", now=NOW)
    assert len(synced) == 1
    assert len((tmp_path / "audit.jsonl").read_bytes().splitlines()) == 6
    assert log.verify().ok


def test_sqlalchemy_sink_appends_deferred_entries_in_one_transaction() -> None:
    sa = pytest.importorskip("sqlalchemy")
    engine = sa.create_engine("sqlite://")
    log = AuditLog.sqlalchemy(engine)
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda _conn: commits.append(1))
    log.defer("a.b", now=NOW)
    log.defer("a.c", now=NOW)
    log.record("a.d", now=NOW)
    assert len(commits) == 1
    assert _actions(log) == ["a.b", "a.c", "a.d"]
    assert log.verify().ok


class _AppendOnly:
    """A sink of one's own with only the three protocol methods."""

    def __init__(self) -> None:
        self.inner = MemorySink()
        self.appends = 0

    def append(self, entry: AuditEntry) -> None:
        self.appends += 1
        self.inner.append(entry)

    def read(self) -> Iterator[RawEntry]:
        return self.inner.read()

    def last(self) -> RawEntry | None:
        return self.inner.last()


class _NextOnly(_AppendOnly):
    """A sink of one's own with ``append_next`` but not ``append_next_all``."""

    def append_next(self, make: Any) -> AuditEntry:
        self.appends += 1
        entry: AuditEntry = make(self.inner.last())
        self.inner.append(entry)
        return entry


@pytest.mark.parametrize("sink_type", [_AppendOnly, _NextOnly])
def test_sinks_without_append_next_all_get_the_entries_one_by_one(sink_type: type) -> None:
    sink = sink_type()
    log = AuditLog(sink)
    log.record("a.first", now=NOW)
    log.defer("a.b", now=NOW)
    log.defer("a.c", now=NOW)
    log.record("a.d", now=NOW)
    assert sink.appends == 4
    assert [e.sequence for e in log.entries()] == [1, 2, 3, 4]
    assert _actions(log) == ["a.first", "a.b", "a.c", "a.d"]
    assert log.verify().ok


def test_a_failed_write_keeps_the_deferred_entries_for_the_next_one() -> None:
    class Failing(MemorySink):
        fail = True

        def append_next_all(self, make: Any) -> list[AuditEntry]:
            if self.fail:
                self.fail = False
                raise OSError("disk full")
            return super().append_next_all(make)

    sink = Failing()
    log = AuditLog(sink)
    log.defer("a.b", now=NOW)
    with pytest.raises(OSError, match="disk full"):
        log.record("a.c", now=NOW)
    assert log.deferred == 1  # kept: written with the next entry
    log.record("a.d", now=NOW)
    assert _actions(log) == ["a.b", "a.d"]
    assert log.verify().ok
