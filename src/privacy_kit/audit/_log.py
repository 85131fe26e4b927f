"""An append-only, hash-chained audit log of what privacy_kit did and why.

Every entry carries a sequence number, a UTC timestamp, an action (``"erasure.applied"``,
``"request.transition"``, ...), a subject *reference* (a keyed hash such as
``engine.reference(subject)``, never an e-mail address or a name), details made of references,
counts and hashes, the hash of the entry before it and its own hash: SHA-256 over a canonical
orjson encoding (sorted keys) of everything else. Editing, removing, inserting or reordering an
entry therefore breaks the chain, and :meth:`AuditLog.verify` says where. A truncated tail leaves
a valid chain behind, so it can only be caught against a head kept elsewhere
(:meth:`AuditLog.head`, then ``verify(expected_head=...)``).

**The log must never hold personal data.** Callers pass references and hashes only; as a safety
net, ``record`` refuses values that are not plain JSON and strings that look like an e-mail
address, but it cannot recognise every kind of personal data: that stays the caller's duty.

The entries and the chain are in :mod:`._entries`, the sinks (memory, JSON lines, SQLite) in
:mod:`._sinks`; this module holds the :class:`AuditLog` facade over them.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from .._errors import AuditIntegrityError
from .._types import require_aware
from ._entries import GENESIS_HASH, AuditEntry, AuditHead, AuditProblem, AuditVerification
from ._sinks import AuditSink, JsonlSink, MemorySink, SqliteSink

__all__ = ["AuditLog"]

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


class AuditLog:
    """An append-only, hash-chained log over a sink.

    Args:
        sink: where entries are stored (:class:`MemorySink`, :class:`JsonlSink`,
            :class:`SqliteSink` or your own :class:`AuditSink`).

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
    """

    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink
        self._lock = threading.Lock()

    @classmethod
    def memory(cls) -> AuditLog:
        """A log held in memory (lost when the process ends)."""
        return cls(MemorySink())

    @classmethod
    def jsonl(cls, path: str | os.PathLike[str], *, fsync: bool = False) -> AuditLog:
        """A log in a JSON-lines file (see :class:`JsonlSink`)."""
        return cls(JsonlSink(path, fsync=fsync))

    @classmethod
    def sqlite(
        cls,
        path_or_connection: str | os.PathLike[str] | sqlite3.Connection,
        *,
        table: str = "privacy_kit_audit",
    ) -> AuditLog:
        """A log in an SQLite table (see :class:`SqliteSink` for the schema)."""
        return cls(SqliteSink(path_or_connection, table=table))

    def _tail(self) -> AuditEntry | None:
        raw = self.sink.last()
        if raw is None:
            return None
        where = raw.location
        if raw.data is None:
            raise AuditIntegrityError(
                f"refusing to append: the log's last entry ({where}) is corrupt: {raw.error}"
            )
        try:
            entry = AuditEntry.from_dict(raw.data)
        except ValueError as exc:
            raise AuditIntegrityError(
                f"refusing to append: the log's last entry ({where}) is malformed: {exc}"
            ) from None
        if entry.compute_hash() != entry.hash:
            raise AuditIntegrityError(
                f"refusing to append: the log's last entry ({where}, sequence {entry.sequence}) "
                "does not match its hash (edited)"
            )
        return entry

    def record(
        self,
        action: str,
        *,
        now: dt.datetime,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append an entry and return it.

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
            AuditIntegrityError: the log's last entry is corrupt, so the chain cannot continue.

        Example:
            >>> log = AuditLog.memory()
            >>> log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), details={"when": dt.date(2026, 1, 1)})
            Traceback (most recent call last):
            ...
            ValueError: details.when: date is not a JSON scalar, list or object; the audit log holds references, counts and hashes only
        """
        require_aware(now)
        if not _ACTION.match(action):
            raise ValueError(
                f"action must be dotted lower case such as 'erasure.applied', got {action!r}"
            )
        if subject is not None:
            if not isinstance(subject, str):
                raise ValueError(
                    f"subject must be a reference string, got {type(subject).__name__}"
                )
            _check_json(subject, "subject")
        clean = _check_json(dict(details or {}), "details")
        with self._lock:
            tail = self._tail()
            entry = AuditEntry(
                sequence=1 if tail is None else tail.sequence + 1,
                at=now.astimezone(dt.UTC),
                action=action,
                subject=subject,
                details=clean,
                prev_hash=GENESIS_HASH if tail is None else tail.hash,
                hash="",
            )
            entry = attrs.evolve(entry, hash=entry.compute_hash())
            self.sink.append(entry)
        return entry

    def entries(self) -> Iterator[AuditEntry]:
        """Every entry, in order.

        Raises:
            AuditIntegrityError: an entry cannot be read (names where); use :meth:`verify` to
                check the chain itself.
        """
        for raw in self.sink.read():
            if raw.data is None:
                raise AuditIntegrityError(f"{raw.location}: {raw.error}")
            try:
                yield AuditEntry.from_dict(raw.data)
            except ValueError as exc:
                raise AuditIntegrityError(f"{raw.location}: {exc}") from None

    def head(self) -> AuditHead | None:
        """The last entry's sequence and hash (keep it elsewhere to catch truncation later)."""
        tail = self._tail()
        return None if tail is None else AuditHead(tail.sequence, tail.hash)

    def verify(
        self,
        *,
        expected_head: AuditHead | str | None = None,
        expected_count: int | None = None,
    ) -> AuditVerification:
        """Check the whole chain and say where it breaks.

        Finds edited entries (hash mismatch), removed, inserted or reordered ones (sequence gaps
        and a broken ``prev_hash`` link), corrupt lines, and, given a head or a count recorded
        earlier, a truncated tail.

        Args:
            expected_head: an :class:`AuditHead` (or just its hash) taken earlier; the log must
                still contain it (it may have grown since).
            expected_count: the log must hold at least this many entries.

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
        problems: list[AuditProblem] = []
        expected_seq = 1
        prev_hash: str | None = GENESIS_HASH
        seen_hashes: dict[str, int] = {}
        count = 0
        last: AuditEntry | None = None
        for index, raw in enumerate(self.sink.read()):
            count += 1
            if raw.data is None:
                problems.append(AuditProblem(index, raw.location, None, f"corrupt: {raw.error}"))
                prev_hash = None  # the link to the next entry cannot be checked
                expected_seq += 1
                continue
            try:
                entry = AuditEntry.from_dict(raw.data)
            except ValueError as exc:
                seq = raw.data.get("sequence")
                problems.append(
                    AuditProblem(
                        index,
                        raw.location,
                        seq if isinstance(seq, int) else None,
                        f"malformed entry: {exc}",
                    )
                )
                prev_hash = None
                expected_seq += 1
                continue
            where = raw.location
            if entry.compute_hash() != entry.hash:
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        "content does not match its hash (entry edited)",
                    )
                )
            if entry.sequence < expected_seq:
                # Keep the chain position: the entries after it are checked against the entry
                # before it, so one moved entry is reported once, not as a cascade.
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        f"expected sequence {expected_seq}: entry out of order, duplicated or inserted",
                    )
                )
                continue
            if entry.sequence > expected_seq:
                missing = entry.sequence - expected_seq
                first = expected_seq
                span = str(first) if missing == 1 else f"{first}-{entry.sequence - 1}"
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        f"expected sequence {expected_seq}: sequence {span} missing before this "
                        "entry (removed or moved)",
                    )
                )
            elif prev_hash is not None and entry.prev_hash != prev_hash:
                # Sequence looks right but the link is wrong: the entry before was rewritten
                # (with a recomputed hash), or this one was inserted with a forged sequence.
                problems.append(
                    AuditProblem(
                        index,
                        where,
                        entry.sequence,
                        "prev_hash does not match the hash of the entry before it "
                        "(an entry was inserted, removed or rewritten here)",
                    )
                )
            seen_hashes.setdefault(entry.hash, entry.sequence)
            prev_hash = entry.hash
            expected_seq = entry.sequence + 1
            last = entry
        head = None if last is None else AuditHead(last.sequence, last.hash)
        if expected_head is not None:
            wanted = expected_head.hash if isinstance(expected_head, AuditHead) else expected_head
            if wanted not in seen_hashes:
                where_seq = expected_head.sequence if isinstance(expected_head, AuditHead) else None
                ends = f"the log ends at sequence {head.sequence}" if head else "the log is empty"
                problems.append(
                    AuditProblem(
                        None,
                        "end",
                        where_seq,
                        f"expected head {wanted[:16]}... is missing; {ends}: the tail was "
                        "truncated or rewritten",
                    )
                )
        if expected_count is not None and count < expected_count:
            problems.append(
                AuditProblem(
                    None,
                    "end",
                    None,
                    f"{count} entries, expected at least {expected_count}: the tail was truncated",
                )
            )
        return AuditVerification(tuple(problems), count, head)

    def verify_or_raise(
        self,
        *,
        expected_head: AuditHead | str | None = None,
        expected_count: int | None = None,
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
        result = self.verify(expected_head=expected_head, expected_count=expected_count)
        if not result.ok:
            raise AuditIntegrityError(str(result))

    def __repr__(self) -> str:
        return f"<AuditLog sink={type(self.sink).__name__}>"
