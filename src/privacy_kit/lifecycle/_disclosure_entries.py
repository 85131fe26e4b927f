"""The entries of the disclosure log: each :class:`Disclosure` as recorded (with the conditions
it was made under), :class:`RecipientSummary` (what one recipient received about a subject), and
the reading of a JSON-lines log file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs
import orjson

from .._errors import ConfigurationError
from .._types import LocalizedText, require_aware
from ..model._taxonomy import LegalBasis
from ._disclosure_conditions import NotificationStatus, SubjectNotification

__all__ = ["Disclosure", "RecipientSummary"]


@attrs.frozen
class Disclosure:
    """One recorded disclosure.

    Attributes:
        seq: its position in the log, from 1.
        recipient: the recipient key.
        recipient_kind: the recipient's kind when it was recorded.
        gdpr_recipient: whether the recipient is a recipient under GDPR Art. 4(9).
        subject_ref: the subject's reference (e.g. ``engine.reference(subject)``), or ``None``
            for a disclosure about every subject of ``subject_kind``.
        subject_kind: the kind of subject concerned.
        categories: the data categories disclosed.
        record_types: the record types they came from.
        purpose: the purpose of the disclosure.
        legal_ground: its legal basis.
        at: when it happened (timezone-aware).
        policy_version: the policy version it was checked against.
        note: free text.
        legal_process: the kind of legal process it was made under (authorities).
        notification: whether the person was told (``notified``, ``prohibited``, ``pending``,
            ``not_promised``), or ``None`` when the recipient declares nothing about it.
        notified_at: when the person was told.
        prohibition: the stated legal prohibition on telling them.
        transfer_notice_at: when the notice of a business transfer was sent.
    """

    seq: int
    recipient: str
    recipient_kind: str
    gdpr_recipient: bool
    subject_ref: str | None
    subject_kind: str | None
    categories: tuple[str, ...]
    record_types: tuple[str, ...]
    purpose: str
    legal_ground: LegalBasis
    at: dt.datetime
    policy_version: str
    note: str | None = None
    legal_process: str | None = None
    notification: NotificationStatus | None = None
    notified_at: dt.datetime | None = None
    prohibition: str | None = None
    transfer_notice_at: dt.datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible mapping (one line of the log file)."""
        return {
            "seq": self.seq,
            "recipient": self.recipient,
            "recipient_kind": self.recipient_kind,
            "gdpr_recipient": self.gdpr_recipient,
            "subject_ref": self.subject_ref,
            "subject_kind": self.subject_kind,
            "categories": list(self.categories),
            "record_types": list(self.record_types),
            "purpose": self.purpose,
            "legal_ground": self.legal_ground.value,
            "at": self.at.isoformat(),
            "policy_version": self.policy_version,
            "note": self.note,
            "legal_process": self.legal_process,
            "notification": self.notification,
            "notified_at": _iso(self.notified_at),
            "prohibition": self.prohibition,
            "transfer_notice_at": _iso(self.transfer_notice_at),
        }

    @classmethod
    def from_json(cls, data: Any) -> Disclosure:
        """Read one entry written by :meth:`to_json`.

        Raises:
            ValueError: a field is missing or malformed.
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        try:
            at = dt.datetime.fromisoformat(data["at"])
            require_aware(at, "at")
            return cls(
                seq=int(data["seq"]),
                recipient=str(data["recipient"]),
                recipient_kind=str(data["recipient_kind"]),
                gdpr_recipient=bool(data["gdpr_recipient"]),
                subject_ref=data["subject_ref"],
                subject_kind=data["subject_kind"],
                categories=tuple(data["categories"]),
                record_types=tuple(data["record_types"]),
                purpose=str(data["purpose"]),
                legal_ground=LegalBasis(data["legal_ground"]),
                at=at,
                policy_version=str(data["policy_version"]),
                note=data.get("note"),
                legal_process=data.get("legal_process"),
                notification=data.get("notification"),
                notified_at=_time(data.get("notified_at")),
                prohibition=data.get("prohibition"),
                transfer_notice_at=_time(data.get("transfer_notice_at")),
            )
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]!r}") from None


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any) -> dt.datetime | None:
    return None if value is None else require_aware(dt.datetime.fromisoformat(value))


@attrs.frozen
class RecipientSummary:
    """What one recipient received about a subject, over every recorded disclosure.

    Attributes:
        recipient: the recipient key.
        name: its name in the current policy (``None`` if the policy no longer lists it).
        kind: the recipient's kind.
        gdpr_recipient: whether it is a recipient under GDPR Art. 4(9).
        categories: every category it received.
        purposes: every purpose.
        record_types: every record type the data came from.
        first: the first disclosure.
        last: the latest disclosure.
        count: how many disclosures.
    """

    recipient: str
    name: LocalizedText | None
    kind: str
    gdpr_recipient: bool
    categories: tuple[str, ...]
    purposes: tuple[str, ...]
    record_types: tuple[str, ...]
    first: dt.datetime
    last: dt.datetime
    count: int


def _read(path: Path) -> tuple[list[Disclosure], list[SubjectNotification]]:
    """The disclosures and the notifications (lines marked ``notification_for``) of a log file.

    Raises:
        ConfigurationError: an unreadable file, a malformed line, disclosures out of sequence.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read the disclosure log: {exc}") from exc
    expected = 1
    entries: list[Disclosure] = []
    notices: list[SubjectNotification] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = orjson.loads(line)
            if isinstance(document, dict) and "notification_for" in document:
                notices.append(SubjectNotification.from_json(document))
                continue
            entry = Disclosure.from_json(document)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"{path}:{number}: malformed disclosure entry: {exc}"
            ) from None
        if entry.seq != expected:
            raise ConfigurationError(
                f"{path}:{number}: entry has seq {entry.seq}, expected {expected} "
                "(the log was edited, reordered or truncated)"
            )
        expected += 1
        entries.append(entry)
    return entries, notices
