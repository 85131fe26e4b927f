"""The SQLAlchemy state store: shared state in PostgreSQL or MariaDB/MySQL, for every process of
every host that connects to the database.

Needs the ``privacy-kit[sqlalchemy]`` extra and a driver (``[postgres]``: psycopg 3, ``[mysql]``:
PyMySQL). Every operation is one short ``READ COMMITTED`` transaction: a read-modify-write locks
the row (``SELECT ... FOR UPDATE``), a log append locks the collection's counter row (so sequence
numbers have no gaps), a first writer that loses an insert race (a unique violation) or a deadlock
is retried. Keys sort in code point order on both databases (``COLLATE "C"`` on PostgreSQL,
``VARBINARY`` holding UTF-8 on MariaDB/MySQL, whose text collations ignore case and trailing
spaces). The tables are those of :class:`~privacy_kit.audit.SqliteStateStore`, created and
migrated under a lock (``pg_advisory_xact_lock`` / ``GET_LOCK``) so that processes starting together
migrate once. Identifiers are quoted by SQLAlchemy and every value is a bound parameter.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

try:
    import sqlalchemy as sa
    from sqlalchemy.dialects import mysql, postgresql
except ImportError as exc:  # pragma: no cover - exercised in the core-only test environment
    raise ImportError(
        "SQLAlchemyStateStore needs SQLAlchemy 2: pip install 'privacy-kit[sqlalchemy]'"
    ) from exc

from ._state import (
    MAX_KEY_BYTES,
    SCHEMA_VERSION,
    LogEntry,
    SchemaMigration,
    StateConflictError,
    StateError,
    StateValueError,
    StoredDocument,
    check_prefix,
    decode_document,
    new_secret,
)
from ._state_base import BaseStateStore, Decide, _Unchanged

__all__ = ["SQLAlchemyStateStore"]

T = TypeVar("T")
_COMPONENT = "state"
_MYSQL = frozenset({"mysql", "mariadb"})
_DIALECTS = frozenset({"postgresql"}) | _MYSQL
_RETRIES = 30
# unique violation, deadlock, serialisation failure (PostgreSQL SQLSTATE; MySQL error numbers)
_RETRY_SQLSTATES = frozenset({"23505", "40P01", "40001"})
_RETRY_MYSQL = frozenset({1062, 1213})
_DRIVER_EXTRA = {"psycopg": "postgres", "psycopg2": "postgres", "pymysql": "mysql"}


class _Key(sa.types.TypeDecorator[str]):
    """A key compared and sorted by code point: ``TEXT COLLATE "C"`` / UTF-8 in ``VARBINARY``."""

    impl = sa.String(MAX_KEY_BYTES)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name in _MYSQL:
            return dialect.type_descriptor(mysql.VARBINARY(MAX_KEY_BYTES))
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.TEXT(collation="C"))
        return dialect.type_descriptor(sa.String(MAX_KEY_BYTES))  # pragma: no cover

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return value.encode("utf-8") if dialect.name in _MYSQL and value is not None else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> str | None:
        return bytes(value).decode("utf-8") if isinstance(value, bytes | bytearray) else value


_DOCUMENT = sa.Text().with_variant(
    mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
)
_NAME = sa.String(128)


class _Tables:
    """The store's tables for one prefix."""

    def __init__(self, prefix: str) -> None:
        self.metadata = sa.MetaData()
        opts: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}
        md = self.metadata
        self.schema = sa.Table(
            f"{prefix}schema",
            md,
            sa.Column("component", sa.String(64), primary_key=True),
            sa.Column("version", sa.Integer, nullable=False),
            **opts,
        )
        self.state = sa.Table(
            f"{prefix}state",
            md,
            sa.Column("collection", _NAME, primary_key=True),
            sa.Column("key", _Key(), primary_key=True),
            sa.Column("version", sa.BigInteger, nullable=False),
            sa.Column("document", _DOCUMENT, nullable=False),
            **opts,
        )
        self.log = sa.Table(
            f"{prefix}state_log",
            md,
            sa.Column("collection", _NAME, primary_key=True),
            sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("document", _DOCUMENT, nullable=False),
            **opts,
        )
        self.sequences = sa.Table(
            f"{prefix}state_sequences",
            md,
            sa.Column("collection", _NAME, primary_key=True),
            sa.Column("last_seq", sa.BigInteger, nullable=False),
            **opts,
        )
        self.secrets = sa.Table(
            f"{prefix}state_secrets",
            md,
            sa.Column("name", _NAME, primary_key=True),
            sa.Column("value", sa.String(128), nullable=False),
            **opts,
        )


def _v1(conn: sa.Connection, tables: _Tables) -> None:
    for table in (tables.state, tables.log, tables.sequences, tables.secrets):
        table.create(conn, checkfirst=True)


MIGRATIONS: dict[int, Callable[[sa.Connection, _Tables], None]] = {1: _v1}
"""Schema version -> the step that brings the version before to it."""


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in _RETRY_SQLSTATES:
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] in _RETRY_MYSQL


def _engine_for(url_or_engine: str | sa.engine.URL | sa.Engine) -> tuple[sa.Engine, bool]:
    if isinstance(url_or_engine, sa.Engine):
        return url_or_engine, False
    try:
        return sa.create_engine(url_or_engine, pool_pre_ping=True), True
    except ModuleNotFoundError as exc:
        extra = _DRIVER_EXTRA.get((exc.name or "").split(".")[0])
        hint = (
            f"pip install 'privacy-kit[{extra}]'"
            if extra
            else "install it, or use psycopg ('privacy-kit[postgres]') or PyMySQL "
            "('privacy-kit[mysql]')"
        )
        raise ImportError(
            f"SQLAlchemyStateStore: the database driver {exc.name!r} is not installed: {hint}"
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise StateValueError(f"SQLAlchemyStateStore: not a database URL: {exc}") from exc


class SQLAlchemyStateStore(BaseStateStore):
    """Shared state in PostgreSQL or MariaDB/MySQL: every process connected to the database shares it.

    Args:
        url_or_engine: a database URL (``postgresql+psycopg://...``, ``mysql+pymysql://...``),
            or an SQLAlchemy ``Engine`` (not disposed by :meth:`close`).
        prefix: the tables' name prefix (``privacy_kit_``).

    Opening the store creates or migrates its tables (:attr:`migration` says what it found); a
    database written by a newer privacy_kit is refused. SQLite is refused too: use
    :class:`~privacy_kit.audit.SqliteStateStore`, which locks the way SQLite needs.

    Usage (against a running server)::

        store = SQLAlchemyStateStore("postgresql+psycopg://app@db/app")
        store.put("holds", "hold_1", {"reason": "case 12"}, if_absent=True)
        secret = store.secret()  # the same bytes in every process

    Raises:
        ImportError: SQLAlchemy or the URL's driver is not installed (names the extra to install).
        StateValueError: a dialect other than PostgreSQL and MariaDB/MySQL, or a bad URL.
        StateError: the database cannot be reached, or its schema is newer than this version knows.

    Example:
        >>> SQLAlchemyStateStore("sqlite://")
        Traceback (most recent call last):
        ...
        privacy_kit.audit._state.StateValueError: SQLAlchemyStateStore: the sqlite dialect is not supported (PostgreSQL, MariaDB and MySQL are); for SQLite use SqliteStateStore
    """

    name = "SQLAlchemyStateStore"

    def __init__(
        self, url_or_engine: str | sa.engine.URL | sa.Engine, *, prefix: str = "privacy_kit_"
    ) -> None:
        self.prefix = check_prefix(prefix)
        self.engine, self._owned = _engine_for(url_or_engine)
        self.dialect = self.engine.dialect.name
        if self.dialect not in _DIALECTS:
            if self._owned:
                self.engine.dispose()
            hint = "; for SQLite use SqliteStateStore" if self.dialect == "sqlite" else ""
            raise StateValueError(
                f"SQLAlchemyStateStore: the {self.dialect} dialect is not supported "
                f"(PostgreSQL, MariaDB and MySQL are){hint}"
            )
        url = self.engine.url.render_as_string(hide_password=True)
        self.name = f"SQLAlchemyStateStore({url!r})"
        self._tables = _Tables(self.prefix)
        self._mysql = self.dialect in _MYSQL
        self.migration = self.migrate()

    # -- transactions ---------------------------------------------------------------------------
    @contextmanager
    def _errors(self, operation: str, target: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.SQLAlchemyError as exc:
            raise StateError(f"{self.name}: {operation} {target}: {exc}") from exc

    def _run(self, operation: str, target: str, work: Callable[[sa.Connection], T]) -> T:
        """``work`` in one READ COMMITTED transaction, retried when it lost a race."""
        for attempt in range(_RETRIES):
            try:
                with self.engine.connect() as raw:
                    conn = raw.execution_options(isolation_level="READ COMMITTED")
                    with conn.begin():
                        return work(conn)
            except sa.exc.DBAPIError as exc:
                if attempt + 1 < _RETRIES and _retryable(exc):
                    time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.1)))  # noqa: S311
                    continue
                raise StateError(f"{self.name}: {operation} {target}: {exc}") from exc
            except sa.exc.SQLAlchemyError as exc:
                raise StateError(f"{self.name}: {operation} {target}: {exc}") from exc
        raise StateError(  # pragma: no cover - the loop returns or raises
            f"{self.name}: {operation} {target}: gave up after {_RETRIES} attempts"
        )

    def _insert_if_absent(self, table: sa.Table, values: dict[str, Any]) -> Any:
        if self._mysql:
            ins = mysql.insert(table).values(**values)
            first = next(iter(values))
            return ins.on_duplicate_key_update({first: ins.inserted[first]})
        return postgresql.insert(table).values(**values).on_conflict_do_nothing()

    # -- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version of the tables in the database (0: none yet)."""
        schema = self._tables.schema
        with self._errors("schema_version", "schema"), self.engine.connect() as conn:
            if not sa.inspect(conn).has_table(schema.name):
                return 0
            found = conn.execute(
                sa.select(schema.c.version).where(schema.c.component == _COMPONENT)
            ).scalar()
        return 0 if found is None else int(found)

    def migrate(self) -> SchemaMigration:
        """Create or upgrade the tables to :data:`SCHEMA_VERSION`, holding a database lock.

        Returns:
            The version found and the version now (equal if nothing had to change).

        Raises:
            StateError: the database's schema is newer than this version of privacy_kit knows.
        """
        schema = self._tables.schema
        lock = f"privacy_kit:{self.prefix}state"
        with self._errors("migrate", "schema"), self.engine.connect() as conn:
            if self._mysql:
                got = conn.execute(sa.text("SELECT GET_LOCK(:n, 60)"), {"n": lock}).scalar()
                if got != 1:
                    raise StateError(f"{self.name}: migrate: could not take the lock {lock!r}")
            try:
                if not self._mysql:
                    key = int.from_bytes(
                        hashlib.sha256(lock.encode()).digest()[:8], "big", signed=True
                    )
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
                schema.create(conn, checkfirst=True)
                found = conn.execute(
                    sa.select(schema.c.version).where(schema.c.component == _COMPONENT)
                ).scalar()
                before = 0 if found is None else int(found)
                if before > SCHEMA_VERSION:
                    raise StateError(
                        f"{self.name}: the state tables are at schema version {before}, newer "
                        f"than this privacy_kit knows ({SCHEMA_VERSION}); upgrade privacy_kit"
                    )
                for version in range(before + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[version](conn, self._tables)
                if found is None:
                    conn.execute(
                        sa.insert(schema).values(component=_COMPONENT, version=SCHEMA_VERSION)
                    )
                elif before != SCHEMA_VERSION:
                    conn.execute(
                        sa.update(schema)
                        .where(schema.c.component == _COMPONENT)
                        .values(version=SCHEMA_VERSION)
                    )
                conn.commit()
            finally:
                if self._mysql:
                    conn.rollback()
                    conn.execute(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": lock})
                    conn.commit()
        return SchemaMigration(before, SCHEMA_VERSION)

    # -- the primitives -------------------------------------------------------------------------
    def _read(self, collection: str, key: str) -> StoredDocument | None:
        t = self._tables.state
        query = sa.select(t.c.document, t.c.version).where(
            t.c.collection == collection, t.c.key == key
        )
        with self._errors("get", f"{collection}/{key!r}"), self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else StoredDocument(key, decode_document(row[0]), int(row[1]))

    def _scan(self, collection: str, start: str, end: str | None) -> list[StoredDocument]:
        t = self._tables.state
        query = sa.select(t.c.key, t.c.document, t.c.version).where(
            t.c.collection == collection, t.c.key >= start
        )
        if end is not None:
            query = query.where(t.c.key < end)
        with self._errors("items", collection), self.engine.connect() as conn:
            rows = conn.execute(query.order_by(t.c.key)).all()
        return [StoredDocument(k, decode_document(d), int(v)) for k, d, v in rows]

    def _change(
        self, collection: str, key: str, decide: Decide, operation: str
    ) -> tuple[StoredDocument | None, StoredDocument | None]:
        t = self._tables.state
        mine = (t.c.collection == collection) & (t.c.key == key)

        def work(conn: sa.Connection) -> tuple[StoredDocument | None, StoredDocument | None]:
            row = conn.execute(
                sa.select(t.c.document, t.c.version).where(mine).with_for_update()
            ).first()
            before = None if row is None else StoredDocument(key, decode_document(row[0]), row[1])
            change = decide(before)
            if isinstance(change, _Unchanged):
                return before, before
            if change is None:
                conn.execute(sa.delete(t).where(mine))
                return before, None
            if before is None:
                conn.execute(
                    sa.insert(t).values(collection=collection, key=key, version=1, document=change)
                )
                return before, StoredDocument(key, decode_document(change), 1)
            version = before.version + 1
            conn.execute(sa.update(t).where(mine).values(document=change, version=version))
            return before, StoredDocument(key, decode_document(change), version)

        return self._run(operation, f"{collection}/{key!r}", work)

    def _append(self, collection: str, text: str, if_last: int | None) -> int:
        seqs, log = self._tables.sequences, self._tables.log

        def work(conn: sa.Connection) -> int:
            conn.execute(self._insert_if_absent(seqs, {"collection": collection, "last_seq": 0}))
            last = conn.execute(
                sa.select(seqs.c.last_seq).where(seqs.c.collection == collection).with_for_update()
            ).scalar_one()
            if if_last is not None and if_last != last:
                raise StateConflictError(
                    f"{self.name}: append {collection}: expected the last entry to be {if_last}, "
                    f"found {last}"
                )
            conn.execute(
                sa.update(seqs).where(seqs.c.collection == collection).values(last_seq=last + 1)
            )
            conn.execute(sa.insert(log).values(collection=collection, seq=last + 1, document=text))
            return int(last) + 1

        return self._run("append", collection, work)

    def _entries(self, collection: str, after: int, limit: int | None) -> list[LogEntry]:
        log = self._tables.log
        query = (
            sa.select(log.c.seq, log.c.document)
            .where(log.c.collection == collection, log.c.seq > after)
            .order_by(log.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        with self._errors("entries", collection), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [LogEntry(int(seq), decode_document(doc)) for seq, doc in rows]

    def _secret(self, name: str, create: bool) -> bytes | None:
        t = self._tables.secrets
        query = sa.select(t.c.value).where(t.c.name == name)

        def work(conn: sa.Connection) -> bytes | None:
            found = conn.execute(query).scalar()
            if found is None and create:
                # the first creator wins; a concurrent one waits for it and then reads its value
                conn.execute(self._insert_if_absent(t, {"name": name, "value": new_secret().hex()}))
                found = conn.execute(query).scalar()
            return None if found is None else bytes.fromhex(found)

        return self._run("secret", name, work)

    def drop_tables(self) -> None:
        """Drop the store's tables, data and schema version included (for tests and teardown)."""
        with self._errors("drop_tables", "schema"), self.engine.begin() as conn:
            self._tables.metadata.drop_all(conn, checkfirst=True)

    def close(self) -> None:
        """Dispose of the engine if the store created it (an engine passed in is left open)."""
        if self._owned:
            self.engine.dispose()

    def __repr__(self) -> str:
        return f"<{self.name} schema={SCHEMA_VERSION}>"
