"""An append-only, hash-chained audit log of what privacy_kit did and why.

Every entry carries a sequence number, a UTC timestamp, an action (``"erasure.applied"``,
``"request.transition"``, ...), a subject *reference* (a keyed hash such as
``engine.reference(subject)``, never an e-mail address or a name), details made of references,
counts and hashes, the hash of the entry before it and its own hash: SHA-256 over a canonical
orjson encoding (sorted keys) of everything else, or, with ``key=``, HMAC-SHA256 under that key so
that nobody without it can append entries that verify. Editing, removing, inserting or reordering
an entry therefore breaks the chain, and :meth:`AuditLog.verify` says where. A truncated tail, or
a chain rewritten whole by someone who can write (and, unkeyed, hash), leaves a valid chain
behind, so it can only be caught against an anchor published elsewhere (:meth:`AuditLog.anchor`,
then ``verify(expected_head=...)``).

Appending reads the tail and writes the next entry under one lock that every writer respects
(other processes too, for the JSON-lines, SQLite and SQLAlchemy sinks), so several processes may
share one log.

**The log must never hold personal data.** Callers pass references and hashes only; as a safety
net, ``record`` refuses values that are not plain JSON and strings that look like an e-mail
address, but it cannot recognise every kind of personal data: that stays the caller's duty.

The entries and the chain are in :mod:`._entries`, the checks in :mod:`._verify`, the sinks in
:mod:`._sinks` (memory, SQLite), :mod:`._sink_jsonl` and :mod:`._sink_sqlalchemy`; this module
holds the :class:`AuditLog` facade over them.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

import attrs

from .._errors import AuditIntegrityError, ConfigurationError
from .._types import require_aware
from ._entries import (
    CHAIN_HMAC,
    CHAIN_SHA256,
    GENESIS_HASH,
    AuditEntry,
    AuditHead,
    AuditVerification,
    RawEntry,
)
from ._sink_jsonl import JsonlSink
from ._sinks import AuditSink, MemorySink, SqliteSink
from ._verify import Anchor, verify_chain

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["AuditLog"]

_log = logging.getLogger("privacy_kit.audit")

_ACTION = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
# A deliberately narrow safety net: something@domain.tld anywhere in a string.
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[A-Za-z]{2,}")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _check_json(value: Any, path: str) -> Any:
    """Return ``value`` as plain JSON (tuples become lists) or raise ``ValueError`` naming ``path``."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise ValueError(f"{path}: integer {value} does not fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{path}: {value} is not a JSON number")
        return value
    if isinstance(value, str):
        if _EMAIL.search(value):
            raise ValueError(
                f"{path}: looks like an e-mail address; the audit log holds references and "
                "hashes only, never personal data (pass engine.reference(subject) or a hash)"
            )
        return value
    if isinstance(value, list | tuple):
        return [_check_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{path}: key {key!r} is not a string")
            out[key] = _check_json(item, f"{path}.{key}")
        return out
    raise ValueError(
        f"{path}: {type(value).__name__} is not a JSON scalar, list or object; the audit log "
        "holds references, counts and hashes only"
    )


def _check_key(key: object) -> bytes | None:
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray) or not key:
        raise ConfigurationError(
            f"audit key must be non-empty bytes (32 random bytes are a good key), got "
            f"{type(key).__name__}"
        )
    return bytes(key)


_Item = tuple[str, dt.datetime, str | None, dict[str, Any]]
"""An entry checked and waiting to be appended: action, instant (UTC), subject, details."""


def _checked(
    action: str, now: dt.datetime, subject: str | None, details: Mapping[str, Any] | None
) -> _Item:
    """What :meth:`AuditLog.record` appends, checked (``ValueError`` naming what is wrong)."""
    require_aware(now)
    if not _ACTION.match(action):
        raise ValueError(
            f"action must be dotted lower case such as 'erasure.applied', got {action!r}"
        )
    if subject is not None:
        if not isinstance(subject, str):
            raise ValueError(f"subject must be a reference string, got {type(subject).__name__}")
        _check_json(subject, "subject")
    return action, now.astimezone(dt.UTC), subject, _check_json(dict(details or {}), "details")


class AuditLog:
    """An append-only, hash-chained log over a sink.

    Args:
        sink: where entries are stored (:class:`MemorySink`, :class:`JsonlSink`,
            :class:`SqliteSink`, :class:`SQLAlchemySink` or your own :class:`AuditSink`).
        key: makes the chain keyed: each entry's hash is an HMAC-SHA256 under this key (and the
            entry says so), so a writer without the key cannot append entries that verify. Keep
            it out of the store, like any secret. ``None``: plain SHA-256, as before keys existed.

    Example:
        >>> log = AuditLog.memory()
        >>> now = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
        >>> _ = log.record("erasure.applied", now=now, subject="subj_ab12", details={"deleted": 3})
        >>> _ = log.record("export.written", now=now, subject="subj_ab12", details={"files": 4})
        >>> [e.action for e in log.entries()]
        ['erasure.applied', 'export.written']
        >>> log.verify().ok
        True
        >>> log.record("x.y", now=now, details={"email": "ann@example.com"})
        Traceback (most recent call last):
        ...
        ValueError: details.email: looks like an e-mail address; the audit log holds references and hashes only, never personal data (pass engine.reference(subject) or a hash)

        A keyed log, and what a writer without the key leaves behind:

        >>> keyed = AuditLog.memory(key=b"a secret of 32 random bytes.....")
        >>> _ = keyed.record("a.b", now=now)
        >>> forger = AuditLog(keyed.sink)
        >>> forger.record("forged.entry", now=now)
        Traceback (most recent call last):
        ...
        privacy_kit._errors.AuditIntegrityError: refusing to append: the log is keyed (hmac-sha256) and this AuditLog has no key; pass key=
    """

    def __init__(self, sink: AuditSink, *, key: bytes | None = None) -> None:
        self.sink = sink
        self._key = _check_key(key)
        self._lock = threading.Lock()
        self._deferred: list[_Item] = []

    @property
    def keyed(self) -> bool:
        """Whether this log writes (and verifies) a keyed chain."""
        return self._key is not None

    @classmethod
    def memory(cls, *, key: bytes | None = None) -> AuditLog:
        """A log held in memory (lost when the process ends)."""
        return cls(MemorySink(), key=key)

    @classmethod
    def jsonl(
        cls, path: str | os.PathLike[str], *, fsync: bool = False, key: bytes | None = None
    ) -> AuditLog:
        """A log in a JSON-lines file (see :class:`JsonlSink`); several processes may append."""
        return cls(JsonlSink(path, fsync=fsync), key=key)

    @classmethod
    def sqlite(
        cls,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_audit",
        timeout: float = 30.0,
        key: bytes | None = None,
    ) -> AuditLog:
        """A log in an SQLite table (see :class:`SqliteSink`); several processes may append."""
        return cls(SqliteSink(path_or_connection, table=table, timeout=timeout), key=key)

    @classmethod
    def sqlalchemy(
        cls,
        engine: sa.Engine | str,
        *,
        table: str = "privacy_kit_audit",
        schema: str | None = None,
        timeout: float = 30.0,
        key: bytes | None = None,
    ) -> AuditLog:
        """A log in a database server's table (see :class:`SQLAlchemySink`): PostgreSQL, MariaDB.

        The default for several processes or machines. Needs ``privacy-kit[sqlalchemy]``.
        """
        from ._sink_sqlalchemy import SQLAlchemySink  # noqa: PLC0415 - an optional extra

        return cls(SQLAlchemySink(engine, table=table, schema=schema, timeout=timeout), key=key)

    def _trusted(self, raw: RawEntry | None, *, appending: bool) -> AuditEntry | None:
        """The stored tail as an entry, if it can be trusted to continue the chain from."""
        if raw is None:
            return None
        refuse = "refusing to append" if appending else "cannot read the head"
        where = raw.location
        if raw.data is None:
            raise AuditIntegrityError(
                f"{refuse}: the log's last entry ({where}) is corrupt: {raw.error}"
            )
        if raw.error is not None:
            raise AuditIntegrityError(
                f"{refuse}: the log's last entry ({where}) is ambiguous: {raw.error}"
            )
        try:
            entry = AuditEntry.from_dict(raw.data)
        except ValueError as exc:
            raise AuditIntegrityError(
                f"{refuse}: the log's last entry ({where}) is malformed: {exc}"
            ) from None
        if entry.keyed and self._key is None:
            raise AuditIntegrityError(
                f"{refuse}: the log is keyed ({CHAIN_HMAC}) and this AuditLog has no key; pass key="
            )
        if not entry.keyed and self._key is not None:
            raise AuditIntegrityError(
                f"{refuse}: the log's last entry ({where}, sequence {entry.sequence}) is not "
                "keyed: a keyed log cannot continue an unkeyed chain (start the keyed log in a "
                "new file or table)"
            )
        if entry.compute_hash(self._key) != entry.hash:
            raise AuditIntegrityError(
                f"{refuse}: the log's last entry ({where}, sequence {entry.sequence}) "
                "does not match its hash (edited"
                + (", or written without the key)" if self._key else ")")
            )
        return entry

    def _tail(self) -> AuditEntry | None:
        return self._trusted(self.sink.last(), appending=False)

    def record(
        self,
        action: str,
        *,
        now: dt.datetime,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry and return it.

        The next sequence number and ``prev_hash`` come from the store's tail as it is when the
        sink's lock is taken (for the shipped file and database sinks, a lock every process
        respects), so writers in several processes extend one chain. Entries waiting after
        :meth:`defer` are written first, in the same write.

        Args:
            action: what happened, dotted lower case (``"request.transition"``).
            now: when (timezone-aware; stored in UTC).
            subject: the subject's reference (``engine.reference(subject)``), never an identity.
            details: JSON references, counts and hashes. Never personal data.

        Returns:
            The stored entry.

        Raises:
            ValueError: a naive ``now``, a malformed action, or details that are not plain JSON
                or contain something that looks like an e-mail address.
            AuditIntegrityError: the log's last entry is corrupt, ambiguous or of the other
                scheme (keyed / unkeyed), so the chain cannot continue.
            AuditSinkError: the store failed or stayed locked (names the sink).

        Example:
            >>> log = AuditLog.memory()
            >>> log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), details={"when": dt.date(2026, 1, 1)})
            Traceback (most recent call last):
            ...
            ValueError: details.when: date is not a JSON scalar, list or object; the audit log holds references, counts and hashes only
        """
        item = _checked(action, now, subject, details)
        with self._lock:
            entries = self._append([*self._deferred, item])
            self._deferred.clear()
        return entries[-1]

    def defer(
        self,
        action: str,
        *,
        now: dt.datetime,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Check an entry now and append it with the next one this log records (or :meth:`flush`).

        For entries that record no change (a sweep step that found nothing to do): they are
        written in the same write as the next entry (one transaction, one sync), in order, so a
        run of such steps costs one write, not one each. An entry that records a change must be
        recorded with :meth:`record`, which also writes the deferred ones first. Deferred
        entries still waiting when the process ends are lost; only this ``AuditLog`` object
        holds them.

        Raises:
            ValueError: as :meth:`record` (checked now, not when written).

        Example:
            >>> log = AuditLog.memory()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> log.defer("retention.step", now=now, details={"count": 0})
            >>> len(log.sink.rows), log.deferred
            (0, 1)
            >>> _ = log.record("retention.applied", now=now, details={"total": 0})
            >>> [row["action"] for row in log.sink.rows], log.deferred
            (['retention.step', 'retention.applied'], 0)
        """
        item = _checked(action, now, subject, details)
        with self._lock:
            self._deferred.append(item)

    @property
    def deferred(self) -> int:
        """How many deferred entries wait to be written (see :meth:`defer`)."""
        return len(self._deferred)

    def flush(self) -> int:
        """Write the deferred entries now (in one write); return how many were written.

        Example:
            >>> log = AuditLog.memory()
            >>> log.defer("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> log.flush(), log.flush(), len(log.sink.rows)
            (1, 0, 1)
        """
        with self._lock:
            if not self._deferred:
                return 0
            written = self._append(list(self._deferred))
            self._deferred.clear()
        return len(written)

    def _append(self, items: list[_Item]) -> list[AuditEntry]:
        """Append ``items`` after the store's tail, in one write where the sink can."""
        key = self._key

        def make(raw: RawEntry | None, todo: list[_Item] = items) -> list[AuditEntry]:
            tail = self._trusted(raw, appending=True)
            made: list[AuditEntry] = []
            for action, at, subject, details in todo:
                entry = AuditEntry(
                    sequence=1 if tail is None else tail.sequence + 1,
                    at=at,
                    action=action,
                    subject=subject,
                    details=details,
                    prev_hash=GENESIS_HASH if tail is None else tail.hash,
                    hash="",
                    chain=CHAIN_SHA256 if key is None else CHAIN_HMAC,
                )
                tail = attrs.evolve(entry, hash=entry.compute_hash(key))
                made.append(tail)
            return made

        append_all = getattr(self.sink, "append_next_all", None)
        append_next = getattr(self.sink, "append_next", None)
        entries: list[AuditEntry] = []
        if callable(append_all):
            entries = cast("list[AuditEntry]", append_all(make))
        elif callable(append_next):  # one at a time, each after the tail as it then is
            for item in items:
                one = append_next(lambda raw, todo=[item]: make(raw, todo)[0])
                entries.append(cast("AuditEntry", one))
        else:  # a sink of your own without append_next: serialised within this AuditLog only
            for item in items:
                entry = make(self.sink.last(), [item])[0]
                self.sink.append(entry)
                entries.append(entry)
        for entry in entries:
            _log.debug(
                "audit entry %d recorded: %s (subject %s)",
                entry.sequence,
                entry.action,
                entry.subject,
            )
        return entries

    def entries(self) -> Iterator[AuditEntry]:
        """Every entry, in order.

        Raises:
            AuditIntegrityError: an entry cannot be read, or is ambiguous (names where); use
                :meth:`verify` to check the chain itself.
        """
        for raw in self.sink.read():
            if raw.error is not None:
                raise AuditIntegrityError(f"{raw.location}: {raw.error}")
            if raw.data is None:  # pragma: no cover - sinks always say why
                raise AuditIntegrityError(f"{raw.location}: unreadable")
            try:
                yield AuditEntry.from_dict(raw.data)
            except ValueError as exc:
                raise AuditIntegrityError(f"{raw.location}: {exc}") from None

    def head(self) -> AuditHead | None:
        """The last entry's sequence and hash (keep it elsewhere to catch truncation later).

        Raises:
            AuditIntegrityError: the last entry is corrupt, does not match its hash, or is keyed
                and this log has no key.
        """
        tail = self._tail()
        return None if tail is None else AuditHead(tail.sequence, tail.hash)

    def anchor(self) -> dict[str, Any]:
        """The head as a small JSON value to publish elsewhere and check later.

        ``{"sequence": n, "hash": "..."}`` (``sequence`` 0 and :data:`GENESIS_HASH` for an empty
        log). Store it where the log's writers cannot rewrite it (another system, a ticket, a
        signed message, a transparency log); later, ``verify(expected_head=anchor)`` reports a
        log truncated before it or rewritten or forked at or before it. Entries after the anchor
        are protected by the next anchor only.

        Example:
            >>> log = AuditLog.memory()
            >>> log.anchor() == {"sequence": 0, "hash": GENESIS_HASH}
            True
            >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
            >>> anchor = log.anchor()
            >>> anchor["sequence"], log.verify(expected_head=anchor).ok
            (1, True)
            >>> log.sink.rows.clear()
            >>> print(log.verify(expected_head=anchor))  # doctest: +ELLIPSIS
            audit log does not verify (1 problem(s)):
              end (sequence 1): expected head ... is missing; the log is empty: the tail was truncated
        """
        head = self.head()
        return AuditHead(0, GENESIS_HASH).to_dict() if head is None else head.to_dict()

    def verify(
        self,
        *,
        expected_head: Anchor | None = None,
        expected_count: int | None = None,
        key: bytes | None = None,
    ) -> AuditVerification:
        """Check the whole chain and say where it breaks.

        Finds edited entries (hash mismatch), removed, inserted or reordered ones (sequence gaps
        and a broken ``prev_hash`` link), corrupt lines, entries with a duplicated JSON key, and,
        given an anchor or a count recorded earlier, a truncated tail or a chain rewritten or
        forked at or before the anchor. With a key (this log's, or ``key=``), every entry must be
        an HMAC under it: an entry written without the key is reported. Without one, the hashes
        of a keyed log cannot be checked, and that is reported too.

        Args:
            expected_head: an anchor taken earlier (:meth:`anchor`'s value, an
                :class:`AuditHead`, or just its hash); the log must still hold that entry
                unchanged at that sequence (it may have grown since).
            expected_count: the log must hold at least this many entries.
            key: the HMAC key to check a keyed chain with (default: this log's key).

        Returns:
            An :class:`AuditVerification` listing every problem with its location.

        Example:
            >>> log = AuditLog.memory()
            >>> now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            >>> for n in range(3):
            ...     _ = log.record("a.b", now=now, details={"n": n})
            >>> log.sink.rows[1]["details"]["n"] = 99
            >>> print(log.verify())
            audit log does not verify (1 problem(s)):
              entry 2 (sequence 2): content does not match its hash (entry edited)
        """
        return verify_chain(
            self.sink.read(),
            key=self._key if key is None else _check_key(key),
            expected_head=expected_head,
            expected_count=expected_count,
        )

    def verify_or_raise(
        self,
        *,
        expected_head: Anchor | None = None,
        expected_count: int | None = None,
        key: bytes | None = None,
    ) -> None:
        """Like :meth:`verify`, but raise if anything is wrong.

        Raises:
            AuditIntegrityError: naming every problem and where it is.

        Example:
            >>> AuditLog.memory().verify_or_raise(expected_count=1)
            Traceback (most recent call last):
            ...
            privacy_kit._errors.AuditIntegrityError: audit log does not verify (1 problem(s)):
              end: 0 entries, expected at least 1: the tail was truncated
        """
        result = self.verify(expected_head=expected_head, expected_count=expected_count, key=key)
        if not result.ok:
            raise AuditIntegrityError(str(result))

    def __repr__(self) -> str:
        keyed = ", keyed" if self._key is not None else ""
        return f"<AuditLog sink={type(self.sink).__name__}{keyed}>"
