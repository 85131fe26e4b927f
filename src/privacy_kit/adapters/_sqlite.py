"""The SQLite adapter: the embedded default, on the standard library's :mod:`sqlite3`.

Selections compile to parameterised SQL (values are bound, never interpolated; identifiers are
quoted). A delete or update of a selection is one statement (SQLite writes each page once, in one
transaction: batches measured 1.7 to 3.5 times slower on a million rows, because every batch
re-writes the pages the previous one touched); given a ``batch_size``, it runs one statement per
batch instead, each its own short transaction, for hosts whose concurrent writers cannot wait
for the whole statement. Nothing loops over rows in Python. Reads page through the primary key (keyset pagination), so memory stays
bounded and a caller may delete while iterating.

Storage formats follow ``FieldSpec.type`` (:mod:`._sqlite_values`): ``timestamp`` is UTC ISO 8601
text of fixed width, so that text comparison is chronological, read back as a timezone-aware
``datetime``; ``date`` is ``YYYY-MM-DD`` text; ``boolean`` is ``0``/``1``; ``json`` is JSON text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._errors import Problem
from ..model._datamap import DataMap, RecordType
from ._base import (
    BaseAdapter,
    Capability,
    Record,
    RecordKey,
    check_batch_size,
    missing_problems,
)
from ._sql import COUNTS_PER_STATEMENT, compile_selection, quote_identifier
from ._sqlite_counts import count_aggregate, count_by_type
from ._sqlite_values import (
    format_timestamp,
    parse_timestamp,
    reader,
    related_convert,
    to_store,
    writer,
)
from ._statement_log import fetch, run

if TYPE_CHECKING:  # pragma: no cover - for type checkers only (imported on use: see below)
    from ..model._order import ForeignKey
    from ._selection import Selection

__all__ = ["SQLiteAdapter", "format_timestamp", "indexed_fields", "parse_timestamp"]

_HAS_RETURNING = sqlite3.sqlite_version_info >= (3, 35, 0)
_HAS_WINDOWS = sqlite3.sqlite_version_info >= (3, 25, 0)  # NTILE, for time bounds
_SQL_TYPES = {
    "text": "TEXT",
    "integer": "INTEGER",
    "real": "REAL",
    "boolean": "INTEGER",
    "timestamp": "TEXT",
    "date": "TEXT",
    "json": "TEXT",
}


class SQLiteAdapter(BaseAdapter):
    """Records in an SQLite database.

    Args:
        database: a file path, ``":memory:"``, or an open :class:`sqlite3.Connection`. A connection
            you pass stays yours (``close()`` leaves it open); if it is inside a transaction when
            the adapter writes, the adapter works inside it and leaves committing to you.
            Otherwise each batch is committed on its own.
        name: shown in errors and reports.
        store: the data-map store this adapter serves (``None``: any).
        timeout: seconds to wait for a lock held by another connection.

    Example:
        >>> import datetime as dt
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import SQLiteAdapter, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> users = dm.record_type("users")
        >>> with SQLiteAdapter(":memory:") as db:
        ...     db.create_schema(dm)
        ...     db.insert(users, [{"id": 1, "email": "a@example.com",
        ...                        "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)}])
        ...     db.delete(users, where.before("created_at", dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
        1
        1
    """

    capabilities = frozenset(
        {
            Capability.COUNT,
            Capability.BULK_UPDATE_BY_KEY,
            Capability.TRANSACTIONS,
            Capability.FOREIGN_KEYS,
            Capability.RELATED,
            Capability.ATOMIC,
            *([Capability.TIME_BOUNDS] if _HAS_WINDOWS else []),
        }
    )

    def __init__(
        self,
        database: str | os.PathLike[str] | sqlite3.Connection = ":memory:",
        *,
        name: str | None = None,
        store: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(name=name, store=store)
        if isinstance(database, sqlite3.Connection):
            self.connection = database
            self._owned = False
        else:
            with self.wrap_errors("connect"):
                self.connection = sqlite3.connect(database, timeout=timeout)
            self._owned = True

    # -- helpers ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _batch(self) -> Iterator[sqlite3.Connection]:
        """One short transaction (or the caller's own, if one is open)."""
        conn = self.connection
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN")
        try:
            yield conn
            conn.commit()  # may fail (a deferred foreign key, a busy database): roll back too
        except BaseException:
            if conn.in_transaction:  # never leave the failed work for a later commit to keep
                conn.rollback()
            raise

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Run the writes of the block in one transaction (``Capability.ATOMIC``).

        Committed when the block ends, rolled back when it raises; inside a transaction the
        caller opened, the block joins it and committing stays the caller's.

        Example:
            >>> from privacy_kit.testing import conformance_datamap, conformance_records
            >>> from privacy_kit.testing import populate
            >>> from privacy_kit.adapters import where
            >>> dm = conformance_datamap()
            >>> db = populate(SQLiteAdapter(), dm, conformance_records())
            >>> with db.atomic():
            ...     db.delete(dm.record_type("events"), where.all())
            30
            >>> db.count(dm.record_type("events"), where.all())
            0
        """
        with self._batch():
            yield

    def _where(self, record_type: RecordType, selection: Selection) -> tuple[str, list[Any]]:
        return compile_selection(
            selection,
            lambda f, v: to_store(record_type, f, v),
            table=record_type.table_name,
            json_in=True,
            related=related_convert,
            kinds=lambda f: record_type.field(f).type if record_type.has_field(f) else None,
        )

    # -- the protocol -------------------------------------------------------------------------
    def iter_records(
        self,
        record_type: RecordType,
        selection: Selection,
        *,
        fields: Sequence[str] | None = None,
        batch_size: int = 1000,
    ) -> Iterator[list[Record]]:
        """Yield the matching records in batches of at most ``batch_size``, in primary-key order.

        Each batch is one ``SELECT ... ORDER BY pk LIMIT ?`` that resumes after the last key seen,
        so no cursor or transaction stays open between batches.
        """
        check_batch_size(batch_size)
        q = quote_identifier
        pk = record_type.primary_key
        names = list(fields) if fields is not None else list(record_type.field_names)
        columns = names if pk in names else [*names, pk]
        readers = [
            reader(record_type.field(c).type) if record_type.has_field(c) else None for c in columns
        ]
        pk_index = columns.index(pk)
        # ``columns`` is ``names`` (plus the key at the end when not asked for): a record is
        # ``dict(zip(names, row))``, then only the typed fields are converted, column by column.
        converters = {
            c: r for c, r in zip(columns, readers, strict=True) if r is not None and c in names
        }.items()
        table = q(record_type.table_name)
        key = f"{table}.{q(pk)}"
        with self.wrap_errors("read", record_type):
            where, params = self._where(record_type, selection)
            listed = ", ".join(f"{table}.{q(c)}" for c in columns)
            head = f"SELECT {listed} FROM {table} WHERE {where}"
        tail = f" ORDER BY {key} LIMIT ?"
        last: Any = None
        while True:
            with self.wrap_errors("read", record_type):
                if last is None:
                    rows = fetch(self.connection, head + tail, [*params, batch_size])
                else:
                    rows = fetch(
                        self.connection, f"{head} AND {key} > ?{tail}", [*params, last, batch_size]
                    )
                batch = [dict(zip(names, row, strict=False)) for row in rows]
                for name, read in converters:
                    for record in batch:
                        value = record[name]
                        if value is not None:
                            record[name] = read(value)
            if batch:
                last = rows[-1][pk_index]
                yield batch
            if len(rows) < batch_size:
                return

    def count(self, record_type: RecordType, selection: Selection) -> int:
        """How many records match (one ``SELECT COUNT(*)``)."""
        with self.wrap_errors("count", record_type):
            where, params = self._where(record_type, selection)
            sql = f"SELECT COUNT(*) FROM {quote_identifier(record_type.table_name)} WHERE {where}"
            return int(fetch(self.connection, sql, params)[0][0])

    def counts(self, record_type: RecordType, selections: Sequence[Selection]) -> list[int]:
        """How many records match each selection: one ``SELECT`` (one scan) for up to 64.

        The terms every selection shares are the ``WHERE`` (so their index serves); each
        selection's own terms are one ``COUNT(CASE WHEN ... THEN 1 END)``.

        Example:
            >>> import privacy_kit as pk
            >>> from privacy_kit.adapters import where
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> users = dm.record_type("users")
            >>> db = SQLiteAdapter()
            >>> db.create_schema(dm)
            >>> db.insert(users, [{"id": i, "name": f"U{i}"} for i in range(1, 6)])
            5
            >>> db.counts(users, [where.in_("id", [1, 2]), where.eq("id", 5), where.eq("id", 9)])
            [2, 1, 0]
        """
        out: list[int] = []
        with self.wrap_errors("count", record_type):
            for start in range(0, len(selections), COUNTS_PER_STATEMENT):
                sql, params = count_aggregate(
                    self._where, record_type, selections[start : start + COUNTS_PER_STATEMENT]
                )
                out.extend(int(n) for n in fetch(self.connection, sql, params)[0])
        return out

    def counts_by_type(
        self, requests: Sequence[tuple[RecordType, Sequence[Selection]]]
    ) -> list[list[int]]:
        """:meth:`counts` of several record types (or groups of one) in one statement, each
        aggregate planned on its own (so each uses its own index). Plans use it."""
        with self.wrap_errors("count"):
            return count_by_type(
                self._where, lambda sql, p: fetch(self.connection, sql, p)[0], requests
            )

    def time_bounds(
        self, record_type: RecordType, selection: Selection, field: str, pieces: int
    ) -> list[dt.datetime]:
        """The first value of each of ``pieces`` equal pieces of ``field`` over ``selection``:
        one ``SELECT`` with ``NTILE`` (see :func:`~privacy_kit.adapters.time_bounds`)."""
        from ._bounds import ntile_sql  # noqa: PLC0415 - on use: opening a store does not need it

        with self.wrap_errors("time_bounds", record_type):
            where, params = self._where(record_type, selection)
            sql = ntile_sql(record_type.table_name, field, where, pieces)
            rows = fetch(self.connection, sql, params)
            return [v for (raw,) in rows if (v := parse_timestamp(raw)) is not None]

    def delete(
        self, record_type: RecordType, selection: Selection, *, batch_size: int | None = None
    ) -> int:
        """Delete the matching records; return how many were deleted.

        Without ``batch_size``: one ``DELETE ... WHERE <selection>`` in one transaction (the
        fastest plan on SQLite by far, see the module docstring). With it: one
        ``DELETE ... WHERE pk IN (SELECT pk ... LIMIT n)`` and one commit per batch, so other
        writers wait for at most one batch at a time.
        """
        check_batch_size(batch_size)
        table = quote_identifier(record_type.table_name)
        pk = f"{table}.{quote_identifier(record_type.primary_key)}"
        total = 0
        with self.wrap_errors("delete", record_type):
            where, params = self._where(record_type, selection)
            if batch_size is None:
                with self._batch() as conn:
                    return int(run(conn, f"DELETE FROM {table} WHERE {where}", params).rowcount)
            sql = (
                f"DELETE FROM {table} WHERE {pk} IN "
                f"(SELECT {pk} FROM {table} WHERE {where} LIMIT ?)"
            )
            while True:
                with self._batch() as conn:
                    deleted = run(conn, sql, [*params, batch_size]).rowcount
                total += deleted
                if deleted < batch_size:
                    return total

    def update(
        self,
        record_type: RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int | None = None,
    ) -> int:
        """Set constant ``values`` on the matching records; return how many were updated.

        Without ``batch_size``: one ``UPDATE ... WHERE <selection>`` (each record is visited
        once, also when the update changes the fields the selection reads). With it: one
        ``UPDATE`` per batch, walking the primary key, each batch its own transaction.
        """
        check_batch_size(batch_size)
        if not values:
            return self.count(record_type, selection)
        q = quote_identifier
        table = q(record_type.table_name)
        pk = f"{table}.{q(record_type.primary_key)}"
        total = 0
        with self.wrap_errors("update", record_type):
            where, params = self._where(record_type, selection)
            assignments = ", ".join(f"{q(f)} = ?" for f in values)
            bound = [to_store(record_type, f, v) for f, v in values.items()]
            if batch_size is None:
                with self._batch() as conn:
                    sql = f"UPDATE {table} SET {assignments} WHERE {where}"
                    return int(run(conn, sql, [*bound, *params]).rowcount)
            inner = f"SELECT {pk} FROM {table} WHERE ({where})"
            last: Any = None
            while True:
                after = "" if last is None else f" AND {pk} > ?"
                args = [*params] if last is None else [*params, last]
                with self._batch() as conn:
                    if _HAS_RETURNING:
                        keys = [
                            row[0]
                            for row in fetch(
                                conn,
                                f"UPDATE {table} SET {assignments} WHERE {pk} IN "
                                f"({inner}{after} ORDER BY {pk} LIMIT ?) RETURNING {pk}",
                                [*bound, *args, batch_size],
                            )
                        ]
                    else:  # pragma: no cover - SQLite older than 3.35 (2021) lacks RETURNING
                        keys = [
                            row[0]
                            for row in fetch(
                                conn, f"{inner}{after} ORDER BY {pk} LIMIT ?", [*args, batch_size]
                            )
                        ]
                        run(
                            conn,
                            f"UPDATE {table} SET {assignments} WHERE {pk} = ?",
                            [[*bound, key] for key in keys],
                            many=True,
                        )
                total += len(keys)
                if len(keys) < batch_size:
                    return total
                last = max(keys)

    def update_by_key(
        self,
        record_type: RecordType,
        changes: Sequence[tuple[RecordKey, Mapping[str, Any]]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Write per-record values by primary key with ``executemany``, one transaction per batch.

        Returns:
            How many of the keys were found (a missing key is skipped, not an error).
        """
        check_batch_size(batch_size)
        q = quote_identifier
        table = q(record_type.table_name)
        pk = f"{table}.{q(record_type.primary_key)}"
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        with self.wrap_errors("update_by_key", record_type):
            for key, values in changes:
                names = tuple(values)
                if names:
                    groups.setdefault(names, []).append(
                        [*(to_store(record_type, f, values[f]) for f in names), key]
                    )
            total = 0
            for names, rows in groups.items():
                sql = f"UPDATE {table} SET {', '.join(f'{q(f)} = ?' for f in names)} WHERE {pk} = ?"
                for start in range(0, len(rows), batch_size):
                    with self._batch() as conn:
                        total += run(
                            conn, sql, rows[start : start + batch_size], many=True
                        ).rowcount
        return total

    def verify(self, datamap: DataMap) -> list[Problem]:
        """Every table or column of ``datamap`` (for this adapter's store) missing from the database."""
        existing: dict[str, set[str] | None] = {}
        with self.wrap_errors("verify"):
            for rt in datamap.record_types:
                if not self.serves(rt):
                    continue
                columns = {
                    row[0]
                    for row in fetch(
                        self.connection, "SELECT name FROM pragma_table_info(?)", [rt.table_name]
                    )
                }
                existing[rt.table_name] = columns or None
        return missing_problems(datamap, self.store, existing)

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        """The database's foreign keys between ``record_types`` (one ``pragma_foreign_key_list``
        statement).

        Table names match case-insensitively, as SQLite's do. SQLite enforces them only with
        ``PRAGMA foreign_keys=ON``; privacy_kit deletes children first either way.

        Example:
            >>> import privacy_kit as pk
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> db = SQLiteAdapter()
            >>> db.create_schema(dm)
            >>> _ = db.connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, "
            ...                           "booking_id INTEGER REFERENCES bookings (id))")
            >>> notes = pk.RecordType(name="notes", store="main",
            ...                       fields=[{"name": "id"}, {"name": "booking_id"}])
            >>> db.foreign_keys([*dm.record_types, notes])
            (ForeignKey(record_type='notes', references='bookings', fields=('booking_id',), referenced_fields=('id',)),)
        """
        from ..model._order import ForeignKey  # noqa: PLC0415 - on use, as time_bounds' helper

        names: dict[str, list[str]] = {}
        for rt in record_types:
            if self.serves(rt):
                names.setdefault(rt.table_name.casefold(), []).append(rt.name)
        found: list[ForeignKey] = []
        tables = list(dict.fromkeys(rt.table_name for rt in record_types if self.serves(rt)))
        keys: dict[tuple[int, int], tuple[str, list[str], list[str]]] = {}
        import orjson  # noqa: PLC0415 - not imported by a first use

        with self.wrap_errors("foreign_keys"):
            for n, key_id, _seq, parent, column, referenced in fetch(
                self.connection,
                'SELECT t.key, p.id, p.seq, p."table", p."from", p."to" FROM json_each(?) AS t, '
                "pragma_foreign_key_list(t.value) AS p ORDER BY 1, 2, 3",
                [orjson.dumps(tables).decode()],
            ):
                entry = keys.setdefault((n, key_id), (parent, [], []))
                entry[1].append(column)
                if referenced is not None:
                    entry[2].append(referenced)
        for (n, _key), (parent, columns, referenced_columns) in keys.items():
            for child_name in names[tables[n].casefold()]:
                found.extend(
                    ForeignKey(child_name, parent_name, columns, referenced_columns)
                    for parent_name in names.get(parent.casefold(), ())
                )
        return tuple(dict.fromkeys(found))

    # -- extras: loading data and creating tables ---------------------------------------------
    def insert(
        self,
        record_type: RecordType | str,
        records: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Insert records (converted by field type), one ``executemany`` and commit per batch.

        Args:
            record_type: the record type (or a bare table name: values are then stored by their
                Python type).
            records: the records; consecutive records with the same keys share a statement.
            batch_size: records per transaction.

        Returns:
            How many records were inserted.
        """
        check_batch_size(batch_size)
        rt = record_type if isinstance(record_type, RecordType) else None
        table = rt.table_name if rt is not None else str(record_type)
        total = 0
        with self.wrap_errors("insert", rt or table):
            names: tuple[str, ...] | None = None
            rows: list[list[Any]] = []
            converted: list[tuple[int, Callable[[Any], Any]]] = []

            def flush() -> int:
                if not rows or names is None:
                    return 0
                sql = (
                    f"INSERT INTO {quote_identifier(table)} "
                    f"({', '.join(map(quote_identifier, names))}) "
                    f"VALUES ({', '.join('?' * len(names))})"
                )
                with self._batch() as conn:
                    run(conn, sql, rows, many=True)
                done = len(rows)
                rows.clear()
                return done

            for record in records:
                keys = tuple(record)
                if keys != names:
                    total += flush()
                    names = keys
                    converted = [
                        (i, w) for i, f in enumerate(keys) if (w := writer(rt, f)) is not None
                    ]
                row = list(record.values())
                for i, write in converted:
                    if row[i] is not None:
                        row[i] = write(row[i])
                rows.append(row)
                if len(rows) >= batch_size:
                    total += flush()
            total += flush()
        return total

    def create_schema(self, datamap: DataMap) -> None:
        """Create the tables ``datamap`` describes (if missing), with indexes for privacy_kit's lookups.

        Each served record type gets a table with its declared fields (typed by ``FieldSpec.type``,
        the primary key declared as such) and an index on every subject-link field, account field
        and timestamp field. Meant for demos, tests and benchmarks; production schemas are yours.
        """
        q = quote_identifier
        with self.wrap_errors("create_schema"), self._batch() as conn:
            for rt in datamap.record_types:
                if not self.serves(rt):
                    continue
                columns = []
                for f in rt.fields:
                    column = f"{q(f.name)} {_SQL_TYPES[f.type]}"
                    if f.name == rt.primary_key:
                        column += " PRIMARY KEY" if f.type == "integer" else " NOT NULL PRIMARY KEY"
                    columns.append(column)
                run(conn, f"CREATE TABLE IF NOT EXISTS {q(rt.table_name)} ({', '.join(columns)})")
                for field in indexed_fields(rt):
                    run(
                        conn,
                        f"CREATE INDEX IF NOT EXISTS {q(f'ix_{rt.table_name}_{field}')} "
                        f"ON {q(rt.table_name)} ({q(field)})",
                    )

    def drop_schema(self, datamap: DataMap) -> None:
        """Drop the tables of ``datamap``'s served record types (if they exist)."""
        with self.wrap_errors("drop_schema"), self._batch() as conn:
            for rt in datamap.record_types:
                if self.serves(rt):
                    run(conn, f"DROP TABLE IF EXISTS {quote_identifier(rt.table_name)}")

    def close(self) -> None:
        """Close the connection if the adapter opened it (a connection you passed stays open)."""
        if self._owned:
            self.connection.close()


def indexed_fields(record_type: RecordType) -> list[str]:
    """The fields privacy_kit looks records up by: subject links, account link and timestamps.

    Example:
        >>> import privacy_kit as pk
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> indexed_fields(dm.record_type("bookings"))
        ['host_id', 'invitee_email', 'start_at', 'end_at', 'created_at']
    """
    wanted = [s.field for s in record_type.subjects]
    if record_type.account is not None:
        wanted.append(record_type.account.field)
    wanted.extend(f.name for f in record_type.fields if f.type == "timestamp")
    return [f for f in dict.fromkeys(wanted) if f != record_type.primary_key]
