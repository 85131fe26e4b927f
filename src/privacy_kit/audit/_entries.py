"""The entries of the audit log and their hash chain: :class:`AuditEntry` with its canonical
orjson encoding (sorted keys) and SHA-256 hash, the :data:`GENESIS_HASH` the first entry links to,
:class:`RawEntry` (what a sink reads back, corrupt or not), and the values verification reports
with (:class:`AuditHead`, :class:`AuditProblem`, :class:`AuditVerification`); the sinks and the
:class:`~privacy_kit.audit.AuditLog` that appends to and verifies the chain build on these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "AuditHead",
    "AuditProblem",
    "AuditVerification",
    "RawEntry",
]

#: The ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = ("action", "at", "details", "hash", "prev_hash", "sequence", "subject")


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _utc_text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


@attrs.frozen
class AuditEntry:
    """One entry of the log.

    Attributes:
        sequence: 1 for the first entry, then one more for each entry.
        at: when it happened (UTC).
        action: what happened, dotted lower case (``"objection.recorded"``).
        subject: the subject's reference, or ``None``.
        details: JSON references, counts and hashes.
        prev_hash: the hash of the entry before (``GENESIS_HASH`` for the first).
        hash: SHA-256 (hex) of the canonical encoding of all the fields above.

    Example:
        >>> from privacy_kit.audit import AuditLog
        >>> log = AuditLog.memory()
        >>> e = log.record("demo.done", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), details={"n": 1})
        >>> e.sequence, e.prev_hash == GENESIS_HASH, e.hash == e.compute_hash()
        (1, True, True)
    """

    sequence: int
    at: dt.datetime
    action: str
    subject: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def payload(self) -> dict[str, Any]:
        """The hashed fields, as JSON-ready values."""
        return {
            "sequence": self.sequence,
            "at": _utc_text(self.at),
            "action": self.action,
            "subject": self.subject,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }

    def compute_hash(self) -> str:
        """SHA-256 (hex) over the canonical encoding of :meth:`payload`."""
        return hashlib.sha256(_canonical(self.payload())).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The stored form: :meth:`payload` plus ``hash``."""
        return {**self.payload(), "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEntry:
        """Parse the stored form; ``ValueError`` saying which field is wrong.

        Example:
            >>> AuditEntry.from_dict({"sequence": 1})
            Traceback (most recent call last):
            ...
            ValueError: missing field(s): action, at, details, hash, prev_hash, subject
        """
        missing = [f for f in _FIELDS if f not in data]
        if missing:
            raise ValueError(f"missing field(s): {', '.join(missing)}")
        extra = sorted(set(data) - set(_FIELDS))
        if extra:
            raise ValueError(f"unexpected field(s): {', '.join(extra)}")
        seq = data["sequence"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(f"sequence must be a positive integer, got {seq!r}")
        if not isinstance(data["action"], str):
            raise ValueError("action must be a string")
        if data["subject"] is not None and not isinstance(data["subject"], str):
            raise ValueError("subject must be a string or null")
        if not isinstance(data["details"], Mapping):
            raise ValueError("details must be an object")
        for name in ("prev_hash", "hash"):
            if not isinstance(data[name], str) or not _HEX64.match(data[name]):
                raise ValueError(f"{name} must be 64 lower-case hex digits")
        try:
            at = dt.datetime.fromisoformat(data["at"])
        except (TypeError, ValueError):
            raise ValueError(f"at must be an ISO 8601 timestamp, got {data['at']!r}") from None
        if at.utcoffset() is None:
            raise ValueError(f"at must carry a UTC offset, got {data['at']!r}")
        return cls(
            sequence=seq,
            at=at,
            action=data["action"],
            subject=data["subject"],
            details=dict(data["details"]),
            prev_hash=data["prev_hash"],
            hash=data["hash"],
        )


@attrs.frozen
class RawEntry:
    """What a sink read back: where it was, and the data or why it could not be read.

    Attributes:
        location: ``"line 3"`` (JSONL), ``"row 3"`` (SQLite) or ``"entry 3"`` (memory).
        data: the decoded mapping, or ``None`` if it could not be decoded.
        error: why it could not be decoded, or ``None``.
    """

    location: str
    data: Mapping[str, Any] | None
    error: str | None = None


@attrs.frozen
class AuditHead:
    """The last entry's sequence and hash: keep it elsewhere to detect a truncated tail later.

    Example:
        >>> from privacy_kit.audit import AuditLog
        >>> log = AuditLog.memory()
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> log.head().sequence
        1
    """

    sequence: int
    hash: str


@attrs.frozen
class AuditProblem:
    """One thing wrong with the log, and where.

    Attributes:
        index: 0-based position of the stored entry as read back.
        location: where it is stored (``"line 4"``, ``"row 4"``, ``"entry 4"``; ``"end"`` for the tail).
        sequence: the sequence number the entry claims, if it could be read.
        message: what is wrong.
    """

    index: int | None
    location: str
    sequence: int | None
    message: str

    def __str__(self) -> str:
        seq = f" (sequence {self.sequence})" if self.sequence is not None else ""
        return f"{self.location}{seq}: {self.message}"


@attrs.frozen
class AuditVerification:
    """The result of :meth:`AuditLog.verify`.

    Attributes:
        ok: no problem found.
        problems: every problem, in log order.
        count: how many stored entries were read.
        head: the last readable entry's sequence and hash, or ``None`` for an empty log.
    """

    problems: tuple[AuditProblem, ...]
    count: int
    head: AuditHead | None

    @property
    def ok(self) -> bool:
        """Whether the log verified."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"audit log OK: {self.count} entries"
        lines = [f"audit log does not verify ({len(self.problems)} problem(s)):"]
        lines.extend(f"  {p}" for p in self.problems)
        return "\n".join(lines)
