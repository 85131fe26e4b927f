"""The SQLAlchemy adapter: SQLAlchemy 2 Core over any dialect (PostgreSQL, MariaDB/MySQL, ...).

Tables are described from the data map (no reflection needed to read or write), selections compile
to SQLAlchemy expressions, and every value is a bound parameter. A delete of a selection runs the
database's own plan (PostgreSQL: ranges of blocks; elsewhere one statement; see
:mod:`._sqlalchemy_write`), or one statement per batch when given a ``batch_size``. An update is
one statement, or walks the primary key in batches when given a ``batch_size``; reads walk the
primary key in batches. An ``IN`` list is one bound parameter whatever its length. Every
statement gets its connection from :mod:`._sqlalchemy_conn` (``atomic()``, ``reading()``).

Timestamps are stored in UTC and always come back timezone-aware: as ``TIMESTAMP WITH TIME ZONE``
on PostgreSQL, as ``DATETIME(6)`` holding UTC on MariaDB/MySQL (which has no zone-aware type).

Needs the ``privacy-kit[sqlalchemy]`` extra, plus a driver (``[postgres]``: psycopg 3,
``[mysql]``: PyMySQL).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql
except ImportError as exc:  # pragma: no cover - exercised in the core-only test environment
    raise ImportError(
        "SQLAlchemyAdapter needs SQLAlchemy 2: pip install 'privacy-kit[sqlalchemy]'"
    ) from exc

from .._errors import Problem
from ..model._datamap import DataMap, FieldSpec, RecordType
from ..model._order import ForeignKey
from . import _statement_log
from ._base import (
    WRITE_BATCH,
    Capability,
    Record,
    RecordKey,
    check_batch_size,
    missing_problems,
)
from ._partition import PartitionMode
from ._pg_partitions import PartitionAware, lock_timeout, partition_mode
from ._selection import Selection
from ._sql import comparable_values
from ._sqlalchemy_blocks import pg_block_bounds
from ._sqlalchemy_bounds import ntile_firsts
from ._sqlalchemy_cache import compiled_statements, shared_table
from ._sqlalchemy_fk import (
    FkRow,
    inspected_foreign_keys,
    mysql_foreign_keys,
    postgres_foreign_keys,
)
from ._sqlalchemy_in import Binder, in_list, recheck_condition
from ._sqlalchemy_where import where_clause
from ._sqlalchemy_write import (
    count_by_type,
    count_many,
    count_selection,
    delete_selection,
    needs_locked_keys,
    page_query,
    update_selection,
)
from ._sqlite import indexed_fields

__all__ = ["SQLAlchemyAdapter"]


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored in UTC on every dialect.

    Bound values must be aware (a naive one is refused); results are aware UTC datetimes, also
    where the column type keeps no zone (MariaDB ``DATETIME``: the stored value is read as UTC).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime) or value.utcoffset() is None:
            raise ValueError(f"a timestamp must be a timezone-aware datetime, got {value!r}")
        utc = value.astimezone(dt.UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        parsed: dt.datetime = (
            value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
        )
        if parsed.utcoffset() is None:
            return parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)


def _column_type(field: FieldSpec, *, indexed: bool) -> sa.types.TypeEngine[Any]:
    if field.type == "text":
        # Keys and indexed text need a bounded type (MariaDB cannot index TEXT without a prefix).
        return sa.String(255) if indexed else sa.Text()
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "integer": sa.BigInteger(),
        "real": sa.Double(),
        "boolean": sa.Boolean(),
        "timestamp": UTCDateTime(),
        "date": sa.Date(),
        "json": sa.JSON(none_as_null=True),
    }
    return types[field.type]


def _describes(table: sa.Table, record_type: RecordType) -> bool:
    """Whether ``table`` was built for ``record_type``'s fields: names, kinds and primary key (two
    record types over one table may name the same columns with other kinds)."""
    pk = record_type.primary_key
    return [(c.key, c.info.get("kind"), c.primary_key) for c in table.c] == [
        (f.name, f.type, f.name == pk) for f in record_type.fields
    ]


def _short_name(prefix: str, table: str, field: str) -> str:
    """An index name within the 63/64-character limits of PostgreSQL and MariaDB."""
    name = f"{prefix}_{table}_{field}"
    if len(name) <= 60:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{prefix}_{digest}"


class SQLAlchemyAdapter(PartitionAware):
    """Records in any database SQLAlchemy 2 reaches.

    Args:
        engine: an :class:`sqlalchemy.engine.Engine`, or a database URL (the adapter then owns the
            engine and disposes of it on ``close()``).
        name: shown in errors and reports.
        store: the data-map store this adapter serves (``None``: any).
        schema: the database schema holding the tables (``None``: the default one).
        partitions: on PostgreSQL, how sweeps remove the partitions a delete covers whole:
            ``"drop"`` (the default), ``"truncate"`` or ``"off"`` (see ``partition_survey``).
        partition_lock_timeout: seconds removing a partition waits for its locks (default 5).

    Example:
        >>> import privacy_kit as pk
        >>> from privacy_kit.adapters import SQLAlchemyAdapter, where
        >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
        >>> users = dm.record_type("users")
        >>> with SQLAlchemyAdapter("sqlite://") as db:
        ...     db.create_schema(dm)
        ...     db.insert(users, [{"id": 1, "email": "a@example.com"}, {"id": 2, "email": None}])
        ...     db.count(users, where.not_null("email"))
        2
        1
    """

    capabilities = frozenset(
        {
            Capability.COUNT,
            Capability.BULK_UPDATE_BY_KEY,
            Capability.TRANSACTIONS,
            Capability.FOREIGN_KEYS,
            Capability.RELATED,
            Capability.TIME_BOUNDS,
            Capability.ATOMIC,
        }
    )

    def __init__(
        self,
        engine: sa.Engine | str,
        *,
        name: str | None = None,
        store: str | None = None,
        schema: str | None = None,
        partitions: PartitionMode | None = None,
        partition_lock_timeout: float | None = None,
    ) -> None:
        super().__init__(name=name, store=store)
        if isinstance(engine, str):
            with self.wrap_errors("connect"):
                # Statements compiled by the adapters' earlier engines of the same kind are
                # reused (see ._sqlalchemy_cache); an engine passed in keeps its own cache.
                shared = {"compiled_cache": compiled_statements()}
                self.engine = sa.create_engine(engine, execution_options=shared)
            self._owned = True
        else:
            self.engine = engine
            self._owned = False
        _statement_log.watch(self.engine)  # DEBUG: one line per statement (privacy_kit.adapters)
        self.schema = schema
        self._metadata = sa.MetaData(schema=schema)
        self._tables: dict[str, sa.Table] = {}
        self._mysql = self.engine.dialect.name in {"mysql", "mariadb"}
        self._json_names = itertools.count()
        self.partitions = partition_mode(partitions, self.engine.dialect.name)
        self.partition_lock_timeout = lock_timeout(partition_lock_timeout)
        if self.partitions != "off":
            self.capabilities = self.capabilities | {Capability.PARTITIONS}
        if self.engine.dialect.name == "postgresql":
            self.capabilities = self.capabilities | {Capability.BLOCK_RANGES}

    # -- tables and expressions ---------------------------------------------------------------
    def table(self, record_type: RecordType) -> sa.Table:
        """The :class:`sqlalchemy.Table` describing ``record_type`` (built from the data map)."""
        key = record_type.table_name
        cached = self._tables.get(key)
        if cached is not None and _describes(cached, record_type):
            return cached
        indexed = set(indexed_fields(record_type))
        pk_name = record_type.primary_key
        options: dict[str, Any] = {}
        if self._mysql:
            if not getattr(self.engine.dialect, "server_version_info", None):
                with self.engine.connect():  # the dialect learns MariaDB vs MySQL on connect
                    pass
            is_mariadb = bool(getattr(self.engine.dialect, "is_mariadb", False))
            options = {
                "mysql_charset": "utf8mb4",
                # Binary, no-pad collation: comparisons are exact, as in memory, SQLite and
                # PostgreSQL (the default collation ignores case and trailing spaces).
                "mysql_collate": "utf8mb4_nopad_bin" if is_mariadb else "utf8mb4_0900_bin",
            }

        def build(metadata: sa.MetaData) -> sa.Table:
            columns = [
                sa.Column(
                    f.name,
                    _column_type(f, indexed=f.name in indexed or f.name == pk_name),
                    primary_key=f.name == pk_name,
                    autoincrement=False,
                    info={"kind": f.type},  # what an IN list's values must be to equal its values
                )
                for f in record_type.fields
            ]
            table = sa.Table(key, metadata, *columns, **options)
            for field in indexed_fields(record_type):
                # Deterministic, length-safe names whatever the table and field names are.
                sa.Index(_short_name("ix", key, field), table.c[field])
            return table

        # One Table per description and process, shared by adapters (see ._sqlalchemy_cache).
        shape = tuple(
            (f.name, f.type, f.name in indexed, f.name == pk_name) for f in record_type.fields
        )
        described = (
            self.engine.dialect.name,
            self.schema,
            key,
            shape,
            tuple(indexed_fields(record_type)),
            tuple(sorted(options.items())),
        )
        self._tables[key] = shared_table(described, build, self.schema)
        return self._tables[key]

    def _column(self, table: sa.Table, field: str) -> sa.Column[Any]:
        try:
            return table.c[field]
        except KeyError:
            raise LookupError(f"table {table.name!r} has no column {field!r}") from None

    def _where(self, table: sa.Table, selection: Selection) -> sa.ColumnElement[bool]:
        """``selection`` as a condition on ``table``, its values in anonymous parameters (see
        :mod:`._sqlalchemy_where` for statements built once per shape)."""
        binder = Binder(named=False, next_name=self._json_name)
        return where_clause(self, table, selection, binder)

    def _json_name(self) -> str:
        """A fresh name for a ``JSON_TABLE`` alias and its parameter (unique within the adapter)."""
        return f"pk_json_{next(self._json_names)}"

    def _in(
        self, column: sa.Column[Any], listed: Sequence[Any], *, plain: bool = False
    ) -> sa.ColumnElement[bool]:
        """``column IN listed`` in one bound parameter (see :func:`._sqlalchemy_in.in_list`)."""
        return in_list(
            column,
            listed,
            dialect=self.engine.dialect.name,
            next_name=self._json_name,
            plain=plain,
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
        """Yield matching records in batches of at most ``batch_size``, in primary-key order.

        Each batch is one query resuming after the last key seen (keyset pagination): no cursor
        or transaction stays open between batches.
        """
        check_batch_size(batch_size)
        pk_name = record_type.primary_key
        names = list(fields) if fields is not None else list(record_type.field_names)
        with self.wrap_errors("read", record_type):
            table = self.table(record_type)
            pk = self._column(table, pk_name)
            columns = [self._column(table, n) for n in names]
            if pk_name not in names:
                columns.append(pk)
        last: Any = None
        while True:
            with self.wrap_errors("read", record_type):
                query, params = page_query(
                    self, table, selection, columns, pk, last=last, batch_size=batch_size
                )
                with self._connect() as conn:
                    rows = conn.execute(query, params).all()
            if rows:
                last = rows[-1]._mapping[pk_name]
                yield [{n: row._mapping[n] for n in names} for row in rows]
            if len(rows) < batch_size:
                return

    def count(self, record_type: RecordType, selection: Selection) -> int:
        """How many records match (one ``SELECT COUNT(*)``)."""
        with self.wrap_errors("count", record_type):
            return count_selection(self, record_type, selection)

    def counts(self, record_type: RecordType, selections: Sequence[Selection]) -> list[int]:
        """How many records match each selection: one ``SELECT`` (one scan) for up to 64.

        The terms every selection shares are the ``WHERE``; each selection's own terms are one
        ``COUNT(CASE WHEN ... THEN 1 END)``.
        """
        with self.wrap_errors("count", record_type):
            return count_many(self, record_type, selections)

    def time_bounds(
        self, record_type: RecordType, selection: Selection, field: str, pieces: int
    ) -> list[dt.datetime]:
        """The first value of each of ``pieces`` equal pieces of ``field`` over ``selection``:
        one ``SELECT`` with ``NTILE`` (see :func:`~privacy_kit.adapters.time_bounds`)."""
        with self.wrap_errors("time_bounds", record_type):
            return ntile_firsts(self, record_type, selection, field, pieces)

    def block_bounds(self, record_type: RecordType, pieces: int) -> tuple[int, ...]:
        """Block numbers cutting the table into about ``pieces`` ranges (PostgreSQL, plain
        tables; see :func:`~privacy_kit.adapters.block_bounds`)."""
        with self.wrap_errors("block_bounds", record_type):
            return pg_block_bounds(self, record_type, pieces)

    def counts_by_type(
        self, requests: Sequence[tuple[RecordType, Sequence[Selection]]]
    ) -> list[list[int]]:
        """:meth:`counts` of several record types in one statement (one round trip; each table
        is still scanned once). Plans use it for every table they count."""
        with self.wrap_errors("count"):
            return count_by_type(self, requests)

    def delete(
        self, record_type: RecordType, selection: Selection, *, batch_size: int | None = None
    ) -> int:
        """Delete the matching records; return how many were deleted.

        Without ``batch_size``: the database's own plan (PostgreSQL: ranges of blocks of about
        125,000 rows, each one ``DELETE`` and transaction; MariaDB/MySQL and others: one
        ``DELETE``, see :mod:`privacy_kit.adapters._sqlalchemy_write`). With it: one ``DELETE``
        and transaction per batch of at most ``batch_size`` records.
        """
        check_batch_size(batch_size)
        with self.wrap_errors("delete", record_type):
            return delete_selection(self, record_type, selection, batch_size)

    def update(
        self,
        record_type: RecordType,
        selection: Selection,
        values: Mapping[str, Any],
        *,
        batch_size: int | None = None,
    ) -> int:
        """Set constant ``values`` on the matching records; return how many were updated.

        Without ``batch_size``: one ``UPDATE ... WHERE <selection>`` (on MariaDB/MySQL, when the
        selection reads another table or binds a long ``IN`` list, batches of
        :data:`~privacy_kit.adapters.WRITE_BATCH` locked keys instead). With it: each batch
        reads the next ``batch_size`` matching keys after the last one seen and updates them with
        one statement, in one transaction; walking the key means an update that changes the
        fields the selection reads still visits each record exactly once.
        """
        check_batch_size(batch_size)
        if not values:
            return self.count(record_type, selection)
        total = 0
        with self.wrap_errors("update", record_type):
            table = self.table(record_type)
            for field in values:
                self._column(table, field)
            pk = self._column(table, record_type.primary_key)
            if batch_size is None:
                if not (self._mysql and needs_locked_keys(selection)):
                    return update_selection(self, table, selection, values)
                batch_size = WRITE_BATCH
            condition = self._where(table, selection)
            last: Any = None
            while True:
                query = sa.select(pk).where(condition)
                if last is not None:
                    query = query.where(pk > last)
                if self._mysql:  # locked keys need no second look at the condition (see delete)
                    query = query.with_for_update()
                with self._begin() as conn:
                    keys = list(conn.scalars(query.order_by(pk).limit(batch_size)))
                    if keys:
                        recheck = (
                            recheck_condition(selection, condition) if self._mysql else (condition,)
                        )
                        statement = sa.update(table).where(self._in(pk, keys, plain=True), *recheck)
                        total += conn.execute(statement.values(dict(values))).rowcount
                if len(keys) < batch_size:
                    return total
                last = keys[-1]

    def update_by_key(
        self,
        record_type: RecordType,
        changes: Sequence[tuple[RecordKey, Mapping[str, Any]]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Write per-record values by primary key: one ``executemany`` and transaction per batch.

        Returns:
            How many of the keys were found (a missing key is skipped, not an error).
        """
        check_batch_size(batch_size)
        total = 0
        with self.wrap_errors("update_by_key", record_type):
            table = self.table(record_type)
            pk = self._column(table, record_type.primary_key)
            kind, strict = pk.info.get("kind"), self.engine.dialect.name != "sqlite"
            groups: dict[tuple[str, ...], list[tuple[RecordKey, Mapping[str, Any]]]] = {}
            for key, values in changes:
                # A key no primary key can equal is missing ("2abc": MariaDB would write 2).
                usable = comparable_values(kind, [key], strict_text=strict)
                if values and usable and usable[0] is not None:
                    groups.setdefault(tuple(values), []).append((usable[0], values))
            for names, items in groups.items():
                statement = (
                    sa.update(table)
                    .where(pk == sa.bindparam("_pk_", type_=pk.type))
                    .values(
                        {
                            n: sa.bindparam(f"_v{i}_", type_=self._column(table, n).type)
                            for i, n in enumerate(names)
                        }
                    )
                )
                for start in range(0, len(items), batch_size):
                    chunk = items[start : start + batch_size]
                    params = [
                        {"_pk_": key, **{f"_v{i}_": values[n] for i, n in enumerate(names)}}
                        for key, values in chunk
                    ]
                    with self._begin() as conn:
                        # Count the keys that exist: drivers disagree on executemany row counts.
                        found = conn.scalar(
                            sa.select(sa.func.count())
                            .select_from(table)
                            .where(self._in(pk, [key for key, _ in chunk]))
                        )
                        conn.execute(statement, params)
                    total += int(found or 0)
        return total

    def verify(self, datamap: DataMap) -> list[Problem]:
        """Every table or column of ``datamap`` (for this adapter's store) missing in the database."""
        existing: dict[str, set[str] | None] = {}
        with self.wrap_errors("verify"):
            served = [rt for rt in datamap.record_types if self.serves(rt)]
            if self._mysql:
                # information_schema, not reflection: SQLAlchemy's MySQL reflection parses
                # SHOW CREATE TABLE and misreads names containing backticks.
                query = sa.text(
                    "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table"
                )
                with self._connect() as conn:
                    for rt in served:
                        names = conn.scalars(query, {"schema": self.schema, "table": rt.table_name})
                        existing[rt.table_name] = set(names) or None
            else:
                with self._connect() as conn:
                    inspector = sa.inspect(conn)
                    tables = set(inspector.get_table_names(schema=self.schema))
                    for rt in served:
                        existing[rt.table_name] = (
                            {
                                c["name"]
                                for c in inspector.get_columns(rt.table_name, schema=self.schema)
                            }
                            if rt.table_name in tables
                            else None
                        )
        return missing_problems(datamap, self.store, existing)

    def foreign_keys(self, record_types: Sequence[RecordType]) -> tuple[ForeignKey, ...]:
        """The database's foreign keys between ``record_types`` (within the adapter's schema).

        Read in one query: on PostgreSQL from ``pg_constraint``; on MariaDB/MySQL from
        ``information_schema.KEY_COLUMN_USAGE`` (as :meth:`verify` does); elsewhere with
        SQLAlchemy's inspector (``get_multi_foreign_keys``).

        Example:
            >>> import privacy_kit as pk
            >>> dm = pk.load_datamap(pk.example_path("datamap.yaml"))
            >>> with SQLAlchemyAdapter("sqlite://") as db:
            ...     db.create_schema(dm)
            ...     db.foreign_keys(dm.record_types)
            ()
        """
        names: dict[str, list[str]] = {}
        for rt in record_types:
            if self.serves(rt):
                names.setdefault(rt.table_name, []).append(rt.name)
        rows: list[FkRow] = []
        with self.wrap_errors("foreign_keys"):
            if self._mysql:
                with self._connect() as conn:
                    rows = mysql_foreign_keys(conn, self.schema, list(names))
            elif names and self.engine.dialect.name == "postgresql":
                with self._connect() as conn:
                    rows = postgres_foreign_keys(conn, self.schema, list(names))
            elif names:
                with self._connect() as conn:
                    rows = inspected_foreign_keys(conn, self.schema, list(names))
        return tuple(
            dict.fromkeys(
                ForeignKey(child, parent, columns, referenced)
                for table, parent_table, columns, referenced in rows
                for child in names.get(table, ())
                for parent in names.get(parent_table, ())
            )
        )

    # -- extras: loading data and creating tables ---------------------------------------------
    def insert(
        self,
        record_type: RecordType,
        records: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 1000,
    ) -> int:
        """Insert records, one multi-row ``INSERT`` (executemany) and transaction per batch.

        Returns:
            How many records were inserted.
        """
        check_batch_size(batch_size)
        total = 0
        with self.wrap_errors("insert", record_type):
            table = self.table(record_type)
            batch: list[dict[str, Any]] = []
            names: tuple[str, ...] | None = None
            for record in records:
                keys = tuple(record)
                if batch and (keys != names or len(batch) >= batch_size):
                    total += self._insert_batch(table, batch)
                    batch = []
                names = keys
                batch.append(dict(record))
            if batch:
                total += self._insert_batch(table, batch)
        return total

    def _insert_batch(self, table: sa.Table, batch: list[dict[str, Any]]) -> int:
        with self._begin() as conn:
            conn.execute(sa.insert(table), batch)
        return len(batch)

    def create_schema(self, datamap: DataMap) -> None:
        """Create the tables ``datamap`` describes (if missing), with their lookup indexes.

        Types follow ``FieldSpec.type``; subject-link, account and timestamp fields are indexed.
        Meant for demos, tests and benchmarks; production schemas are yours.
        """
        with self.wrap_errors("create_schema"):
            tables = [self.table(rt) for rt in datamap.record_types if self.serves(rt)]
            with self._begin() as conn:
                self._metadata.create_all(conn, tables=tables)

    def drop_schema(self, datamap: DataMap) -> None:
        """Drop the tables of ``datamap``'s served record types (if they exist)."""
        with self.wrap_errors("drop_schema"):
            tables = [self.table(rt) for rt in datamap.record_types if self.serves(rt)]
            with self._begin() as conn:
                self._metadata.drop_all(conn, tables=tables)

    def close(self) -> None:
        """Dispose of the engine if the adapter created it (an engine you passed stays yours)."""
        if self._owned:
            self.engine.dispose()
