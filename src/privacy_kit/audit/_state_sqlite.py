"""The SQLite state store: shared state in one SQLite file, for every process on one host.

Stdlib :mod:`sqlite3` only. The database runs in WAL mode (readers never wait for the writer);
every write is one ``BEGIN IMMEDIATE`` transaction, so writers queue (up to ``timeout`` seconds)
instead of failing, and a read-modify-write sees no other writer between its read and its write.
The tables are created and migrated by the store itself (see :data:`SCHEMA_VERSION`)::

    privacy_kit_schema          (component TEXT PRIMARY KEY, version INTEGER)      -- 'state' -> 1
    privacy_kit_state           (collection, key, version, document)  PK (collection, key)
    privacy_kit_state_log       (collection, seq, document)           PK (collection, seq)
    privacy_kit_state_sequences (collection PRIMARY KEY, last_seq)      -- the log's last seq
    privacy_kit_state_secrets   (name PRIMARY KEY, value)             -- hex

Identifiers are quoted and every value is a bound parameter.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ._sinks import use_wal
from ._state import (
    SCHEMA_VERSION,
    LogEntry,
    SchemaMigration,
    StateConflictError,
    StateError,
    StoredDocument,
    check_prefix,
    decode_document,
    new_secret,
)
from ._state_base import BaseStateStore, Decide, _Unchanged

__all__ = ["SqliteStateStore"]

_COMPONENT = "state"


def _v1(p: str) -> list[str]:
    state = "collection TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, "
    state += "document TEXT NOT NULL, PRIMARY KEY (collection, key)"
    log = "collection TEXT NOT NULL, seq INTEGER NOT NULL, document TEXT NOT NULL, "
    log += "PRIMARY KEY (collection, seq)"
    sequences = "collection TEXT PRIMARY KEY, last_seq INTEGER NOT NULL"
    return [
        f'CREATE TABLE IF NOT EXISTS "{p}state" ({state}) WITHOUT ROWID',
        f'CREATE TABLE IF NOT EXISTS "{p}state_log" ({log}) WITHOUT ROWID',
        f'CREATE TABLE IF NOT EXISTS "{p}state_sequences" ({sequences})',
        f'CREATE TABLE IF NOT EXISTS "{p}state_secrets" (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
    ]


MIGRATIONS: dict[int, Callable[[str], list[str]]] = {1: _v1}
"""Schema version -> the statements (given the table prefix) that bring the one before to it."""


class SqliteStateStore(BaseStateStore):
    """Shared state in an SQLite file: every process that opens the same file shares it.

    Args:
        path: the database file (created if missing), or ``":memory:"`` (this store only).
        prefix: the tables' name prefix (``privacy_kit_``).
        timeout: how long a write waits for another process's write, in seconds.

    Opening the store creates or migrates its tables (:attr:`migration` says what it found); a
    database written by a newer privacy_kit is refused. One store object may be shared by the
    threads of a process; a process started by ``fork`` reconnects on first use.

    Raises:
        StateError: the file cannot be opened, or its schema is newer than this version knows.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "state.db"
        >>> with SqliteStateStore(path) as one, SqliteStateStore(path) as two:
        ...     _ = one.put("holds", "hold_1", {"reason": "case 12"})
        ...     two.get("holds", "hold_1").document, one.secret() == two.secret()
        ({'reason': 'case 12'}, True)
        >>> SqliteStateStore(path).migration
        SchemaMigration(from_version=1, to_version=1)
    """

    name = "SqliteStateStore"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        prefix: str = "privacy_kit_",
        timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        self.prefix = check_prefix(prefix)
        self.timeout = timeout
        self.name = f"SqliteStateStore({self.path!r})"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self.migration = self.migrate()

    # -- connection and transactions ------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            if self.path != ":memory:":
                use_wal(conn, self.timeout)
        except (sqlite3.Error, OSError) as exc:
            raise StateError(f"{self.name}: cannot open the database: {exc}") from exc
        self._conn, self._pid = conn, os.getpid()
        return conn

    @contextmanager
    def _write(self, operation: str, target: str) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed if the block ends, else rolled back."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StateError(f"{self.name}: {operation} {target}: {exc}") from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StateError(f"{self.name}: {operation} {target}: {exc}") from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _query(
        self, operation: str, target: str, sql: str, args: tuple[object, ...]
    ) -> list[tuple[object, ...]]:
        with self._lock:
            try:
                return list(self._connection().execute(sql, args))
            except sqlite3.Error as exc:
                raise StateError(f"{self.name}: {operation} {target}: {exc}") from exc

    def _t(self, table: str) -> str:
        return f'"{self.prefix}{table}"'

    # -- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version of the tables in the database (0: none yet)."""
        found = self._query(
            "schema_version",
            "schema",
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?",
            (f"{self.prefix}schema",),
        )
        if not found:
            return 0
        rows = self._query(
            "schema_version",
            "schema",
            f"SELECT version FROM {self._t('schema')} WHERE component = ?",
            (_COMPONENT,),
        )
        return int(str(rows[0][0])) if rows else 0

    def migrate(self) -> SchemaMigration:
        """Create or upgrade the tables to :data:`SCHEMA_VERSION`, in one transaction.

        Returns:
            The version found and the version now (equal if nothing had to change).

        Raises:
            StateError: the database's schema is newer than this version of privacy_kit knows.
        """
        with self._write("migrate", "schema") as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {self._t('schema')} "
                "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            row = conn.execute(
                f"SELECT version FROM {self._t('schema')} WHERE component = ?", (_COMPONENT,)
            ).fetchone()
            found = 0 if row is None else int(row[0])
            if found > SCHEMA_VERSION:
                raise StateError(
                    f"{self.name}: the state tables are at schema version {found}, newer than "
                    f"this privacy_kit knows ({SCHEMA_VERSION}); upgrade privacy_kit"
                )
            for version in range(found + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[version](self.prefix):
                    conn.execute(statement)
            conn.execute(
                f"INSERT INTO {self._t('schema')} (component, version) VALUES (?, ?) "
                "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                (_COMPONENT, SCHEMA_VERSION),
            )
        return SchemaMigration(found, SCHEMA_VERSION)

    # -- the primitives -------------------------------------------------------------------------
    def _read(self, collection: str, key: str) -> StoredDocument | None:
        rows = self._query(
            "get",
            f"{collection}/{key!r}",
            f"SELECT document, version FROM {self._t('state')} WHERE collection = ? AND key = ?",
            (collection, key),
        )
        if not rows:
            return None
        return StoredDocument(key, decode_document(str(rows[0][0])), int(str(rows[0][1])))

    def _scan(self, collection: str, start: str, end: str | None) -> list[StoredDocument]:
        sql = (
            f"SELECT key, document, version FROM {self._t('state')} "
            "WHERE collection = ? AND key >= ?"
        )
        args: tuple[object, ...] = (collection, start)
        if end is not None:
            sql, args = sql + " AND key < ?", (*args, end)
        rows = self._query("items", collection, sql + " ORDER BY key", args)
        return [StoredDocument(str(k), decode_document(str(d)), int(str(v))) for k, d, v in rows]

    def _change(
        self, collection: str, key: str, decide: Decide, operation: str
    ) -> tuple[StoredDocument | None, StoredDocument | None]:
        table = self._t("state")
        with self._write(operation, f"{collection}/{key!r}") as conn:
            row = conn.execute(
                f"SELECT document, version FROM {table} WHERE collection = ? AND key = ?",
                (collection, key),
            ).fetchone()
            before = None if row is None else StoredDocument(key, decode_document(row[0]), row[1])
            change = decide(before)
            if isinstance(change, _Unchanged):
                return before, before
            if change is None:
                conn.execute(
                    f"DELETE FROM {table} WHERE collection = ? AND key = ?", (collection, key)
                )
                return before, None
            version = 1 if before is None else before.version + 1
            if before is None:
                conn.execute(
                    f"INSERT INTO {table} (collection, key, version, document) VALUES (?, ?, ?, ?)",
                    (collection, key, version, change),
                )
            else:
                conn.execute(
                    f"UPDATE {table} SET document = ?, version = ? "
                    "WHERE collection = ? AND key = ?",
                    (change, version, collection, key),
                )
        return before, StoredDocument(key, decode_document(change), version)

    def _append(self, collection: str, text: str, if_last: int | None) -> int:
        with self._write("append", collection) as conn:
            row = conn.execute(
                f"SELECT last_seq FROM {self._t('state_sequences')} WHERE collection = ?",
                (collection,),
            ).fetchone()
            last = 0 if row is None else int(row[0])
            if if_last is not None and if_last != last:
                raise StateConflictError(
                    f"{self.name}: append {collection}: expected the last entry to be {if_last}, "
                    f"found {last}"
                )
            conn.execute(
                f"INSERT INTO {self._t('state_sequences')} (collection, last_seq) VALUES (?, ?) "
                "ON CONFLICT (collection) DO UPDATE SET last_seq = excluded.last_seq",
                (collection, last + 1),
            )
            conn.execute(
                f"INSERT INTO {self._t('state_log')} (collection, seq, document) VALUES (?, ?, ?)",
                (collection, last + 1, text),
            )
        return last + 1

    def _entries(self, collection: str, after: int, limit: int | None) -> list[LogEntry]:
        rows = self._query(
            "entries",
            collection,
            f"SELECT seq, document FROM {self._t('state_log')} WHERE collection = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (collection, after, -1 if limit is None else limit),
        )
        return [LogEntry(int(str(seq)), decode_document(str(doc))) for seq, doc in rows]

    def _secret(self, name: str, create: bool) -> bytes | None:
        sql = f"SELECT value FROM {self._t('state_secrets')} WHERE name = ?"
        rows = self._query("secret", name, sql, (name,))
        if rows or not create:
            return bytes.fromhex(str(rows[0][0])) if rows else None
        with self._write("secret", name) as conn:
            row = conn.execute(sql, (name,)).fetchone()
            if row is not None:  # another process created it since the read above
                return bytes.fromhex(row[0])
            value = new_secret()
            conn.execute(
                f"INSERT INTO {self._t('state_secrets')} (name, value) VALUES (?, ?)",
                (name, value.hex()),
            )
        return value

    def close(self) -> None:
        """Close this process's connection (the store reconnects if used again)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __repr__(self) -> str:
        return f"<{self.name} schema={SCHEMA_VERSION}>"
