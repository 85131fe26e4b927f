"""Checking a chain as read back from a sink: every entry's hash (SHA-256, or HMAC-SHA256 with
the key), the sequence and the links between entries, ambiguous entries (duplicated JSON keys),
and, against an anchor published earlier, truncation and a rewritten or forked chain. Used by
:meth:`~privacy_kit.audit.AuditLog.verify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .._errors import ConfigurationError
from ._entries import (
    CHAIN_HMAC,
    GENESIS_HASH,
    AuditEntry,
    AuditHead,
    AuditProblem,
    AuditVerification,
    RawEntry,
)

__all__ = ["as_anchor", "verify_chain"]

#: An anchor as callers may hand it over: an AuditHead, its to_dict() value, or a bare hash.
Anchor = AuditHead | Mapping[str, Any] | str


def as_anchor(value: Anchor) -> tuple[int | None, str]:
    """``(sequence or None, hash)`` from an anchor; :class:`ConfigurationError` if malformed."""
    if isinstance(value, AuditHead):
        return value.sequence, value.hash
    if isinstance(value, str):
        return None, value
    if isinstance(value, Mapping):
        try:
            head = AuditHead.from_dict(value)
        except ValueError as exc:
            raise ConfigurationError(f"expected_head: {exc}") from None
        return head.sequence, head.hash
    raise ConfigurationError(
        "expected_head must be an AuditHead, its to_dict() value or a hash, "
        f"got {type(value).__name__}"
    )


def _hash_problem(entry: AuditEntry, key: bytes | None, keyless_said: bool) -> str | None:
    """What is wrong with ``entry``'s own hash, or ``None``."""
    if entry.keyed:
        if key is None:
            if keyless_said:
                return None
            return (
                f"entry is keyed ({CHAIN_HMAC}): its hash cannot be checked without the key; "
                "pass verify(key=...) (later keyed entries are not checked either)"
            )
        if entry.compute_hash(key) != entry.hash:
            return (
                "content does not match its hash (entry edited, or written without the key, or "
                "the key is wrong)"
            )
        return None
    if entry.compute_hash() != entry.hash:
        return "content does not match its hash (entry edited)"
    if key is not None:
        return (
            "entry is not keyed (plain SHA-256): anyone able to write could have appended it; "
            "every entry of a keyed log is an HMAC"
        )
    return None


def verify_chain(
    raws: Iterable[RawEntry],
    *,
    key: bytes | None,
    expected_head: Anchor | None,
    expected_count: int | None,
) -> AuditVerification:
    """Every problem of the chain ``raws``, in log order (see :meth:`AuditLog.verify`)."""
    problems: list[AuditProblem] = []
    expected_seq = 1
    prev_hash: str | None = GENESIS_HASH
    hash_at: dict[int, str] = {}
    hashes: set[str] = set()
    count = 0
    keyless_said = False
    last: AuditEntry | None = None
    for index, raw in enumerate(raws):
        count += 1
        where = raw.location
        if raw.data is None:
            problems.append(AuditProblem(index, where, None, f"corrupt: {raw.error}"))
            prev_hash = None  # the link to the next entry cannot be checked
            expected_seq += 1
            continue
        claimed = raw.data.get("sequence")
        claimed_seq = (
            claimed if isinstance(claimed, int) and not isinstance(claimed, bool) else None
        )
        if raw.error is not None:  # decoded, but ambiguous (a duplicated key)
            problems.append(AuditProblem(index, where, claimed_seq, raw.error))
        try:
            entry = AuditEntry.from_dict(raw.data)
        except ValueError as exc:
            problems.append(AuditProblem(index, where, claimed_seq, f"malformed entry: {exc}"))
            prev_hash = None
            expected_seq += 1
            continue
        message = _hash_problem(entry, key, keyless_said)
        if message is not None:
            keyless_said = keyless_said or (entry.keyed and key is None)
            problems.append(AuditProblem(index, where, entry.sequence, message))
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
            first = expected_seq
            span = str(first) if entry.sequence - first == 1 else f"{first}-{entry.sequence - 1}"
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
            # Sequence looks right but the link is wrong: the entry before was rewritten (with a
            # recomputed hash), or this one was inserted with a forged sequence.
            problems.append(
                AuditProblem(
                    index,
                    where,
                    entry.sequence,
                    "prev_hash does not match the hash of the entry before it "
                    "(an entry was inserted, removed or rewritten here)",
                )
            )
        hash_at.setdefault(entry.sequence, entry.hash)
        hashes.add(entry.hash)
        prev_hash = entry.hash
        expected_seq = entry.sequence + 1
        last = entry
    head = None if last is None else AuditHead(last.sequence, last.hash)
    if expected_head is not None:
        problem = _anchor_problem(as_anchor(expected_head), hash_at, hashes, head)
        if problem is not None:
            problems.append(problem)
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


def _anchor_problem(
    anchor: tuple[int | None, str],
    hash_at: Mapping[int, str],
    hashes: set[str],
    head: AuditHead | None,
) -> AuditProblem | None:
    sequence, wanted = anchor
    if wanted == GENESIS_HASH and sequence in {None, 0}:
        return None  # the empty log: every log extends it
    ends = f"the log ends at sequence {head.sequence}" if head else "the log is empty"
    if sequence is None:
        if wanted in hashes:
            return None
        return AuditProblem(
            None,
            "end",
            None,
            f"expected head {wanted[:16]}... is missing; {ends}: the tail was truncated, or the "
            "chain rewritten or forked",
        )
    found = hash_at.get(sequence)
    if found == wanted:
        return None
    if found is None:
        return AuditProblem(
            None,
            "end",
            sequence,
            f"expected head {wanted[:16]}... is missing; {ends}: the tail was truncated"
            + ("" if head is None or head.sequence < sequence else " or the entry removed"),
        )
    return AuditProblem(
        None,
        "end",
        sequence,
        f"expected head {wanted[:16]}... at sequence {sequence}, but the log has "
        f"{found[:16]}... there: the chain was rewritten or forked at or before that entry",
    )
