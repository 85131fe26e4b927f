"""What SQLAlchemy adapters of one process share: table descriptions and compiled statements.

SQLAlchemy keeps the statements it compiled per engine (the engine's ``compiled_cache``), keyed
by the dialect object and by the statement's structure, which names the ``Table`` objects
themselves. An adapter made from a URL makes an engine of its own, and every adapter describes its
tables anew, so each new adapter compiled every statement again: about 3 ms a statement, most of
a small sweep on PostgreSQL (a command-line sweep, a task or a request that makes an adapter per
run). Two things are shared instead, per process:

- :func:`shared_table`: one ``sa.Table`` per table *description* (schema, name, columns and
  their types, indexes, table options), each in a ``MetaData`` of its own, so adapters over the
  same schema build the same statements, and two descriptions of one table name never collide.
- :func:`compiled_statements`: the compiled-statement cache of the engines adapters make from a
  URL (``execution_options(compiled_cache=...)``), keyed by what the dialect compiles with
  (:func:`dialect_signature`: its class and every plain setting, the server version among them)
  instead of the dialect object. A statement compiled for one engine is then reused by the next
  engine of the same kind; an engine whose dialect differs in any setting gets statements of its
  own. Engines a host passes in keep their own cache, as SQLAlchemy made it.

Both are bounded (least recently used entries go first) and safe to use from several threads.
Nothing here holds a value of a statement: SQLAlchemy binds values at execution, and a cached
statement is only its text and how to bind.

Needs the ``privacy-kit[sqlalchemy]`` extra (imported by :mod:`._sqlalchemy` only).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import sqlalchemy as sa

__all__ = [
    "MAX_COMPILED",
    "MAX_TABLES",
    "SharedCompiledCache",
    "compiled_statements",
    "dialect_signature",
    "shared_table",
]

MAX_TABLES = 2_000
"""Table descriptions kept per process (a data map has tens)."""

MAX_COMPILED = 2_000
"""Compiled statements kept per process (SQLAlchemy's own default is 500 per engine)."""

_PLAIN = (type(None), bool, int, float, str, tuple, frozenset)


class _Bounded:
    """A dictionary that forgets its least recently used entries past ``limit`` (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            found = self._items.get(key, _MISSING)
            if found is _MISSING:
                return default
            self._items.move_to_end(key)
            return found

    def __setitem__(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


_MISSING = object()
_TABLES = _Bounded(MAX_TABLES)


def shared_table(
    key: Hashable, build: Callable[[sa.MetaData], sa.Table], schema: str | None
) -> sa.Table:
    """The ``Table`` described by ``key``: built once per process by ``build(metadata)`` (given a
    ``MetaData`` of its own for ``schema``), then the same object for every adapter.

    ``key`` must say everything ``build`` reads (the adapter's key: schema, dialect family, table
    name, each column's name, type, key and index, and the table options).

    Example:
        >>> import sqlalchemy as sa
        >>> def build(md):
        ...     return sa.Table("t", md, sa.Column("id", sa.Integer, primary_key=True))
        >>> shared_table(("doc", "t", ("id",)), build, None) is shared_table(
        ...     ("doc", "t", ("id",)), build, None)
        True
    """
    found: sa.Table | None = _TABLES.get(key)
    if found is None:
        found = build(sa.MetaData(schema=schema))
        _TABLES[key] = found
    return found


def dialect_signature(dialect: sa.Dialect) -> tuple[Any, ...]:
    """What a dialect compiles with: its class, and every plain setting it holds (server
    version, parameter style, identifier lengths, default schema, ...) plus the JSON functions
    it was given (by identity). Two dialects with the same signature compile a statement to the
    same text with the same parameter handling.

    Example:
        >>> import sqlalchemy as sa
        >>> one, two = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
        >>> dialect_signature(one.dialect) == dialect_signature(two.dialect)
        True
        >>> three = sa.create_engine("sqlite://", paramstyle="named")
        >>> dialect_signature(one.dialect) == dialect_signature(three.dialect)
        False
    """
    plain: list[tuple[str, Any]] = []
    for name, value in sorted(vars(dialect).items()):
        if isinstance(value, _PLAIN):
            try:
                hash(value)
            except TypeError:
                plain.append((name, repr(value)))
            else:
                plain.append((name, value))
        elif callable(value) and name.startswith("_json"):
            plain.append((name, id(value)))
    return (type(dialect), tuple(plain))


_SIGNATURES: weakref.WeakKeyDictionary[sa.Dialect, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def _signature(dialect: sa.Dialect) -> tuple[Any, ...]:
    """:func:`dialect_signature`, remembered per dialect once it has connected (it learns its
    server's settings on its first connection, before any statement runs; until then it is
    worked out at every lookup)."""
    found = _SIGNATURES.get(dialect)
    if found is None:
        found = dialect_signature(dialect)
        if getattr(dialect, "server_version_info", None) is not None:
            _SIGNATURES[dialect] = found
    return found


class SharedCompiledCache:
    """A compiled-statement cache (SQLAlchemy's ``compiled_cache`` execution option) shared by
    engines of the same kind: the dialect in SQLAlchemy's key is replaced by its
    :func:`dialect_signature`."""

    def __init__(self, limit: int = MAX_COMPILED) -> None:
        self._items = _Bounded(limit)

    @staticmethod
    def _key(key: Any) -> Any:
        return (_signature(key[0]), *key[1:])

    def get(self, key: Any, default: Any = None) -> Any:
        """SQLAlchemy's lookup."""
        return self._items.get(self._key(key), default)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._items[self._key(key)] = value

    def __len__(self) -> int:
        return len(self._items)


_COMPILED = SharedCompiledCache()


def compiled_statements() -> SharedCompiledCache:
    """The process's shared compiled-statement cache (for the engines adapters make)."""
    return _COMPILED
