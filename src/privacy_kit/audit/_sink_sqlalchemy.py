"""The SQLAlchemy sink: the audit log in a table of a database server (PostgreSQL, MariaDB/MySQL).

Made for the usual deployment, several worker processes (and machines) appending to one log.
Each append reads the last row and inserts the next in one transaction, serialised across every
writer: on PostgreSQL by a transaction-level advisory lock (``pg_advisory_xact_lock``, named after
the table), on MariaDB/MySQL by a named lock (``GET_LOCK``) held around the transaction, and on any
dialect by the unique ``sequence`` primary key: an insert that loses a race is retried from the
new tail, never stored beside it.

Needs the ``privacy-kit[sqlalchemy]`` extra, plus a driver (``[postgres]``: psycopg 3,
``[mysql]``: PyMySQL).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

try:
    import sqlalchemy as sa
except ImportError as exc:  # pragma: no cover - exercised in the core-only test environment
    raise ImportError(
        "SQLAlchemySink needs SQLAlchemy 2: pip install 'privacy-kit[sqlalchemy]'"
    ) from exc

from ._entries import CHAIN_SHA256, AuditEntry, RawEntry, _canonical, _utc_text
from ._sinks import AuditSinkError, MakeEntries, MakeEntry, check_table_name, row_entry

__all__ = ["SQLAlchemySink"]

_T = TypeVar("_T")
_PAGE = 1000
# Lost a race or a lock wait: PostgreSQL serialization failure, deadlock, lock timeout;
# MySQL/MariaDB lock wait timeout and deadlock.
_PG_RETRY = {"40001", "40P01", "55P03"}
_MYSQL_RETRY = {1205, 1213}


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    if isinstance(exc, sa.exc.IntegrityError):
        return True  # another writer took the sequence: read the new tail and try again
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _PG_RETRY or getattr(orig, "pgcode", None) in _PG_RETRY:
        return True
    args: tuple[Any, ...] = tuple(getattr(orig, "args", ()))
    return bool(args) and args[0] in _MYSQL_RETRY


class SQLAlchemySink:
    """An audit table on any SQLAlchemy 2 engine, created if missing; safe with many writers.

    The table (default name ``privacy_kit_audit``) has the columns of the SQLite sink:
    ``sequence`` (BIGINT primary key), ``at``, ``action``, ``subject``, ``details`` (canonical
    JSON text), ``prev_hash``, ``hash`` and ``chain`` (NULL, or ``hmac-sha256``).

    Args:
        engine: an ``sqlalchemy.Engine``, or a URL (the sink then owns the engine: :meth:`close`).
        table: the table name (letters, digits and underscores).
        schema: the schema (PostgreSQL) or database (MariaDB) holding it, if not the default.
        timeout: how long an append waits for the other writers, in seconds; past it
            :class:`~privacy_kit.audit.AuditSinkError`.

    Example:
        >>> import datetime as dt
        >>> from privacy_kit.audit import AuditLog
        >>> log = AuditLog.sqlalchemy("sqlite://")
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> log.verify().ok, log.sink.multiprocess_safe
        (True, True)
    """

    #: Appends from several processes (and machines) are serialised by the database.
    multiprocess_safe = True

    def __init__(
        self,
        engine: sa.Engine | str,
        *,
        table: str = "privacy_kit_audit",
        schema: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        check_table_name(table)
        if schema is not None:
            check_table_name(schema)
        self._owned = isinstance(engine, str)
        self.engine: sa.Engine = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.timeout = timeout
        qualified = table if schema is None else f"{schema}.{table}"
        self.name = (
            f"SQLAlchemySink({self.engine.url.render_as_string(hide_password=True)}, "
            f"table {qualified})"
        )
        digest = hashlib.sha256(f"privacy_kit.audit:{qualified}".encode()).digest()
        self._pg_key = int.from_bytes(digest[:8], "big", signed=True)
        self._lock_name = f"privacy_kit_audit_{digest.hex()[:32]}"
        self.table = sa.Table(
            table,
            sa.MetaData(schema=schema),
            sa.Column("sequence", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("at", sa.String(40), nullable=False),
            sa.Column("action", sa.Text, nullable=False),
            sa.Column("subject", sa.Text),
            sa.Column("details", sa.Text, nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("chain", sa.String(32)),
        )
        self._create()

    def _fail(self, operation: str, exc: BaseException) -> AuditSinkError:
        return AuditSinkError(f"{exc}", sink=self.name, operation=operation)

    def _create(self) -> None:
        try:
            self.table.create(self.engine, checkfirst=True)
        except sa.exc.SQLAlchemyError as exc:
            # Several processes starting at once: another one may have created it meanwhile.
            try:
                exists = sa.inspect(self.engine).has_table(self.table.name, self.table.schema)
            except sa.exc.SQLAlchemyError:
                exists = False
            if not exists:
                raise self._fail("create table", exc) from exc

    @property
    def _dialect(self) -> str:
        return self.engine.dialect.name

    def _columns(self) -> list[sa.ColumnElement[Any]]:
        c = self.table.c
        return [c.sequence, c.at, c.action, c.subject, c.details, c.prev_hash, c.hash, c.chain]

    def _last(self, conn: sa.Connection, *, for_update: bool = False) -> RawEntry | None:
        query = sa.select(*self._columns()).order_by(self.table.c.sequence.desc()).limit(1)
        if for_update:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            return None
        raw = row_entry(row, "last row")
        if raw.error is None:
            return raw
        # Only a broken tail is worth counting the rows, to name its row number.
        count = conn.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one()
        return row_entry(row, f"row {count}")

    def _insert(self, conn: sa.Connection, entry: AuditEntry) -> None:
        conn.execute(
            self.table.insert().values(
                sequence=entry.sequence,
                at=_utc_text(entry.at),
                action=entry.action,
                subject=entry.subject,
                details=_canonical(dict(entry.details)).decode(),
                prev_hash=entry.prev_hash,
                hash=entry.hash,
                chain=None if entry.chain == CHAIN_SHA256 else entry.chain,
            )
        )

    def _serialised(self, conn: sa.Connection, work: Callable[[], _T]) -> _T:
        """Run ``work`` in one transaction on ``conn``, holding the dialect's writers' lock."""
        if self._dialect in {"mysql", "mariadb"}:
            wait = max(1, round(self.timeout))
            got = conn.execute(
                sa.text("SELECT GET_LOCK(:name, :wait)"), {"name": self._lock_name, "wait": wait}
            ).scalar()
            conn.commit()
            if got != 1:
                raise AuditSinkError(
                    f"the writers' lock {self._lock_name} was not granted within {wait} s",
                    sink=self.name,
                    operation="append",
                )
            try:
                with conn.begin():
                    return work()
            finally:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": self._lock_name})
                conn.commit()
        with conn.begin():
            if self._dialect == "postgresql":
                millis = f"{max(1, round(self.timeout * 1000))}ms"
                conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": millis})
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": self._pg_key})
            return work()

    def append_next(self, make: MakeEntry) -> AuditEntry:
        """Under the writers' lock, in one transaction: read the last row, insert ``make(last)``."""
        return self.append_next_all(lambda last: [make(last)])[0]

    def append_next_all(self, make: MakeEntries) -> list[AuditEntry]:
        """Under the writers' lock, in one transaction: read the last row, insert the entries
        ``make(last)`` returns, in order."""
        deadline = time.monotonic() + self.timeout
        delay = 0.005
        while True:
            try:
                with self.engine.connect() as conn:

                    def work(conn: sa.Connection = conn) -> list[AuditEntry]:
                        entries = make(self._last(conn, for_update=True))
                        for entry in entries:
                            self._insert(conn, entry)
                        return entries

                    return self._serialised(conn, work)
            except sa.exc.DBAPIError as exc:
                if _retryable(exc) and time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.2)
                    continue
                raise self._fail("append", exc) from exc
            except sa.exc.SQLAlchemyError as exc:
                raise self._fail("append", exc) from exc

    def append(self, entry: AuditEntry) -> None:
        """Insert one row as it is (the caller chose its sequence; prefer :meth:`append_next`)."""
        try:
            with self.engine.begin() as conn:
                self._insert(conn, entry)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("append", exc) from exc

    def read(self) -> Iterator[RawEntry]:
        """Every row, in sequence order, numbered from 1 (read in pages of 1,000)."""
        number = 0
        after: int | None = None
        while True:
            query = sa.select(*self._columns()).order_by(self.table.c.sequence).limit(_PAGE)
            if after is not None:
                query = query.where(self.table.c.sequence > after)
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(query).all()
            except sa.exc.SQLAlchemyError as exc:
                raise self._fail("read", exc) from exc
            for row in rows:
                number += 1
                yield row_entry(row, f"row {number}")
            if len(rows) < _PAGE:
                return
            after = int(rows[-1][0])

    def last(self) -> RawEntry | None:
        """The row with the highest sequence."""
        try:
            with self.engine.connect() as conn:
                return self._last(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise self._fail("read", exc) from exc

    def close(self) -> None:
        """Dispose of the engine if the sink made it from a URL."""
        if self._owned:
            self.engine.dispose()

    def __repr__(self) -> str:
        return self.name
