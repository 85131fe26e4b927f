"""An append-only, hash-chained audit log of what privacy_kit did and why.

Every entry carries a sequence number, a UTC timestamp, an action (``"erasure.applied"``,
``"request.transition"``, ...), a subject *reference* (a keyed hash such as
``engine.reference(subject)``, never an e-mail address or a name), details made of references,
counts and hashes, the hash of the entry before it and its own hash: SHA-256 over a canonical
orjson encoding (sorted keys) of everything else. Editing, removing, inserting or reordering an
entry therefore breaks the chain, and :meth:`AuditLog.verify` says where. A truncated tail leaves
a valid chain behind, so it can only be caught against a head kept elsewhere
(:meth:`AuditLog.head`, then ``verify(expected_head=...)``).

**The log must never hold personal data.** Callers pass references and hashes only; as a safety
net, ``record`` refuses values that are not plain JSON and strings that look like an e-mail
address, but it cannot recognise every kind of personal data: that stays the caller's duty.

Three sinks ship: in memory (tests), a JSON-lines file (one entry per line, opened for append
only) and an SQLite table (stdlib :mod:`sqlite3`). One writer at a time per file or table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs
import orjson

from .._errors import AuditIntegrityError
from .._types import require_aware

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditHead",
    "AuditLog",
    "AuditProblem",
    "AuditSink",
    "AuditVerification",
    "JsonlSink",
    "MemorySink",
    "RawEntry",
    "SqliteSink",
]

#: The ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64

_ACTION = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A deliberately narrow safety net: something@domain.tld anywhere in a string.
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = ("action", "at", "details", "hash", "prev_hash", "sequence", "subject")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _check_json(value: Any, path: str) -> Any:
    """Return ``value`` as plain JSON (tuples become lists) or raise ``ValueError`` naming ``path``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{path}: integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} is not a JSON number")
        return value
    if isinstance(value, str):
        if _EMAIL.search(value):
            raise ValueError(
                f"{path}: looks like an e-mail address; the audit log holds references and "
                "hashes only, never personal data (pass engine.reference(subject) or a hash)"
            )
        return value
    if isinstance(value, list | tuple):
        return [_check_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: key {key!r} is not a string")
            out[key] = _check_json(item, f"{path}.{key}")
        return out
    raise ValueError(
        f"{path}: {type(value).__name__} is not a JSON scalar, list or object; the audit log "
        "holds references, counts and hashes only"
    )


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _utc_text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


@attrs.frozen
class AuditEntry:
    """One entry of the log.

    Attributes:
        sequence: 1 for the first entry, then one more for each entry.
        at: when it happened (UTC).
        action: what happened, dotted lower case (``"objection.recorded"``).
        subject: the subject's reference, or ``None``.
        details: JSON references, counts and hashes.
        prev_hash: the hash of the entry before (``GENESIS_HASH`` for the first).
        hash: SHA-256 (hex) of the canonical encoding of all the fields above.

    Example:
        >>> log = AuditLog.memory()
        >>> e = log.record("demo.done", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), details={"n": 1})
        >>> e.sequence, e.prev_hash == GENESIS_HASH, e.hash == e.compute_hash()
        (1, True, True)
    """

    sequence: int
    at: dt.datetime
    action: str
    subject: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def payload(self) -> dict[str, Any]:
        """The hashed fields, as JSON-ready values."""
        return {
            "sequence": self.sequence,
            "at": _utc_text(self.at),
            "action": self.action,
            "subject": self.subject,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        """SHA-256 (hex) over the canonical encoding of :meth:`payload`."""
        return hashlib.sha256(_canonical(self.payload())).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The stored form: :meth:`payload` plus ``hash``."""
        return {**self.payload(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Parse the stored form; ``ValueError`` saying which field is wrong.

        Example:
            >>> AuditEntry.from_dict({"sequence": 1})
            Traceback (most recent call last):
            ...
            ValueError: missing field(s): action, at, details, hash, prev_hash, subject
        """
        missing = [f for f in _FIELDS if f not in data]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        extra = sorted(set(data) - set(_FIELDS))
        if extra:
            raise ValueError(f"unexpected field(s): {', '.join(extra)}")
        seq = data["sequence"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"sequence must be a positive integer, got {seq!r}")
        if not isinstance(data["action"], str):
            raise ValueError("action must be a string")
        if data["subject"] is not None and not isinstance(data["subject"], str):
            raise ValueError("subject must be a string or null")
        if not isinstance(data["details"], Mapping):
            raise ValueError("details must be an object")
        for name in ("prev_hash", "hash"):
            if not isinstance(data[name], str) or not _HEX64.match(data[name]):
                raise ValueError(f"{name} must be 64 lower-case hex digits")
        try:
            at = dt.datetime.fromisoformat(data["at"])
        except (TypeError, ValueError):
            raise ValueError(f"at must be an ISO 8601 timestamp, got {data['at']!r}") from None
        if at.utcoffset() is None:
            raise ValueError(f"at must carry a UTC offset, got {data['at']!r}")
        return cls(
            sequence=seq,
            at=at,
            action=data["action"],
            subject=data["subject"],
            details=dict(data["details"]),
            prev_hash=data["prev_hash"],
            hash=data["hash"],
        )


@attrs.frozen
class RawEntry:
    """What a sink read back: where it was, and the data or why it could not be read.

    Attributes:
        location: ``"line 3"`` (JSONL), ``"row 3"`` (SQLite) or ``"entry 3"`` (memory).
        data: the decoded mapping, or ``None`` if it could not be decoded.
        error: why it could not be decoded, or ``None``.
    """

    location: str
    data: Mapping[str, Any] | None
    error: str | None = None


@attrs.frozen
class AuditHead:
    """The last entry's sequence and hash: keep it elsewhere to detect a truncated tail later.

    Example:
        >>> log = AuditLog.memory()
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> log.head().sequence
        1
    """

    sequence: int
    hash: str


@attrs.frozen
class AuditProblem:
    """One thing wrong with the log, and where.

    Attributes:
        index: 0-based position of the stored entry as read back.
        location: where it is stored (``"line 4"``, ``"row 4"``, ``"entry 4"``; ``"end"`` for the tail).
        sequence: the sequence number the entry claims, if it could be read.
        message: what is wrong.
    """

    index: int | None
    location: str
    sequence: int | None
    message: str

    def __str__(self) -> str:
        seq = f" (sequence {self.sequence})" if self.sequence is not None else ""
        return f"{self.location}{seq}: {self.message}"


@attrs.frozen
class AuditVerification:
    """The result of :meth:`AuditLog.verify`.

    Attributes:
        ok: no problem found.
        problems: every problem, in log order.
        count: how many stored entries were read.
        head: the last readable entry's sequence and hash, or ``None`` for an empty log.
    """

    problems: tuple[AuditProblem, ...]
    count: int
    head: AuditHead | None

    @property
    def ok(self) -> bool:
        """Whether the log verified."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"audit log OK: {self.count} entries"
        lines = [f"audit log does not verify ({len(self.problems)} problem(s)):"]
        lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines)


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


class AuditLog:
    """An append-only, hash-chained log over a sink.

    Args:
        sink: where entries are stored (:class:`MemorySink`, :class:`JsonlSink`,
            :class:`SqliteSink` or your own :class:`AuditSink`).

    Example:
        >>> log = AuditLog.memory()
        >>> now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
        >>> _ = log.record("erasure.applied", now=now, subject="subj_ab12", details={"deleted": 3})
        >>> _ = log.record("export.written", now=now, subject="subj_ab12", details={"files": 4})
        >>> [e.action for e in log.entries()]
        ['erasure.applied', 'export.written']
        >>> log.verify().ok
        True
        >>> log.record("x.y", now=now, details={"email": "ann@example.com"})
        Traceback (most recent call last):
        ...
        ValueError: details.email: looks like an e-mail address; the audit log holds references and hashes only, never personal data (pass engine.reference(subject) or a hash)
    """

    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink
        self._lock = threading.Lock()

    @classmethod
    def memory(cls) -> AuditLog:
        """A log held in memory (lost when the process ends)."""
        return cls(MemorySink())

    @classmethod
    def jsonl(cls, path: str | os.PathLike[str], *, fsync: bool = False) -> AuditLog:
        """A log in a JSON-lines file (see :class:`JsonlSink`)."""
        return cls(JsonlSink(path, fsync=fsync))

    @classmethod
    def sqlite(
        cls,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_audit",
    ) -> AuditLog:
        """A log in an SQLite table (see :class:`SqliteSink` for the schema)."""
        return cls(SqliteSink(path_or_connection, table=table))

    def _tail(self) -> AuditEntry | None:
        raw = self.sink.last()
        if raw is None:
            return None
        where = raw.location
        if raw.data is None:
            raise AuditIntegrityError(
                f"refusing to append: the log's last entry ({where}) is corrupt: {raw.error}"
            )
        try:
            entry = AuditEntry.from_dict(raw.data)
        except ValueError as exc:
            raise AuditIntegrityError(
                f"refusing to append: the log's last entry ({where}) is malformed: {exc}"
            ) from None
        if entry.compute_hash() != entry.hash:
            raise AuditIntegrityError(
                f"refusing to append: the log's last entry ({where}, sequence {entry.sequence}) "
                "does not match its hash (edited)"
            )
        return entry

    def record(
        self,
        action: str,
        *,
        now: dt.datetime,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry and return it.

        Args:
            action: what happened, dotted lower case (``"request.transition"``).
            now: when (timezone-aware; stored in UTC).
            subject: the subject's reference (``engine.reference(subject)``), never an identity.
            details: JSON references, counts and hashes. Never personal data.

        Returns:
            The stored entry.

        Raises:
            ValueError: a naive ``now``, a malformed action, or details that are not plain JSON
                or contain something that looks like an e-mail address.
            AuditIntegrityError: the log's last entry is corrupt, so the chain cannot continue.

        Example:
            >>> log = AuditLog.memory()
            >>> log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), details={"when": dt.date(2026, 1, 1)})
            Traceback (most recent call last):
            ...
            ValueError: details.when: date is not a JSON scalar, list or object; the audit log holds references, counts and hashes only
        """
        require_aware(now)
        if not _ACTION.match(action):
            raise ValueError(
                f"action must be dotted lower case such as 'erasure.applied', got {action!r}"
            )
        if subject is not None:
            if not isinstance(subject, str):
                raise ValueError(
                    f"subject must be a reference string, got {type(subject).__name__}"
                )
            _check_json(subject, "subject")
        clean = _check_json(dict(details or {}), "details")
        with self._lock:
            tail = self._tail()
            entry = AuditEntry(
                sequence=1 if tail is None else tail.sequence + 1,
                at=now.astimezone(dt.UTC),
                action=action,
                subject=subject,
                details=clean,
                prev_hash=GENESIS_HASH if tail is None else tail.hash,
                hash="",
            )
            entry = attrs.evolve(entry, hash=entry.compute_hash())
            self.sink.append(entry)
        return entry

    def entries(self) -> Iterator[AuditEntry]:
        """Every entry, in order.

        Raises:
            AuditIntegrityError: an entry cannot be read (names where); use :meth:`verify` to
                check the chain itself.
        """
        for raw in self.sink.read():
            if raw.data is None:
                raise AuditIntegrityError(f"{raw.location}: {raw.error}")
            try:
                yield AuditEntry.from_dict(raw.data)
            except ValueError as exc:
                raise AuditIntegrityError(f"{raw.location}: {exc}") from None

    def head(self) -> AuditHead | None:
        """The last entry's sequence and hash (keep it elsewhere to catch truncation later)."""
        tail = self._tail()
        return None if tail is None else AuditHead(tail.sequence, tail.hash)

    def verify(
        self,
        *,
        expected_head: AuditHead | str | None = None,
        expected_count: int | None = None,
    ) -> AuditVerification:
        """Check the whole chain and say where it breaks.

        Finds edited entries (hash mismatch), removed, inserted or reordered ones (sequence gaps
        and a broken ``prev_hash`` link), corrupt lines, and, given a head or a count recorded
        earlier, a truncated tail.

        Args:
            expected_head: an :class:`AuditHead` (or just its hash) taken earlier; the log must
                still contain it (it may have grown since).
            expected_count: the log must hold at least this many entries.

        Returns:
            An :class:`AuditVerification` listing every problem with its location.

        Example:
            >>> log = AuditLog.memory()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> for n in range(3):
            ...     _ = log.record("a.b", now=now, details={"n": n})
            >>> log.sink.rows[1]["details"]["n"] = 99
            >>> print(log.verify())
            audit log does not verify (1 problem(s)):
              entry 2 (sequence 2): content does not match its hash (entry edited)
        """
        problems: list[AuditProblem] = []
        expected_seq = 1
        prev_hash: str | None = GENESIS_HASH
        seen_hashes: dict[str, int] = {}
        count = 0
        last: AuditEntry | None = None
        for index, raw in enumerate(self.sink.read()):
            count += 1
            if raw.data is None:
                problems.append(AuditProblem(index, raw.location, None, f"corrupt: {raw.error}"))
                prev_hash = None  # the link to the next entry cannot be checked
                expected_seq += 1
                continue
            try:
                entry = AuditEntry.from_dict(raw.data)
            except ValueError as exc:
                seq = raw.data.get("sequence")
                problems.append(
                    AuditProblem(
                        index,
                        raw.location,
                        seq if isinstance(seq, int) else None,
                        f"malformed entry: {exc}",
                    )
                )
                prev_hash = None
                expected_seq += 1
                continue
            where = raw.location
            if entry.compute_hash() != entry.hash:
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        "content does not match its hash (entry edited)",
                    )
                )
            if entry.sequence < expected_seq:
                # Keep the chain position: the entries after it are checked against the entry
                # before it, so one moved entry is reported once, not as a cascade.
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        f"expected sequence {expected_seq}: entry out of order, duplicated or inserted",
                    )
                )
                continue
            if entry.sequence > expected_seq:
                missing = entry.sequence - expected_seq
                first = expected_seq
                span = str(first) if missing == 1 else f"{first}-{entry.sequence - 1}"
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        f"expected sequence {expected_seq}: sequence {span} missing before this "
                        "entry (removed or moved)",
                    )
                )
            elif prev_hash is not None and entry.prev_hash != prev_hash:
                # Sequence looks right but the link is wrong: the entry before was rewritten
                # (with a recomputed hash), or this one was inserted with a forged sequence.
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        "prev_hash does not match the hash of the entry before it "
                        "(an entry was inserted, removed or rewritten here)",
                    )
                )
            seen_hashes.setdefault(entry.hash, entry.sequence)
            prev_hash = entry.hash
            expected_seq = entry.sequence + 1
            last = entry
        head = None if last is None else AuditHead(last.sequence, last.hash)
        if expected_head is not None:
            wanted = expected_head.hash if isinstance(expected_head, AuditHead) else expected_head
            if wanted not in seen_hashes:
                where_seq = expected_head.sequence if isinstance(expected_head, AuditHead) else None
                ends = f"the log ends at sequence {head.sequence}" if head else "the log is empty"
                problems.append(
                    AuditProblem(
                        None,
                        "end",
                        where_seq,
                        f"expected head {wanted[:16]}... is missing; {ends}: the tail was "
                        "truncated or rewritten",
                    )
                )
        if expected_count is not None and count < expected_count:
            problems.append(
                AuditProblem(
                    None,
                    "end",
                    None,
                    f"{count} entries, expected at least {expected_count}: the tail was truncated",
                )
            )
        return AuditVerification(tuple(problems), count, head)

    def verify_or_raise(
        self,
        *,
        expected_head: AuditHead | str | None = None,
        expected_count: int | None = None,
    ) -> None:
        """Like :meth:`verify`, but raise if anything is wrong.

        Raises:
            AuditIntegrityError: naming every problem and where it is.

        Example:
            >>> AuditLog.memory().verify_or_raise(expected_count=1)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.AuditIntegrityError: audit log does not verify (1 problem(s)):
              end: 0 entries, expected at least 1: the tail was truncated
        """
        result = self.verify(expected_head=expected_head, expected_count=expected_count)
        if not result.ok:
            raise AuditIntegrityError(str(result))

    def __repr__(self) -> str:
        return f"<AuditLog sink={type(self.sink).__name__}>"
