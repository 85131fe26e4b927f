"""The conditions a policy puts on a recipient's disclosures, held by the disclosure log.

A recipient may declare the kinds of legal process it receives data under (``legal_process``:
warrant, subpoena, court order), whether the person is told (``notify_subject``:
``unless_prohibited``, ``always`` or ``never``) and, for a business transfer, that people are told
before their data moves (``notify_before_transfer``). :func:`disclosure_conditions` checks one
disclosure against them and says what is recorded with it, refusing with a
:class:`~privacy_kit.DisclosureError` what the policy rules out; a person not yet told is
*pending*, listed until a :class:`SubjectNotification` (told, or a stated legal prohibition)
settles it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

import attrs

from .._errors import ConfigurationError, DisclosureError
from .._types import require_aware
from ..model._policy_collection import Recipient

__all__ = ["LegalProcess", "NotificationStatus", "SubjectNotification"]

LegalProcess = Literal["warrant", "subpoena", "court_order"]
"""The kinds of legal process a disclosure to authorities can be made under."""

NotificationStatus = Literal["notified", "prohibited", "pending", "not_promised"]
"""Whether the person was told of a disclosure: told, a legal prohibition stated, not yet told,
or the policy does not promise to tell (``notify_subject: never``)."""

_PROCESSES: tuple[str, ...] = get_args(LegalProcess)


@attrs.frozen
class Conditions:
    """What :func:`disclosure_conditions` found, recorded with the disclosure."""

    legal_process: str | None = None
    notification: NotificationStatus | None = None
    notified_at: dt.datetime | None = None
    prohibition: str | None = None
    transfer_notice_at: dt.datetime | None = None


def _process(value: str | None, target: Recipient) -> str | None:
    if value is not None and value not in _PROCESSES:
        raise ConfigurationError(
            f"unknown legal process {value!r}; use one of {', '.join(_PROCESSES)}"
        )
    accepted = target.legal_process
    if accepted and value not in accepted:
        kinds = ", ".join(accepted)
        given = "no legal process was given" if value is None else f"got {value!r}"
        raise DisclosureError(
            f"recipient {target.key!r} receives data only under legal process of these kinds: "
            f"{kinds} (the policy's legal_process); {given}"
        )
    return value


def _notification(
    target: Recipient, notified_at: dt.datetime | None, prohibited: str | None
) -> tuple[NotificationStatus | None, str | None]:
    if notified_at is not None and prohibited is not None:
        raise ConfigurationError(
            "a disclosure is either notified to the person or under a prohibition, not both"
        )
    reason = None
    if prohibited is not None:
        reason = prohibited.strip()
        if not reason:
            raise ConfigurationError("a legal prohibition must say what forbids telling the person")
        if target.notify_subject == "always":
            raise DisclosureError(
                f"the policy promises to always tell people of disclosures to {target.key!r}; a "
                "prohibition on telling them contradicts that promise"
            )
        return "prohibited", reason
    if notified_at is not None:
        return "notified", None
    if target.notify_subject in ("always", "unless_prohibited"):
        return "pending", None
    if target.notify_subject == "never":
        return "not_promised", None
    return None, None


def disclosure_conditions(
    target: Recipient,
    *,
    at: dt.datetime,
    legal_process: str | None = None,
    subject_notified_at: dt.datetime | None = None,
    notification_prohibited: str | None = None,
    transfer_notice_sent_at: dt.datetime | None = None,
) -> Conditions:
    """Check a disclosure to ``target`` at ``at`` against the recipient's declared conditions.

    Raises:
        DisclosureError: no accepted legal process, a prohibition against an "always tell"
            promise, or a business transfer without, or before, its notice.
        ConfigurationError: an unknown process kind, both a notification and a prohibition,
            an empty prohibition, a naive time.
    """
    if subject_notified_at is not None:
        require_aware(subject_notified_at, "subject_notified_at")
    if transfer_notice_sent_at is not None:
        require_aware(transfer_notice_sent_at, "transfer_notice_sent_at")
    process = _process(legal_process, target)
    status, reason = _notification(target, subject_notified_at, notification_prohibited)
    if target.notify_before_transfer:
        if transfer_notice_sent_at is None:
            raise DisclosureError(
                f"the policy promises to tell people before their data is transferred to "
                f"{target.key!r}; give transfer_notice_sent_at, when that notice was sent"
            )
        if transfer_notice_sent_at > at:
            raise DisclosureError(
                f"the notice of the transfer to {target.key!r} was sent at "
                f"{transfer_notice_sent_at.isoformat()}, after the disclosure at {at.isoformat()}; "
                "the policy promises it before"
            )
    return Conditions(
        legal_process=process,
        notification=status,
        notified_at=subject_notified_at,
        prohibition=reason,
        transfer_notice_at=transfer_notice_sent_at,
    )


@attrs.frozen
class SubjectNotification:
    """How a disclosure pending notification was settled: the person was told, or the law
    forbids telling them (with the stated prohibition).

    Attributes:
        disclosure: the ``seq`` of the disclosure it settles.
        recorded_at: when it was recorded.
        outcome: ``notified`` or ``prohibited``.
        notified_at: when the person was told (``notified``).
        prohibition: what forbids telling them (``prohibited``).
    """

    disclosure: int
    recorded_at: dt.datetime
    outcome: Literal["notified", "prohibited"]
    notified_at: dt.datetime | None = None
    prohibition: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible mapping (one line of the log file, marked ``notification_for``)."""
        return {
            "notification_for": self.disclosure,
            "recorded_at": self.recorded_at.isoformat(),
            "outcome": self.outcome,
            "notified_at": None if self.notified_at is None else self.notified_at.isoformat(),
            "prohibition": self.prohibition,
        }

    @classmethod
    def from_json(cls, data: Any) -> SubjectNotification:
        """Read one entry written by :meth:`to_json`.

        Raises:
            ValueError: a field is missing or malformed.
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected an object, got {type(data).__name__}")
        try:
            outcome = data["outcome"]
            if outcome not in ("notified", "prohibited"):
                raise ValueError(f"unknown notification outcome {outcome!r}")
            notified = data.get("notified_at")
            return cls(
                disclosure=int(data["notification_for"]),
                recorded_at=require_aware(
                    dt.datetime.fromisoformat(data["recorded_at"]), "recorded_at"
                ),
                outcome=outcome,
                notified_at=None if notified is None else dt.datetime.fromisoformat(notified),
                prohibition=data.get("prohibition"),
            )
        except KeyError as exc:
            raise ValueError(f"missing field {exc.args[0]!r}") from None
