"""What every state store shares: the checks and the operations of :class:`BaseStateStore`, built
on a few primitives each backend provides, and :class:`MemoryStateStore`, the store for tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Self, TypeAlias

import orjson

from ._state import (
    Document,
    LogEntry,
    StateConflictError,
    StateError,
    StateValueError,
    StoredDocument,
    Updater,
    check_key,
    check_name,
    decode_document,
    encode_document,
    new_secret,
    prefix_end,
)

__all__ = ["MemoryStateStore"]


# -- the shared behaviour of the stores ---------------------------------------------------------
class _Unchanged:
    """The marker for "leave the document as it is" (no write, no new version)."""


UNCHANGED = _Unchanged()
Change: TypeAlias = "str | _Unchanged | None"
"""What a decision asks for: new JSON text, ``None`` (delete) or :data:`UNCHANGED`."""
Decide: TypeAlias = Callable[[StoredDocument | None], Change]


def _unchanged(before: StoredDocument | None, after: Document | None) -> bool:
    return (before is None and after is None) or (
        before is not None and after is not None and before.document == after
    )


class BaseStateStore:
    """The checks and operations shared by every store, over five primitives a backend provides.

    ``_change`` runs one decision atomically on one key (the backend locks the key, reads it, asks
    ``decide`` what to write, writes it and commits); ``_read``, ``_scan``, ``_append``,
    ``_entries`` and ``_secret`` do the rest.
    """

    name = "state store"

    # -- the backend's primitives ---------------------------------------------------------------
    def _read(self, collection: str, key: str) -> StoredDocument | None:
        raise NotImplementedError

    def _scan(self, collection: str, start: str, end: str | None) -> list[StoredDocument]:
        raise NotImplementedError

    def _change(
        self, collection: str, key: str, decide: Decide, operation: str
    ) -> tuple[StoredDocument | None, StoredDocument | None]:
        raise NotImplementedError

    def _append(self, collection: str, text: str, if_last: int | None) -> int:
        raise NotImplementedError

    def _entries(self, collection: str, after: int, limit: int | None) -> list[LogEntry]:
        raise NotImplementedError

    def _secret(self, name: str, create: bool) -> bytes | None:
        raise NotImplementedError

    # -- the protocol ---------------------------------------------------------------------------
    def _where(self, operation: str, collection: str, key: str | None = None) -> str:
        target = collection if key is None else f"{collection}/{key!r}"
        return f"{self.name}: {operation} {target}"

    def get(self, collection: str, key: str) -> StoredDocument | None:
        """The document at ``key`` in ``collection``, or ``None`` if there is none."""
        return self._read(check_name(collection), check_key(collection, key))

    def put(
        self,
        collection: str,
        key: str,
        document: Document,
        *,
        if_absent: bool = False,
        if_version: int | None = None,
    ) -> StoredDocument:
        """Store ``document`` at ``key`` and return it as stored (with its new version).

        Args:
            if_absent: only if no document is stored at ``key``.
            if_version: only if the stored version is this one.

        Raises:
            StateConflictError: ``if_absent`` and the key exists, or the version differs.
            StateValueError: a bad collection name, key or document.
        """
        check_name(collection)
        check_key(collection, key)
        text = encode_document(collection, key, document)

        def decide(before: StoredDocument | None) -> Change:
            if if_absent and before is not None:
                raise StateConflictError(
                    f"{self._where('put', collection, key)}: the key already exists "
                    f"(version {before.version})"
                )
            found = 0 if before is None else before.version
            if if_version is not None and found != if_version:
                raise StateConflictError(
                    f"{self._where('put', collection, key)}: expected version {if_version}, "
                    f"found {found or 'no document'}"
                )
            return text

        _before, after = self._change(collection, key, decide, "put")
        if after is None:  # pragma: no cover - decide always writes
            raise StateError(f"{self._where('put', collection, key)}: nothing was written")
        return after

    def update(self, collection: str, key: str, fn: Updater) -> StoredDocument | None:
        """Atomically replace the document at ``key`` with ``fn(current)``; return what is stored.

        ``fn`` gets a copy of the current document (``None`` if there is none) and returns the new
        one, or ``None`` to delete it. A result equal to the current document writes nothing (the
        version stays). An exception raised by ``fn`` leaves the document as it was and
        propagates. ``fn`` may be called more than once (a database store retries a write that
        lost a race), so it must not have side effects.

        Example:
            >>> store = MemoryStateStore()
            >>> bump = lambda d: {"n": (d or {"n": 0})["n"] + 1}
            >>> store.update("counters", "a", bump).document, store.update("counters", "a", bump).version
            ({'n': 1}, 2)
        """
        check_name(collection)
        check_key(collection, key)

        def decide(before: StoredDocument | None) -> Change:
            new = fn(None if before is None else decode_document(orjson.dumps(before.document)))
            if _unchanged(before, new):
                return UNCHANGED
            return None if new is None else encode_document(collection, key, new)

        return self._change(collection, key, decide, "update")[1]

    def delete(self, collection: str, key: str, *, if_version: int | None = None) -> bool:
        """Delete the document at ``key``; ``False`` if there was none.

        Raises:
            StateConflictError: ``if_version`` is given and the stored version differs.
        """
        check_name(collection)
        check_key(collection, key)

        def decide(before: StoredDocument | None) -> Change:
            if if_version is not None and (before is None or before.version != if_version):
                found = "no document" if before is None else f"version {before.version}"
                raise StateConflictError(
                    f"{self._where('delete', collection, key)}: expected version {if_version}, "
                    f"found {found}"
                )
            return None if before is not None else UNCHANGED

        return self._change(collection, key, decide, "delete")[0] is not None

    def consume(self, collection: str, key: str) -> StoredDocument | None:
        """Atomically get and delete the document at ``key``: of any number of concurrent callers,
        in any number of processes, exactly one gets it; the others get ``None``.

        Example:
            >>> store = MemoryStateStore()
            >>> _ = store.put("codes", "c1", {"subject": "subj_1"})
            >>> store.consume("codes", "c1").document, store.consume("codes", "c1")
            ({'subject': 'subj_1'}, None)
        """
        check_name(collection)
        check_key(collection, key)
        return self._change(
            collection, key, lambda before: None if before is not None else UNCHANGED, "consume"
        )[0]

    def items(self, collection: str, *, prefix: str = "") -> tuple[StoredDocument, ...]:
        """The documents of ``collection`` whose key starts with ``prefix``, in key order.

        Key order is code point order, the same in every store.
        """
        check_name(collection)
        if prefix:
            check_key(collection, prefix)
        return tuple(self._scan(collection, prefix, prefix_end(prefix)))

    def append(self, collection: str, document: Document, *, if_last: int | None = None) -> int:
        """Append ``document`` to the log ``collection``; return its sequence number (from 1).

        Sequence numbers have no gaps, also with many processes appending at once.

        Args:
            if_last: only if the log's last sequence number is this one (0: the log is empty),
                for logs whose entries chain on the one before.

        Raises:
            StateConflictError: ``if_last`` is given and another entry was appended meanwhile.
        """
        check_name(collection)
        if if_last is not None and (isinstance(if_last, bool) or if_last < 0):
            raise StateValueError(f"{collection}: if_last must be 0 or more, got {if_last!r}")
        return self._append(collection, encode_document(collection, "<entry>", document), if_last)

    def entries(
        self, collection: str, *, after: int = 0, limit: int | None = None
    ) -> tuple[LogEntry, ...]:
        """The log's entries with a sequence number above ``after``, oldest first (at most ``limit``)."""
        check_name(collection)
        if limit is not None and limit < 1:
            raise StateValueError(f"{collection}: limit must be at least 1, got {limit}")
        return tuple(self._entries(collection, max(after, 0), limit))

    def secret(self, name: str = "default", *, create: bool = True) -> bytes:
        """The deployment's secret ``name``: 32 random bytes, created by the first caller (once,
        atomically, whatever the number of processes) and the same for every caller after.

        Raises:
            StateError: ``create=False`` and the secret was never created.

        Example:
            >>> store = MemoryStateStore()
            >>> store.secret() == store.secret(), len(store.secret())
            (True, 32)
        """
        check_name(name, "secret")
        value = self._secret(name, create)
        if value is None:
            raise StateError(
                f"{self.name}: no secret {name!r} (it is created by the first secret({name!r}) "
                "with create=True)"
            )
        return value

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the store's connections (a no-op for the memory store)."""

    def __repr__(self) -> str:
        return f"<{self.name}>"


class MemoryStateStore(BaseStateStore):
    """A state store in this process's memory: for tests and single-process tools.

    It checks and copies documents exactly as the database stores do, so code tested against it
    behaves the same on them; nothing is shared with another process or survives this one.

    Example:
        >>> store = MemoryStateStore()
        >>> _ = store.put("preferences", "subj_1|objection|marketing", {"at": "2026-01-01"})
        >>> _ = store.put("preferences", "subj_2|objection|marketing", {"at": "2026-01-02"})
        >>> [d.key for d in store.items("preferences", prefix="subj_1|")]
        ['subj_1|objection|marketing']
    """

    name = "MemoryStateStore"

    def __init__(self) -> None:
        self._documents: dict[tuple[str, str], tuple[str, int]] = {}
        self._logs: dict[str, list[str]] = {}
        self._secrets: dict[str, bytes] = {}
        self._lock = threading.RLock()

    def _read(self, collection: str, key: str) -> StoredDocument | None:
        with self._lock:
            found = self._documents.get((collection, key))
        return None if found is None else StoredDocument(key, decode_document(found[0]), found[1])

    def _scan(self, collection: str, start: str, end: str | None) -> list[StoredDocument]:
        with self._lock:
            rows = [
                StoredDocument(k, decode_document(text), version)
                for (c, k), (text, version) in self._documents.items()
                if c == collection and k >= start and (end is None or k < end)
            ]
        return sorted(rows, key=lambda d: d.key)

    def _change(
        self, collection: str, key: str, decide: Decide, operation: str
    ) -> tuple[StoredDocument | None, StoredDocument | None]:
        with self._lock:
            before = self._read(collection, key)
            change = decide(before)
            if isinstance(change, _Unchanged):
                return before, before
            if change is None:
                self._documents.pop((collection, key), None)
                return before, None
            version = 1 if before is None else before.version + 1
            self._documents[(collection, key)] = (change, version)
            return before, StoredDocument(key, decode_document(change), version)

    def _append(self, collection: str, text: str, if_last: int | None) -> int:
        with self._lock:
            log = self._logs.setdefault(collection, [])
            if if_last is not None and if_last != len(log):
                raise StateConflictError(
                    f"{self._where('append', collection)}: expected the last entry to be "
                    f"{if_last}, found {len(log)}"
                )
            log.append(text)
            return len(log)

    def _entries(self, collection: str, after: int, limit: int | None) -> list[LogEntry]:
        with self._lock:
            log = list(self._logs.get(collection, []))
        found = [LogEntry(seq, decode_document(text)) for seq, text in enumerate(log, 1)][after:]
        return found if limit is None else found[:limit]

    def _secret(self, name: str, create: bool) -> bytes | None:
        with self._lock:
            if name not in self._secrets and create:
                self._secrets[name] = new_secret()
            return self._secrets.get(name)
