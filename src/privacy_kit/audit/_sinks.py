"""Where the audit log's entries are stored: the :class:`AuditSink` protocol (append, read back
in order, read the last entry) and the three sinks that ship, in memory (tests), a JSON-lines file
(one entry per line, opened for append only) and an SQLite table (stdlib :mod:`sqlite3`); one
writer at a time per file or table, and entries are only ever appended.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from ._entries import AuditEntry, RawEntry, _canonical, _utc_text

__all__ = [
    "AuditSink",
    "JsonlSink",
    "MemorySink",
    "SqliteSink",
]

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@runtime_checkable
class AuditSink(Protocol):
    """Where entries are stored. Three methods; entries are only ever appended."""

    def append(self, entry: AuditEntry) -> None:
        """Store ``entry`` after the others (durably, for file and database sinks)."""

    def read(self) -> Iterator[RawEntry]:
        """Every stored entry, in storage order, corrupt ones included (``data=None``)."""

    def last(self) -> RawEntry | None:
        """The last stored entry, or ``None`` if the sink is empty."""


class MemorySink:
    """Entries held in a list of dicts (the stored form); for tests and short-lived tools.

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.audit import AuditLog
        >>> sink = MemorySink()
        >>> log = AuditLog(sink)
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> sink.rows[0]["sequence"]
        1
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def append(self, entry: AuditEntry) -> None:
        """Keep a copy of ``entry``'s stored form."""
        self.rows.append(entry.to_dict())

    def read(self) -> Iterator[RawEntry]:
        """Every row."""
        for i, row in enumerate(self.rows, start=1):
            yield RawEntry(f"entry {i}", row)

    def last(self) -> RawEntry | None:
        """The last row."""
        return RawEntry(f"entry {len(self.rows)}", self.rows[-1]) if self.rows else None


def _decode_line(raw: bytes, location: str) -> RawEntry:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return RawEntry(location, None, f"not valid JSON ({exc})")
    if not isinstance(data, dict):
        return RawEntry(location, None, f"not a JSON object (got {type(data).__name__})")
    return RawEntry(location, data)


class JsonlSink:
    """A JSON-lines file: one entry per line, appended, optionally fsynced.

    Args:
        path: the file (created on first append).
        fsync: call ``os.fsync`` after each append (durable across power loss; slower).

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.audit import AuditLog
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> log = AuditLog.jsonl(path)
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> len(path.read_bytes().splitlines()), log.verify().ok
        (1, True)
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync

    def append(self, entry: AuditEntry) -> None:
        """Append one line."""
        line = _canonical(entry.to_dict()) + b"\n"
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())

    def read(self) -> Iterator[RawEntry]:
        """Every non-empty line, with its 1-based line number."""
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    yield RawEntry(f"line {number}", None, "empty line")
                    continue
                if not raw.endswith(b"\n"):
                    yield RawEntry(
                        f"line {number}", None, "incomplete last line (no newline): a torn write"
                    )
                    continue
                yield _decode_line(raw, f"line {number}")

    def last(self) -> RawEntry | None:
        """The last line, read backwards from the end of the file (a full scan only if it is broken)."""
        if not self.path.exists():
            return None
        with self.path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            if size == 0:
                return None
            chunk = 8192
            pos = size
            tail = b""
            # Read backwards until the start of the last line (a newline before its last byte).
            while pos > 0:
                step = min(chunk, pos)
                pos -= step
                handle.seek(pos)
                tail = handle.read(step) + tail
                if tail.rfind(b"\n", 0, len(tail) - 1) != -1:
                    break
            start = tail.rfind(b"\n", 0, len(tail) - 1) + 1
            line = tail[start:]
            decoded = _decode_line(line, "last line") if line.endswith(b"\n") else None
            if decoded is not None and decoded.data is not None:
                return decoded
            # Only a broken tail is worth a full count of newlines, to name its line number.
            handle.seek(0)
            newlines = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 16), b""))
        number = newlines if line.endswith(b"\n") else newlines + 1
        location = f"line {number}"
        if not line.strip():
            return RawEntry(location, None, "empty line")
        if not line.endswith(b"\n"):
            return RawEntry(location, None, "incomplete last line (no newline): a torn write")
        return _decode_line(line, location)


class SqliteSink:
    """An SQLite table, created if missing (stdlib :mod:`sqlite3`).

    The table (default name ``privacy_kit_audit``)::

        CREATE TABLE privacy_kit_audit (
            sequence  INTEGER PRIMARY KEY,  -- 1, 2, 3, ... (the rowid)
            at        TEXT NOT NULL,        -- ISO 8601 in UTC, e.g. 2026-01-01T00:00:00+00:00
            action    TEXT NOT NULL,        -- dotted lower case, e.g. objection.recorded
            subject   TEXT,                 -- subject reference (keyed hash) or NULL
            details   TEXT NOT NULL,        -- canonical JSON object (sorted keys)
            prev_hash TEXT NOT NULL,        -- hash of the entry before (64 hex digits)
            hash      TEXT NOT NULL         -- SHA-256 of the canonical entry (64 hex digits)
        )

    Rows are read in ``sequence`` order; a row removed, edited or renumbered breaks the chain.

    Args:
        path_or_connection: a database file path, ``":memory:"``, or an open ``sqlite3.Connection``
            (not closed by the sink).
        table: the table name (letters, digits and underscores).

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.audit import AuditLog
        >>> log = AuditLog.sqlite(":memory:")
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), subject="subj_1")
        >>> [e.subject for e in log.entries()], log.verify().ok
        (['subj_1'], True)
    """

    def __init__(
        self,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_audit",
    ) -> None:
        if not _TABLE.match(table):
            raise ValueError(f"invalid table name {table!r} (letters, digits and underscores)")
        self.table = table
        if isinstance(path_or_connection, sqlite3.Connection):
            self.connection = path_or_connection
            self._owned = False
        else:
            self.connection = sqlite3.connect(os.fspath(path_or_connection))
            self._owned = True
        with self.connection:
            self.connection.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" ('
                "sequence INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, "
                "subject TEXT, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
            )

    def append(self, entry: AuditEntry) -> None:
        """Insert one row (in its own transaction)."""
        with self.connection:
            self.connection.execute(
                f'INSERT INTO "{self.table}" (sequence, at, action, subject, details, prev_hash, '
                "hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.sequence,
                    _utc_text(entry.at),
                    entry.action,
                    entry.subject,
                    _canonical(dict(entry.details)).decode(),
                    entry.prev_hash,
                    entry.hash,
                ),
            )

    def _row(self, row: tuple[Any, ...], number: int) -> RawEntry:
        location = f"row {number}"
        sequence, at, action, subject, details, prev_hash, hash_ = row
        try:
            decoded = orjson.loads(details)
        except (orjson.JSONDecodeError, TypeError) as exc:
            return RawEntry(location, None, f"details are not valid JSON ({exc})")
        return RawEntry(
            location,
            {
                "sequence": sequence,
                "at": at,
                "action": action,
                "subject": subject,
                "details": decoded,
                "prev_hash": prev_hash,
                "hash": hash_,
            },
        )

    def read(self) -> Iterator[RawEntry]:
        """Every row, in sequence order, numbered from 1."""
        cursor = self.connection.execute(
            f'SELECT sequence, at, action, subject, details, prev_hash, hash FROM "{self.table}" '
            "ORDER BY sequence"
        )
        for number, row in enumerate(cursor, start=1):
            yield self._row(row, number)

    def last(self) -> RawEntry | None:
        """The row with the highest sequence."""
        count = self.connection.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()[0]
        row = self.connection.execute(
            f'SELECT sequence, at, action, subject, details, prev_hash, hash FROM "{self.table}" '
            "ORDER BY sequence DESC LIMIT 1"
        ).fetchone()
        return None if row is None else self._row(row, count)

    def close(self) -> None:
        """Close the connection if the sink opened it."""
        if self._owned:
            self.connection.close()
