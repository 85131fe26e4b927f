"""Snapshots of the preference registry, for :meth:`~privacy_kit.Preferences.save_json`,
:meth:`~privacy_kit.Preferences.load_json`, :meth:`~privacy_kit.Preferences.save_sqlite` and
:meth:`~privacy_kit.Preferences.load_sqlite`: a JSON file (written atomically: a temporary file,
then a rename) or an SQLite table (``subject, kind, key, at, ended_at, note, source``, one row per
:class:`~privacy_kit.rights._preference_records.PreferenceRecord`, times in ISO 8601 UTC); reading
checks every record and names the file or table and the bad record.

It also holds where a live registry keeps its records: :class:`MemoryRecords` (in this process)
or :class:`StateRecords` (a :class:`~privacy_kit.audit.StateStore`, collection ``preferences``,
key ``subject|kind|key``, each change one atomic ``update``), so that every process sharing the
store sees every objection, restriction and opt-out.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ..audit._state import StateStore
from ._preference_records import PreferenceRecord

__all__ = [
    "MemoryRecords",
    "StateRecords",
    "read_json",
    "read_sqlite",
    "to_json",
    "write_json",
    "write_sqlite",
]

PREFERENCES = "preferences"
"""The state store collection of the preference records."""
Change = Callable[[PreferenceRecord | None], PreferenceRecord | None]


class MemoryRecords:
    """The records of one registry, in this process's memory."""

    def __init__(self) -> None:
        self._records: dict[tuple[str, str, str], PreferenceRecord] = {}
        self._lock = threading.Lock()

    def change(self, subject: str, kind: str, key: str, fn: Change) -> PreferenceRecord | None:
        """Replace the record with ``fn(current)`` (atomically); return what is kept."""
        with self._lock:
            new = fn(self._records.get((subject, kind, key)))
            if new is None:
                self._records.pop((subject, kind, key), None)
            else:
                self._records[(subject, kind, key)] = new
            return new

    def scan(self, subject: str | None = None, kind: str | None = None) -> list[PreferenceRecord]:
        """The records (of one subject, of one kind), by subject, kind and key."""
        with self._lock:
            found = sorted(self._records.items())
        return [r for (s, k, _key), r in found if subject in (None, s) and kind in (None, k)]

    def replace(self, records: Iterable[PreferenceRecord]) -> None:
        """Replace every record with ``records``."""
        rows = {(r.subject, r.kind, r.key): r for r in records}
        with self._lock:
            self._records = rows


class StateRecords:
    """The records of one registry in a state store, shared by every process that opens it."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    @staticmethod
    def _record(key: str, data: Any) -> PreferenceRecord:
        return PreferenceRecord.from_dict(data, f"state store {PREFERENCES}/{key!r}")

    def change(self, subject: str, kind: str, key: str, fn: Change) -> PreferenceRecord | None:
        """Replace the record with ``fn(current)`` in one atomic ``update``; return what is kept."""
        where = f"{subject}|{kind}|{key}"

        def update(data: dict[str, Any] | None) -> dict[str, Any] | None:
            new = fn(None if data is None else self._record(where, data))
            return None if new is None else new.to_dict()

        stored = self.store.update(PREFERENCES, where, update)
        return None if stored is None else self._record(where, stored.document)

    def scan(self, subject: str | None = None, kind: str | None = None) -> list[PreferenceRecord]:
        """The records (of one subject, of one kind), by subject, kind and key."""
        prefix = "" if subject is None else subject + "|" + ("" if kind is None else kind + "|")
        found = (
            self._record(d.key, d.document) for d in self.store.items(PREFERENCES, prefix=prefix)
        )
        return sorted(
            (r for r in found if subject in (None, r.subject) and kind in (None, r.kind)),
            key=lambda r: (r.subject, r.kind, r.key),
        )

    def replace(self, records: Iterable[PreferenceRecord]) -> None:
        """Store ``records`` (each replacing the stored record of the same subject, kind and key)."""
        for r in records:
            self.store.put(PREFERENCES, f"{r.subject}|{r.kind}|{r.key}", r.to_dict())


_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def to_json(records: Iterable[PreferenceRecord]) -> bytes:
    """A JSON snapshot of ``records``."""
    return orjson.dumps(
        {"version": 1, "records": [r.to_dict() for r in records]},
        option=orjson.OPT_INDENT_2,
    )


def write_json(path: str | os.PathLike[str], snapshot: bytes) -> None:
    """Write ``snapshot`` to ``path`` (atomically: a temporary file, then a rename)."""
    target = Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_bytes(snapshot)
    temporary.replace(target)


def read_json(path: str | os.PathLike[str]) -> Iterator[PreferenceRecord]:
    """The records of a :func:`write_json` snapshot.

    The file is read and its shape checked at once; each record is parsed as it is consumed.

    Raises:
        ValueError: the file is not a snapshot; names the file and the bad record.
    """
    try:
        data = orjson.loads(Path(path).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise ValueError(f"{path}: expected an object with a 'records' list")
    return (
        PreferenceRecord.from_dict(row, f"{path}: records[{i}]")
        for i, row in enumerate(data["records"])
    )


def write_sqlite(
    path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
    table: str,
    records: Iterable[PreferenceRecord],
) -> None:
    """Replace the table's rows with ``records`` (one transaction)."""
    conn, owned = _connect(path_or_connection, table)
    try:
        with conn:
            _create(conn, table)
            conn.execute(f'DELETE FROM "{table}"')
            conn.executemany(
                f'INSERT INTO "{table}" (subject, kind, key, at, ended_at, note, source) '
                "VALUES (:subject, :kind, :key, :at, :ended_at, :note, :source)",
                [r.to_dict() for r in records],
            )
    finally:
        if owned:
            conn.close()


def read_sqlite(
    path_or_connection: str | os.PathLike[str] | sqlite3.Connection, table: str
) -> Iterator[PreferenceRecord]:
    """The records of a :func:`write_sqlite` table (none if the table does not exist).

    The rows are read at once; each record is parsed as it is consumed.
    """
    conn, owned = _connect(path_or_connection, table)
    try:
        _create(conn, table)
        cursor = conn.execute(
            f'SELECT subject, kind, key, at, ended_at, note, source FROM "{table}"'
        )
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
    finally:
        if owned:
            conn.close()
    return (PreferenceRecord.from_dict(row, f"{table} row {i}") for i, row in enumerate(rows, 1))


def _connect(
    path_or_connection: str | os.PathLike[str] | sqlite3.Connection, table: str
) -> tuple[sqlite3.Connection, bool]:
    if not _TABLE.match(table):
        raise ValueError(f"invalid table name {table!r} (letters, digits and underscores)")
    if isinstance(path_or_connection, sqlite3.Connection):
        return path_or_connection, False
    return sqlite3.connect(os.fspath(path_or_connection)), True


def _create(conn: sqlite3.Connection, table: str) -> None:
    conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{table}" (subject TEXT NOT NULL, kind TEXT NOT NULL, '
        "key TEXT NOT NULL, at TEXT NOT NULL, ended_at TEXT, note TEXT, source TEXT, "
        "PRIMARY KEY (subject, kind, key))"
    )
