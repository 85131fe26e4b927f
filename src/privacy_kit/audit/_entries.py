"""The entries of the audit log and their hash chain: :class:`AuditEntry` with its canonical
orjson encoding (sorted keys) and its hash (SHA-256, or HMAC-SHA256 with a key for a keyed chain),
the :data:`GENESIS_HASH` the first entry links to, :class:`RawEntry` (what a sink reads back,
corrupt or not) and the decoding that catches duplicated JSON keys, and the values verification
reports with (:class:`AuditHead`, :class:`AuditProblem`, :class:`AuditVerification`); the sinks and
the :class:`~privacy_kit.audit.AuditLog` that appends to and verifies the chain build on these.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

__all__ = [
    "CHAIN_HMAC",
    "CHAIN_SHA256",
    "GENESIS_HASH",
    "AuditEntry",
    "AuditHead",
    "AuditProblem",
    "AuditVerification",
    "RawEntry",
]

#: The ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64

#: The unkeyed chain: each hash is SHA-256 (entries carry no ``chain`` field).
CHAIN_SHA256 = "sha256"
#: The keyed chain: each hash is HMAC-SHA256 with the log's key (entries carry ``"chain"``).
CHAIN_HMAC = "hmac-sha256"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = ("action", "at", "details", "hash", "prev_hash", "sequence", "subject")
_OPTIONAL = ("chain",)


def _canonical(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


def _utc_text(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat()


class _DuplicateKeyError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKeyError(key)
        seen[key] = value
    return seen


def duplicated_key(raw: bytes | str, decoded: Any) -> str | None:
    """The first key that occurs twice in one object of the JSON text ``raw``, or ``None``.

    orjson (like most parsers) silently keeps the last value of a duplicated key, so a line could
    show one value to a reader and hash another. ``decoded`` is orjson's result: text that is
    already in canonical form cannot hold a duplicate, so only other text is parsed again.
    """
    text = raw.encode() if isinstance(raw, str) else raw
    canonical = _canonical(decoded) if isinstance(decoded, Mapping) else None
    if canonical is not None and text.rstrip(b"\r\n") == canonical:
        return None
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKeyError as exc:
        return str(exc.args[0])
    except ValueError:  # the stdlib parser refuses text orjson took: nothing more to learn
        return None
    return None


def decode_object(raw: bytes | str, location: str, what: str = "") -> RawEntry:
    """Decode one JSON object read from a sink, reporting invalid JSON and duplicated keys.

    ``what`` names the part decoded (``"details "``) in the messages.
    """
    try:
        data = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError) as exc:
        return RawEntry(location, None, f"{what}not valid JSON ({exc})")
    if not isinstance(data, dict):
        return RawEntry(location, None, f"{what}not a JSON object (got {type(data).__name__})")
    duplicate = duplicated_key(raw, data)
    if duplicate is not None:
        return RawEntry(
            location,
            data,
            f"{what}duplicated JSON key {duplicate!r}: readers disagree on which value counts, so "
            "the entry is ambiguous (edited by hand or forged)",
        )
    return RawEntry(location, data)


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
        hash: SHA-256 (hex) of the canonical encoding of all the fields above, or, in a keyed
            chain, HMAC-SHA256 with the log's key.
        chain: ``"sha256"`` (unkeyed, not stored: files written before keys existed verify as
            before) or ``"hmac-sha256"`` (keyed, stored and hashed with the entry).

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
    chain: str = CHAIN_SHA256

    def payload(self) -> dict[str, Any]:
        """The hashed fields, as JSON-ready values (``chain`` only in a keyed chain)."""
        data: dict[str, Any] = {
            "sequence": self.sequence,
            "at": _utc_text(self.at),
            "action": self.action,
            "subject": self.subject,
            "details": dict(self.details),
            "prev_hash": self.prev_hash,
        }
        if self.chain != CHAIN_SHA256:
            data["chain"] = self.chain
        return data

    @property
    def keyed(self) -> bool:
        """Whether the entry's hash is an HMAC (a keyed chain)."""
        return self.chain == CHAIN_HMAC

    def compute_hash(self, key: bytes | None = None) -> str:
        """The entry's hash (hex) over the canonical encoding of :meth:`payload`.

        SHA-256 for an unkeyed entry (``key`` is not used), HMAC-SHA256 with ``key`` for a keyed
        one; a keyed entry without a key raises ``ValueError``.

        Example:
            >>> e = AuditEntry(1, dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "a.b", None, {},
            ...                GENESIS_HASH, "", chain="hmac-sha256")
            >>> e.compute_hash(b"k1") != e.compute_hash(b"k2")
            True
            >>> e.compute_hash()
            Traceback (most recent call last):
            ...
            ValueError: entry 1 is keyed (hmac-sha256): its hash needs the key
        """
        encoded = _canonical(self.payload())
        if self.chain == CHAIN_HMAC:
            if key is None:
                raise ValueError(
                    f"entry {self.sequence} is keyed ({CHAIN_HMAC}): its hash needs the key"
                )
            return hmac.new(key, encoded, hashlib.sha256).hexdigest()
        return hashlib.sha256(encoded).hexdigest()

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
        extra = sorted(set(data) - set(_FIELDS) - set(_OPTIONAL))
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
        chain = data.get("chain", CHAIN_SHA256)
        if "chain" in data and chain != CHAIN_HMAC:
            raise ValueError(f"chain must be {CHAIN_HMAC!r} (or absent for SHA-256), got {chain!r}")
        return cls(
            sequence=seq,
            at=at,
            action=data["action"],
            subject=data["subject"],
            details=dict(data["details"]),
            prev_hash=data["prev_hash"],
            hash=data["hash"],
            chain=chain,
        )


@attrs.frozen
class RawEntry:
    """What a sink read back: where it was, and the data or why it could not be read.

    Attributes:
        location: ``"line 3"`` (JSONL), ``"row 3"`` (SQL tables) or ``"entry 3"`` (memory).
        data: the decoded mapping, or ``None`` if it could not be decoded.
        error: why it could not be decoded, or why the decoded data cannot be trusted as it is
            (a duplicated JSON key), or ``None``.
    """

    location: str
    data: Mapping[str, Any] | None
    error: str | None = None


@attrs.frozen
class AuditHead:
    """The last entry's sequence and hash: an *anchor*. Publish it elsewhere (another system, a
    ticket, a signed message) and check the log against it later with
    ``verify(expected_head=...)``: a log truncated before it, or rewritten or forked at or before
    it, no longer verifies. ``sequence`` 0 with :data:`GENESIS_HASH` anchors an empty log.

    Example:
        >>> from privacy_kit.audit import AuditLog
        >>> log = AuditLog.memory()
        >>> _ = log.record("a.b", now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        >>> log.head().sequence
        1
        >>> anchor = log.head().to_dict()
        >>> AuditHead.from_dict(anchor) == log.head()
        True
    """

    sequence: int
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """``{"sequence": n, "hash": "..."}``: JSON, small enough to publish anywhere."""
        return {"sequence": self.sequence, "hash": self.hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditHead:
        """Read back :meth:`to_dict`'s value; ``ValueError`` naming what is wrong.

        Example:
            >>> AuditHead.from_dict({"sequence": 3})
            Traceback (most recent call last):
            ...
            ValueError: audit anchor: hash must be 64 lower-case hex digits, got None
        """
        seq = data.get("sequence")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise ValueError(f"audit anchor: sequence must be an integer >= 0, got {seq!r}")
        digest = data.get("hash")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ValueError(f"audit anchor: hash must be 64 lower-case hex digits, got {digest!r}")
        if (seq == 0) != (digest == GENESIS_HASH):
            raise ValueError("audit anchor: sequence 0 goes with the genesis hash, and only it")
        return cls(seq, digest)


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
