"""Where the audit log's entries are stored: the :class:`AuditSink` protocol (append, read back
in order, read the last entry, and optionally ``append_next``: read the tail and append under one
lock), :class:`AuditSinkError`, and two of the sinks that ship: in memory (tests) and an SQLite
table (stdlib :mod:`sqlite3`, several processes serialised by ``BEGIN IMMEDIATE``). The JSON-lines
sink is in :mod:`._sink_jsonl`, the SQLAlchemy one (PostgreSQL, MariaDB) in
:mod:`._sink_sqlalchemy`. Entries are only ever appended.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar, runtime_checkable

from .._errors import AdapterError
from ._entries import CHAIN_SHA256, AuditEntry, RawEntry, _canonical, _utc_text, decode_object

__all__ = [
    "AuditSink",
    "AuditSinkError",
    "MemorySink",
    "SqliteSink",
]

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_T = TypeVar("_T")

#: Builds the entry to append from the current last stored entry (``None``: the sink is empty).
MakeEntry = Callable[[RawEntry | None], AuditEntry]
#: Builds several entries to append, in order, from the current last stored entry.
MakeEntries = Callable[[RawEntry | None], list[AuditEntry]]


class AuditSinkError(AdapterError):
    """An audit sink could not store or read entries (the store failed, or stayed locked).

    The message names the sink and where it stores; the original error is the ``__cause__``.

    Example:
        >>> str(AuditSinkError("database is locked", sink="SqliteSink(audit.db)", operation="append"))
        'SqliteSink(audit.db): append failed: database is locked'
    """

    def __init__(self, message: str, *, sink: str, operation: str) -> None:
        super().__init__(message, adapter=sink, operation=operation)
        self.sink = sink


def check_table_name(table: str) -> str:
    """``table`` if it is letters, digits and underscores; else ``ValueError``."""
    if not _TABLE.match(table):
        raise ValueError(f"invalid table name {table!r} (letters, digits and underscores)")
    return table


@runtime_checkable
class AuditSink(Protocol):
    """Where entries are stored. Three methods; entries are only ever appended.

    A sink may also offer ``append_next(make)``: take a lock that other writers (other
    processes too) respect, read the last entry, append ``make(last)`` and release the lock.
    :class:`~privacy_kit.audit.AuditLog` uses it when it is there; without it, appends are
    serialised only within one ``AuditLog``. ``append_next_all(make)`` does the same for the
    entries ``make(last)`` returns, all in one write (one transaction, one sync); without it,
    they are appended one by one.
    """

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

    #: One process only: the list lives in it.
    multiprocess_safe = False

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def append(self, entry: AuditEntry) -> None:
        """Keep a copy of ``entry``'s stored form."""
        with self._lock:
            self.rows.append(entry.to_dict())

    def append_next(self, make: MakeEntry) -> AuditEntry:
        """Append ``make(last row)`` while holding the sink's lock (threads of one process)."""
        return self.append_next_all(lambda last: [make(last)])[0]

    def append_next_all(self, make: MakeEntries) -> list[AuditEntry]:
        """Append the entries ``make(last row)`` returns, holding the sink's lock."""
        with self._lock:
            entries = make(self.last())
            self.rows.extend(entry.to_dict() for entry in entries)
            return entries

    def read(self) -> Iterator[RawEntry]:
        """Every row."""
        for i, row in enumerate(list(self.rows), start=1):
            yield RawEntry(f"entry {i}", row)

    def last(self) -> RawEntry | None:
        """The last row."""
        rows = self.rows
        return RawEntry(f"entry {len(rows)}", rows[-1]) if rows else None


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
    text = str(exc).lower()
    return "locked" in text or "busy" in text  # pragma: no cover - sqlite3 without error codes


_COLUMNS = "sequence, at, action, subject, details, prev_hash, hash"
_PAGE = 1000


def row_entry(row: tuple[Any, ...] | Any, location: str) -> RawEntry:
    """A table row (the columns of :data:`_COLUMNS`, then ``chain``), read at ``location``."""
    sequence, at, action, subject, details, prev_hash, hash_, chain = tuple(row)
    if not isinstance(details, str):
        return RawEntry(location, None, f"details are not text (got {type(details).__name__})")
    decoded = decode_object(details, location, "details ")
    if decoded.data is None:
        return decoded
    data: dict[str, Any] = {
        "sequence": sequence,
        "at": at,
        "action": action,
        "subject": subject,
        "details": decoded.data,
        "prev_hash": prev_hash,
        "hash": hash_,
    }
    if chain is not None:
        data["chain"] = chain
    return RawEntry(location, data, decoded.error)


def _has_content(path: str) -> bool:
    """Whether ``path`` is a file with something in it (an SQLite database someone made)."""
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def use_wal(conn: sqlite3.Connection, timeout: float) -> str:
    """Switch ``conn``'s database to WAL, waiting for other processes that hold the lock, and
    return the journal mode it has then (``"wal"``; an in-memory database keeps ``"memory"``).

    Changing the journal mode needs an exclusive lock and SQLite does not apply the busy
    timeout to it: processes opening a new database at once see "database is locked" at once.
    Retry with a short backoff until ``timeout`` (seconds).

    Example:
        >>> import sqlite3
        >>> use_wal(sqlite3.connect(":memory:"), 1.0)
        'memory'
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


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
            hash      TEXT NOT NULL,        -- SHA-256 (or HMAC-SHA256) of the entry (64 hex digits)
            chain     TEXT                  -- NULL, or 'hmac-sha256' in a keyed chain
        )

    A table made before keyed chains existed gets its ``chain`` column on the first keyed append.
    Rows are read in ``sequence`` order; a row removed, edited or renumbered breaks the chain.

    Several processes may append to one database file: each append is one ``BEGIN IMMEDIATE``
    transaction that reads the last row and inserts the next, waiting up to ``timeout`` seconds
    for the other writers (and retrying while SQLite answers busy); past that it raises
    :class:`AuditSinkError` naming the database and table. An append commits the connection (also
    a transaction you had open on a connection you passed). A database file the sink creates
    (given a path that does not exist yet, or an empty file) is put in WAL mode
    (``PRAGMA journal_mode=WAL``): each append is then one sync of the write-ahead log instead of
    the rollback journal's several, and readers verify while others write. A file that existed
    keeps its journal mode (yours to choose). Either way the sink's own connection syncs every
    commit (``PRAGMA synchronous=FULL``): an append that returned survives a power cut. Threads
    of one process share the sink's connection one at a time (a lock in the sink).

    Args:
        path_or_connection: a database file path, ``":memory:"``, or an open ``sqlite3.Connection``
            (not closed by the sink).
        table: the table name (letters, digits and underscores).
        timeout: how long an append waits for other writers, in seconds.

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.audit import AuditLog
        >>> log = AuditLog.sqlite(":memory:")
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), subject="subj_1")
        >>> [e.subject for e in log.entries()], log.verify().ok, log.sink.multiprocess_safe
        (['subj_1'], True, True)
    """

    #: Appends from several processes are serialised by SQLite's own locking.
    multiprocess_safe = True

    def __init__(
        self,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_audit",
        timeout: float = 30.0,
    ) -> None:
        self.table = check_table_name(table)
        self.timeout = timeout
        self._lock = threading.RLock()
        if isinstance(path_or_connection, sqlite3.Connection):
            self.connection = path_or_connection
            self._owned = False
            where = "connection"
        else:
            where = os.fspath(path_or_connection)
            new_file = where != ":memory:" and not _has_content(where)
            try:
                # Shared by the threads of this process (one at a time, under the sink's lock).
                self.connection = sqlite3.connect(where, timeout=timeout, check_same_thread=False)
                # Every commit is synced before it returns (SQLite's default, made explicit: a
                # build may default WAL databases to NORMAL, which a power cut can undo).
                self.connection.execute("PRAGMA synchronous = FULL")
                if new_file:
                    # A file this sink creates is in WAL mode: one sync per commit instead of
                    # the rollback journal's several, and readers never wait for a writer.
                    use_wal(self.connection, timeout)
            except sqlite3.Error as exc:
                raise AuditSinkError(
                    str(exc), sink=f"SqliteSink({where})", operation="open"
                ) from exc
            self._owned = True
        self.name = f"SqliteSink({where}, table {table})"

        def create() -> None:
            self.connection.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" ('
                "sequence INTEGER PRIMARY KEY, at TEXT NOT NULL, action TEXT NOT NULL, "
                "subject TEXT, details TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, "
                "chain TEXT)"
            )

        self._transaction(create, "create table")

    def _transaction(self, work: Callable[[], _T], operation: str) -> _T:
        """Run ``work`` in one immediate (write-locked) transaction, retrying while busy."""
        conn = self.connection
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            # A transaction the caller left open on their connection is joined (and committed),
            # never retried: a retry would replay our half without theirs.
            ours = not conn.in_transaction
            try:
                if ours:
                    conn.execute("BEGIN IMMEDIATE")
                result = work()
                conn.commit()
            except sqlite3.Error as exc:
                conn.rollback()
                if ours and _is_busy(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.1)
                    continue
                raise AuditSinkError(
                    f"{exc} ({type(exc).__name__})", sink=self.name, operation=operation
                ) from exc
            except BaseException:
                conn.rollback()
                raise
            return result

    def _has_chain_column(self) -> bool:
        rows = self.connection.execute(f'PRAGMA table_info("{self.table}")').fetchall()
        return any(row[1] == "chain" for row in rows)

    def _select(self) -> str:
        chain = "chain" if self._has_chain_column() else "NULL"
        return f'SELECT {_COLUMNS}, {chain} FROM "{self.table}"'

    def _insert(self, entry: AuditEntry) -> None:
        keyed = entry.chain != CHAIN_SHA256
        if keyed and not self._has_chain_column():
            self.connection.execute(f'ALTER TABLE "{self.table}" ADD COLUMN chain TEXT')
        self.connection.execute(
            f'INSERT INTO "{self.table}" ({_COLUMNS}{", chain" if keyed else ""}) '
            f"VALUES (?, ?, ?, ?, ?, ?, ?{', ?' if keyed else ''})",
            (
                entry.sequence,
                _utc_text(entry.at),
                entry.action,
                entry.subject,
                _canonical(dict(entry.details)).decode(),
                entry.prev_hash,
                entry.hash,
                *((entry.chain,) if keyed else ()),
            ),
        )

    def append(self, entry: AuditEntry) -> None:
        """Insert one row as it is, in its own transaction (prefer :meth:`append_next`)."""
        with self._lock:
            self._transaction(lambda: self._insert(entry), "append")

    def append_next(self, make: MakeEntry) -> AuditEntry:
        """In one ``BEGIN IMMEDIATE`` transaction: read the last row, insert ``make(last)``."""
        return self.append_next_all(lambda last: [make(last)])[0]

    def append_next_all(self, make: MakeEntries) -> list[AuditEntry]:
        """In one ``BEGIN IMMEDIATE`` transaction: read the last row, insert ``make(last)``'s
        entries in order (one commit for all of them)."""

        def work() -> list[AuditEntry]:
            entries = make(self._last())
            for entry in entries:
                self._insert(entry)
            return entries

        with self._lock:
            return self._transaction(work, "append")

    def read(self) -> Iterator[RawEntry]:
        """Every row, in sequence order, numbered from 1 (read in pages of 1,000)."""
        number = 0
        after: int | None = None
        while True:
            with self._lock:
                where = "" if after is None else f"WHERE sequence > {int(after)} "
                rows = self.connection.execute(
                    f"{self._select()} {where}ORDER BY sequence LIMIT {_PAGE}"
                ).fetchall()
            for row in rows:
                number += 1
                yield row_entry(row, f"row {number}")
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def _last(self) -> RawEntry | None:
        row = self.connection.execute(f"{self._select()} ORDER BY sequence DESC LIMIT 1").fetchone()
        if row is None:
            return None
        raw = row_entry(row, "last row")
        if raw.error is None:
            return raw
        # Only a broken tail is worth counting the rows, to name its row number.
        count = self.connection.execute(f'SELECT count(*) FROM "{self.table}"').fetchone()[0]
        return row_entry(row, f"row {count}")

    def last(self) -> RawEntry | None:
        """The row with the highest sequence."""
        with self._lock:
            return self._last()

    def close(self) -> None:
        """Close the connection if the sink opened it."""
        if self._owned:
            with self._lock:
                self.connection.close()

    def __repr__(self) -> str:
        return self.name
