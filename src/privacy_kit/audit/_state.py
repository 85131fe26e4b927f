"""Shared, durable state: the :class:`StateStore` protocol every process of a deployment shares.

Legal holds, objections and opt-outs, verification challenges, retention overrides, journals and
the disclosure log are state that must be the same in every process of a host: a hold placed
through one :class:`~privacy_kit.Engine` must stop the sweep another one runs. A state store keeps
that state as *named collections of small JSON documents*, with the few atomic operations those
registries need:

- documents by key: :meth:`~StateStore.get`, :meth:`~StateStore.put` (optionally only if absent,
  or only if the version is still the one read), :meth:`~StateStore.update` (an atomic
  read-modify-write), :meth:`~StateStore.delete`, :meth:`~StateStore.items` (in key order,
  optionally under a key prefix) and :meth:`~StateStore.consume` (an atomic get-and-delete: a
  one-time code consumed in one process can never be used in another);
- append-only logs: :meth:`~StateStore.append` returns the entry's sequence number (1, 2, 3, ...
  per collection, without gaps) and :meth:`~StateStore.entries` reads them back in order;
- :meth:`~StateStore.secret`: one stable random secret per deployment, created once (atomically)
  and then shared, so every process derives the same subject references and tokens.

Documents are JSON objects (``dict`` with ``str`` keys, holding ``dict``, ``list``, ``str``,
``int``, finite ``float``, ``bool`` and ``None``); anything else is refused with a
:class:`StateValueError` naming the path inside the document, never silently converted.

This module holds the protocol, the value types and the checks; :mod:`._state_base` the behaviour
the stores share and :class:`~privacy_kit.audit.MemoryStateStore`; the database stores are :class:`~privacy_kit.audit.SqliteStateStore` (stdlib ``sqlite3``) and
:class:`~privacy_kit.audit.SQLAlchemyStateStore` (PostgreSQL, MariaDB/MySQL).
"""

from __future__ import annotations

import math
import re
import secrets as _secrets
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias, runtime_checkable

import attrs
import orjson

from .._errors import PrivacyKitError

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_KEY_BYTES",
    "SCHEMA_VERSION",
    "LogEntry",
    "SchemaMigration",
    "StateConflictError",
    "StateError",
    "StateStore",
    "StateValueError",
    "StoredDocument",
]

Document: TypeAlias = dict[str, Any]
Updater: TypeAlias = Callable[[Document | None], Document | None]

SCHEMA_VERSION = 1
"""The schema version of the database stores' tables (see :class:`SchemaMigration`)."""
MAX_KEY_BYTES = 512
"""The longest key, in UTF-8 bytes."""
MAX_DOCUMENT_BYTES = 1 << 20
"""The largest document, as JSON in UTF-8 bytes (1 MiB): the store is for small state."""
_MAX_DEPTH = 64
_NAME = re.compile(r"^[a-z][a-z0-9_.\-]{0,127}$")
_SECRET_BYTES = 32
_PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,30}$")


class StateError(PrivacyKitError, RuntimeError):
    """A state store failed or cannot be used; the message names the store and the operation.

    The database's own exception, if any, is chained as ``__cause__``.

    Example:
        >>> import privacy_kit.audit as audit
        >>> issubclass(audit.StateError, RuntimeError)
        True
    """


class StateConflictError(StateError):
    """A conditional write found the state changed: the key exists, or its version moved on.

    Example:
        >>> from privacy_kit.audit import MemoryStateStore
        >>> store = MemoryStateStore()
        >>> _ = store.put("holds", "h1", {"reason": "case 1"}, if_absent=True)
        >>> store.put("holds", "h1", {"reason": "case 2"}, if_absent=True)
        Traceback (most recent call last):
        ...
        privacy_kit.audit._state.StateConflictError: MemoryStateStore: put holds/'h1': the key already exists (version 1)
    """


class StateValueError(PrivacyKitError, ValueError):
    """A collection name, key or document a state store refuses; names what and where.

    Example:
        >>> from privacy_kit.audit import MemoryStateStore
        >>> MemoryStateStore().put("holds", "h1", {"at": {1, 2}})
        Traceback (most recent call last):
        ...
        privacy_kit.audit._state.StateValueError: holds/'h1': document['at'] is a set, not a JSON value (use a list)
    """


@attrs.frozen
class StoredDocument:
    """A document as stored: its key, a fresh copy of its content, and its version.

    Attributes:
        key: the key within its collection.
        document: the JSON object (a copy: changing it changes nothing stored).
        version: 1 when the key was created, one more on every write since.
    """

    key: str
    document: Document = attrs.field(eq=True, hash=False)
    version: int


@attrs.frozen
class LogEntry:
    """One entry of an append-only log.

    Attributes:
        seq: its sequence number in the collection (1, 2, 3, ... without gaps).
        document: the JSON object (a copy).
    """

    seq: int
    document: Document = attrs.field(eq=True, hash=False)


@attrs.frozen
class SchemaMigration:
    """What opening (or :meth:`migrate`) did to a database store's tables.

    Attributes:
        from_version: the schema version found (0: no tables yet).
        to_version: the schema version now.
    """

    from_version: int
    to_version: int

    @property
    def changed(self) -> bool:
        """Whether any migration step ran."""
        return self.from_version != self.to_version


@runtime_checkable
class StateStore(Protocol):
    """Named collections of small JSON documents and append-only logs, shared by every process.

    Document collections and log collections are separate namespaces. Every operation is atomic
    on its own; :meth:`update` is the read-modify-write, :meth:`consume` the get-and-delete.

    Example:
        >>> from privacy_kit.audit import MemoryStateStore
        >>> store: StateStore = MemoryStateStore()
        >>> store.put("holds", "hold_1", {"reason": "case 12"}).version
        1
        >>> store.update("holds", "hold_1", lambda d: {**d, "released": True}).document
        {'reason': 'case 12', 'released': True}
        >>> store.append("journal", {"step": "users:delete"}), store.append("journal", {"step": "x"})
        (1, 2)
        >>> store.consume("codes", "missing") is None
        True
    """

    def get(self, collection: str, key: str) -> StoredDocument | None:
        """The document at ``key``, or ``None`` if there is none."""

    def put(
        self,
        collection: str,
        key: str,
        document: Document,
        *,
        if_absent: bool = False,
        if_version: int | None = None,
    ) -> StoredDocument:
        """Store ``document`` at ``key``; with ``if_absent`` only if there is none, with
        ``if_version`` only if the stored version is that one (:class:`StateConflictError` if not)."""

    def update(self, collection: str, key: str, fn: Updater) -> StoredDocument | None:
        """Atomically replace the document with ``fn(current)`` (``None``: delete it)."""

    def delete(self, collection: str, key: str, *, if_version: int | None = None) -> bool:
        """Delete the document; ``False`` if there was none."""

    def consume(self, collection: str, key: str) -> StoredDocument | None:
        """Atomically take the document away: exactly one caller ever gets it."""

    def items(self, collection: str, *, prefix: str = "") -> tuple[StoredDocument, ...]:
        """The documents whose key starts with ``prefix``, in key (code point) order."""

    def append(self, collection: str, document: Document, *, if_last: int | None = None) -> int:
        """Append to the log ``collection`` and return the entry's sequence number."""

    def entries(
        self, collection: str, *, after: int = 0, limit: int | None = None
    ) -> tuple[LogEntry, ...]:
        """The log's entries with a sequence number above ``after``, oldest first."""

    def secret(self, name: str = "default", *, create: bool = True) -> bytes:
        """The deployment's secret ``name`` (32 random bytes, created once, then shared)."""


# -- checks -------------------------------------------------------------------------------------
def check_name(name: object, what: str = "collection") -> str:
    """``name`` if it is a valid collection or secret name, else :class:`StateValueError`.

    Names are 1-128 characters: a lower-case letter, then lower-case letters, digits, ``_``,
    ``.`` and ``-`` (``journal.erasure``, ``preferences``).

    Example:
        >>> check_name("journal.erasure")
        'journal.erasure'
        >>> check_name("Holds")
        Traceback (most recent call last):
        ...
        privacy_kit.audit._state.StateValueError: invalid collection name 'Holds': 1-128 characters, a lower-case letter first, then lower-case letters, digits, '_', '.' or '-'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise StateValueError(
            f"invalid {what} name {name!r}: 1-128 characters, a lower-case letter first, then "
            "lower-case letters, digits, '_', '.' or '-'"
        )
    return name


def check_prefix(prefix: object) -> str:
    """``prefix`` if it is a valid table-name prefix (``privacy_kit_``), else :class:`StateValueError`."""
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise StateValueError(
            f"invalid table prefix {prefix!r}: 1-31 lower-case letters, digits or '_', not "
            "starting with a digit"
        )
    return prefix


def check_key(collection: str, key: object) -> str:
    """``key`` if it is a valid key, else :class:`StateValueError` naming the collection.

    A key is a non-empty string of at most :data:`MAX_KEY_BYTES` UTF-8 bytes, without NUL.
    """
    if not isinstance(key, str):
        raise StateValueError(f"{collection}: a key must be a string, got {type(key).__name__}")
    if not key:
        raise StateValueError(f"{collection}: a key must not be empty")
    if "\x00" in key:
        raise StateValueError(f"{collection}/{key!r}: a key must not contain NUL")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise StateValueError(
            f"{collection}/{key!r}: a key must be valid Unicode (it holds a lone surrogate)"
        ) from None
    if size > MAX_KEY_BYTES:
        raise StateValueError(
            f"{collection}/{key[:40]!r}...: the key is {size} bytes in UTF-8; at most "
            f"{MAX_KEY_BYTES} are allowed"
        )
    return key


def _check_value(value: object, path: str, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise StateValueError(f"{path}: nested deeper than {_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise StateValueError(f"{path}: a string with a lone surrogate") from None
        return
    if isinstance(value, int):
        if not -(2**63) <= value < 2**64:
            raise StateValueError(f"{path}: the integer {value} does not fit in 64 bits")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise StateValueError(f"{path}: {value!r} is not a JSON number")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise StateValueError(
                    f"{path}: the key {k!r} is a {type(k).__name__}; JSON object keys are strings"
                )
            _check_value(v, f"{path}[{k!r}]", depth + 1)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_value(item, f"{path}[{i}]", depth + 1)
        return
    hint = {"tuple": " (use a list)", "set": " (use a list)", "frozenset": " (use a list)"}
    hint |= {"datetime": " (store .isoformat())", "date": " (store .isoformat())"}
    hint |= {"bytes": " (store it as hex or base64)"}
    name = type(value).__name__
    raise StateValueError(f"{path} is a {name}, not a JSON value{hint.get(name, '')}")


def encode_document(collection: str, key: str, document: object) -> str:
    """``document`` as JSON text, after checking that it is a JSON object within the size limit.

    Example:
        >>> encode_document("holds", "h1", {"reason": "case 12", "ids": [1, 2]})
        '{"reason":"case 12","ids":[1,2]}'
    """
    where = f"{collection}/{key!r}"
    if not isinstance(document, dict):
        raise StateValueError(
            f"{where}: a document must be a dict (a JSON object), got {type(document).__name__}"
        )
    _check_value(document, f"{where}: document", 0)
    text = orjson.dumps(document).decode("utf-8")
    if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
        raise StateValueError(
            f"{where}: the document is {len(text.encode('utf-8'))} bytes as JSON; at most "
            f"{MAX_DOCUMENT_BYTES} are allowed (the state store is for small documents)"
        )
    return text


def decode_document(text: str | bytes) -> Document:
    """A stored document's JSON text back as a dict."""
    value = orjson.loads(text)
    if not isinstance(value, dict):  # pragma: no cover - only ever written by encode_document
        raise StateError(f"a stored document is not a JSON object: {str(text)[:60]!r}")
    return value


def prefix_end(prefix: str) -> str | None:
    """The smallest string after every string starting with ``prefix`` (``None``: no bound).

    Keys starting with ``prefix`` are exactly those ``>= prefix`` and ``< prefix_end(prefix)`` in
    code point order, which is the order of the binary collations the stores use.

    Example:
        >>> prefix_end("subj_1|"), prefix_end("")
        ('subj_1}', None)
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if code <= 0x10FFFF:
            chars[-1] = chr(0xE000 if 0xD800 <= code <= 0xDFFF else code)
            return "".join(chars)
        chars.pop()
    return None


def new_secret() -> bytes:
    """32 random bytes for a new deployment secret."""
    return _secrets.token_bytes(_SECRET_BYTES)
