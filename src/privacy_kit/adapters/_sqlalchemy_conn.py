"""The SQLAlchemy adapter's one connection seam: every statement gets its connection here.

Outside a block, :meth:`ConnectionSeam._connect` lends a pooled connection for one read and
:meth:`ConnectionSeam._begin` a connection in a transaction of its own for one write, as
before. Inside ``with adapter.atomic():`` (``Capability.ATOMIC``) both hand out the block's one
connection and transaction, in the thread that opened it: the writes of the block are committed
when it ends and rolled back when it raises; a nested block joins the outer one. A write given
a ``batch_size`` inside a block joins it too (its batches are then not committed one by one, as
on SQLite). Inside ``with adapter.reading():`` reads share one read-only transaction (on
PostgreSQL ``REPEATABLE READ``: one snapshot for all of them; one ``BEGIN`` and one ``ROLLBACK``
in all), and a write is refused.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._pg_partitions` only).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import sqlalchemy as sa

from .._errors import ConfigurationError
from ._base import BaseAdapter

__all__ = ["ConnectionSeam"]


class _Block(threading.local):
    """The block open in this thread: its connection, and whether it only reads."""

    conn: sa.Connection | None = None
    read_only: bool = False


class ConnectionSeam(BaseAdapter):
    """Where the SQLAlchemy adapter's statements get their connection (see the module)."""

    engine: sa.Engine

    @property
    def _block(self) -> _Block:
        block: _Block | None = self.__dict__.get("_pk_block")
        if block is None:
            block = self.__dict__.setdefault("_pk_block", _Block())
        return block

    def in_block(self) -> bool:
        """Whether an ``atomic()`` or ``reading()`` block is open in this thread."""
        return self._block.conn is not None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        """A connection for reading: the block's, or a pooled one for this read."""
        conn = self._block.conn
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as own:
            yield own

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        """A connection in a transaction for writing: the block's, or one committed at the end."""
        block = self._block
        if block.conn is not None:
            if block.read_only:
                raise ConfigurationError(
                    f"{self.name}: a write inside reading() is refused (the block only reads; "
                    "use atomic() to write in one transaction)"
                )
            yield block.conn
            return
        with self.engine.begin() as own:
            yield own

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Run every read and write of the block (this thread) in one transaction
        (``Capability.ATOMIC``): committed when the block ends, rolled back when it raises; a
        nested block joins the outer one. Writes given a ``batch_size`` join it too.

        Raises:
            ConfigurationError: inside a ``reading()`` block.

        Example:
            >>> from privacy_kit.adapters import SQLAlchemyAdapter, where
            >>> from privacy_kit.testing import conformance_datamap, conformance_records
            >>> from privacy_kit.testing import populate
            >>> dm = conformance_datamap()
            >>> db = populate(SQLAlchemyAdapter("sqlite://"), dm, conformance_records())
            >>> events = dm.record_type("events")
            >>> try:
            ...     with db.atomic():
            ...         db.delete(events, where.all())
            ...         raise RuntimeError("stop")
            ... except RuntimeError:
            ...     pass
            30
            >>> db.count(events, where.all())
            30
        """
        block = self._block
        if block.conn is not None:
            if block.read_only:
                raise ConfigurationError(
                    f"{self.name}: atomic() inside reading() is refused (the block only reads)"
                )
            yield
            return
        with self.wrap_errors("atomic"):
            conn = self.engine.connect()
            transaction = conn.begin()
        block.conn, block.read_only = conn, False
        try:
            yield
        except BaseException:
            block.conn = None
            with contextlib.suppress(Exception):  # the error raised in the block is the one
                transaction.rollback()
            conn.close()
            raise
        block.conn = None
        try:
            with self.wrap_errors("atomic"):
                transaction.commit()
        finally:
            conn.close()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Run the reads of the block (this thread) in one read-only transaction: on
        PostgreSQL ``REPEATABLE READ READ ONLY``, so every read sees the same snapshot; one
        ``BEGIN`` and one ``ROLLBACK`` for all of them instead of a pair per read. Inside an
        ``atomic()`` block it joins it (reads then see the block's writes).

        Raises:
            ConfigurationError: on a write inside the block.

        Example:
            >>> from privacy_kit.adapters import SQLAlchemyAdapter, where
            >>> from privacy_kit.testing import conformance_datamap, conformance_records
            >>> from privacy_kit.testing import populate
            >>> dm = conformance_datamap()
            >>> db = populate(SQLAlchemyAdapter("sqlite://"), dm, conformance_records())
            >>> with db.reading():
            ...     db.count(dm.record_type("events"), where.all())
            30
        """
        block = self._block
        if block.conn is not None:
            yield
            return
        with self.wrap_errors("reading"):
            conn = self.engine.connect()
            if self.engine.dialect.name == "postgresql":
                # psycopg 3 puts these in its BEGIN: no round trip of their own
                conn = conn.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            transaction = conn.begin()
        block.conn, block.read_only = conn, True
        try:
            yield
        except BaseException:
            block.conn, block.read_only = None, False
            with contextlib.suppress(Exception):  # the error raised in the block is the one
                transaction.rollback()
            conn.close()
            raise
        block.conn, block.read_only = None, False
        try:
            with self.wrap_errors("reading"):
                transaction.rollback()  # it only read: nothing to keep
        finally:
            conn.close()
