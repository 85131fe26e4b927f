"""The Django state store: privacy_kit's shared state in the host's own database, through the ORM.

The tables are the app's models (:mod:`.models`), created by ``python manage.py migrate``, so a
Django host needs no second database for holds, preferences, verification challenges, journals
and the deployment secret. Every operation is one ``transaction.atomic(using=...)`` block: a
read-modify-write locks its row (``select_for_update()``), a log append locks its collection's
counter row (so sequence numbers have no gaps), and a block that lost a race is run again: an
insert that met a concurrent one (a unique violation), a PostgreSQL deadlock or serialisation
failure, SQLite's "database is locked". Inside the host's own ``transaction.atomic()`` the block
is a savepoint of it: the change commits or rolls back with the host's transaction, and its row
locks are held until then. A new secret is the exception: it is written on a connection of its
own, so that no rollback can lose a secret a process has already used (on SQLite, which allows
one writer at a time, it joins the host's transaction instead).

Database errors are :class:`~privacy_kit.audit.StateError` naming the store, the operation and
the collection/key; a missing table adds "run manage.py migrate".
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from typing import TypeVar

import django.conf
from django.apps import apps as django_apps
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db import Error as DjangoDatabaseError

from ...audit._state import (
    LogEntry,
    StateConflictError,
    StateError,
    StateValueError,
    StoredDocument,
    decode_document,
    new_secret,
)
from ...audit._state_base import BaseStateStore, Decide, _Unchanged

__all__ = ["DjangoStateStore", "state_alias"]

T = TypeVar("T")
_APP = "privacy_kit.contrib.django"
_VENDORS = frozenset({"sqlite", "postgresql"})
_RETRIES = 30
# PostgreSQL SQLSTATEs: unique violation, deadlock, serialisation failure; undefined table
_UNIQUE, _DEADLOCK, _SERIALIZATION, _UNDEFINED_TABLE = "23505", "40P01", "40001", "42P01"


def state_alias(value: object) -> str | None:
    """The database alias a ``PRIVACY_KIT["STATE"]`` of ``"django"`` or ``"django:<alias>"``
    selects (``"default"`` for plain ``"django"``); ``None`` for any other value.

    Example:
        >>> state_alias("django"), state_alias("django:replica"), state_alias("state.db")
        ('default', 'replica', None)
    """
    if value == "django":
        return "default"
    if isinstance(value, str) and value.startswith("django:"):
        return value.removeprefix("django:")
    return None


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return state if isinstance(state, str) else None


def _retryable(exc: DatabaseError, vendor: str, nested: bool) -> bool:
    """Whether running the block again can succeed: a lost insert race or deadlock always; a
    serialisation failure or a locked SQLite database only in a transaction of the block's own
    (inside the host's transaction, the same snapshot and locks would fail again)."""
    if vendor == "postgresql":
        state = _sqlstate(exc)
        return state in {_UNIQUE, _DEADLOCK} or (state == _SERIALIZATION and not nested)
    text = str(exc)
    if isinstance(exc, IntegrityError):
        return "UNIQUE constraint failed" in text
    return not nested and ("database is locked" in text or "database table is locked" in text)


def _missing_table(exc: BaseException) -> bool:
    return _sqlstate(exc) == _UNDEFINED_TABLE or "no such table" in str(exc)


class DjangoStateStore(BaseStateStore):
    """Shared state in a database of ``settings.DATABASES``, through the Django ORM.

    Args:
        using: the database alias (``"default"``).

    Select it with ``PRIVACY_KIT["STATE"] = "django"`` (or ``"django:<alias>"``); the app
    ``"privacy_kit.contrib.django"`` must be installed and ``python manage.py migrate`` run on
    that database. SQLite and PostgreSQL are supported; for MariaDB/MySQL use
    :class:`~privacy_kit.audit.SQLAlchemyStateStore`. Creating the store touches no database:
    build it after ``django.setup()``, never in the settings module (there, write ``"django"``).

    Raises:
        StateValueError: ``using`` is not an alias of ``settings.DATABASES``, or its database is
            not SQLite or PostgreSQL.
        StateError: the app is not in ``INSTALLED_APPS``; later, a database error (naming the
            operation, and ``migrate`` when the tables are missing).

    Example:
        >>> from privacy_kit.contrib.django import DjangoStateStore   # doctest: +SKIP
        >>> store = DjangoStateStore("default")                        # doctest: +SKIP
        >>> store.put("holds", "hold_1", {"reason": "case 12"}).version   # doctest: +SKIP
        1
        >>> store.secret() == DjangoStateStore().secret()               # doctest: +SKIP
        True
    """

    name = "DjangoStateStore"

    def __init__(self, using: str = "default") -> None:
        databases = django.conf.settings.DATABASES
        if using not in databases:
            raise StateValueError(
                f"DjangoStateStore: {using!r} is not a database alias of settings.DATABASES "
                f"({', '.join(sorted(databases))})"
            )
        self.using = using
        self.name = f"DjangoStateStore({using!r})"
        if not django_apps.is_installed(_APP):
            raise StateError(
                f"{self.name}: add {_APP!r} to INSTALLED_APPS (its models are the store's "
                "tables) and run python manage.py migrate"
            )
        self.vendor: str = connections[using].vendor
        if self.vendor not in _VENDORS:
            raise StateValueError(
                f"{self.name}: the {self.vendor} database is not supported (SQLite and "
                "PostgreSQL are); for MariaDB/MySQL use SQLAlchemyStateStore with a "
                "mysql+pymysql:// URL"
            )
        from . import models  # noqa: PLC0415 - needs the app registry, loaded by now

        self._documents = models.StateDocument
        self._log = models.StateLogEntry
        self._sequences = models.StateSequence
        self._secrets = models.StateSecret

    # -- transactions and errors ----------------------------------------------------------------
    def _error(self, operation: str, target: str, exc: BaseException) -> StateError:
        # the database's first line; the rest (PostgreSQL's "LINE 1: ..." context) is in the
        # chained exception
        first = next(iter(str(exc).splitlines()), "")
        message = f"{self.name}: {operation} {target}: {first}".rstrip()
        if _missing_table(exc):
            database = "" if self.using == "default" else f" --database {self.using}"
            message += (
                f" (the state store's tables are missing on database {self.using!r}: run "
                f"python manage.py migrate privacy_kit{database})"
            )
        return StateError(message)

    def _query(self, operation: str, target: str, work: Callable[[], T]) -> T:
        """``work`` (reads only) with database errors as :class:`StateError`."""
        try:
            return work()
        except DjangoDatabaseError as exc:
            raise self._error(operation, target, exc) from exc

    def _run(self, operation: str, target: str, work: Callable[[], T]) -> T:
        """``work`` in one ``transaction.atomic`` block, run again when it lost a race."""
        nested = connections[self.using].in_atomic_block
        for attempt in range(_RETRIES):
            try:
                with transaction.atomic(using=self.using):
                    return work()
            except DatabaseError as exc:
                if attempt + 1 < _RETRIES and _retryable(exc, self.vendor, nested):
                    time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.1)))  # noqa: S311
                    continue
                raise self._error(operation, target, exc) from exc
            except DjangoDatabaseError as exc:
                raise self._error(operation, target, exc) from exc
        raise StateError(  # pragma: no cover - the loop returns or raises
            f"{self.name}: {operation} {target}: gave up after {_RETRIES} attempts"
        )

    # -- the primitives -------------------------------------------------------------------------
    def _read(self, collection: str, key: str) -> StoredDocument | None:
        rows = self._query(
            "get",
            f"{collection}/{key!r}",
            lambda: list(
                self._documents.objects.using(self.using)
                .filter(collection=collection, key=key)
                .values_list("document", "version")
            ),
        )
        return StoredDocument(key, decode_document(rows[0][0]), rows[0][1]) if rows else None

    def _scan(self, collection: str, start: str, end: str | None) -> list[StoredDocument]:
        query = self._documents.objects.using(self.using).filter(
            collection=collection, key__gte=start
        )
        if end is not None:
            query = query.filter(key__lt=end)
        rows = self._query(
            "items",
            collection,
            lambda: list(query.order_by("key").values_list("key", "document", "version")),
        )
        return [StoredDocument(k, decode_document(d), v) for k, d, v in rows]

    def _change(
        self, collection: str, key: str, decide: Decide, operation: str
    ) -> tuple[StoredDocument | None, StoredDocument | None]:
        documents = self._documents.objects.using(self.using)

        def work() -> tuple[StoredDocument | None, StoredDocument | None]:
            mine = documents.filter(collection=collection, key=key)
            rows = list(mine.select_for_update().values_list("document", "version"))
            before = StoredDocument(key, decode_document(rows[0][0]), rows[0][1]) if rows else None
            change = decide(before)
            if isinstance(change, _Unchanged):
                return before, before
            if change is None:
                mine.delete()
                return before, None
            if before is None:
                documents.create(collection=collection, key=key, version=1, document=change)
                return before, StoredDocument(key, decode_document(change), 1)
            mine.update(document=change, version=before.version + 1)
            return before, StoredDocument(key, decode_document(change), before.version + 1)

        return self._run(operation, f"{collection}/{key!r}", work)

    def _append(self, collection: str, text: str, if_last: int | None) -> int:
        sequences = self._sequences.objects.using(self.using)

        def work() -> int:
            mine = sequences.filter(collection=collection)
            found = list(mine.select_for_update().values_list("last_seq", flat=True))
            last: int = found[0] if found else 0
            if if_last is not None and if_last != last:
                raise StateConflictError(
                    f"{self.name}: append {collection}: expected the last entry to be {if_last}, "
                    f"found {last}"
                )
            if found:
                mine.update(last_seq=last + 1)
            else:  # the log's first entry; a concurrent first append makes this one run again
                sequences.create(collection=collection, last_seq=1)
            self._log.objects.using(self.using).create(
                collection=collection, seq=last + 1, document=text
            )
            return last + 1

        return self._run("append", collection, work)

    def _entries(self, collection: str, after: int, limit: int | None) -> list[LogEntry]:
        query = (
            self._log.objects.using(self.using)
            .filter(collection=collection, seq__gt=after)
            .order_by("seq")
            .values_list("seq", "document")
        )
        if limit is not None:
            query = query[:limit]
        rows = self._query("entries", collection, lambda: list(query))
        return [LogEntry(seq, decode_document(document)) for seq, document in rows]

    def _secret(self, name: str, create: bool) -> bytes | None:
        secrets = self._secrets.objects.using(self.using)
        found = self._query(
            "secret", name, lambda: list(secrets.filter(name=name).values_list("value", flat=True))
        )
        if found or not create:
            return bytes.fromhex(found[0]) if found else None
        if connections[self.using].in_atomic_block and self.vendor != "sqlite":
            return self._create_secret_apart(name)

        def work() -> bytes:
            value = new_secret()
            # a concurrent creator makes this insert fail and the block run again: then it reads
            existing = list(secrets.filter(name=name).values_list("value", flat=True))
            if existing:
                return bytes.fromhex(existing[0])
            secrets.create(name=name, value=value.hex())
            return value

        return self._run("secret", name, work)

    def _create_secret_apart(self, name: str) -> bytes:
        """Create the secret on a connection of its own (autocommit), outside the host's
        transaction: a rollback of that transaction must not lose a secret already handed out."""
        other = connections.create_connection(self.using)
        table = self._secrets._meta.db_table
        quote = other.ops.quote_name
        insert = f"INSERT INTO {quote(table)} ({quote('name')}, {quote('value')}) VALUES (%s, %s)"
        select = f"SELECT {quote('value')} FROM {quote(table)} WHERE {quote('name')} = %s"
        try:
            with other.cursor() as cursor:
                # a unique violation: another process created it first; read that one
                with contextlib.suppress(IntegrityError):
                    cursor.execute(insert, [name, new_secret().hex()])
                cursor.execute(select, [name])
                row = cursor.fetchone()
        except DjangoDatabaseError as exc:
            raise self._error("secret", name, exc) from exc
        finally:
            other.close()
        return bytes.fromhex(row[0])

    def missing_tables(self) -> tuple[str, ...]:
        """The store's tables that the database does not have (``python manage.py migrate``
        creates them); empty when the store is ready.

        Example:
            >>> DjangoStateStore().missing_tables()   # doctest: +SKIP
            ()
        """
        connection = connections[self.using]
        wanted = [
            m._meta.db_table for m in (self._documents, self._log, self._sequences, self._secrets)
        ]
        try:
            with connection.cursor() as cursor:
                present = set(connection.introspection.table_names(cursor))
        except DjangoDatabaseError as exc:
            raise self._error("missing_tables", "schema", exc) from exc
        return tuple(t for t in wanted if t not in present)

    def close(self) -> None:
        """Nothing to release: the connections are Django's (closed at the end of each request,
        or by ``django.db.connections.close_all()``)."""

    def __repr__(self) -> str:
        return f"<{self.name} vendor={self.vendor}>"
