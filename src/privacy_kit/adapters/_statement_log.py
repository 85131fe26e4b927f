"""One DEBUG line per statement a built-in SQL adapter runs: what, on which table, how many rows,
how long; never a value.

The logger is ``privacy_kit.adapters``. A line reads
``SQLiteAdapter: DELETE bookings: 3 row(s), 0.41 ms``: the adapter's name, the statement's verb
and the first table it names (both read from the SQL text, whose values are all bound
parameters), the rows the database reports (affected by a write, returned by a read; ``?`` where
the driver does not say) and the time the database took. Neither the SQL text nor a parameter is
logged: parameters are people's data.

With DEBUG off a statement costs one ``isEnabledFor`` check (none while the program has not
imported :mod:`logging`), nothing is formatted or timed.

The SQLite adapter calls :func:`run` and :func:`fetch` where it executes a statement; the
SQLAlchemy adapter has :func:`watch` attach two engine events once per engine. Those events see
every statement on the engine, the host's own too, so they log only the statements run inside an
adapter operation (:meth:`~privacy_kit.adapters.BaseAdapter.wrap_errors` marks it with
:func:`operation`).
"""

from __future__ import annotations

import contextvars
import re
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._lazy import DebugLogger

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    import logging

__all__ = ["describe", "end_operation", "fetch", "operation", "run", "watch"]

# logging is imported by the program that configures it, not by a first use of the adapters.
_log = DebugLogger("privacy_kit.adapters")
_running: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "privacy_kit_adapter_operation", default=None
)

_VERB = re.compile(r"\s*(\w+)")
_IDENT = r'(?:"(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\]|[\w$]+)'
_TABLE = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|ON)\s+"
    rf"({_IDENT}(?:\s*\.\s*{_IDENT})?)",
    re.IGNORECASE,
)


def operation(adapter: str) -> contextvars.Token[str | None]:
    """Mark the statements that follow, in this thread or task, as ``adapter``'s, until
    :func:`end_operation` (:meth:`~privacy_kit.adapters.BaseAdapter.wrap_errors` does both)."""
    return _running.set(adapter)


def end_operation(token: contextvars.Token[str | None]) -> None:
    """Undo :func:`operation`."""
    _running.reset(token)


def describe(sql: str) -> tuple[str, str]:
    """The statement's verb and the first table it names (``?`` when it names none).

    Example:
        >>> describe('DELETE FROM "bookings" WHERE "bookings"."id" IN (SELECT ...)')
        ('DELETE', 'bookings')
        >>> describe("UPDATE users SET email = ? WHERE id = ?")
        ('UPDATE', 'users')
        >>> describe("SELECT COUNT(*) FROM app.sessions WHERE user_id = %(user_id_1)s")
        ('SELECT', 'app.sessions')
    """
    verb = _VERB.match(sql)
    table = _TABLE.search(sql)
    name = "?" if table is None else re.sub(r'["`\[\]\s]', "", table.group(1))
    return ("?" if verb is None else verb.group(1).upper()), name


def _line(log: logging.Logger, adapter: str | None, sql: str, rows: int, started: float) -> None:
    verb, table = describe(sql)
    log.debug(
        "%s: %s %s: %s row(s), %.2f ms",
        adapter or "adapter",
        verb,
        table,
        rows if rows >= 0 else "?",
        (time.perf_counter() - started) * 1000,
    )


def run(
    conn: sqlite3.Connection, sql: str, params: Any = (), *, many: bool = False
) -> sqlite3.Cursor:
    """``conn.execute(sql, params)`` (``executemany`` with ``many``), its cursor returned; logged
    at DEBUG with the rows the cursor reports.

    Example:
        >>> import sqlite3
        >>> conn = sqlite3.connect(":memory:")
        >>> run(conn, "CREATE TABLE t (id INTEGER)").rowcount
        -1
        >>> run(conn, "INSERT INTO t VALUES (?)", [(1,), (2,)], many=True).rowcount
        2
    """
    log = _log.enabled()
    if log is None:
        return conn.executemany(sql, params) if many else conn.execute(sql, params)
    started = time.perf_counter()
    cursor = conn.executemany(sql, params) if many else conn.execute(sql, params)
    _line(log, _running.get(), sql, cursor.rowcount, started)
    return cursor


def fetch(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Every row of ``conn.execute(sql, params)``; logged at DEBUG with how many.

    Example:
        >>> import sqlite3
        >>> fetch(sqlite3.connect(":memory:"), "SELECT ?, ?", [1, 2])
        [(1, 2)]
    """
    log = _log.enabled()
    if log is None:
        return conn.execute(sql, params).fetchall()
    started = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    _line(log, _running.get(), sql, len(rows), started)
    return rows


_STARTED = "_privacy_kit_started"


def _before(  # noqa: PLR0917 - the signature of SQLAlchemy's event
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    if _running.get() is not None and _log.enabled() is not None:
        setattr(context, _STARTED, time.perf_counter())


def _after(  # noqa: PLR0917 - the signature of SQLAlchemy's event
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    started = getattr(context, _STARTED, None)
    log = _log.enabled()
    if started is not None and log is not None:
        _line(log, _running.get(), statement, cursor.rowcount, started)


def watch(engine: Any) -> None:
    """Log, at DEBUG, every statement the adapters run on a SQLAlchemy ``engine`` (once per
    engine, however many adapters share it); a read's row count is the driver's (``?`` where it
    reports none)."""
    from sqlalchemy import event  # noqa: PLC0415 - only the SQLAlchemy adapter calls this

    if not event.contains(engine, "before_cursor_execute", _before):
        event.listen(engine, "before_cursor_execute", _before)
        event.listen(engine, "after_cursor_execute", _after)
