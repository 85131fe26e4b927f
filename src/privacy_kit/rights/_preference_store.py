"""Snapshots of the preference registry, for :meth:`~privacy_kit.Preferences.save_json`,
:meth:`~privacy_kit.Preferences.load_json`, :meth:`~privacy_kit.Preferences.save_sqlite` and
:meth:`~privacy_kit.Preferences.load_sqlite`: a JSON file (written atomically: a temporary file,
then a rename) or an SQLite table (``subject, kind, key, at, ended_at, note, source``, one row per
:class:`~privacy_kit.rights._preference_records.PreferenceRecord`, times in ISO 8601 UTC); reading
checks every record and names the file or table and the bad record.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from ._preference_records import PreferenceRecord

__all__ = ["read_json", "read_sqlite", "to_json", "write_json", "write_sqlite"]

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
